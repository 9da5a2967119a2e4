/** Pure parts of the services layer: owner records, /proc parsing, messages. */
import { isOwnerAlive, parseOwner, parseProcStat, currentOwner } from '../../src/services/process-identity';
import { parseRecoveryRecord } from '../../src/services/recovery';
import { describeFailure, systemctlBinary } from '../../src/services/systemctl';
import { busyMessage } from '../../src/services/lock';

test('parseProcStat copes with spaces and parentheses in the command name', () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[0] = 'S';
  fields[19] = '987654';
  expect(parseProcStat(`1234 (my (odd) name) ${fields.join(' ')}`)).toEqual({ state: 'S', procStart: '987654' });
  expect(parseProcStat('garbage')).toBeNull();
  expect(parseProcStat('1 (x) S 1 2')).toBeNull();
});

test('parseOwner accepts owners and rejects garbage', () => {
  expect(parseOwner('{"pid":12,"startedAt":"2024-01-01T00:00:00Z","procStart":"5","extra":1}')).toEqual({
    pid: 12,
    startedAt: '2024-01-01T00:00:00Z',
    procStart: '5',
  });
  for (const bad of ['', 'null', '[]', '{"pid":"12","startedAt":"x"}', '{"pid":0,"startedAt":"x"}', '{"pid":1.5,"startedAt":"x"}', '{"pid":3}']) {
    expect(parseOwner(bad)).toBeNull();
  }
});

test('for this process, an owner is alive only while its nonce is live', () => {
  const me = currentOwner();
  expect(me.pid).toBe(process.pid);
  expect(isOwnerAlive(me, new Set([me.nonce as string]))).toBe(true);
  expect(isOwnerAlive(me, new Set())).toBe(false); // an earlier run of a long-lived process
  expect(isOwnerAlive({ ...me, bootId: 'another-boot' }, new Set([me.nonce as string]))).toBe(false);
});

test('another live process is alive unless boot or start time differ', () => {
  const parent = { pid: process.ppid, startedAt: 'x' };
  expect(isOwnerAlive(parent, new Set())).toBe(true);
  expect(isOwnerAlive({ ...parent, procStart: '1' }, new Set())).toBe(false);
  expect(isOwnerAlive({ ...parent, bootId: 'not-this-boot' }, new Set())).toBe(false);
  expect(isOwnerAlive({ pid: 2 ** 22 + 12345, startedAt: 'x' }, new Set())).toBe(false); // above pid_max
});

test('parseRecoveryRecord needs an owner and a list of unit names', () => {
  expect(parseRecoveryRecord('{"pid":5,"startedAt":"x","consumers":["a","b"]}')).toEqual({ pid: 5, startedAt: 'x', consumers: ['a', 'b'] });
  expect(parseRecoveryRecord('{"pid":5,"startedAt":"x"}')).toBeNull();
  expect(parseRecoveryRecord('{"pid":5,"startedAt":"x","consumers":["a",""]}')).toBeNull();
  expect(parseRecoveryRecord('{"consumers":["a"]}')).toBeNull();
});

test('systemctl binary and failure messages', () => {
  expect(systemctlBinary({})).toBe('systemctl');
  expect(systemctlBinary({ SCHEMA_BACKUP_SYSTEMCTL: '/opt/x/systemctl' })).toBe('/opt/x/systemctl');
  expect(systemctlBinary({ SCHEMA_BACKUP_SYSTEMCTL: '  ' })).toBe('systemctl');
  expect(describeFailure('stop', 'app', { code: 1, stderr: 'Job failed.\n' })).toBe('systemctl stop app failed (exit 1): Job failed.');
  expect(describeFailure('start', 'app', { code: null, stderr: '', reason: 'timed out after 30 s' })).toBe('systemctl start app timed out after 30 s');
  expect(busyMessage({ pid: 42, startedAt: '2024-05-01T10:00:00.000Z' }, '/var/lib/sb/schema_backup.lock')).toBe(
    'another schema_backup run (PID 42, started at 2024-05-01T10:00:00.000Z) is active; lock /var/lib/sb/schema_backup.lock',
  );
});
