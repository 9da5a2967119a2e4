/**
 * CSV2's pause flag, as SQL text (pure). The original schema_backup paused
 * the consumers by setting this row to 'True' instead of stopping them; the
 * consumers (CSV2's ProcessMonitor loops) idle while it is set. Every
 * statement names the row the same way, so the pause, the restore and the
 * value the backup saves always touch the same row.
 */
import { quoteIdent } from '../db/quote';

export const PAUSE_FLAG = {
  table: 'csv2_configuration',
  category: 'ProcessMonitor',
  configKey: 'pause',
  column: 'config_value',
  /** What the consumers read as "paused" (config_value is text: 'True'/'False'). */
  paused: 'True',
} as const;

/** For messages: "row category='ProcessMonitor', config_key='pause' of table csv2_configuration". */
export const FLAG_ROW = `row category='${PAUSE_FLAG.category}', config_key='${PAUSE_FLAG.configKey}' of table ${PAUSE_FLAG.table}`;

const table = quoteIdent(PAUSE_FLAG.table);
const value = quoteIdent(PAUSE_FLAG.column);
/** The condition naming the flag's row (the constants are plain ASCII: no quoting question). */
const ROW = `${quoteIdent('category')} = '${PAUSE_FLAG.category}' AND ${quoteIdent('config_key')} = '${PAUSE_FLAG.configKey}'`;

/** The flag's value (one row, or none when the site lacks it). */
export const READ_FLAG_SQL = `SELECT ${value} FROM ${table} WHERE ${ROW}`;
/** The same, locking the row until the transaction ends: read and change it as one step. */
export const LOCK_FLAG_SQL = `${READ_FLAG_SQL} FOR UPDATE`;

/** Sets the flag to `value` (a bound parameter: the previous value is whatever the site had). */
export const SET_FLAG_SQL = `UPDATE ${table} SET ${value} = ? WHERE ${ROW}`;

/** A string literal whatever its bytes and whatever sql_mode says about backslashes. */
function textLiteral(text: string): string {
  return `CONVERT(X'${Buffer.from(text, 'utf8').toString('hex').toUpperCase()}' USING utf8mb4)`;
}

/**
 * What the dump SELECTs instead of config_value: the flag's value from before
 * the run paused it (the snapshot sees 'True', which the run itself set),
 * every other row's value unchanged. For a text column both branches are
 * utf8mb4, as the connection receives the column anyway, so every other row
 * reads to the same bytes; for a binary column, raw bytes both ways.
 */
export function savedFlagExpression(previous: string | null, textColumn: boolean): string {
  if (!textColumn) {
    const raw = previous === null ? 'NULL' : `X'${Buffer.from(previous, 'utf8').toString('hex').toUpperCase()}'`;
    return `IF(${ROW},${raw},${value})`;
  }
  const saved = previous === null ? 'NULL' : textLiteral(previous);
  return `IF(${ROW},${saved},CONVERT(${value} USING utf8mb4))`;
}
