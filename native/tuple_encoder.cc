// The row encoder's hot loop in C++: text-protocol row packets in, SQL tuples
// `(v1,v2,...)` out, byte for byte what TupleEncoder.encodeRow (src/dump/tuples.ts)
// writes. One call encodes a batch of rows (every row packet of one socket chunk),
// so the cost of crossing into native code is paid per chunk, not per row.
// The JavaScript encoder stays the reference and the fallback; the tests compare
// the two on random rows of every kind.
//
// encodeBinaryRows takes the binary protocol's rows instead (a prepared
// statement's result): numbers come as their bytes, so the server skips turning
// them into text, which was most of its time on numeric tables (a DOUBLE's text
// alone cost it about 80% of its CPU on the benchmark's numeric shape). They are
// written here as the server writes them in the text protocol; the tests compare
// the files of both protocols.
#include <node_api.h>

#include <charconv>
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

// One value of `len` bytes at v, written as the literal its kind calls for.
inline uint8_t* WriteValue(uint8_t kind, const uint8_t* v, size_t len, uint8_t* o) {
  switch (kind) {
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
  return o;
}

enum Status : int32_t { kOk = 0, kTooLarge = 1, kMalformed = 2 };

// A length-coded value's length at src[*p] (advancing *p past it): 1 read, 0 NULL, -1 malformed.
inline int ReadLength(const uint8_t* src, size_t* p, size_t end, uint64_t* len) {
  size_t q = *p;
  if (q >= end) return -1;
  const uint8_t first = src[q];
  if (first < 0xfb) {
    *len = first;
    q += 1;
  } else if (first == 0xfb) {
    *p = q + 1;
    return 0;
  } else if (first == 0xfc) {
    if (q + 3 > end) return -1;
    *len = src[q + 1] | (src[q + 2] << 8);
    q += 3;
  } else if (first == 0xfd) {
    if (q + 4 > end) return -1;
    *len = src[q + 1] | (src[q + 2] << 8) | (uint32_t(src[q + 3]) << 16);
    q += 4;
  } else {
    if (q + 9 > end) return -1;
    uint64_t v = 0;
    for (int k = 8; k >= 1; k--) v = (v << 8) | src[q + k];
    *len = v;
    q += 9;
  }
  if (*len > end - q) return -1;
  *p = q;
  return 1;
}

inline uint8_t* WriteNull(uint8_t kind, uint8_t* o) {
  if (kind == kDefault) {
    memcpy(o, "DEFAULT", 7);
    return o + 7;
  }
  memcpy(o, "NULL", 4);
  return o + 4;
}

// Encodes one text-protocol row from src[p, end); returns the end of its tuple in `out`, or null with `status` set.
uint8_t* EncodeRow(const uint8_t* src, size_t p, size_t end, const uint8_t* kinds, size_t n, uint8_t* out, int32_t* status) {
  uint8_t* o = out;
  *o++ = '(';
  for (size_t c = 0; c < n; c++) {
    if (c > 0) *o++ = ',';
    uint64_t len = 0;
    const int read = ReadLength(src, &p, end, &len);
    if (read < 0) { *status = kMalformed; return nullptr; }
    if (read == 0) {
      o = WriteNull(kinds[c], o);
      continue;
    }
    o = WriteValue(kinds[c], src + p, size_t(len), o);
    p += len;
  }
  *o++ = ')';
  return o;
}

// How a binary-protocol value comes (from its column definition, see src/dump/binary-wire.ts): length-coded,
// or a little-endian number of fixed size.
enum Wire : uint8_t { kLengthCoded = 0, kInt8 = 1, kUint8 = 2, kInt16 = 3, kUint16 = 4, kInt32 = 5, kUint32 = 6, kInt64 = 7, kUint64 = 8, kFloat = 9, kDouble = 10 };
const uint8_t kWireBytes[] = {0, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8};

inline uint64_t ReadLE(const uint8_t* v, int bytes) {
  uint64_t x = 0;
  for (int k = bytes - 1; k >= 0; k--) x = (x << 8) | v[k];
  return x;
}

// "00" to "99": digits are made two at a time, one division by 100 a pair instead of one by 10 a digit
// (integers are most of a narrow table's encoding time).
constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

// Writes x's decimal digits right to left, ending at `end`; returns where they start.
template <typename U>
inline char* DigitsBefore(U x, char* end) {
  char* p = end;
  while (x >= 100) {
    const U q = x / 100;
    p -= 2;
    memcpy(p, kDigitPairs + 2 * (x - q * 100), 2);
    x = q;
  }
  if (x >= 10) {
    p -= 2;
    memcpy(p, kDigitPairs + 2 * x, 2);
  } else {
    *--p = char('0' + x);
  }
  return p;
}

inline uint8_t* WriteUnsigned(uint64_t x, uint8_t* o) {
  char digits[20];
  char* const end = digits + sizeof digits;
  // 32-bit division is the cheaper one, and most values fit.
  const char* start = x <= UINT32_MAX ? DigitsBefore(uint32_t(x), end) : DigitsBefore(x, end);
  const size_t n = size_t(end - start);
  memcpy(o, start, n);
  return o + n;
}

inline uint8_t* WriteSigned(int64_t x, uint8_t* o) {
  if (x >= 0) return WriteUnsigned(uint64_t(x), o);
  *o++ = '-';
  return WriteUnsigned(uint64_t(0) - uint64_t(x), o);
}

// A DOUBLE as the server writes it in the text protocol (and CAST(... AS DOUBLE) does): the shortest digits
// that read back to the same bits, in 'f' format unless the decimal point would sit more than 14 places
// before the first digit, or more than 15 places after it past the last digit; then d.ddde[-]N. Zero of
// either sign is "0". At most 34 bytes ("-0." 14 zeros and 17 digits).
uint8_t* WriteDouble(double x, uint8_t* o) {
  if (x == 0) {
    *o++ = '0';
    return o;
  }
  char buf[48];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  const char* q = buf;
  if (*q == '-') {
    *o++ = '-';
    q++;
  }
  char digits[24];
  int len = 0;
  for (; q < r.ptr && *q != 'e'; q++)
    if (*q != '.') digits[len++] = *q;
  q++;  // 'e'
  const bool negative_exponent = *q == '-';
  q++;  // the exponent's sign: to_chars always writes one
  int e = 0;
  for (; q < r.ptr; q++) e = e * 10 + (*q - '0');
  const int decpt = (negative_exponent ? -e : e) + 1;
  if (decpt >= -14 && (decpt <= 15 || len > decpt)) {
    if (decpt <= 0) {
      *o++ = '0';
      *o++ = '.';
      for (int i = decpt; i < 0; i++) *o++ = '0';
      memcpy(o, digits, size_t(len));
      return o + len;
    }
    for (int i = 0; i < len; i++) {
      *o++ = uint8_t(digits[i]);
      if (i + 1 == decpt && i + 1 < len) *o++ = '.';
    }
    for (int i = len; i < decpt; i++) *o++ = '0';
    return o;
  }
  *o++ = uint8_t(digits[0]);
  if (len > 1) {
    *o++ = '.';
    memcpy(o, digits + 1, size_t(len - 1));
    o += len - 1;
  }
  *o++ = 'e';
  int exponent = decpt - 1;
  if (exponent < 0) {
    *o++ = '-';
    exponent = -exponent;
  }
  if (exponent >= 100) {
    *o++ = uint8_t('0' + exponent / 100);
    exponent %= 100;
    *o++ = uint8_t('0' + exponent / 10);
  } else if (exponent >= 10) {
    *o++ = uint8_t('0' + exponent / 10);
  }
  *o++ = uint8_t('0' + exponent % 10);
  return o;
}

// Encodes one binary-protocol row (0x00, the NULL bitmap with two bits of offset, the values) from src[p, end).
uint8_t* EncodeBinaryRow(const uint8_t* src, size_t p, size_t end, const uint8_t* kinds, const uint8_t* wire, size_t n, uint8_t* out, int32_t* status) {
  const size_t bitmap_bytes = (n + 9) / 8;
  if (end - p < 1 + bitmap_bytes || src[p] != 0) { *status = kMalformed; return nullptr; }
  const uint8_t* nulls = src + p + 1;
  p += 1 + bitmap_bytes;
  uint8_t* o = out;
  *o++ = '(';
  for (size_t c = 0; c < n; c++) {
    if (c > 0) *o++ = ',';
    if (nulls[(c + 2) >> 3] & (1 << ((c + 2) & 7))) {
      o = WriteNull(kinds[c], o);
      continue;
    }
    const uint8_t w = wire[c];
    if (w == kLengthCoded) {
      uint64_t len = 0;
      if (ReadLength(src, &p, end, &len) != 1) { *status = kMalformed; return nullptr; }
      o = WriteValue(kinds[c], src + p, size_t(len), o);
      p += len;
      continue;
    }
    if (w > kDouble || end - p < kWireBytes[w]) { *status = kMalformed; return nullptr; }
    const uint64_t bits = ReadLE(src + p, kWireBytes[w]);
    p += kWireBytes[w];
    switch (w) {
      case kInt8: o = WriteSigned(int8_t(bits), o); break;
      case kInt16: o = WriteSigned(int16_t(bits), o); break;
      case kInt32: o = WriteSigned(int32_t(bits), o); break;
      case kInt64: o = WriteSigned(int64_t(bits), o); break;
      case kFloat: {
        float f;
        const uint32_t b32 = uint32_t(bits);
        memcpy(&f, &b32, sizeof f);
        o = WriteDouble(double(f), o);
        break;
      }
      case kDouble: {
        double d;
        memcpy(&d, &bits, sizeof d);
        o = WriteDouble(d, o);
        break;
      }
      default: o = WriteUnsigned(bits, o);  // the unsigned ones
    }
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
// encodeBinaryRows(src, ranges, first, count, kinds, wire, out, ...): the same for binary-protocol rows,
//   `wire` (one Wire per column, as many as kinds) telling how each value comes.
template <bool binary>
napi_value Encode(napi_env env, napi_callback_info info) {
  const size_t expected = binary ? 13 : 12;
  size_t argc = 13;
  napi_value all[13];
  napi_get_cb_info(env, info, &argc, all, nullptr, nullptr);
  napi_value result;
  const uint8_t* src;
  const int32_t* ranges;
  const uint8_t* kinds;
  const uint8_t* wire = nullptr;
  uint8_t* out;
  int32_t* lengths;
  int32_t* state;
  size_t src_len, ranges_len, n, wire_len = 0, out_len, lengths_len, state_len;
  int64_t first, count, pos, block_bytes, lengths_at, max_tuple;
  // The arguments after `kinds`, past `wire` where there is one.
  napi_value* args = binary ? all + 1 : all;
  // Checked one by one, without overflow: the function is reachable from any JavaScript in the process.
  if (argc != expected || !TypedArg(env, all[0], napi_uint8_array, const_cast<uint8_t**>(&src), &src_len) ||
      !TypedArg(env, all[1], napi_int32_array, const_cast<int32_t**>(&ranges), &ranges_len) || !NumberArg(env, all[2], &first) ||
      !NumberArg(env, all[3], &count) || !TypedArg(env, all[4], napi_uint8_array, const_cast<uint8_t**>(&kinds), &n) ||
      (binary && (!TypedArg(env, all[5], napi_uint8_array, const_cast<uint8_t**>(&wire), &wire_len) || wire_len != n)) ||
      !TypedArg(env, args[5], napi_uint8_array, &out, &out_len) || !NumberArg(env, args[6], &pos) ||
      !NumberArg(env, args[7], &block_bytes) || !TypedArg(env, args[8], napi_int32_array, &lengths, &lengths_len) ||
      !NumberArg(env, args[9], &lengths_at) || !NumberArg(env, args[10], &max_tuple) ||
      !TypedArg(env, args[11], napi_int32_array, &state, &state_len) || state_len < 2 || first < 0 || count < 0 ||
      uint64_t(first) > ranges_len / 2 || uint64_t(count) > ranges_len / 2 - uint64_t(first) || pos < 0 ||
      uint64_t(pos) > out_len || block_bytes < 0 || lengths_at < 0 || uint64_t(lengths_at) > lengths_len || max_tuple < 0) {
    napi_throw_type_error(env, nullptr, binary ? "encodeBinaryRows: bad arguments" : "encodeRows: bad arguments");
    return nullptr;
  }
  // Worst case per value, as in the JavaScript encoder: a NULL or DEFAULT word; a binary number's text (34 bytes at most).
  const uint64_t per_value = binary ? 40 : 7;
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
    // Every byte escaped or hexed, words or numbers, separators.
    const uint64_t need = 2 * uint64_t(end - start) + per_value * n + 8;
    if (uint64_t(pos) + need > out_len) break;
    // state[0] is an int32: a tuple that large is over any max_allowed_packet (at most 1 GiB) anyway.
    if (uint64_t(pos) + need > 0x7fffffff) {
      state[1] = kTooLarge;
      break;
    }
    int32_t status = kOk;
    uint8_t* tuple_end;
    if constexpr (binary) {
      tuple_end = EncodeBinaryRow(src, size_t(start), size_t(end), kinds, wire, n, out + pos, &status);
    } else {
      tuple_end = EncodeRow(src, size_t(start), size_t(end), kinds, n, out + pos, &status);
    }
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

napi_value EncodeRows(napi_env env, napi_callback_info info) { return Encode<false>(env, info); }
napi_value EncodeBinaryRows(napi_env env, napi_callback_info info) { return Encode<true>(env, info); }

napi_value Init(napi_env env, napi_value exports) {
  InitTables();
  napi_value fn;
  napi_create_function(env, "encodeRows", NAPI_AUTO_LENGTH, EncodeRows, nullptr, &fn);
  napi_set_named_property(env, exports, "encodeRows", fn);
  napi_create_function(env, "encodeBinaryRows", NAPI_AUTO_LENGTH, EncodeBinaryRows, nullptr, &fn);
  napi_set_named_property(env, exports, "encodeBinaryRows", fn);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
