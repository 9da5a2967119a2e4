/**
 * The dump step of a backup run: each planned table's file in the host
 * directory, and a copy with rows in each other destination that wants it
 * (the user-data snapshot, the -e directory). Tables outside the snapshot's
 * protection are read under a read lock while consumers are still stopped.
 */
import { join } from 'node:path';
import type { DbTableDetail, DbTrigger, DbView } from '../db/schema';
import { describeTables, listTriggers, listViews, showCreateTable } from '../db/introspect';
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
  const creates = new Map<string, string>();
  for (const t of plan.tables) creates.set(t.name, await showCreateTable(snap.db, t.name));
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

export async function dumpTables(c: DumpContext): Promise<Dumped> {
  const out: Dumped = { hostEntries: [], changed: [], rowDetails: {} };
  // Tables outside the snapshot's protection are read (under a read lock) while consumers are still stopped.
  const savesRows = (t: TablePlan) => t.rowsToHost || t.rowsToUser || t.rowsToEphemeral;
  for (const t of c.plan.tables.filter((x) => !x.transactional && savesRows(x))) await c.snap.withReadLock(t.name, () => dumpTable(c, t, out));
  // Everything else comes from the snapshot, which no later write can change: consumers may run again
  // (in target mode they stay stopped until the run is over).
  await c.release();
  for (const t of c.plan.tables.filter((x) => x.transactional || !savesRows(x))) await dumpTable(c, t, out);
  return out;
}

/** db_upgrade reads only the first INSERT of a file: a table split over several is said. */
function warnSplit(c: DumpContext, t: TablePlan, where: string, w: WrittenFile): void {
  if ((w.statements ?? 0) <= 1) return;
  const message = `table ${t.name}: its rows in ${where} take ${w.statements} INSERT statements (over ${c.statementBytes} bytes); db_upgrade reads only the first, so an upgrade would reload only part of this table`;
  c.log.warn('rows split over several statements: db_upgrade reads only the first', { table: t.name, in: where, statements: w.statements });
  c.warnings.push(message);
}

async function dumpTable(c: DumpContext, t: TablePlan, out: Dumped): Promise<void> {
  c.throwIfAborted();
  const detail = c.structures.details.get(t.name) as DbTableDetail;
  const create = c.structures.creates.get(t.name) as string;
  const tableTriggers = c.structures.triggers.get(t.name) ?? [];
  const columns = savedValueColumns(detail, c.quiesced);
  const rows = (sink: RowSink) => dumpTableRows(c.snap, detail, sink, columns);
  c.tally.table(t.class, tableTriggers.length);

  const hostText = tableFileText(t.name, create, tableTriggers, t.rowsToHost);
  const hostFile = await c.host.write({ table: t.name, file: t.file, head: hostText.head, tail: hostText.tail, rows: t.rowsToHost ? rows : undefined });
  const entry = manifestEntry(t, hostFile, hostText.structureSha256, t.rowsToHost);
  out.hostEntries.push(entry);
  if (hostFile.changed) out.changed.push(entry);
  if (t.rowsToHost && hostFile.changed) {
    const names = rowColumns(detail).map((col) => col.name);
    const changes = await c.host.rowChangesOf(hostFile, detail.primaryKey.map((k) => names.indexOf(k)));
    if (changes) out.rowDetails[t.name] = describeRowChanges(changes);
  }
  // db_upgrade parses the host file of csv2_configuration itself (its settings).
  if (t.name === CSV2_SETTINGS_TABLE) warnSplit(c, t, join(c.hostDir, t.file), hostFile);
  c.tally.hostFile(t.class, hostFile, t.rowsToHost);

  const withRows = tableFileText(t.name, create, tableTriggers, true);
  for (const d of c.destinations) {
    if (!d.wants(t)) continue;
    const file = d.fileName(t);
    const written = await d.dir.write({ table: t.name, file, head: withRows.head, tail: withRows.tail, rows });
    d.entries.push(manifestEntry(t, written, withRows.structureSha256, true, file));
    warnSplit(c, t, d.where, written);
    c.tally.copy(d.kind, t.class, written);
  }
}
