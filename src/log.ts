/**
 * Logging with winston. Messages are fixed strings; data goes in metadata,
 * so lines can be searched. Under systemd (JOURNAL_STREAM set) lines carry
 * syslog priority prefixes and no timestamp: journald records both. On a
 * terminal lines carry the time. Optionally also JSON lines to a file.
 *
 * Metadata is printed as given, whatever its key: there is no redaction, so
 * callers never pass a secret in the first place.
 */
import winston from 'winston';

export type Logger = winston.Logger;

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** Valid `--log-level` values, most severe first. */
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** sd-daemon(3) prefixes: <3> err, <4> warning, <6> info, <7> debug. */
const PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, debug: 7 };

const RESERVED = new Set(['level', 'message', 'timestamp']);

function renderMeta(info: winston.Logform.TransformableInfo): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(info)) {
    if (RESERVED.has(k) || v === undefined) continue;
    const text = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v);
    parts.push(`${k}=${/[\s"]/.test(text) && (typeof v === 'string' || v instanceof Error) ? JSON.stringify(text) : text}`);
  }
  return parts.length ? ` ${parts.join(' ')}` : '';
}

/** Error objects in metadata become { name, message } (JSON.stringify would give `{}`). */
const plainErrors = winston.format((info) => {
  for (const [k, v] of Object.entries(info)) {
    if (v instanceof Error) (info as Record<string, unknown>)[k] = { name: v.name, message: v.message };
  }
  return info;
});

export interface LoggerOptions {
  level?: LogLevel;
  /** Force journald-style output (defaults to JOURNAL_STREAM being set). */
  journal?: boolean;
  /** Also write JSON lines to this file. */
  jsonFile?: string;
  /** Where plain lines go; stderr by default so stdout stays for the summary and plans. */
  stream?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const journal = options.journal ?? Boolean(process.env.JOURNAL_STREAM);
  const line = journal
    ? winston.format.printf((info) => {
        const prefix = `<${PRIORITY[info.level] ?? 6}>`;
        // journald cuts entries at newlines: every line of a multi-line message keeps the priority.
        return `${String(info.message)}${renderMeta(info)}`
          .split('\n')
          .map((l) => `${prefix}${l}`)
          .join('\n');
      })
    : winston.format.combine(
        winston.format.timestamp({ format: 'YYYY-MM-DD HH:mm:ss' }),
        winston.format.printf((info) => `${String(info.timestamp)} ${info.level.padEnd(5)} ${String(info.message)}${renderMeta(info)}`),
      );
  const transports: winston.transport[] = [
    new winston.transports.Stream({ stream: options.stream ?? process.stderr, format: line }),
  ];
  if (options.jsonFile) {
    transports.push(
      new winston.transports.File({
        filename: options.jsonFile,
        format: winston.format.combine(plainErrors(), winston.format.timestamp(), winston.format.json()),
      }),
    );
  }
  return winston.createLogger({ level: options.level ?? 'info', transports });
}

/** A logger that drops everything (unit tests of pure code paths that take a logger). */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
