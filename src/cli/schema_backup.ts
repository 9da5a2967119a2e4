#!/usr/bin/env node
/** The `schema_backup` binary. */
import { processEntry } from './command';
import { main } from './main';

processEntry('schema_backup', (argv) => main(argv));
