/**
 * fileStatements reads a backup file in chunks far smaller than its row lines: each INSERT line
 * must come out as pieces that join to the line exactly (the first holding its head), every
 * other statement whole, and the hash must be the stored bytes', for a plain and a gzip file.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROWS_MARKER } from '../../src/dump/structure';
import { fileStatements } from '../../src/sqlite/file-statements';

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'sb-file-statements-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An INSERT line of about `bytes`, with quotes, escapes, `;` and `),(` inside values. */
function insertLine(table: string, bytes: number, seed: number): string {
  const tuples: string[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const t = `(${seed + i},'row ${i}: it''s \\'q\\' ; ),( ${'x'.repeat(i % 500)}',${i % 7 ? 'NULL' : "X'00FF'"})`;
    tuples.push(t);
    n += t.length + 1;
  }
  return `INSERT INTO \`${table}\` VALUES ${tuples.join(',')};\n`;
}

const head = 'CREATE TABLE `t` (\n  `id` int NOT NULL,\n  `v` text,\n  `b` blob,\n  PRIMARY KEY (`id`)\n);\n';
const trigger = "CREATE TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.v = 'a;b'";

/** A backup file's layout: head, rows marker, row lines, then statements again (a comment line between). */
function fileText(lines: string[]): string {
  return `${head}${ROWS_MARKER}${lines.join('')}-- end of rows\n${trigger};\n`;
}

async function readBack(path: string, compressed: boolean, readBytes?: number): Promise<{ statements: string[]; rowLines: string[]; firstPieces: string[]; pieces: number; sha256: string }> {
  const stream = fileStatements(path, compressed, undefined, readBytes);
  const statements: string[] = [];
  const rowLines: string[] = [];
  const firstPieces: string[] = [];
  let line: Buffer[] = [];
  let pieces = 0;
  for await (const s of stream.statements) {
    if (Buffer.isBuffer(s)) {
      statements.push(s.toString('utf8').trim());
      continue;
    }
    pieces++;
    if (s.start) firstPieces.push(s.piece.toString('utf8'));
    expect(s.start).toBe(line.length === 0);
    line.push(s.piece);
    if (s.end) {
      rowLines.push(Buffer.concat(line).toString('utf8'));
      line = [];
    }
  }
  expect(line).toEqual([]);
  return { statements, rowLines, firstPieces, pieces, sha256: stream.sha256() };
}

function store(name: string, text: string, compressed: boolean): { path: string; stored: Buffer } {
  const stored = compressed ? gzipSync(Buffer.from(text, 'utf8')) : Buffer.from(text, 'utf8');
  const path = join(dir, name);
  writeFileSync(path, stored);
  return { path, stored };
}

// Statements come as the mariadb client sends them, without their delimiter.
const statementsOf = [head.trim().replace(/;$/, ''), trigger];

test.each([
  ['plain', false],
  ['gzip', true],
])('a %s file: row lines of many reads come back in pieces that join to them exactly', async (name, compressed) => {
  const lines = [insertLine('t', 3_500_000, 0), insertLine('t', 10, 1_000_000), insertLine('t', 1_200_000, 2_000_000)];
  const { path, stored } = store(`long-${name}`, fileText(lines), compressed);
  const got = await readBack(path, compressed);
  expect(got.rowLines).toEqual(lines);
  expect(got.pieces).toBeGreaterThan(lines.length);
  expect(got.firstPieces.map((p) => p.slice(0, 12))).toEqual(lines.map(() => 'INSERT INTO '));
  expect([got.statements[0], got.statements.at(-1)]).toEqual(statementsOf);
  expect(got.sha256).toBe(createHash('sha256').update(stored).digest('hex'));
});

test('reads of every small size, cut anywhere (inside `INSERT INTO `, the rows marker, a quoted `;`), give the same lines and statements', async () => {
  const lines = [insertLine('t', 300, 0), insertLine('t', 10, 1000), insertLine('t', 200, 2000)];
  const plain = store('small', fileText(lines), false);
  const gzip = store('small.gz', fileText(lines), true);
  const cases: [string, boolean, number][] = [];
  for (let size = 1; size <= 40; size++) cases.push([plain.path, false, size]);
  for (const size of [64, 65, 97, 128]) cases.push([gzip.path, true, size]);
  for (const [path, compressed, size] of cases) {
    const got = await readBack(path, compressed, size);
    // A line's first piece always tells it is a row line: it holds all of `INSERT INTO ` or the whole line.
    expect({ size, compressed, rowLines: got.rowLines, statements: got.statements }).toEqual({ size, compressed, rowLines: lines, statements: statementsOf });
    expect(got.firstPieces.every((p) => p.startsWith('INSERT INTO '))).toBe(true);
  }
});

test('a file that ends inside `INSERT INTO ` is said to end inside an INSERT statement, whatever the read size', async () => {
  const { path } = store('cut-head', `${head}${ROWS_MARKER}INSERT INT`, false);
  for (const size of [1, 3, 7, 10, 64 << 10]) {
    await expect(readBack(path, false, size)).rejects.toThrow('the file ends inside an INSERT statement');
  }
});
