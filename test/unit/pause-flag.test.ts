/**
 * `quiesce: pause-flag`, the pure parts: the flag's SQL, the value the row
 * reader saves instead of the run's 'True', which modes use the flag, the
 * recovery record's format, and how the summary reports the flag.
 */
import { savedValueColumns } from '../../src/backup/saved-values';
import { closeSummary } from '../../src/domain/summary';
import { usesPauseFlag } from '../../src/app/backup';
import { summaryText } from '../../src/cli/summary-text';
import type { DbTableDetail } from '../../src/db/schema';
import { rawRowSelectSql } from '../../src/dump/literals';
import { parsePauseFlagRecord } from '../../src/services/pause-flag-record';
import { LOCK_FLAG_SQL, READ_FLAG_SQL, SET_FLAG_SQL, savedFlagExpression } from '../../src/services/pause-flag-sql';
import type { QuiesceReport } from '../../src/domain/service-report';
import { sampleSummary } from '../helpers/summary';

const ROW = "`category` = 'ProcessMonitor' AND `config_key` = 'pause'";

const configuration: DbTableDetail = {
  name: 'csv2_configuration',
  columns: [
    { name: 'category', dataType: 'varchar', generated: false },
    { name: 'config_key', dataType: 'varchar', generated: false },
    { name: 'config_type', dataType: 'varchar', generated: false },
    { name: 'config_value', dataType: 'varchar', generated: false },
  ],
  primaryKey: ['category', 'config_key'],
};

function report(pauseFlag?: QuiesceReport['pauseFlag']): QuiesceReport {
  return { mode: 'default', stopped: [], alreadyStopped: [], restarted: [], restartFailures: [], providersRestarted: [], downtimeMs: null, ...(pauseFlag ? { pauseFlag } : {}) };
}

describe('the flag statements', () => {
  test('read, lock and set name the same row; the value is a bound parameter', () => {
    expect(READ_FLAG_SQL).toBe(`SELECT \`config_value\` FROM \`csv2_configuration\` WHERE ${ROW}`);
    expect(LOCK_FLAG_SQL).toBe(`${READ_FLAG_SQL} FOR UPDATE`);
    expect(SET_FLAG_SQL).toBe(`UPDATE \`csv2_configuration\` SET \`config_value\` = ? WHERE ${ROW}`);
  });
});

describe('the value saved instead of the snapshot', () => {
  test('the previous value as a hex literal in utf8mb4; other rows read through the same conversion', () => {
    expect(savedFlagExpression('False', true)).toBe(`IF(${ROW},CONVERT(X'46616C7365' USING utf8mb4),CONVERT(\`config_value\` USING utf8mb4))`);
  });

  test('NULL stays NULL', () => {
    expect(savedFlagExpression(null, true)).toBe(`IF(${ROW},NULL,CONVERT(\`config_value\` USING utf8mb4))`);
  });

  test('quotes, backslashes and non-ASCII cannot escape the literal (hex, whatever sql_mode says)', () => {
    const expr = savedFlagExpression("it's \\ é", true);
    expect(expr).toContain(`X'${Buffer.from("it's \\ é").toString('hex').toUpperCase()}'`);
    expect(expr).not.toContain("it's");
  });

  test('a binary column reads raw bytes both ways', () => {
    expect(savedFlagExpression('False', false)).toBe(`IF(${ROW},X'46616C7365',\`config_value\`)`);
  });

  test('the row reader SELECTs the override in place of that column only, same order and ranges', () => {
    const plain = rawRowSelectSql(configuration);
    expect(plain).toBe('SELECT `category`,`config_key`,`config_type`,`config_value` FROM `csv2_configuration` ORDER BY `category`,`config_key`');
    const columns = savedValueColumns(configuration, report({ previous: 'False', restore: null, error: null }));
    expect(rawRowSelectSql(configuration, { columnExpressions: columns, where: '`category` > 0' })).toBe(
      `SELECT \`category\`,\`config_key\`,\`config_type\`,${savedFlagExpression('False', true)} FROM \`csv2_configuration\` WHERE \`category\` > 0 ORDER BY \`category\`,\`config_key\``,
    );
  });

  test('only csv2_configuration, only when the run set the flag', () => {
    const flag = { previous: 'False', restore: null, error: null };
    expect(savedValueColumns(configuration, null)).toBeUndefined();
    expect(savedValueColumns(configuration, report())).toBeUndefined();
    expect(savedValueColumns({ ...configuration, name: 'csv2_user' }, report(flag))).toBeUndefined();
    expect([...(savedValueColumns(configuration, report(flag)) ?? new Map()).keys()]).toEqual(['config_value']);
    // A blob config_value is read raw.
    const blob = { ...configuration, columns: configuration.columns.map((c) => (c.name === 'config_value' ? { ...c, dataType: 'blob' } : c)) };
    expect(savedValueColumns(blob, report(flag))?.get('config_value')).toBe(savedFlagExpression('False', false));
  });
});

describe('which runs use the flag', () => {
  test.each([
    ['default', 'pause-flag', true],
    ['default', 'stop', false],
    ['model', 'pause-flag', false],
    ['target', 'pause-flag', false],
    ['online', 'pause-flag', false],
  ] as const)('%s mode with quiesce: %s -> %s', (mode, quiesce, expected) => {
    expect(usesPauseFlag(mode, quiesce)).toBe(expected);
  });
});

describe('the recovery record', () => {
  const base = { pid: 4242, startedAt: '2026-01-01T00:00:00.000Z', nonce: 'ab', server: '127.0.0.1:3306', database: 'csv2' };
  test('keeps the previous value, NULL included', () => {
    expect(parsePauseFlagRecord(JSON.stringify({ ...base, previous: 'False' }))).toEqual({ ...base, previous: 'False' });
    expect(parsePauseFlagRecord(JSON.stringify({ ...base, previous: null }))).toEqual({ ...base, previous: null });
  });
  test.each([
    ['no previous value', { ...base }],
    ['a number', { ...base, previous: 0 }],
    ['no database', { ...base, database: undefined, previous: 'False' }],
    ['no owner', { server: 's', database: 'd', previous: 'False' }],
  ])('%s is not a record', (_what, value) => {
    expect(parsePauseFlagRecord(JSON.stringify(value))).toBeNull();
  });
});

describe('the summary', () => {
  test('says the flag was set and put back, with its value and the pause', () => {
    const s = sampleSummary({ services: { ...report({ previous: 'False', restore: 'restored', error: null }), downtimeMs: 1234 } });
    expect(summaryText(s)).toContain('  services (default, pause flag): flag set (was "False"), put back; consumers paused 1.2 s\n');
  });

  test('a flag that could not be put back is an error of the run (exit 6) and says so', () => {
    const s = closeSummary(
      sampleSummary({ services: report({ previous: 'False', restore: null, error: 'connect ECONNREFUSED' }) }),
      new Date(0),
      new Date(1000),
    );
    expect(s.errors).toEqual(['the pause flag could not be put back to "False" (consumers stay paused; the next run puts it back): connect ECONNREFUSED']);
    expect(summaryText(s)).toContain('flag set (was "False"), NOT put back (consumers still paused); consumers paused not over');
  });
});
