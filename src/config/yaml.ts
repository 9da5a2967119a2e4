/**
 * YAML text -> a small tree of raw values, each with its 1-based line.
 *
 * js-yaml 5's event parser gives source offsets, which `load()` throws away;
 * we build the tree ourselves so every key and list item keeps its line.
 * Pure: no file access. Problems are returned, never thrown.
 */
import { CORE_SCHEMA, EVENT_ID, SCALAR_STYLE, YAML11_SCHEMA, YAMLException, getScalarValue, parseEvents } from 'js-yaml';
import type { Event, ScalarEvent } from 'js-yaml';
import type { ConfigMessage } from '../errors';

export type ScalarValue = string | number | boolean | null;

export interface RawScalar {
  kind: 'scalar';
  line: number;
  /** As YAML 1.2 (js-yaml's core schema) reads it. */
  value: ScalarValue;
  /** The decoded text, before type resolution. */
  text: string;
  /** Unquoted and untagged, so YAML chose its type from its spelling. */
  plain: boolean;
}

export interface RawList {
  kind: 'list';
  line: number;
  items: RawNode[];
}

export interface RawEntry {
  key: string;
  line: number;
  value: RawNode;
}

export interface RawMap {
  kind: 'map';
  line: number;
  entries: RawEntry[];
}

/** Stands in for something already reported (an alias, a bad key), so validation stays quiet about it. */
export interface RawInvalid {
  kind: 'invalid';
  line: number;
}

export type RawNode = RawScalar | RawList | RawMap | RawInvalid;

export interface ParsedYaml {
  /** null when the text holds no document (empty, or only comments). */
  root: RawNode | null;
  problems: ConfigMessage[];
}

/** Constructs the tree builder refuses unless the reader lets them pass (ParseYamlOptions.tolerate). */
export type YamlConstruct = 'anchor' | 'alias' | 'duplicate-key' | 'tag';

export interface ParseYamlOptions {
  /**
   * Whether `construct` at `path` (keys from the root, list items by index,
   * `?` for a key itself) passes without a problem. Default: nothing does. A
   * duplicate key let pass replaces the earlier one (the last wins, as
   * PyYAML reads it); an alias let pass reads as nothing (never expanded).
   */
  tolerate?: (construct: YamlConstruct, path: readonly string[]) => boolean;
}

type Frame =
  | { kind: 'list'; node: RawList; path: string[] }
  | { kind: 'map'; node: RawMap; path: string[]; pendingKey: { key: string; line: number; ok: boolean } | null; seen: Map<string, number> };

const STR_TAGS = new Set(['!!str', '!<tag:yaml.org,2002:str>']);

export function parseYaml(text: string, file: string, options: ParseYamlOptions = {}): ParsedYaml {
  const problems: ConfigMessage[] = [];
  const tolerate = options.tolerate ?? (() => false);
  let events: Event[];
  try {
    events = parseEvents(text, { filename: file });
  } catch (err) {
    problems.push(syntaxProblem(err, file, text));
    return { root: null, problems };
  }

  const lines = lineStarts(text);
  const lineAt = (offset: number): number => lineOf(lines, offset);
  // Offsets of empty scalars are -1; the next token after the previous one is where they sit.
  let lastEnd = 0;
  const emptyScalarLine = (): number => lineAt(nextTokenOffset(text, lastEnd));

  let root: RawNode | null = null;
  let documents = 0;
  let aliasCount = 0;
  let firstAliasLine = 0;
  const stack: Frame[] = [];

  const noteAlias = (line: number): void => {
    if (aliasCount++ === 0) firstAliasLine = line;
  };

  /** Where the next node attached will sit. */
  const here = (): string[] => {
    const top = stack[stack.length - 1];
    if (top === undefined) return [];
    if (top.kind === 'list') return [...top.path, String(top.node.items.length)];
    return [...top.path, top.pendingKey === null ? '?' : top.pendingKey.key];
  };

  const attach = (node: RawNode): void => {
    const top = stack[stack.length - 1];
    if (top === undefined) {
      if (documents === 1) root = node;
      return;
    }
    if (top.kind === 'list') {
      top.node.items.push(node);
      return;
    }
    if (top.pendingKey === null) {
      if (node.kind === 'scalar') {
        top.pendingKey = { key: node.text, line: node.line, ok: true };
      } else {
        if (node.kind !== 'invalid') {
          problems.push({ file, line: node.line, message: 'a key must be a plain name, not a list or mapping' });
        }
        top.pendingKey = { key: '', line: node.line, ok: false };
      }
      return;
    }
    const { key, line, ok } = top.pendingKey;
    top.pendingKey = null;
    if (!ok) return;
    const first = top.seen.get(key);
    if (first !== undefined && tolerate('duplicate-key', [...top.path, key])) {
      const earlier = top.node.entries.findIndex((e) => e.key === key);
      top.node.entries[earlier] = { key, line, value: node };
      return;
    }
    if (first !== undefined) {
      problems.push({
        file,
        line,
        key,
        message: `duplicate key (first given at line ${first}): give each key once, e.g. merge the two lists`,
      });
      return;
    }
    top.seen.set(key, line);
    top.node.entries.push({ key, line, value: node });
  };

  for (const ev of events) {
    switch (ev.type) {
      case EVENT_ID.DOCUMENT:
        documents++;
        if (documents === 2) {
          problems.push({ file, message: 'only one YAML document is allowed: remove the second `---` and what follows it' });
        }
        break;
      case EVENT_ID.SEQUENCE:
      case EVENT_ID.MAPPING: {
        const line = lineAt(ev.start);
        const path = here();
        lastEnd = Math.max(lastEnd, ev.start);
        if (ev.anchorStart >= 0 && !tolerate('anchor', path)) noteAlias(line);
        if (ev.tagStart >= 0 && !tolerate('tag', path)) {
          problems.push({ file, line, message: `YAML tag \`${text.slice(ev.tagStart, ev.tagEnd)}\` is not supported: remove it` });
        }
        if (ev.type === EVENT_ID.SEQUENCE) {
          stack.push({ kind: 'list', node: { kind: 'list', line, items: [] }, path });
        } else {
          stack.push({ kind: 'map', node: { kind: 'map', line, entries: [] }, path, pendingKey: null, seen: new Map() });
        }
        break;
      }
      case EVENT_ID.SCALAR: {
        const line = ev.valueStart >= 0 ? lineAt(ev.valueStart) : emptyScalarLine();
        if (ev.valueEnd >= 0) lastEnd = Math.max(lastEnd, ev.valueEnd);
        const path = here();
        if (ev.anchorStart >= 0 && !tolerate('anchor', path)) noteAlias(line);
        attach(scalarNode(text, ev, line, file, tolerate('tag', path) ? null : problems));
        break;
      }
      case EVENT_ID.ALIAS: {
        const line = lineAt(ev.anchorStart);
        lastEnd = Math.max(lastEnd, ev.anchorEnd);
        if (!tolerate('alias', here())) noteAlias(line);
        attach({ kind: 'invalid', line });
        break;
      }
      case EVENT_ID.POP: {
        const frame = stack.pop();
        if (frame) attach(frame.node);
        break;
      }
    }
  }

  if (aliasCount > 0) {
    // Refused outright rather than expanded: a "billion laughs" file then costs nothing.
    const more = aliasCount > 1 ? ` (${aliasCount} anchors and aliases in all)` : '';
    problems.push({
      file,
      line: firstAliasLine,
      message: `YAML anchors and aliases (&name, *name) are not supported${more}: write the values out in full`,
    });
  }
  return { root, problems };
}

/** `problems` null: a tag here is let pass. */
function scalarNode(text: string, ev: ScalarEvent, line: number, file: string, problems: ConfigMessage[] | null): RawScalar {
  const decoded = ev.valueStart >= 0 ? getScalarValue(text, ev) : '';
  if (ev.tagStart >= 0) {
    const tag = text.slice(ev.tagStart, ev.tagEnd);
    if (problems !== null && !STR_TAGS.has(tag)) {
      problems.push({ file, line, message: `YAML tag \`${tag}\` is not supported: quote the value instead` });
    }
    return { kind: 'scalar', line, value: decoded, text: decoded, plain: false };
  }
  if (ev.style !== SCALAR_STYLE.PLAIN) return { kind: 'scalar', line, value: decoded, text: decoded, plain: false };
  const resolved = CORE_SCHEMA.resolveImplicitScalarTag(decoded).value;
  return { kind: 'scalar', line, value: toScalarValue(resolved, decoded), text: decoded, plain: true };
}

function toScalarValue(v: unknown, fallback: string): ScalarValue {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : fallback;
}

/**
 * What YAML 1.1 (PyYAML, which the original CSV2 utility used) would make of
 * an unquoted scalar: `yes`, `on`, `12:30`, `2001-01-01` are not strings there.
 */
export function yaml11TypeOf(text: string): 'string' | 'boolean' | 'number' | 'null' | 'timestamp' {
  const v: unknown = YAML11_SCHEMA.resolveImplicitScalarTag(text).value;
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'number') return 'number';
  if (v instanceof Date) return 'timestamp';
  return 'string';
}

function syntaxProblem(err: unknown, file: string, text: string): ConfigMessage {
  if (err instanceof YAMLException) {
    const line = err.mark ? err.mark.line + 1 : undefined;
    let reason = err.reason || 'invalid YAML';
    if (/\btab/i.test(reason)) {
      reason += ' (YAML forbids tabs for indentation): indent with spaces';
    } else {
      reason = `YAML syntax error: ${reason}`;
      // The parser often reports a tab as some other indentation error; say what is really wrong.
      const tabbed = line !== undefined ? tabIndentedLine(text, line) : undefined;
      if (tabbed !== undefined) reason += ` (line ${tabbed} is indented with a tab; YAML forbids tabs for indentation: indent with spaces)`;
    }
    return line !== undefined ? { file, line, message: reason } : { file, message: reason };
  }
  // The parser is not supposed to throw anything else, but a hostile file must still end as a ConfigError.
  return { file, message: `cannot parse as YAML: ${err instanceof Error ? err.message : String(err)}` };
}

/** The error line or the one before it, when its indentation holds a tab. */
function tabIndentedLine(text: string, line: number): number | undefined {
  const lines = text.split('\n');
  for (const n of [line, line - 1]) {
    const indent = /^[ \t]*/.exec(lines[n - 1] ?? '')?.[0] ?? '';
    if (indent.includes('\t')) return n;
  }
  return undefined;
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** 1-based line holding `offset`. */
function lineOf(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** First offset at or after `from` that is neither whitespace nor inside a comment. */
function nextTokenOffset(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '#') {
      const nl = text.indexOf('\n', i);
      if (nl === -1) return text.length;
      i = nl + 1;
    } else {
      return i;
    }
  }
  return Math.max(0, Math.min(from, text.length));
}
