/** createSystemctl against fake-systemctl (real processes as units). */
import { readFileSync } from 'node:fs';
import { ServiceError } from '../../src/errors';
import { createSystemctl } from '../../src/services/systemctl';
import { createFakeServices, type FakeServices } from '../helpers/fake-services';

let fake: FakeServices;

/** Alive and not a zombie (orphans here may be reaped late, or never). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

beforeEach(() => {
  fake = createFakeServices({ web: 'exec sleep 1000' });
});

afterEach(async () => {
  await fake.cleanup();
});

test('is-active follows the real process; start, restart and stop act on it', async () => {
  const sc = createSystemctl({ timeoutSec: 20, env: fake.env });
  expect(await sc.isActive('web')).toBe(false); // exit 3 is an answer, not an error
  await sc.start('web');
  expect(await sc.isActive('web')).toBe(true);
  const pid = fake.pidOf('web');
  expect(pid).not.toBeNull();
  expect(alive(pid as number)).toBe(true); // a real process
  await sc.restart('web');
  expect(fake.pidOf('web')).not.toBe(pid);
  expect(await fake.isRunning('web')).toBe(true);
  await sc.stop('web');
  expect(await sc.isActive('web')).toBe(false);
  expect(alive(pid as number)).toBe(false);
  expect((await fake.calls()).map((c) => `${c.verb} ${c.unit}`)).toEqual([
    'is-active web',
    'start web',
    'is-active web',
    'restart web',
    'stop web',
    'is-active web',
  ]);
});

test('without SCHEMA_BACKUP_SYSTEMCTL, systemctl is found on PATH', async () => {
  const env = { ...fake.env };
  delete env.SCHEMA_BACKUP_SYSTEMCTL;
  const sc = createSystemctl({ timeoutSec: 20, env });
  await sc.start('web');
  expect(await fake.isRunning('web')).toBe(true);
  expect(await fake.calls()).toHaveLength(1);
});

test('failures are ServiceErrors naming verb and unit, with systemctl stderr', async () => {
  const sc = createSystemctl({ timeoutSec: 20, env: fake.env });
  await expect(sc.isActive('nosuch')).rejects.toThrow(
    new ServiceError('systemctl is-active nosuch failed (exit 5): Unit nosuch.service not found.'),
  );
  fake.failNext('start', 'web');
  const err = await sc.start('web').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ServiceError);
  expect((err as Error).message).toBe('systemctl start web failed (exit 1): Job for web.service failed (injected)');
  expect(await fake.isRunning('web')).toBe(false);
  // failNext is one-shot
  await sc.start('web');
  expect(await fake.isRunning('web')).toBe(true);
});

test('a hanging call fails after the timeout', async () => {
  fake.hang('stop', 'web', 30);
  const sc = createSystemctl({ timeoutSec: 1, env: fake.env });
  await sc.start('web');
  const t0 = Date.now();
  await expect(sc.stop('web')).rejects.toThrow(/^systemctl stop web timed out after 1 s$/);
  const took = Date.now() - t0;
  expect(took).toBeGreaterThanOrEqual(950);
  expect(took).toBeLessThan(5000);
});

test('a missing binary is a ServiceError', async () => {
  const sc = createSystemctl({ timeoutSec: 5, env: { ...fake.env, SCHEMA_BACKUP_SYSTEMCTL: '/nonexistent/systemctl' } });
  await expect(sc.stop('web')).rejects.toThrow(/^systemctl stop web could not be run \(.*ENOENT.*\)$/);
});
