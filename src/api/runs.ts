/**
 * Runs started through the API (backups and restores), kept in memory so a
 * client can poll the one it started: GET /v1/runs/{id}. The newest
 * MAX_KEPT are kept; a daemon restart forgets them (status.json stays the
 * record of the last backup).
 */
import { randomBytes } from 'node:crypto';

export type RunKind = 'backup' | 'restore';
export type RunState = 'running' | 'succeeded' | 'failed';

export interface RunView {
  id: string;
  kind: RunKind;
  state: RunState;
  /** The service mode (default, model, target, online). */
  mode: string;
  startedAt: string;
  finishedAt: string | null;
  /** The exit code the run would have had as a command; null while running. */
  exitCode: number | null;
  error: string | null;
  /** A backup's status record, a restore's summary. */
  result: unknown;
}

const MAX_KEPT = 100;
export const RUN_ID = /^[0-9a-f]{16}$/;

export class RunRegistry {
  private readonly runs = new Map<string, RunView>();

  start(kind: RunKind, mode: string, startedAt: Date): RunView {
    const run: RunView = { id: randomBytes(8).toString('hex'), kind, state: 'running', mode, startedAt: startedAt.toISOString(), finishedAt: null, exitCode: null, error: null, result: null };
    this.runs.set(run.id, run);
    for (const id of this.runs.keys()) {
      if (this.runs.size <= MAX_KEPT) break;
      if (this.runs.get(id)?.state !== 'running') this.runs.delete(id);
    }
    return run;
  }

  finish(run: RunView, outcome: { exitCode: number; error: string | null; result: unknown }, finishedAt = new Date()): void {
    run.state = outcome.exitCode === 0 ? 'succeeded' : 'failed';
    run.exitCode = outcome.exitCode;
    run.error = outcome.error;
    run.result = outcome.result;
    run.finishedAt = finishedAt.toISOString();
  }

  get(id: string): RunView | null {
    return this.runs.get(id) ?? null;
  }
}
