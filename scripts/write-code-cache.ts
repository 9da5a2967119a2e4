/**
 * Run by scripts/bundle.ts as `node write-code-cache.js BUNDLE --help`: starts
 * the bundle as its binary would, compiled afresh, and writes its code cache
 * at exit. The first backup or restore that completes writes it again, from
 * what it compiled (src/cli/launch.ts).
 */
import { launch } from '../src/cli/launch';

const [bundle, ...args] = process.argv.slice(2);
// The bundle reads its arguments from process.argv, as when it is the program.
process.argv = [process.argv[0], bundle, ...args];
launch(bundle, { writeCache: true });
