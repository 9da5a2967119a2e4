/**
 * The row encoder's hot loop compiled from native/tuple_encoder.cc (built by
 * `npm ci` through node-gyp). It writes exactly the bytes of
 * TupleEncoder.encodeRow, which stays the reference and the fallback: where
 * the addon was not built (no compiler at install), or SCHEMA_BACKUP_ENCODER=js
 * is set, rows are encoded in JavaScript, about 3x slower on the encoding,
 * and read in the text protocol: only native code decodes binary-protocol rows.
 */
import bindings from 'bindings';

export const enum NativeStatus {
  Ok = 0,
  TooLarge = 1,
  Malformed = 2,
}

export interface NativeEncoder {
  /** See EncodeRows in native/tuple_encoder.cc. */
  encodeRows(
    src: Buffer, ranges: Int32Array, first: number, count: number, kinds: Uint8Array, out: Buffer, pos: number,
    blockBytes: number, lengths: Int32Array, lengthsAt: number, maxTupleBytes: number, state: Int32Array,
  ): number;
  /** The same for binary-protocol rows; `wire` says how each value comes (see src/dump/binary-wire.ts). */
  encodeBinaryRows(
    src: Buffer, ranges: Int32Array, first: number, count: number, kinds: Uint8Array, wire: Uint8Array, out: Buffer, pos: number,
    blockBytes: number, lengths: Int32Array, lengthsAt: number, maxTupleBytes: number, state: Int32Array,
  ): number;
}

let loaded: { encoder: NativeEncoder | null; error: string | null } | null = null;

function load(): { encoder: NativeEncoder | null; error: string | null } {
  if (process.env.SCHEMA_BACKUP_ENCODER === 'js') return { encoder: null, error: 'SCHEMA_BACKUP_ENCODER=js' };
  try {
    const addon = bindings('tuple_encoder') as Partial<NativeEncoder>;
    if (typeof addon.encodeRows !== 'function' || typeof addon.encodeBinaryRows !== 'function') {
      return { encoder: null, error: 'the addon has no encodeRows or encodeBinaryRows (built from an older source: npm ci rebuilds it)' };
    }
    return { encoder: addon as NativeEncoder, error: null };
  } catch (err) {
    return { encoder: null, error: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  }
}

/** The native encoder, or null where it is not built (loaded once per process). */
export function nativeEncoder(): NativeEncoder | null {
  loaded ??= load();
  return loaded.encoder;
}

/** Why the native encoder is not in use, or null when it is (the run logs it). */
export function nativeEncoderProblem(): string | null {
  loaded ??= load();
  return loaded.error;
}
