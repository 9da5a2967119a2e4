/** verify_after_backup that fails: a failed run (exit 8) in status.json and in the metrics, with the verify series. */
import { exitCodeOfRun } from '../../src/cli/backup-command';
import { renderMetrics } from '../../src/bookkeeping/metrics';
import { statusReport, successRecord, verifyFailureRecord } from '../../src/bookkeeping/status';
import { EXIT } from '../../src/errors';
import { sampleSummary } from '../helpers/summary';

const previous = successRecord(sampleSummary({ finishedAt: '2024-06-29T03:00:00.000Z' }), { nextRun: null });
const at = '2024-06-30T03:01:00.000Z';
const failedVerify = sampleSummary({ finishedAt: '2024-06-30T03:00:00.000Z', errors: ['verification failed: m differs'], verify: { ok: false, message: 'm differs', at } });

test('a backup that did not verify exits 8 (not 6, not 0)', () => {
  expect(exitCodeOfRun(failedVerify)).toBe(EXIT.verify);
  expect(exitCodeOfRun(sampleSummary({ errors: [], verify: { ok: true, message: null, at } }))).toBe(EXIT.ok);
  expect(exitCodeOfRun(sampleSummary({ errors: ['consumer x could not be started again'] }))).toBe(EXIT.service);
});

test('its record is a failure with exit 8; the last success stays the previous one', () => {
  const rec = verifyFailureRecord(failedVerify, { nextRun: null, previous });
  expect(rec).toMatchObject({ result: 'failure', exitCode: 8, error: 'verification failed: m differs', lastSuccessAt: '2024-06-29T03:00:00.000Z', verify: { ok: false, message: 'm differs', at } });
  expect(statusReport(rec, { now: new Date('2024-06-30T04:00:00Z'), maxAgeHours: 48 }).exitCode).toBe(1);
});

test('metrics: last run 0, last verify 0 with its time; a passing verify gives 1', () => {
  const text = renderMetrics(verifyFailureRecord(failedVerify, { nextRun: null, previous }));
  expect(text).toMatch(/^schema_backup_last_run_success 0$/m);
  expect(text).toMatch(/^schema_backup_last_verify_success 0$/m);
  expect(text).toContain(`schema_backup_last_verify_timestamp_seconds ${Date.parse(at) / 1000}\n`);
  const passed = renderMetrics(successRecord(sampleSummary({}), { nextRun: null, verify: { ok: true, message: null, at } }));
  expect(passed).toMatch(/^schema_backup_last_run_success 1$/m);
  expect(passed).toMatch(/^schema_backup_last_verify_success 1$/m);
  expect(renderMetrics(previous)).not.toMatch(/verify/);
});
