/** API tokens: scopes, hashing, constant-time matching, the token file, and `schema_backup token`. */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseTokenArgs, tokenCommand } from '../../src/cli/token-command';
import { matchToken, newToken, parseTokenFile, readTokens, scopeAllows, SCOPES, tokenSha256, type StoredToken } from '../../src/api/tokens';
import { ConfigError, UsageError } from '../../src/errors';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sb-tokens-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test('scopes are cumulative: read < backup < export < restore', () => {
  const table = SCOPES.map((have) => SCOPES.map((need) => (scopeAllows(have, need) ? 1 : 0)).join(''));
  expect(table).toEqual(['1000', '1100', '1110', '1111']);
});

test('a new token is 32 random bytes in base64url, and differs every time', () => {
  const a = newToken();
  expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(Buffer.from(a, 'base64url')).toHaveLength(32);
  expect(new Set(Array.from({ length: 50 }, newToken)).size).toBe(50);
});

test('matching compares hashes: the right entry, none for a wrong or truncated token', () => {
  const [a, b] = [newToken(), newToken()];
  const tokens: StoredToken[] = [
    { name: 'a', scope: 'read', sha256: tokenSha256(a), created: 'x' },
    { name: 'b', scope: 'restore', sha256: tokenSha256(b), created: 'x' },
  ];
  expect(matchToken(tokens, b)?.name).toBe('b');
  expect(matchToken(tokens, a)?.name).toBe('a');
  expect(matchToken(tokens, b.slice(0, -1))).toBeNull();
  expect(matchToken(tokens, '')).toBeNull();
  expect(matchToken([], a)).toBeNull();
});

test('a token file that is not one is a ConfigError naming the file', () => {
  expect(() => parseTokenFile('{', '/s/api-tokens')).toThrow(ConfigError);
  expect(() => parseTokenFile('{"version":1,"tokens":[{"name":"a","scope":"admin","sha256":"00","created":"x"}]}', '/s/api-tokens')).toThrow(/api-tokens.*tokens\[0\]/);
});

test('argument parsing', () => {
  expect(parseTokenArgs(['add', 'ci', '--scope', 'backup'])).toMatchObject({ action: 'add', name: 'ci', scope: 'backup' });
  expect(parseTokenArgs(['list', '--json'])).toMatchObject({ action: 'list', json: true });
  expect(parseTokenArgs(['remove', 'ci', '--config', '/x'])).toMatchObject({ action: 'remove', name: 'ci', configPath: '/x' });
  for (const bad of [['add', 'ci'], ['add', 'ci', '--scope', 'admin'], ['add', '../x', '--scope', 'read'], ['remove'], ['frob'], ['list', 'x'], ['list', '--scope', 'read'], ['add', 'a', '--scope', 'read', '--bogus']]) {
    expect(() => parseTokenArgs(bad)).toThrow(UsageError);
  }
});

function io() {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  return { io: { stdout: out, stderr: err }, text: () => ({ stdout, stderr }) };
}

test('token add prints the token once and stores only its hash (0600); list shows no hash; remove', async () => {
  const state = join(tmp, 'state');
  const conf = join(tmp, 'sb.conf');
  writeFileSync(conf, `global: [a]\nuser_data_backup_dir: ${tmp}/u\nstate_dir: ${state}\n`);
  const add = io();
  expect(await tokenCommand(['add', 'pipeline', '--scope', 'backup', '--config', conf], add.io, {})).toBe(0);
  const token = add.text().stdout.trim();
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(add.text().stderr).toMatch(/shown only this once/);
  expect(add.text().stderr).not.toContain(token);
  const file = readFileSync(join(state, 'api-tokens'), 'utf8');
  expect(file).not.toContain(token);
  expect(file).toContain(tokenSha256(token));
  expect(statSync(join(state, 'api-tokens')).mode & 0o777).toBe(0o600);

  const again = io();
  expect(await tokenCommand(['add', 'pipeline', '--scope', 'read', '--config', conf], again.io, {})).toBe(2);
  const list = io();
  expect(await tokenCommand(['list', '--json', '--config', conf], list.io, {})).toBe(0);
  expect(JSON.parse(list.text().stdout)).toEqual([{ name: 'pipeline', scope: 'backup', created: expect.stringMatching(/^\d{4}-/) }]);
  expect(list.text().stdout).not.toContain(tokenSha256(token));

  expect(await tokenCommand(['remove', 'pipeline', '--config', conf], io().io, {})).toBe(0);
  expect(await readTokens(state)).toEqual([]);
  expect(await tokenCommand(['remove', 'pipeline', '--config', conf], io().io, {})).toBe(2);
});
