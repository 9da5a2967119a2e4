/**
 * The dump step of a backup run: each planned table's file in the host
 * directory, and a copy with rows in each other destination that wants it
 * (the user-data snapshot, the -e directory). Tables outside the snapshot's
 * protection are read under a read lock while consumers are still stopped.
 */
import { join } from 'node:path';
import type { DbTableDetail, DbTrigger, DbView } from '../db/schema';
import { describeTables, listTriggers, listViews, showCreateTables } from '../db/introspect';
import type { Snapshot } from '../db/snapshot';
import type { QuiesceReport } from '../domain/service-report';
import { rowColumns } from '../dump/literals';
import { tableFileText } from '../dump/table-file';
import { dumpTableRows } from '../dump/table-rows';
import type { Logger } from '../log';
import type { BackupPlan, TablePlan } from '../plan/plan';
import type { RowSink } from '../store/file-sink';
import type { ManifestTable } from '../store/manifest';
import { manifestEntry } from '../store/manifest-build';
import { describeRowChanges } from '../store/row-changes';
import type { TableDir, WrittenFile } from '../store/table-dir';
import { savedValueColumns } from './saved-values';
import type { BackupTally } from './summary-builder';
import { Turns, mapInOrder } from './concurrency';

/** CSV2's settings table: db_upgrade reads its host file line by line. */
const CSV2_SETTINGS_TABLE = 'csv2_configuration';

/** What the snapshot says of the planned tables besides their rows. */
export interface Structures {
  details: Map<string, DbTableDetail>;
  creates: Map<string, string>;
  triggers: Map<string, DbTrigger[]>;
  views: DbView[];
}

export async function readStructures(snap: Snapshot, plan: BackupPlan): Promise<Structures> {
  const details = await describeTables(snap.db);
  const creates = await showCreateTables(snap.db, plan.tables.map((t) => t.name));
  const triggers = new Map<string, DbTrigger[]>();
  for (const trig of await listTriggers(snap.db)) triggers.set(trig.table, [...(triggers.get(trig.table) ?? []), trig]);
  const views = (await listViews(snap.db)).filter((v) => plan.views.includes(v.name));
  return { details, creates, triggers, views };
}

/** A directory besides the host directory that gets the structure and rows of some tables. */
export interface Destination {
  kind: 'user' | 'ephemeral';
  dir: TableDir;
  /** Where, for messages. */
  where: string;
  wants(t: TablePlan): boolean;
  fileName(t: TablePlan): string;
  /** Manifest entries of what was written there. */
  entries: ManifestTable[];
}

export interface DumpContext {
  snap: Snapshot;
  plan: BackupPlan;
  structures: Structures;
  /** The quiescer's report: values it changed that the backup must not save. */
  quiesced: QuiesceReport;
  host: TableDir;
  hostDir: string;
  destinations: Destination[];
  statementBytes: number;
  tally: BackupTally;
  warnings: string[];
  log: Logger;
  throwIfAborted(): void;
  /** Consumers may run again: what is left is read from the snapshot alone. */
  release(): Promise<void>;
}

export interface Dumped {
  hostEntries: ManifestTable[];
  /** The host entries whose file changed. */
  changed: ManifestTable[];
  /** Table -> its row changes, for the commit message. */
  rowDetails: Record<string, string>;
}

/**
 * Tables whose files are written at once. Their rows are read one table at a
 * time (one snapshot connection, and one table in the progress figures);
 * what overlaps is the file work around them: structure-only files, closing
 * and comparing a file with the one it replaces, the commit message's row
 * changes (a CSV2 site is mostly small tables, where that work is the time).
 */
const TABLES_AT_ONCE = 4;

/** What one table's dump adds to the run, merged in plan order. */
interface TableDump {
  host: ManifestTable;
  hostChanged: boolean;
  rowDetail: string | null;
  copies: { destination: Destination; entry: ManifestTable }[];
  warnings: string[];
}

export async function dumpTables(c: DumpContext): Promise<Dumped> {
  const out: Dumped = { hostEntries: [], changed: [], rowDetails: {} };
  const reads = new Turns();
  const merge = (t: TablePlan, d: TableDump): void => {
    out.hostEntries.push(d.host);
    if (d.hostChanged) out.changed.push(d.host);
    if (d.rowDetail !== null) out.rowDetails[t.name] = d.rowDetail;
    for (const { destination, entry } of d.copies) destination.entries.push(entry);
    c.warnings.push(...d.warnings);
  };
  // Tables outside the snapshot's protection are read (under a read lock) while consumers are still stopped.
  const savesRows = (t: TablePlan) => t.rowsToHost || t.rowsToUser || t.rowsToEphemeral;
  for (const t of c.plan.tables.filter((x) => !x.transactional && savesRows(x))) merge(t, await c.snap.withReadLock(t.name, () => dumpTable(c, t, reads)));
  // Everything else comes from the snapshot, which no later write can change: consumers may run again
  // (in target mode they stay stopped until the run is over).
  await c.release();
  const rest = c.plan.tables.filter((x) => x.transactional || !savesRows(x));
  const dumps = await mapInOrder(rest, TABLES_AT_ONCE, async (t) => {
    try {
      return await dumpTable(c, t, reads);
    } catch (err) {
      // The tables waiting for their turn to read stop too.
      reads.close(err);
      throw err;
    }
  });
  rest.forEach((t, i) => merge(t, dumps[i]));
  return out;
}

/** db_upgrade reads only the first INSERT of a file: a table split over several is said. */
function warnSplit(c: DumpContext, t: TablePlan, where: string, w: WrittenFile, warnings: string[]): void {
  if ((w.statements ?? 0) <= 1) return;
  const message = `table ${t.name}: its rows in ${where} take ${w.statements} INSERT statements (over ${c.statementBytes} bytes); db_upgrade reads only the first, so an upgrade would reload only part of this table`;
  c.log.warn('rows split over several statements: db_upgrade reads only the first', { table: t.name, in: where, statements: w.statements });
  warnings.push(message);
}

async function dumpTable(c: DumpContext, t: TablePlan, reads: Turns): Promise<TableDump> {
  c.throwIfAborted();
  const detail = c.structures.details.get(t.name) as DbTableDetail;
  const create = c.structures.creates.get(t.name) as string;
  const tableTriggers = c.structures.triggers.get(t.name) ?? [];
  const columns = savedValueColumns(detail, c.quiesced);
  const rows = (sink: RowSink) => reads.run(() => dumpTableRows(c.snap, detail, sink, columns));
  const warnings: string[] = [];
  c.tally.table(t.class, tableTriggers.length);

  const hostText = tableFileText(t.name, create, tableTriggers, t.rowsToHost);
  const hostFile = await c.host.write({ table: t.name, file: t.file, head: hostText.head, tail: hostText.tail, rows: t.rowsToHost ? rows : undefined });
  const host = manifestEntry(t, hostFile, hostText.structureSha256, t.rowsToHost);
  let rowDetail: string | null = null;
  if (t.rowsToHost && hostFile.changed) {
    const names = rowColumns(detail).map((col) => col.name);
    const changes = await c.host.rowChangesOf(hostFile, detail.primaryKey.map((k) => names.indexOf(k)));
    if (changes) rowDetail = describeRowChanges(changes);
  }
  // db_upgrade parses the host file of csv2_configuration itself (its settings).
  if (t.name === CSV2_SETTINGS_TABLE) warnSplit(c, t, join(c.hostDir, t.file), hostFile, warnings);
  c.tally.hostFile(t.class, hostFile, t.rowsToHost);

  const copies: TableDump['copies'] = [];
  const withRows = tableFileText(t.name, create, tableTriggers, true);
  for (const d of c.destinations) {
    if (!d.wants(t)) continue;
    const file = d.fileName(t);
    const written = await d.dir.write({ table: t.name, file, head: withRows.head, tail: withRows.tail, rows });
    copies.push({ destination: d, entry: manifestEntry(t, written, withRows.structureSha256, true, file) });
    warnSplit(c, t, d.where, written, warnings);
    c.tally.copy(d.kind, t.class, written);
  }
  return { host, hostChanged: hostFile.changed, rowDetail, copies, warnings };
}
