/** A backup run's summary: started empty, counted as the run writes each file. */
import { emptyClassFigures, type BackupSummary, type SummaryClass } from '../domain/summary';

export function newBackupSummary(started: Date, fields: { hostName: string; hostDir: string; ephemeralDir: string | null }): BackupSummary {
  return {
    startedAt: started.toISOString(),
    finishedAt: '',
    durationMs: 0,
    hostName: fields.hostName,
    hostDir: fields.hostDir,
    perClass: emptyClassFigures(),
    views: 0,
    triggers: 0,
    bytesWritten: 0,
    filesChanged: [],
    commit: null,
    userSnapshot: null,
    ephemeralDir: fields.ephemeralDir,
    services: null,
    warnings: [],
    errors: [],
  };
}

/** What a written file adds to the figures. */
interface Written {
  bytes: number;
  rows: number | null;
}

/** Tables, rows, triggers and bytes per class. */
export class BackupTally {
  /** User-data bytes count only once the snapshot is promoted (an unchanged one is not kept). */
  private userBytes = 0;

  constructor(private readonly summary: BackupSummary) {}

  ignored(tables: number): void {
    this.summary.perClass.ignore.tables = tables;
  }

  table(cls: SummaryClass, triggers: number): void {
    this.summary.perClass[cls].tables++;
    this.summary.triggers += triggers;
  }

  /** The table's host file; its rows count when the host file holds them. */
  hostFile(cls: SummaryClass, w: Written, withRows: boolean): void {
    this.summary.bytesWritten += w.bytes;
    if (withRows) this.summary.perClass[cls].rows += w.rows ?? 0;
  }

  /** A copy with rows in the user-data snapshot or the -e directory. */
  copy(kind: 'user' | 'ephemeral', cls: SummaryClass, w: Written): void {
    if (kind === 'user') this.userBytes += w.bytes;
    else this.summary.bytesWritten += w.bytes;
    this.summary.perClass[cls].rows += w.rows ?? 0;
  }

  userPromoted(): void {
    this.summary.bytesWritten += this.userBytes;
  }
}
