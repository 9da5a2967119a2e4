/**
 * `npm run demo`: the main job on a self-contained example. Starts a private
 * MariaDB (own datadir, socket and port in a temp directory), loads a small
 * CSV2-like database, backs it up twice (the second run finds nothing to do),
 * shows the result, and removes everything it made.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../src/proc/run';
import { startPrivateServer, type PrivateServer } from './lib/mariadb-server';

const ROOT = resolve(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'schema_backup.js');

function section(title: string): void {
  process.stdout.write(`\n=== ${title} ===\n`);
}

async function main(): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'schema_backup-demo-'));
  let server: PrivateServer | null = null;
  try {
    section('starting a private MariaDB');
    server = await startPrivateServer({ baseDir: join(work, 'mariadb') });
    process.stdout.write(`mariadbd pid ${server.pid}, port ${server.port}, socket ${server.socket}\n`);

    // Credentials live in a 0600 file: never on a command line.
    const clientOptions = join(work, 'client.cnf');
    await writeFile(clientOptions, `[client]\nhost=127.0.0.1\nport=${server.port}\nuser=root\npassword=\ndatabase=csv2\ndefault-character-set=utf8mb4\n`, { mode: 0o600 });
    await run('mariadb', [`--defaults-extra-file=${clientOptions}`, '--database=', '-e', 'CREATE DATABASE csv2']);
    await run('mariadb', [`--defaults-extra-file=${clientOptions}`], { inputFile: join(ROOT, 'scripts', 'demo', 'example.sql') });

    const config = join(work, 'schema_backup.conf');
    await writeFile(
      config,
      [
        `csv2_backup_dir: ${join(work, 'backups')}`,
        `user_data_backup_dir: ${join(work, 'user_data')}`,
        `state_dir: ${join(work, 'state')}`,
        `db_config: ${clientOptions}`,
        'global: [csv2_configuration, csv2_cloud_types]',
        'local: [csv2_user, csv2_groups, csv2_clouds]',
        'ephemeral: [condor_jobs, csv2_vms]',
        'ignore: [django_session]',
        'providers: [mariadb]',
        'consumers: []',
        'pause_interval: 0',
        '',
      ].join('\n'),
    );
    process.stdout.write(`configuration: ${config}\n`);

    const backup = async (title: string) => {
      section(title);
      const r = await run(process.execPath, [CLI, '--config', config, '--host-name', 'demo.example.org', '--online']);
      process.stdout.write(r.stderr + r.stdout);
    };
    section('dry run: the plan, touching nothing');
    process.stdout.write((await run(process.execPath, [CLI, '--config', config, '--host-name', 'demo.example.org', '--dry-run'])).stdout);
    await backup('first backup');

    section('what was written');
    process.stdout.write((await run('find', ['.', '-path', './backups/.git', '-prune', '-o', '-path', './mariadb', '-prune', '-o', '-printf', '%M %8s %p %l\n'], { cwd: work })).stdout);
    section('git log --stat');
    process.stdout.write((await run('git', ['-C', join(work, 'backups'), 'log', '--stat'])).stdout);

    await backup('second backup: nothing changed, so no file is written and no commit made');
    section('git log --oneline');
    process.stdout.write((await run('git', ['-C', join(work, 'backups'), 'log', '--oneline'])).stdout);

    await run('mariadb', [`--defaults-extra-file=${clientOptions}`, '-e', "UPDATE csv2_configuration SET config_value = '30' WHERE config_key = 'log_level'"]);
    await backup('third backup after one configuration change: one commit, one table');
    // The row diff driver shows the changed row on a line of its own, though the file holds all rows on one line.
    section('git show HEAD (one row per line)');
    process.stdout.write((await run('git', ['-C', join(work, 'backups'), 'show', '--stat', '--patch', 'HEAD'])).stdout);
    return 0;
  } finally {
    section('cleaning up');
    await server?.stop();
    await rm(work, { recursive: true, force: true });
    process.stdout.write(`removed ${work}\n`);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
