// The row encoder's hot loop in C++: text-protocol row packets in, SQL tuples
// `(v1,v2,...)` out, byte for byte what TupleEncoder.encodeRow (src/dump/tuples.ts)
// writes. One call encodes a batch of rows (every row packet of one socket chunk),
// so the cost of crossing into native code is paid per chunk, not per row.
// The JavaScript encoder stays the reference and the fallback; the tests compare
// the two on random rows of every kind.
#include <node_api.h>

#include <cstdint>
#include <cstring>

namespace {

// ValueKind in src/dump/literals.ts.
enum Kind : uint8_t { kNumber = 0, kString = 1, kText = 2, kHex = 3, kBit = 4, kDefault = 5 };

// For each byte, the letter after the backslash that escapes it; 1 marks the comma; 0 plain.
uint8_t quote_escapes[256];
uint8_t text_escapes[256];
const char kHexDigits[] = "0123456789ABCDEF";

void InitTables() {
  quote_escapes['\''] = '\'';
  quote_escapes['\\'] = '\\';
  quote_escapes[0x00] = '0';
  quote_escapes[0x1a] = 'Z';
  quote_escapes[','] = 1;
  memcpy(text_escapes, quote_escapes, sizeof quote_escapes);
  text_escapes['\r'] = 'r';
  text_escapes['\n'] = 'n';
}

// See commaNeedsEscape in src/dump/tuples.ts: db_upgrade's cuts on `),(` and `','`.
inline bool CommaNeedsEscape(const uint8_t* v, size_t i, size_t len) {
  if (i > 0 && i + 1 < len) return v[i - 1] == ')' && v[i + 1] == '(';
  return i + 1 == len && (i == 0 || v[i - 1] == '\'');
}

inline uint8_t* WriteQuoted(const uint8_t* v, size_t len, uint8_t* o, const uint8_t* esc) {
  *o++ = '\'';
  size_t i = 0;
  for (;;) {
    size_t j = i;
    while (j < len && esc[v[j]] == 0) j++;
    memcpy(o, v + i, j - i);
    o += j - i;
    if (j == len) break;
    const uint8_t b = v[j];
    const uint8_t e = esc[b];
    if (e == 1) {
      if (CommaNeedsEscape(v, j, len)) *o++ = '\\';
      *o++ = b;
    } else {
      *o++ = '\\';
      *o++ = e;
    }
    i = j + 1;
  }
  *o++ = '\'';
  return o;
}

enum Status : int32_t { kOk = 0, kTooLarge = 1, kMalformed = 2 };

// Encodes one row from src[p, end); returns the end of its tuple in `out`, or null with `status` set.
uint8_t* EncodeRow(const uint8_t* src, size_t p, size_t end, const uint8_t* kinds, size_t n, uint8_t* out, int32_t* status) {
  uint8_t* o = out;
  *o++ = '(';
  for (size_t c = 0; c < n; c++) {
    if (c > 0) *o++ = ',';
    if (p >= end) { *status = kMalformed; return nullptr; }
    uint64_t len = src[p];
    if (len < 0xfb) {
      p += 1;
    } else if (len == 0xfb) {
      p += 1;
      if (kinds[c] == kDefault) {
        memcpy(o, "DEFAULT", 7);
        o += 7;
      } else {
        memcpy(o, "NULL", 4);
        o += 4;
      }
      continue;
    } else if (len == 0xfc) {
      if (p + 3 > end) { *status = kMalformed; return nullptr; }
      len = src[p + 1] | (src[p + 2] << 8);
      p += 3;
    } else if (len == 0xfd) {
      if (p + 4 > end) { *status = kMalformed; return nullptr; }
      len = src[p + 1] | (src[p + 2] << 8) | (uint32_t(src[p + 3]) << 16);
      p += 4;
    } else {
      if (p + 9 > end) { *status = kMalformed; return nullptr; }
      len = 0;
      for (int k = 8; k >= 1; k--) len = (len << 8) | src[p + k];
      p += 9;
    }
    if (len > end - p) { *status = kMalformed; return nullptr; }
    const uint8_t* v = src + p;
    switch (kinds[c]) {
      case kNumber:
        memcpy(o, v, len);
        o += len;
        break;
      case kString:
        o = WriteQuoted(v, len, o, quote_escapes);
        break;
      case kText:
        o = WriteQuoted(v, len, o, text_escapes);
        break;
      case kHex:
        *o++ = 'X';
        *o++ = '\'';
        for (size_t k = 0; k < len; k++) {
          *o++ = kHexDigits[v[k] >> 4];
          *o++ = kHexDigits[v[k] & 15];
        }
        *o++ = '\'';
        break;
      default:  // kBit (and, as in the JavaScript encoder, any other kind with a value)
        *o++ = 'b';
        *o++ = '\'';
        memcpy(o, v, len);
        o += len;
        *o++ = '\'';
    }
    p += len;
  }
  *o++ = ')';
  return o;
}

// A typed array of exactly `expected` type (a Buffer is a Uint8Array); its length in elements.
template <typename T>
bool TypedArg(napi_env env, napi_value value, napi_typedarray_type expected, T** data, size_t* length) {
  napi_typedarray_type type;
  void* raw = nullptr;
  size_t count = 0;
  if (napi_get_typedarray_info(env, value, &type, &count, &raw, nullptr, nullptr) != napi_ok || type != expected) return false;
  *data = static_cast<T*>(raw);
  *length = count;
  return true;
}

bool NumberArg(napi_env env, napi_value value, int64_t* out) {
  return napi_get_value_int64(env, value, out) == napi_ok;
}

// encodeRows(src, ranges, first, count, kinds, out, pos, blockBytes, lengths, lengthsAt, maxTupleBytes, state)
//   ranges: Int32Array of [start, end) pairs into src, one per row; rows first..first+count-1 are encoded.
//   Each tuple is followed by `,`; its length (without the comma) goes to lengths[lengthsAt + i].
//   Stops early when the block is full (pos >= blockBytes), when the next row might not fit in `out`,
//   or when `lengths` is full. Returns the rows encoded; state[0] = the new pos, state[1] = Status.
napi_value EncodeRows(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value args[12];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  napi_value result;
  const uint8_t* src;
  const int32_t* ranges;
  const uint8_t* kinds;
  uint8_t* out;
  int32_t* lengths;
  int32_t* state;
  size_t src_len, ranges_len, n, out_len, lengths_len, state_len;
  int64_t first, count, pos, block_bytes, lengths_at, max_tuple;
  // Checked one by one, without overflow: the function is reachable from any JavaScript in the process.
  if (argc != 12 || !TypedArg(env, args[0], napi_uint8_array, const_cast<uint8_t**>(&src), &src_len) ||
      !TypedArg(env, args[1], napi_int32_array, const_cast<int32_t**>(&ranges), &ranges_len) || !NumberArg(env, args[2], &first) ||
      !NumberArg(env, args[3], &count) || !TypedArg(env, args[4], napi_uint8_array, const_cast<uint8_t**>(&kinds), &n) ||
      !TypedArg(env, args[5], napi_uint8_array, &out, &out_len) || !NumberArg(env, args[6], &pos) ||
      !NumberArg(env, args[7], &block_bytes) || !TypedArg(env, args[8], napi_int32_array, &lengths, &lengths_len) ||
      !NumberArg(env, args[9], &lengths_at) || !NumberArg(env, args[10], &max_tuple) ||
      !TypedArg(env, args[11], napi_int32_array, &state, &state_len) || state_len < 2 || first < 0 || count < 0 ||
      uint64_t(first) > ranges_len / 2 || uint64_t(count) > ranges_len / 2 - uint64_t(first) || pos < 0 ||
      uint64_t(pos) > out_len || block_bytes < 0 || lengths_at < 0 || uint64_t(lengths_at) > lengths_len || max_tuple < 0) {
    napi_throw_type_error(env, nullptr, "encodeRows: bad arguments");
    return nullptr;
  }
  state[1] = kOk;
  int64_t done = 0;
  for (; done < count; done++) {
    if (pos >= block_bytes || uint64_t(lengths_at) + uint64_t(done) >= lengths_len) break;
    const int64_t start = ranges[2 * (first + done)];
    const int64_t end = ranges[2 * (first + done) + 1];
    if (start < 0 || end < start || size_t(end) > src_len) {
      state[1] = kMalformed;
      break;
    }
    // Worst case, as in the JavaScript encoder: every byte escaped or hexed, words and separators.
    const uint64_t need = 2 * uint64_t(end - start) + 7 * n + 8;
    if (uint64_t(pos) + need > out_len) break;
    // state[0] is an int32: a tuple that large is over any max_allowed_packet (at most 1 GiB) anyway.
    if (uint64_t(pos) + need > 0x7fffffff) {
      state[1] = kTooLarge;
      break;
    }
    int32_t status = kOk;
    uint8_t* tuple_end = EncodeRow(src, size_t(start), size_t(end), kinds, n, out + pos, &status);
    if (tuple_end == nullptr) {
      state[1] = status;
      break;
    }
    const int64_t length = tuple_end - (out + pos);
    if (length > max_tuple) {
      state[1] = kTooLarge;
      break;
    }
    *tuple_end = ',';
    lengths[lengths_at + done] = int32_t(length);
    pos += length + 1;
  }
  state[0] = int32_t(pos);
  napi_create_int64(env, done, &result);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  InitTables();
  napi_value fn;
  napi_create_function(env, "encodeRows", NAPI_AUTO_LENGTH, EncodeRows, nullptr, &fn);
  napi_set_named_property(env, exports, "encodeRows", fn);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
