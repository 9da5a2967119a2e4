/**
 * What a statement of a backup file is, read from its first bytes (pure).
 * Restore sets the session itself on every connection, so the files' own
 * session SETs are skipped; rows go to the parallel loader; structure runs
 * first; triggers and views come last, each with its own sql_mode.
 */

export type StatementKind =
  | 'session' // /*!40101 SET … */ header and footer
  | 'drop-table'
  | 'create-table'
  | 'create-sequence'
  | 'insert'
  | 'trigger-mode' // /*!50003 SET SESSION SQL_MODE='…' */ before each trigger
  | 'drop-trigger'
  | 'create-trigger'
  | 'drop-view'
  | 'create-view'
  | 'other';

const PREFIX_BYTES = 200;

export function classifyStatement(stmt: Buffer | string): StatementKind {
  const head = (typeof stmt === 'string' ? stmt.slice(0, PREFIX_BYTES) : stmt.subarray(0, PREFIX_BYTES).toString('latin1')).toUpperCase();
  if (head.startsWith('INSERT INTO ')) return 'insert';
  if (head.startsWith('/*!50003 SET SESSION SQL_MODE=')) return 'trigger-mode';
  if (head.startsWith('/*!50003 DROP TRIGGER')) return 'drop-trigger';
  if (/^\/\*!\d+ SET /.test(head)) return 'session';
  if (head.startsWith('DROP TABLE ')) return 'drop-table';
  if (head.startsWith('CREATE TABLE ')) return 'create-table';
  if (head.startsWith('CREATE SEQUENCE ')) return 'create-sequence';
  if (head.startsWith('DROP VIEW ')) return 'drop-view';
  // SHOW CREATE TRIGGER/VIEW text: CREATE [DEFINER=…] [ALGORITHM=…] [SQL SECURITY …] TRIGGER|VIEW
  if (head.startsWith('CREATE ')) {
    const kw = /^CREATE\s+(?:OR\s+REPLACE\s+)?(?:ALGORITHM=\S+\s+)?(?:DEFINER=(?:`(?:[^`]|``)*`|'(?:[^'\\]|\\.)*'|\S+?)@(?:`(?:[^`]|``)*`|'(?:[^'\\]|\\.)*'|\S+)\s+|DEFINER=CURRENT_USER(?:\(\))?\s+)?(?:SQL\s+SECURITY\s+\S+\s+)?(TRIGGER|VIEW)\b/.exec(head);
    if (kw?.[1] === 'TRIGGER') return 'create-trigger';
    if (kw?.[1] === 'VIEW') return 'create-view';
  }
  return 'other';
}

/** The sql_mode value of a `/*!50003 SET SESSION SQL_MODE='…' *\/` statement. */
export function triggerSqlMode(stmt: string): string {
  const m = /SQL_MODE='([^']*)'/i.exec(stmt);
  return m ? (m[1] as string) : '';
}

/** A trigger or view as the backup holds it. */
export interface RoutineDef {
  name: string;
  /** The table a trigger belongs to (null for a view). */
  table: string | null;
  sqlMode: string;
  create: string;
}

/** `DEFINER=`user`@`host`` of a CREATE TRIGGER/VIEW statement, as [user, host], or null. */
export function definerOf(create: string): [string, string] | null {
  const m = /^CREATE\s+(?:ALGORITHM=\S+\s+)?DEFINER=`((?:[^`]|``)*)`@`((?:[^`]|``)*)`/i.exec(create);
  return m ? [(m[1] as string).replace(/``/g, '`'), (m[2] as string).replace(/``/g, '`')] : null;
}

/** The same statement with the restoring user as definer (`--definer current`). */
export function withCurrentDefiner(create: string): string {
  return create.replace(/^(CREATE\s+(?:ALGORITHM=\S+\s+)?)DEFINER=`(?:[^`]|``)*`@`(?:[^`]|``)*`/i, '$1DEFINER=CURRENT_USER');
}

/** The name of the object a CREATE TRIGGER/VIEW creates (first backquoted identifier after the keyword). */
export function createdName(create: string, kind: 'TRIGGER' | 'VIEW'): string | null {
  const re = new RegExp(`\\b${kind}\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?(\`(?:[^\`]|\`\`)*\`|[A-Za-z0-9_$]+)`, 'i');
  const m = re.exec(create.replace(/^CREATE\s+(?:ALGORITHM=\S+\s+)?DEFINER=`(?:[^`]|``)*`@`(?:[^`]|``)*`/i, 'CREATE'));
  if (!m) return null;
  const raw = m[1] as string;
  return raw.startsWith('`') ? raw.slice(1, -1).replace(/``/g, '`') : raw;
}
