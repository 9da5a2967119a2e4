/**
 * Values a backup saves other than the ones its snapshot reads (pure). In
 * pause-flag mode the snapshot opens after the run set CSV2's pause flag to
 * 'True'; the backup must hold the value the site had (a restore of a 'True'
 * would pause every consumer, and every run would commit a flag flip-flop),
 * so the row reader SELECTs the previous value for that one row.
 */
import type { DbTableDetail } from '../db/schema';
import { columnRead, ValueKind } from '../dump/literals';
import { PAUSE_FLAG, savedFlagExpression } from '../services/pause-flag-sql';
import type { QuiesceReport } from '../domain/service-report';

/** The column expressions to read `table` with (see RowSelectOptions.columnExpressions), or undefined for a plain read. */
export function savedValueColumns(table: DbTableDetail, services: QuiesceReport | null): ReadonlyMap<string, string> | undefined {
  const flag = services?.pauseFlag;
  if (!flag || table.name !== PAUSE_FLAG.table) return undefined;
  const column = table.columns.find((c) => c.name === PAUSE_FLAG.column && !c.generated);
  if (!column) return undefined;
  return new Map([[column.name, savedFlagExpression(flag.previous, columnRead(column).kind !== ValueKind.Hex)]]);
}
