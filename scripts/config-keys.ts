/**
 * The README's table of schema_backup.conf keys, rendered from the JSON Schema
 * (schema/schema_backup.conf.schema.json), which a unit test holds to the
 * validator's keys and defaults: one declaration, checked three ways.
 * `npm run docs:config` rewrites the table between its markers in README.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const START = '<!-- config-keys:start (npm run docs:config) -->';
export const END = '<!-- config-keys:end -->';

interface Property {
  type?: string | string[];
  default?: unknown;
  description?: string;
  enum?: unknown[];
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();

function typeOf(p: Property): string {
  if (p.enum) return p.enum.filter((v) => v !== null).map((v) => `\`${String(v)}\``).join(' \\| ');
  const types = (Array.isArray(p.type) ? p.type : [p.type ?? 'object']).filter((t) => t !== 'null');
  return types.join(' or ');
}

/** The markdown table, one row per key of the schema, in its order. */
export function renderConfigKeysTable(schema: { properties: Record<string, Property> }): string {
  const rows = Object.entries(schema.properties).map(([key, p]) => {
    const def = p.default === undefined || p.default === null ? '(none)' : `\`${typeof p.default === 'string' ? p.default : JSON.stringify(p.default)}\``;
    return `| \`${key}\` | ${typeOf(p)} | ${cell(def)} | ${cell(p.description ?? '')} |`;
  });
  return ['| key | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** README with the table between the markers replaced. */
export function withConfigKeysTable(readme: string, table: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${START} ... ${END} section`);
  return `${readme.slice(0, a + START.length)}\n${table}\n${readme.slice(b)}`;
}

if (require.main === module) {
  const root = join(__dirname, '..', '..');
  const schema = JSON.parse(readFileSync(join(root, 'schema', 'schema_backup.conf.schema.json'), 'utf8'));
  const path = join(root, 'README.md');
  writeFileSync(path, withConfigKeysTable(readFileSync(path, 'utf8'), renderConfigKeysTable(schema)));
  process.stdout.write(`README.md: ${Object.keys(schema.properties).length} configuration keys\n`);
}
