/** What a backup run records (pure): manifest entries and manifests, user-data file names, the summary's figures. */
import { createHash } from 'node:crypto';
import { BackupTally, newBackupSummary } from '../../src/backup/summary-builder';
import { classFigures } from '../../src/domain/summary';
import { hostManifest, manifestEntry, userManifest } from '../../src/store/manifest-build';
import { VIEWS_FILE, userDataFileName } from '../../src/store/names';
import type { WrittenFile } from '../../src/store/table-dir';

const table = { name: 'user`s', file: 'user`s', class: 'local' as const, transactional: true };
const written: WrittenFile = {
  table: 'user`s',
  file: 'user`s',
  bytes: 120,
  sha256: 'f'.repeat(64),
  contentSha256: 'c'.repeat(64),
  rows: 3,
  statements: 1,
  changed: true,
  stagedPath: null,
};

test('an entry keeps row figures only when the file holds rows, and the name it is stored under', () => {
  expect(manifestEntry(table, written, 's'.repeat(64), true, 'user`s.gz')).toEqual({
    table: 'user`s',
    file: 'user`s.gz',
    class: 'local',
    rowsSaved: true,
    rows: 3,
    structureSha256: 's'.repeat(64),
    sha256: 'f'.repeat(64),
    contentSha256: 'c'.repeat(64),
    transactional: true,
  });
  expect(manifestEntry(table, written, 's'.repeat(64), false)).toMatchObject({ file: 'user`s', rowsSaved: false, rows: null, contentSha256: null });
});

test('the host manifest carries the views file checksum; the user manifest no views or triggers', () => {
  const text = 'CREATE VIEW `v` AS SELECT 1;\n';
  const host = hostManifest({ database: 'csv2', statementBytes: 1 << 20, tables: [], views: { text, names: ['v'] }, triggers: [{ table: 't', name: 'tr' }] });
  expect(host).toEqual({
    format: 1,
    kind: 'host',
    database: 'csv2',
    compressed: false,
    statementBytes: 1 << 20,
    tables: [],
    views: { file: VIEWS_FILE, sha256: createHash('sha256').update(text).digest('hex'), names: ['v'] },
    triggers: [{ table: 't', name: 'tr' }],
  });
  expect(hostManifest({ database: 'csv2', statementBytes: 1, tables: [], views: null, triggers: [] }).views).toBeNull();
  expect(userManifest({ database: 'csv2', compressed: true, statementBytes: 1, tables: [] })).toEqual({
    format: 1,
    kind: 'user',
    database: 'csv2',
    compressed: true,
    statementBytes: 1,
    tables: [],
    views: null,
    triggers: [],
  });
});

test('compressed user-data files say so in their name', () => {
  expect(userDataFileName('users', true)).toBe('users.gz');
  expect(userDataFileName('users', false)).toBe('users');
});

test('figures per class: tables, rows, triggers; user-data bytes count once the snapshot is promoted', () => {
  const summary = newBackupSummary(new Date(0), { hostName: 'h', hostDir: '/b/h', ephemeralDir: null });
  const tally = new BackupTally(summary);
  tally.ignored(2);
  tally.table('global', 1);
  tally.hostFile('global', { bytes: 100, rows: 5 }, true);
  tally.table('local', 2);
  tally.hostFile('local', { bytes: 40, rows: null }, false);
  tally.copy('user', 'local', { bytes: 70, rows: 7 });
  tally.table('ephemeral', 0);
  tally.hostFile('ephemeral', { bytes: 30, rows: null }, false);
  tally.copy('ephemeral', 'ephemeral', { bytes: 50, rows: 4 });
  expect(summary.perClass).toEqual({
    global: { tables: 1, rows: 5 },
    local: { tables: 1, rows: 7 },
    ephemeral: { tables: 1, rows: 4 },
    ignore: { tables: 2, rows: 0 },
    unclassified: { tables: 0, rows: 0 },
  });
  expect(summary.triggers).toBe(3);
  expect(summary.bytesWritten).toBe(220);
  tally.userPromoted();
  expect(summary.bytesWritten).toBe(290);
  expect(summary.startedAt).toBe('1970-01-01T00:00:00.000Z');
});

test('figures of a list of tables', () => {
  expect(classFigures([{ class: 'global', rows: 2 }, { class: 'global', rows: 3 }, { class: 'unclassified', rows: 0 }])).toEqual({
    global: { tables: 2, rows: 5 },
    local: { tables: 0, rows: 0 },
    ephemeral: { tables: 0, rows: 0 },
    ignore: { tables: 0, rows: 0 },
    unclassified: { tables: 1, rows: 0 },
  });
});
