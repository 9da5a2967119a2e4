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
import { fileStatements, type RowPiece } from '../../src/sqlite/file-statements';

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
const lines = [insertLine('t', 3_500_000, 0), insertLine('t', 10, 1_000_000), insertLine('t', 1_200_000, 2_000_000)];
const text = `${head}${ROWS_MARKER}${lines.join('')}-- end\nCREATE TRIGGER \`tr\` BEFORE INSERT ON \`t\` FOR EACH ROW SET NEW.v = 'a;b';\n`;

async function readBack(path: string, compressed: boolean): Promise<{ statements: string[]; rowLines: string[]; firstPieces: string[]; pieces: number; sha256: string }> {
  const stream = fileStatements(path, compressed);
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
    const p = s as RowPiece;
    pieces++;
    if (p.start) firstPieces.push(p.piece.subarray(0, 20).toString('utf8'));
    expect(p.start).toBe(line.length === 0);
    line.push(Buffer.from(p.piece)); // copied: a piece is only valid until the next is asked for
    if (p.end) {
      rowLines.push(Buffer.concat(line).toString('utf8'));
      line = [];
    }
  }
  expect(line).toEqual([]);
  return { statements, rowLines, firstPieces, pieces, sha256: stream.sha256() };
}

test.each([
  ['plain', false],
  ['gzip', true],
])('a %s file: row lines longer than a read come back in pieces that join to them exactly', async (_name, compressed) => {
  const stored = compressed ? gzipSync(Buffer.from(text, 'utf8')) : Buffer.from(text, 'utf8');
  const path = join(dir, `t${compressed ? '.gz' : ''}`);
  writeFileSync(path, stored);
  const got = await readBack(path, compressed);
  expect(got.rowLines).toEqual(lines);
  // Several reads per long line: the first piece of each holds the head.
  expect(got.pieces).toBeGreaterThan(lines.length + 4);
  expect(got.firstPieces).toEqual(lines.map(() => 'INSERT INTO `t` VALU'));
  // Statements come as the mariadb client sends them, without their delimiter.
  expect(got.statements[0]).toBe(head.trim().replace(/;$/, ''));
  expect(got.statements.at(-1)).toBe("CREATE TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.v = 'a;b'");
  expect(got.sha256).toBe(createHash('sha256').update(stored).digest('hex'));
});
