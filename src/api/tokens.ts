/**
 * API tokens: `state_dir/api-tokens` (0600) holds, per token, its name, scope,
 * creation time and the sha256 of the token, never the token itself.
 *
 * Why sha256 and not a password hash (bcrypt, scrypt, argon2): a token is 32
 * random bytes, so there is no dictionary to try and 2^256 guesses to make;
 * a slow hash only protects low-entropy secrets, and would cost every request
 * its delay. A leaked file still yields no usable token.
 *
 * Parsing, rendering and matching are pure; readTokens/writeTokens touch the disk.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, errorMessage } from '../errors';
import { writeFileAtomic } from '../store/fsutil';

/** Cumulative, in this order: each scope allows everything the ones before it allow. */
export const SCOPES = ['read', 'backup', 'export', 'restore'] as const;
export type Scope = (typeof SCOPES)[number];

export const TOKEN_FILE = 'api-tokens';
const TOKEN_BYTES = 32;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface StoredToken {
  name: string;
  scope: Scope;
  /** sha256 of the token, hex. */
  sha256: string;
  /** ISO 8601. */
  created: string;
}

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

export function scopeAllows(have: Scope, need: Scope): boolean {
  return SCOPES.indexOf(have) >= SCOPES.indexOf(need);
}

export function tokenNameProblem(name: string): string | null {
  return NAME.test(name) ? null : 'a token name is 1-64 letters, digits, `.`, `_` or `-`, starting with a letter or digit';
}

/** 32 random bytes, base64url (43 characters, no padding). */
export function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

export function tokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function tokenFilePath(stateDir: string): string {
  return join(stateDir, TOKEN_FILE);
}

/**
 * The stored token the presented one hashes to, or null. Every entry is
 * compared, each in constant time, so the answer's timing says nothing about
 * which entry (or how much of a hash) matched.
 */
export function matchToken(tokens: readonly StoredToken[], presented: string): StoredToken | null {
  const digest = createHash('sha256').update(presented, 'utf8').digest();
  let found: StoredToken | null = null;
  for (const t of tokens) {
    const stored = Buffer.from(t.sha256, 'hex');
    if (stored.length === digest.length && timingSafeEqual(stored, digest) && found === null) found = t;
  }
  return found;
}

export function parseTokenFile(text: string, file: string): StoredToken[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([{ file, message: `not a token file (invalid JSON: ${errorMessage(err)}); remove it and add the tokens again` }]);
  }
  const list = (doc as { version?: unknown; tokens?: unknown } | null)?.tokens;
  if ((doc as { version?: unknown } | null)?.version !== 1 || !Array.isArray(list)) {
    throw new ConfigError([{ file, message: 'not a schema_backup token file (version 1)' }]);
  }
  return list.map((t: unknown, i) => {
    const e = t as Partial<StoredToken> | null;
    if (
      !e ||
      typeof e.name !== 'string' ||
      tokenNameProblem(e.name) !== null ||
      typeof e.scope !== 'string' ||
      !isScope(e.scope) ||
      typeof e.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(e.sha256) ||
      typeof e.created !== 'string'
    ) {
      throw new ConfigError([{ file, key: `tokens[${i}]`, message: 'not a valid token entry (name, scope, sha256, created)' }]);
    }
    return { name: e.name, scope: e.scope, sha256: e.sha256, created: e.created };
  });
}

export function renderTokenFile(tokens: readonly StoredToken[]): string {
  return `${JSON.stringify({ version: 1, tokens }, null, 2)}\n`;
}

/** The stored tokens; none when the file does not exist. ConfigError for a file that is not a token file. */
export async function readTokens(stateDir: string): Promise<StoredToken[]> {
  const file = tokenFilePath(stateDir);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return parseTokenFile(text, file);
}

/** Atomic (temp file, fsync, rename), 0600 whatever the umask; creates state_dir (0700) if missing. */
export async function writeTokens(stateDir: string, tokens: readonly StoredToken[]): Promise<void> {
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(tokenFilePath(stateDir), renderTokenFile(tokens), 0o600);
}
