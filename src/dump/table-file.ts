/** The text of one table file around its rows (pure). */
import { createHash } from 'node:crypto';
import type { DbTrigger } from '../db/schema';
import { FILE_FOOTER, ROWS_MARKER, fileHeader, tableStructure, triggersText } from './structure';

export interface TableFileText {
  /** Header, DROP/CREATE, and the rows marker when rows follow. */
  head: string;
  /** Triggers (after the rows, so they do not fire while loading) and the footer. */
  tail: string;
  structureSha256: string;
}

/**
 * A system-versioned table's rows carry their period (history rows included),
 * which the server takes only with this session variable (MariaDB 10.11+).
 */
const INSERT_HISTORY = '/*!101100 SET @@SESSION.system_versioning_insert_history=1 */;\n';
const INSERT_HISTORY_OFF = '\n/*!101100 SET @@SESSION.system_versioning_insert_history=0 */;\n';

export function isSystemVersioned(createTable: string): boolean {
  return /\sWITH SYSTEM VERSIONING$/.test(createTable);
}

export function tableFileText(table: string, createTable: string, triggers: readonly DbTrigger[], withRows: boolean): TableFileText {
  const history = withRows && isSystemVersioned(createTable);
  const head =
    fileHeader(withRows ? 'table: structure and rows' : 'table: structure only') +
    // Where rows are saved the counter belongs to them; where they are not it is noise in git.
    tableStructure(table, createTable, withRows) +
    (history ? `\n${INSERT_HISTORY}` : '') +
    (withRows ? `\n${ROWS_MARKER}` : '');
  const tail = (history ? INSERT_HISTORY_OFF : '') + triggersText(triggers) + FILE_FOOTER;
  const structureSha256 = createHash('sha256').update(head).update(tail).digest('hex');
  return { head, tail, structureSha256 };
}
