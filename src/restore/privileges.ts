/**
 * Privileges a restore needs, checked before anything is touched: an
 * application user usually has ALL PRIVILEGES on its own database and
 * nothing more, and a restore must say so plainly (naming the GRANT to ask
 * for) rather than fail half-way with the server's words. Judging is pure;
 * readGrants is the one query.
 */
import type { Db } from '../db/connect';
import { quoteIdent, quoteString } from '../db/quote';

export interface Grants {
  user: string;
  host: string;
  /** Privileges on *.* (USER_PRIVILEGES). */
  global: ReadonlySet<string>;
  /** Database-level grants: the grant's database pattern (`_`/`%` wildcards, `\` escapes) and its privileges. */
  schemas: readonly { pattern: string; privileges: ReadonlySet<string> }[];
  /** A role is active: its privileges are not visible in information_schema, so a gap is not certain. */
  roleActive: boolean;
}

/** What a restore (or verify) will do, as far as privileges go. */
export interface PrivilegeNeeds {
  database: string;
  /** The database does not exist yet and will be created. */
  createDatabase: boolean;
  merge: boolean;
  triggers: boolean;
  views: boolean;
  /** Definers of triggers and views kept that are not the restoring user (needs SET USER). */
  foreignDefiners: string[];
}

export interface MissingPrivileges {
  /** On the database: `GRANT … ON db.* TO user`. */
  onDatabase: string[];
  /** On *.* (SET USER for other definers). */
  global: string[];
  /** The statement(s) that would give them, for the message. */
  grants: string[];
}

/** Whether a database-level grant pattern covers `database` (LIKE semantics: `_`, `%`, `\` escapes). */
export function patternCovers(pattern: string, database: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) re += escapeRegExp(pattern[++i] as string);
    else if (c === '_') re += '.';
    else if (c === '%') re += '.*';
    else re += escapeRegExp(c);
  }
  return new RegExp(`^${re}$`, 's').test(database);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The privileges `needs` asks for on the database itself. */
export function databasePrivileges(needs: PrivilegeNeeds): string[] {
  // Staging tables: CREATE, INSERT, DROP; the move: ALTER and DROP (old name), CREATE and INSERT (new); reading back: SELECT.
  const out = ['SELECT', 'INSERT', 'CREATE', 'DROP', 'ALTER'];
  if (needs.merge) out.push('UPDATE');
  if (needs.triggers) out.push('TRIGGER');
  if (needs.views) out.push('CREATE VIEW', 'SHOW VIEW');
  return out;
}

/** What `grants` lacks for `needs` (empty lists: nothing). */
export function missingPrivileges(grants: Grants, needs: PrivilegeNeeds): MissingPrivileges {
  const covering = grants.schemas.filter((s) => patternCovers(s.pattern, needs.database));
  const has = (p: string) => grants.global.has(p) || covering.some((s) => s.privileges.has(p));
  const onDatabase = databasePrivileges(needs).filter((p) => !has(p));
  const global = needs.foreignDefiners.length > 0 && !grants.global.has('SET USER') && !grants.global.has('SUPER') ? ['SET USER'] : [];
  const who = `${quoteString(grants.user)}@${quoteString(grants.host)}`;
  const grantsText: string[] = [];
  if (onDatabase.length) grantsText.push(`GRANT ${onDatabase.join(', ')} ON ${quoteIdent(needs.database.replace(/[_%\\]/g, '\\$&'))}.* TO ${who}`);
  if (global.length) grantsText.push(`GRANT SET USER ON *.* TO ${who}`);
  return { onDatabase, global, grants: grantsText };
}

/** The message for what is missing, or null when nothing is. */
export function privilegeProblem(grants: Grants, needs: PrivilegeNeeds, action: string): string | null {
  const m = missingPrivileges(grants, needs);
  if (m.onDatabase.length === 0 && m.global.length === 0) return null;
  const parts: string[] = [];
  if (m.onDatabase.length) parts.push(`${m.onDatabase.join(', ')} on database ${needs.database}${needs.createDatabase ? ' (which does not exist yet: CREATE also creates it)' : ''}`);
  if (m.global.length) parts.push(`SET USER, to keep the definer${needs.foreignDefiners.length > 1 ? 's' : ''} ${needs.foreignDefiners.join(', ')} of triggers and views (or pass --definer current)`);
  return `${grants.user}@${grants.host} lacks the privileges to ${action}: ${parts.join('; ')}. Nothing was changed. An administrator can grant them: ${m.grants.join('; ')}`;
}

function grantee(user: string, host: string): string {
  return `'${user.replace(/'/g, "''")}'@'${host.replace(/'/g, "''")}'`;
}

/** The current user's global and database-level privileges, from information_schema. */
export async function readGrants(db: Db): Promise<Grants> {
  const [[current, role] = []] = await db.queryArrays('SELECT CURRENT_USER(), CURRENT_ROLE()');
  const text = current ?? '';
  const at = text.lastIndexOf('@');
  const user = at >= 0 ? text.slice(0, at) : text;
  const host = at >= 0 ? text.slice(at + 1) : '';
  const me = grantee(user, host);
  const global = new Set<string>();
  for (const [g, p] of await db.queryArrays('SELECT GRANTEE, PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES')) if (g === me) global.add(p as string);
  const bySchema = new Map<string, Set<string>>();
  for (const [g, schema, p] of await db.queryArrays('SELECT GRANTEE, TABLE_SCHEMA, PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES')) {
    if (g !== me) continue;
    const set = bySchema.get(schema as string) ?? new Set<string>();
    set.add(p as string);
    bySchema.set(schema as string, set);
  }
  return { user, host, global, schemas: [...bySchema].map(([pattern, privileges]) => ({ pattern, privileges })), roleActive: role !== null && role !== undefined };
}
