/** A plausible BackupSummary for tests of what is built from one (status, metrics, the daemon's records). */
import type { BackupSummary } from '../../src/domain/summary';

export function sampleSummary(over: Partial<BackupSummary> = {}): BackupSummary {
  return {
    startedAt: '2024-06-30T03:00:00.000Z',
    finishedAt: '2024-06-30T03:00:42.000Z',
    durationMs: 42_000,
    hostName: 'h1',
    hostDir: '/opt/x/schema/schema_backup/h1',
    perClass: {
      global: { tables: 10, rows: 1000 },
      local: { tables: 4, rows: 50 },
      ephemeral: { tables: 2, rows: 0 },
      ignore: { tables: 1, rows: 0 },
      unclassified: { tables: 1, rows: 7 },
    },
    views: 1,
    triggers: 0,
    bytesWritten: 65536,
    filesChanged: ['t1', 't2', 't3'],
    commit: 'deadbeef',
    userSnapshot: '/var/backups/sb/20240630030000',
    ephemeralDir: null,
    services: {
      mode: 'default',
      stopped: ['app.service'],
      alreadyStopped: [],
      restarted: ['app.service'],
      restartFailures: [],
      providersRestarted: [],
      downtimeMs: 3500,
    },
    warnings: ['table x has no primary key'],
    errors: [],
    ...over,
  };
}
