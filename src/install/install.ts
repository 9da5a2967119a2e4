/**
 * Installing the CSV2 wrapper: look at what is at `<root>/utilities/schema_backup`,
 * decide (csv2-wrapper.ts), write atomically. Also reads the root's
 * schema_backup.conf to point out what would make db_upgrade's hook fail.
 */
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadConfig } from '../config/load';
import { DEFAULT_CSV2_BACKUP_SUBDIR } from '../config/defaults';
import { ConfigError, StoreError, UsageError, errorMessage, formatConfigMessage } from '../errors';
import { ensureDir, writeFileAtomic } from '../store/fsutil';
import { MAX_WRAPPER_BYTES, WRAPPER_SUBPATH, decideInstall, renderWrapper, wrapperPathProblem, type Existing, type WrapperTarget } from './csv2-wrapper';

export interface InstallResult {
  path: string;
  action: 'create' | 'update' | 'unchanged' | 'replace';
}

/** Writes (or leaves, when identical) `<root>/utilities/schema_backup`. UsageError when refused, ConfigError when this installation is incomplete. */
export async function installWrapper(target: WrapperTarget, opts: { force: boolean }): Promise<InstallResult> {
  for (const [what, path] of [['--root', target.root], ['node', target.node], ['the schema_backup CLI', target.cli]] as const) {
    const problem = wrapperPathProblem(path);
    if (problem) throw new UsageError(`${what} ${JSON.stringify(path)} ${problem}`);
  }
  const rootStat = await fs.stat(target.root).catch(() => null);
  if (!rootStat?.isDirectory()) {
    throw new UsageError(`--root ${target.root} is not an existing directory: give the CSV2 root (the directory that holds utilities/ and etc/, e.g. /opt/cloudscheduler)`);
  }
  if (!(await fs.stat(target.cli).catch(() => null))?.isFile()) {
    throw new ConfigError([{ file: target.cli, message: 'does not exist: build schema_backup first (npm run build), then install again' }]);
  }

  const path = join(target.root, WRAPPER_SUBPATH);
  const wanted = renderWrapper(target);
  const decision = decideInstall(await inspect(path), wanted, opts.force);
  if (decision.action === 'refuse') throw new UsageError(`${path} ${decision.reason}`);
  if (decision.action !== 'unchanged') {
    await ensureDir(dirname(path));
    // 0755: db_upgrade runs it as whoever runs db_upgrade; it holds no secret.
    await writeFileAtomic(path, wanted, 0o755);
  }
  return { path, action: decision.action };
}

async function inspect(path: string): Promise<Existing> {
  try {
    const st = await fs.lstat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (st === null) return { kind: 'missing' };
    if (st.isSymbolicLink()) return { kind: 'symlink' };
    if (st.isDirectory()) return { kind: 'directory' };
    if (!st.isFile()) return { kind: 'other' };
    const executable = (st.mode & 0o111) === 0o111;
    if (st.size > MAX_WRAPPER_BYTES) return { kind: 'file', executable, content: null };
    return { kind: 'file', executable, content: await fs.readFile(path, 'utf8') };
  } catch (err) {
    throw new StoreError(`cannot read ${path}: ${errorMessage(err)}; check its permissions, then install again`, { cause: err });
  }
}

/**
 * What in `<root>/etc/schema_backup.conf` would make db_upgrade's pre-hook
 * fail or read the wrong place. Advice only: the wrapper is right regardless.
 */
export function rootConfigNotes(root: string): string[] {
  const file = join(root, 'etc', 'schema_backup.conf');
  let config;
  try {
    config = loadConfig(file, { installRoot: root }).config;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${formatConfigMessage(p)} (the wrapper exits 3 until this is fixed)`);
    throw err;
  }
  const notes: string[] = [];
  const expected = join(root, DEFAULT_CSV2_BACKUP_SUBDIR);
  if (config.csv2BackupDir !== expected) {
    notes.push(`${file}: csv2_backup_dir is ${config.csv2BackupDir}, but db_upgrade reads the tables from ${expected}: leave csv2_backup_dir out (or write \`default\`)`);
  }
  if (config.userDataBackupDir === null) {
    notes.push(`${file}: user_data_backup_dir is not set, but db_upgrade reads the local tables from user_data_backup_dir/latest: set it`);
  }
  if (config.compress === 'gzip') {
    notes.push(`${file}: user_data_compress is gzip, but db_upgrade reads plain files from user_data_backup_dir/latest: use \`none\``);
  }
  return notes;
}
