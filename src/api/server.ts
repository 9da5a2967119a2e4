/**
 * The daemon's HTTP API, as fastify routes with JSON schemas (fastify routes
 * and validates; nothing here parses a URL or a body by hand). Every route
 * names the scope it needs; one onRequest hook checks the bearer token before
 * a body is read. Work that touches backups goes through the daemon
 * (DaemonControl), so the schedule, the API and a one-shot on the shell share
 * one run at a time: the daemon's own slot, then the run lock.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { BackupConfig } from '../config/types';
import type { DaemonControl } from '../daemon/daemon';
import { renderMetrics } from '../bookkeeping/metrics';
import { readStatus, statusReport, type StatusRecord } from '../bookkeeping/status';
import { defaultMaxAgeHours } from '../daemon/schedule';
import { BusyError, EXIT, errorMessage, exitCodeOf } from '../errors';
import type { Logger } from '../log';
import type { OnlyPart, RestoreMode } from '../restore/plan';
import { resolveSnapshot } from '../restore/source';
import type { RestoreSummary } from '../restore/summary';
import { LOCK_FILE, withRunLock } from '../services/lock';
import { isOwnerAlive, parseOwner } from '../services/process-identity';
import type { ServiceMode } from '../domain/service-report';
import { NotFound, archiveStream, openArchive } from './archive';
import { SNAPSHOT_REF_PATTERN, isSnapshotRef } from '../domain/snapshot-name';
import { listBackups } from './backups';
import { RUN_ID, RunRegistry, type RunView } from './runs';
import { matchToken, readTokens, scopeAllows, type Scope } from './tokens';

/** A restore as the API takes it: schema_restore's options. */
export interface ApiRestore {
  snapshot: string;
  database: string | null;
  tables: string[] | null;
  only: OnlyPart | null;
  mode: RestoreMode;
  definer: 'keep' | 'current';
  dryRun: boolean;
  serviceMode: ServiceMode;
}

export interface ApiDeps {
  control: DaemonControl;
  log: Logger;
  /** The daemon's own mode (its command line), for a backup that asks for none. */
  defaultMode: ServiceMode;
  /** The host directory's name (--host-name, else the FQDN). */
  hostName(): Promise<string>;
  /**
   * One restore, as schema_restore does it: under the run lock (onLocked once
   * it is taken; a dry run takes none) with consumers handled as asked.
   */
  restore(config: BackupConfig, request: ApiRestore, signal: AbortSignal, onLocked: () => void): Promise<RestoreSummary>;
}

/** Small: every body this API takes is a few options. */
export const BODY_LIMIT = 16 * 1024;
/** The whole request (headers and body) must arrive within this. */
export const REQUEST_TIMEOUT_MS = 15_000;
export const HEADERS_TIMEOUT_MS = 10_000;
/** A connection with no traffic either way (e.g. a download the client stopped reading) is closed after this. */
export const IDLE_TIMEOUT_MS = 60_000;

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

declare module 'fastify' {
  interface FastifyContextConfig {
    scope?: Scope;
  }
  interface FastifyRequest {
    tokenName: string | null;
  }
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

const errorBody = { type: 'object', properties: { error: { type: 'string' } } } as const;
const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;
const snapshotParams = {
  type: 'object',
  required: ['snapshot'],
  additionalProperties: false,
  // The pattern is checked in the handler, so a name that is not one gives 404 (as an unknown one does), not 400.
  properties: { snapshot: { type: 'string', maxLength: 64 } },
} as const;

const backupBody = {
  type: 'object',
  additionalProperties: false,
  properties: { mode: { type: 'string', enum: ['default', 'model', 'online'] } },
} as const;

const restoreBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    snapshot: { type: 'string', pattern: SNAPSHOT_REF_PATTERN },
    database: { type: 'string', minLength: 1, maxLength: 64 },
    tables: { type: 'array', minItems: 1, maxItems: 10000, items: { type: 'string', minLength: 1, maxLength: 64 } },
    only: { type: 'string', enum: ['global', 'local', 'structure'] },
    merge: { type: 'boolean' },
    replace: { type: 'boolean' },
    definer: { type: 'string', enum: ['keep', 'current'] },
    mode: { type: 'string', enum: ['default', 'model', 'target', 'online'] },
    dryRun: { type: 'boolean' },
  },
} as const;

interface RestoreBody {
  snapshot?: string;
  database?: string;
  tables?: string[];
  only?: OnlyPart;
  merge?: boolean;
  replace?: boolean;
  definer?: 'keep' | 'current';
  mode?: ServiceMode;
  dryRun?: boolean;
}

/** A run lock held by another live process (a one-shot on the shell): answered 409 before anything starts. */
async function lockHeldElsewhere(stateDir: string): Promise<boolean> {
  try {
    const owner = parseOwner(await fs.readFile(join(stateDir, LOCK_FILE), 'utf8'));
    return owner !== null && owner.pid !== process.pid && isOwnerAlive(owner, new Set());
  } catch {
    return false;
  }
}

function location(run: RunView): string {
  return `/v1/runs/${run.id}`;
}

/** The database name rules of schema_restore's --database, as a 400. */
function checkDatabaseName(d: string): string {
  if (d.includes('\0') || d.includes('/') || d.trim() !== d) throw new HttpError(400, `database: not a usable database name: ${JSON.stringify(d)}`);
  return d;
}

export function buildApi(deps: ApiDeps): FastifyInstance {
  const { control, log } = deps;
  const runs = new RunRegistry();
  const app = Fastify({
    // fastify's own logger (pino) stays off: one log, the daemon's, and only what onResponse writes (never a header).
    logger: false,
    bodyLimit: BODY_LIMIT,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionTimeout: IDLE_TIMEOUT_MS,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    http: { headersTimeout: HEADERS_TIMEOUT_MS, maxHeaderSize: 16 * 1024, connectionsCheckingInterval: 1_000 },
    routerOptions: { maxParamLength: 200, ignoreTrailingSlash: false },
    // Unknown options are errors, not silently dropped; types are not coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
  });
  app.decorateRequest('tokenName', null);

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const need = req.routeOptions.config.scope;
    if (!need) return;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer ([A-Za-z0-9_-]{1,256})$/.exec(header);
    if (!m) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or malformed Authorization: Bearer TOKEN' });
    }
    let tokens;
    try {
      tokens = await readTokens(control.config().stateDir);
    } catch (err) {
      log.error('cannot read the API tokens', { err: errorMessage(err) });
      return reply.code(500).send({ error: 'the token store cannot be read; see the daemon log' });
    }
    const token = matchToken(tokens, m[1] as string);
    if (!token) return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'unknown token' });
    req.tokenName = token.name;
    if (!scopeAllows(token.scope, need)) {
      return reply.code(403).send({ error: `token ${token.name} has scope ${token.scope}; this needs ${need}` });
    }
    return undefined;
  });

  app.addHook('onResponse', async (req, reply) => {
    // The path without its query; never a header (the token), never a body.
    const path = req.url.split('?')[0];
    const fields = { method: req.method, path, status: reply.statusCode, ms: Math.round(reply.elapsedTime), token: req.tokenName ?? '-' };
    if (reply.statusCode === 401 || reply.statusCode === 403) log.warn('api request refused', fields);
    else if (req.method !== 'GET' || reply.statusCode >= 500 || path?.endsWith('/archive')) log.info('api request', fields);
    else log.debug('api request', fields);
  });

  // A POST without a body (curl -X POST) means "no options": validated as {}.
  app.addHook('preValidation', async (req) => {
    if (req.method === 'POST' && req.body === undefined) req.body = {};
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown; code?: string }, _req, reply) => {
    const status = err instanceof HttpError ? err.statusCode : typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) log.error('api request failed', { err: errorMessage(err) });
    const message = err.validation ? `invalid request: ${err.message}` : status >= 500 && !(err instanceof HttpError) ? 'internal error; see the daemon log' : err.message;
    void reply.code(status).send({ error: message });
  });
  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).send({ error: 'not found' });
  });

  const hostDirOf = async (config: BackupConfig) => join(config.csv2BackupDir, await deps.hostName());

  app.get('/v1/status', { config: { scope: 'read' }, schema: { querystring: noQuery } }, async () => {
    const config = control.config();
    const record = await readStatus(config.statusFile);
    return statusReport(record, { now: new Date(), maxAgeHours: defaultMaxAgeHours(config.schedule), file: config.statusFile }).json;
  });

  app.get('/metrics', { config: { scope: 'read' }, schema: { querystring: noQuery } }, async (_req, reply) => {
    const config = control.config();
    let text: string | null = null;
    if (config.metricsFile) text = await fs.readFile(config.metricsFile, 'utf8').catch(() => null);
    if (text === null) {
      // No metrics_file (or none written yet): the same text, from the status record.
      const record = await readStatus(config.statusFile).catch(() => null);
      if (!record) throw new HttpError(404, 'no metrics yet: no run has been recorded');
      text = renderMetrics(record);
    }
    return reply.type(PROMETHEUS_TEXT).send(text);
  });

  app.get<{ Querystring: { limit?: number } }>(
    '/v1/backups',
    {
      config: { scope: 'read' },
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'string', pattern: '^[1-9][0-9]{0,2}$' } } } },
    },
    async (req) => {
      const config = control.config();
      const limit = Math.min(500, Number((req.query as { limit?: string }).limit ?? 20));
      const status = await readStatus(config.statusFile).catch(() => null);
      return listBackups({ csv2BackupDir: config.csv2BackupDir, hostDir: await hostDirOf(config), userDataDir: config.userDataBackupDir, status, limit });
    },
  );

  app.post<{ Body: { mode?: ServiceMode } | undefined }>(
    '/v1/backups',
    { config: { scope: 'backup' }, schema: { querystring: noQuery, body: backupBody, response: { 202: { type: 'object', additionalProperties: true }, 409: errorBody } } },
    async (req, reply) => {
      const config = control.config();
      const mode = req.body?.mode ?? deps.defaultMode;
      if (await lockHeldElsewhere(config.stateDir)) throw new HttpError(409, 'another schema_backup run holds the run lock; try again when it ends');
      let locked: () => void = () => undefined;
      const lockTaken = new Promise<'locked'>((resolve) => (locked = () => resolve('locked')));
      const started = control.startBackup({ mode, onPhase: () => locked() });
      if (!started) throw new HttpError(409, 'a backup or restore is in progress (or the daemon is stopping)');
      const run = runs.start('backup', mode, started.startedAt);
      const ended = started.done.then((record: StatusRecord | null) => {
        runs.finish(run, { exitCode: record?.exitCode ?? EXIT.internal, error: record?.error ?? (record ? null : 'the run could not be recorded'), result: record });
        return 'ended' as const;
      });
      // 202 once the run holds the lock; a run refused by the lock (a one-shot got it first) is a 409.
      if ((await Promise.race([lockTaken, ended])) === 'ended' && run.exitCode === EXIT.busy) {
        throw new HttpError(409, run.error ?? 'another run holds the run lock');
      }
      return reply.code(202).header('location', location(run)).send({ ...run, location: location(run) });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/runs/:id',
    { config: { scope: 'read' }, schema: { querystring: noQuery, params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } } },
    async (req) => {
      const run = RUN_ID.test(req.params.id) ? runs.get(req.params.id) : null;
      if (!run) throw new HttpError(404, `no run ${JSON.stringify(req.params.id)} (runs are kept in memory until the daemon restarts)`);
      return run;
    },
  );

  app.get<{ Params: { snapshot: string } }>(
    '/v1/backups/:snapshot/archive',
    { config: { scope: 'export' }, schema: { querystring: noQuery, params: snapshotParams } },
    async (req, reply) => {
      const wanted = req.params.snapshot;
      // Checked before any path is made of it: `..`, `%2e%2e`, NUL and friends end here.
      if (!isSnapshotRef(wanted)) throw new HttpError(404, `no snapshot ${JSON.stringify(wanted)}: expected latest or YYYYmmddHHMMSS`);
      const config = control.config();
      const hostName = await deps.hostName();
      const opening = control.startTask(
        'archive',
        () => withRunLock(config.stateDir, log, () => openArchive({ csv2BackupDir: config.csv2BackupDir, hostName, userDataDir: config.userDataBackupDir, wanted })),
        { short: true },
      );
      if (!opening) throw new HttpError(409, 'a backup or restore is in progress; try again when it ends');
      let archive;
      try {
        archive = await opening;
      } catch (err) {
        if (err instanceof NotFound) throw new HttpError(404, err.message);
        if (err instanceof BusyError) throw new HttpError(409, `${err.message}; try again when it ends`);
        throw err;
      }
      const name = `schema_backup-${hostName}-${archive.info.snapshot ?? 'host'}.tar.gz`;
      const stream = archiveStream(archive, log);
      // A client that goes away ends the stream (and closes the descriptors).
      reply.raw.on('close', () => stream.destroy());
      return reply
        .type('application/gzip')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('x-schema-backup-snapshot', archive.info.snapshot ?? '')
        .send(stream);
    },
  );

  app.post<{ Body: RestoreBody | undefined }>(
    '/v1/restore',
    { config: { scope: 'restore' }, schema: { querystring: noQuery, body: restoreBody } },
    async (req, reply) => {
      const config = control.config();
      if (!config.api?.allowRestore) throw new HttpError(403, 'restores over the API are off: set `api: { allow_restore: true }` in schema_backup.conf');
      const body = req.body ?? {};
      if (body.merge && body.replace) throw new HttpError(400, 'choose one of merge and replace');
      const request: ApiRestore = {
        snapshot: body.snapshot ?? 'latest',
        database: body.database !== undefined ? checkDatabaseName(body.database) : null,
        tables: body.tables ?? null,
        only: body.only ?? null,
        mode: body.merge ? 'merge' : body.replace ? 'replace' : 'empty',
        definer: body.definer ?? 'keep',
        dryRun: body.dryRun ?? false,
        serviceMode: body.mode ?? 'default',
      };
      // An unknown snapshot is a 404 now, not a failed run later (the name passed the pattern above).
      if (config.userDataBackupDir && request.snapshot !== 'latest') {
        await resolveSnapshot(config.userDataBackupDir, request.snapshot).catch(() => {
          throw new HttpError(404, `no user-data snapshot ${request.snapshot}`);
        });
      }
      if (await lockHeldElsewhere(config.stateDir)) throw new HttpError(409, 'another schema_backup run holds the run lock; try again when it ends');
      let locked: () => void = () => undefined;
      const lockTaken = new Promise<'locked'>((resolve) => (locked = () => resolve('locked')));
      const startedAt = new Date();
      const work = control.startTask('restore', (signal) => deps.restore(config, request, signal, locked));
      if (!work) throw new HttpError(409, 'a backup or restore is in progress (or the daemon is stopping)');
      const run = runs.start('restore', request.serviceMode, startedAt);
      const ended = work.then(
        (summary) => runs.finish(run, { exitCode: summary.errors.length ? EXIT.service : EXIT.ok, error: summary.errors.join('; ') || null, result: summary }),
        (err: unknown) => {
          log.error('api restore failed', { err: errorMessage(err), exitCode: exitCodeOf(err) });
          runs.finish(run, { exitCode: exitCodeOf(err), error: errorMessage(err), result: null });
        },
      );
      const first = await Promise.race([lockTaken, ended.then(() => 'ended' as const)]);
      if (first === 'ended' && run.exitCode === EXIT.busy) throw new HttpError(409, run.error ?? 'another run holds the run lock');
      if (first === 'ended' && run.exitCode === EXIT.usage) throw new HttpError(400, run.error ?? 'refused');
      return reply.code(202).header('location', location(run)).send({ ...run, location: location(run) });
    },
  );

  return app;
}
