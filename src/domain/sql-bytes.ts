/**
 * Byte codes of SQL text, for the code that reads or writes it byte by byte
 * (statement splitting, tuple encoding, the SQLite export's value parser). A
 * const enum: every use compiles to its number, so hot loops load nothing.
 */
export const enum Byte {
  NL = 0x0a,
  BANG = 0x21,
  DQUOTE = 0x22,
  HASH = 0x23,
  QUOTE = 0x27,
  OPEN = 0x28,
  CLOSE = 0x29,
  STAR = 0x2a,
  COMMA = 0x2c,
  DASH = 0x2d,
  SLASH = 0x2f,
  SEMICOLON = 0x3b,
  BACKSLASH = 0x5c,
  BACKTICK = 0x60,
}
