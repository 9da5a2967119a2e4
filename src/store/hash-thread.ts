/**
 * sha256 off the main thread. Hashing a big table file twice (file and rows
 * section) took about a fifth of the dump's main-thread time; a worker does
 * it on the other core while the main thread encodes the next rows.
 *
 * Data reaches the worker through a few fixed slots of shared memory (the
 * sink assembles each flush straight into a slot, writes it, then hands the
 * slot over), so memory stays fixed: transferred buffers piled up as garbage
 * in the worker. Data larger than a slot (a huge row, gzip output) is copied
 * over in a message, with a bound on bytes in flight. Messages are ordered,
 * so updates apply in write order.
 */
import { Worker } from 'node:worker_threads';

export const SLOT_BYTES = 2 << 20;
const SLOTS = 4;
/** Bytes sent by message and not yet hashed. */
const MAX_IN_FLIGHT = 8 << 20;

// Plain JavaScript evaluated in the worker, so it runs the same from dist/ and under ts-jest.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
const update = (bytes, parts) => {
  for (const [id, offset, length] of parts) {
    // A fork: hash \`id\` becomes a copy of hash \`length\` as it stands after the parts before it.
    if (offset < 0) {
      hashes.set(id, (hashes.get(length) || createHash('sha256')).copy());
      continue;
    }
    let h = hashes.get(id);
    if (!h) hashes.set(id, (h = createHash('sha256')));
    h.update(bytes.subarray(offset, offset + length));
  }
};
parentPort.on('message', (m) => {
  if (m.op === 'slot') {
    update(new Uint8Array(workerData.shared, m.slot * workerData.slotBytes, m.length), m.parts);
    parentPort.postMessage({ slot: m.slot });
  } else if (m.op === 'bytes') {
    update(new Uint8Array(m.buf), m.parts);
    parentPort.postMessage({ ack: m.buf.byteLength });
  } else {
    const h = hashes.get(m.id) || createHash('sha256');
    hashes.delete(m.id);
    parentPort.postMessage({ id: m.id, hex: h.digest('hex') });
  }
});
`;

interface Thread {
  worker: Worker;
  shared: SharedArrayBuffer;
  free: number[];
  slotWaiters: { resolve: (slot: number) => void; reject: (err: Error) => void }[];
  inFlight: number;
  roomWaiters: (() => void)[];
  digests: Map<number, { resolve: (hex: string) => void; reject: (err: Error) => void }>;
}

let current: Thread | null = null;
let nextId = 1;
/** Bumped when a worker dies: hashes it held are lost, and must not be finished on a new one. */
let generation = 0;

function busy(t: Thread): boolean {
  return t.digests.size > 0 || t.inFlight > 0 || t.free.length < SLOTS;
}

function thread(): Thread {
  if (current) return current;
  const shared = new SharedArrayBuffer(SLOT_BYTES * SLOTS);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { shared, slotBytes: SLOT_BYTES } });
  const t: Thread = { worker, shared, free: [...Array(SLOTS).keys()], slotWaiters: [], inFlight: 0, roomWaiters: [], digests: new Map() };
  worker.on('message', (m: { id?: number; hex?: string; ack?: number; slot?: number }) => {
    if (m.slot !== undefined) {
      const waiter = t.slotWaiters.shift();
      if (waiter) waiter.resolve(m.slot);
      else t.free.push(m.slot);
    } else if (m.ack !== undefined) {
      t.inFlight -= m.ack;
      if (t.inFlight < MAX_IN_FLIGHT) for (const wake of t.roomWaiters.splice(0)) wake();
    } else if (m.id !== undefined) {
      const p = t.digests.get(m.id);
      t.digests.delete(m.id);
      p?.resolve(m.hex as string);
    }
    // An idle worker must not keep the process alive.
    if (!busy(t)) worker.unref();
  });
  const fail = (err: Error) => {
    if (current === t) {
      current = null;
      generation++;
    }
    for (const p of t.digests.values()) p.reject(err);
    t.digests.clear();
    for (const w of t.slotWaiters.splice(0)) w.reject(err);
    t.inFlight = 0;
    for (const wake of t.roomWaiters.splice(0)) wake();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`hash worker exited (${code})`)));
  worker.unref();
  current = t;
  return t;
}

/** A running sha256 whose updates happen on the worker. */
export class OffThreadHash {
  readonly id = nextId++;
  /** The worker generation that holds this hash's state (fixed at first use). */
  generation: number | null = null;
}

/** Binds the hash to the running worker; a hash whose worker died cannot go on (its state is gone). */
function bind(hash: OffThreadHash): void {
  hash.generation ??= generation;
  if (hash.generation !== generation) throw new Error('the hash worker stopped: the checksum of this file is lost');
}

/** Bytes [from, to) of the data go into `hash`; or, with `forkOf`, `hash` becomes a copy of `forkOf` at this point. */
export interface HashPart {
  hash: OffThreadHash;
  /** Offsets into the data. */
  from: number;
  to: number;
  forkOf?: OffThreadHash;
}

function partList(parts: HashPart[]): number[][] {
  const live = parts.filter((p) => p.forkOf || p.to > p.from);
  for (const p of live) {
    bind(p.hash);
    if (p.forkOf) bind(p.forkOf);
  }
  return live.map((p) => (p.forkOf ? [p.hash.id, -1, p.forkOf.id] : [p.hash.id, p.from, p.to - p.from]));
}

/** A slot of SLOT_BYTES to assemble data in; hand it back with hashSlot(). */
export async function acquireSlot(): Promise<{ slot: number; buf: Buffer }> {
  const t = thread();
  const slot = t.free.pop() ?? (await new Promise<number>((resolve, reject) => t.slotWaiters.push({ resolve, reject })));
  return { slot, buf: Buffer.from(t.shared, slot * SLOT_BYTES, SLOT_BYTES) };
}

/** Hashes the first `length` bytes of the slot; the slot must not be touched afterwards. */
export function hashSlot(slot: number, length: number, parts: HashPart[]): void {
  const t = thread();
  t.worker.ref();
  let list: number[][] = [];
  try {
    list = partList(parts);
  } finally {
    // The slot goes back whatever happens (an empty update still returns it).
    t.worker.postMessage({ op: 'slot', slot, length, parts: list });
  }
}

/** Hashes a copy of `data` (for data that does not fit a slot). */
export async function hashBytes(data: Buffer, parts: HashPart[]): Promise<void> {
  let t = thread();
  if (t.inFlight >= MAX_IN_FLIGHT) {
    await new Promise<void>((resolve) => t.roomWaiters.push(resolve));
    t = thread();
  }
  const list = partList(parts);
  const buf = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  t.inFlight += buf.byteLength;
  t.worker.ref();
  t.worker.postMessage({ op: 'bytes', buf, parts: list }, [buf as ArrayBuffer]);
}

export function hashDigest(hash: OffThreadHash): Promise<string> {
  const t = thread();
  return new Promise<string>((resolve, reject) => {
    bind(hash);
    t.digests.set(hash.id, { resolve, reject });
    t.worker.ref();
    t.worker.postMessage({ op: 'digest', id: hash.id });
  });
}
