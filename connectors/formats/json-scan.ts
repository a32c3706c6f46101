/**
 * A byte-level scanner for the common shape of a JSON record: one flat object whose values are
 * numbers, strings, booleans or null. It validates the record as strictly as JSON.parse does and
 * notes, per column, where the field's value lies in the bytes, without building an object or a
 * string per field; the JSON decoder (./json.ts) then converts only the fields it needs.
 *
 * Anything else (nested values, escaped or non-ASCII keys, a byte order mark, invalid JSON) makes
 * `scan` return false, and the decoder takes its general path (JSON.parse), which also produces
 * the exact error message. So this scanner never has to be right about a rejection, only about
 * what it accepts.
 *
 * Field names match columns as the general path matches them: exact first; otherwise, with
 * case-insensitive matching, the first distinct key (in record order) whose lower case equals the
 * column's, taking the last value written under that key.
 */

/** What a column's field holds after a scan. */
export const Slot = {
  Absent: 0,
  Null: 1,
  /** An integer of at most 15 digits, its value in `int`. */
  SmallInt: 2,
  /** Any other number, its text in bytes [from, to). */
  Number: 3,
  /** A string of ASCII characters without escapes, between the quotes [from, to). */
  Ascii: 4,
  /** A string with non-ASCII UTF-8 bytes but no escapes. */
  Utf8: 5,
  /** A string with escapes: [from, to) includes the quotes, for JSON.parse. */
  Escaped: 6,
  True: 7,
  False: 8,
} as const
export type Slot = (typeof Slot)[keyof typeof Slot]

const TAB = 0x09
const LF = 0x0a
const CR = 0x0d
const SPACE = 0x20
const QUOTE = 0x22
const PLUS = 0x2b
const COMMA = 0x2c
const MINUS = 0x2d
const DOT = 0x2e
const ZERO = 0x30
const NINE = 0x39
const COLON = 0x3a
const UPPER_E = 0x45
const BACKSLASH = 0x5c
const LOWER_E = 0x65
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d

/** 1 for JSON's four whitespace bytes. */
const WS = new Uint8Array(256)
WS[SPACE] = WS[LF] = WS[CR] = WS[TAB] = 1

/**
 * 1 for the bytes a string may hold as they are and that need no second look: ASCII from space
 * up, except the quote and the backslash. Strings are mostly runs of these, read at one table
 * look-up per byte.
 */
const PLAIN = new Uint8Array(256)
for (let b = SPACE; b < 0x80; b++) PLAIN[b] = b === QUOTE || b === BACKSLASH ? 0 : 1

function isWs(b: number): boolean {
  return WS[b] === 1
}

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
}

function lowerAscii(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b
}

export class FlatJsonScanner {
  /** Per column, what the last scanned record holds (Slot). */
  readonly kind: Uint8Array
  readonly from: Int32Array
  readonly to: Int32Array
  /** The value of a SmallInt slot. */
  readonly int: Float64Array
  /** False when the columns' names rule the fast path out (see the constructor). */
  readonly usable: boolean

  private readonly width: number
  private readonly names: Uint8Array[]
  private readonly lower: Uint8Array[]
  private readonly caseInsensitive: boolean
  /** Case-insensitive candidates per column: the value, and the key it came under. */
  private readonly ciKind: Uint8Array
  private readonly ciFrom: Int32Array
  private readonly ciTo: Int32Array
  private readonly ciInt: Float64Array
  private readonly ciKeyFrom: Int32Array
  private readonly ciKeyTo: Int32Array
  /** The column the next key most likely names (records usually repeat one field order). */
  private guess = 0

  constructor(names: readonly string[], caseInsensitive: boolean) {
    const width = names.length
    this.width = width
    this.caseInsensitive = caseInsensitive
    this.kind = new Uint8Array(width)
    this.from = new Int32Array(width)
    this.to = new Int32Array(width)
    this.int = new Float64Array(width)
    this.ciKind = new Uint8Array(width)
    this.ciFrom = new Int32Array(width)
    this.ciTo = new Int32Array(width)
    this.ciInt = new Float64Array(width)
    this.ciKeyFrom = new Int32Array(width)
    this.ciKeyTo = new Int32Array(width)
    const ascii = (s: string): boolean => /^[\x20-\x7e]*$/.test(s) && !s.includes('"') && !s.includes('\\')
    this.names = names.map((n) => Buffer.from(n, 'latin1'))
    const lowered = names.map((n) => n.toLowerCase())
    this.lower = lowered.map((n) => Buffer.from(n, 'latin1'))
    // Non-ASCII names (whose case folding JavaScript does beyond ASCII) and two columns whose
    // names differ only in case (one key could then match both) are left to the general path.
    this.usable = names.every(ascii) && new Set(caseInsensitive ? lowered : names).size === width
  }

  /** Scans one record in bytes [start, end); false when the general path must decode it. */
  scan(bytes: Uint8Array, start: number, end: number): boolean {
    const width = this.width
    const kind = this.kind
    // Loops, not fill(): for a handful of columns the builtin's call costs more than the stores.
    const ciKind = this.ciKind
    for (let c = 0; c < width; c++) kind[c] = 0
    if (this.caseInsensitive) for (let c = 0; c < width; c++) ciKind[c] = 0
    let i = start
    while (i < end && isWs(bytes[i])) i++
    if (i >= end || bytes[i] !== OPEN_BRACE) return false
    i++
    while (i < end && isWs(bytes[i])) i++
    if (i < end && bytes[i] === CLOSE_BRACE) {
      i++
    } else {
      for (;;) {
        // key
        if (i >= end || bytes[i] !== QUOTE) return false
        const keyFrom = ++i
        let col = this.expected(bytes, keyFrom, end)
        let ci = -1
        if (col >= 0) {
          // The key is the column name the record order predicts (checked, quote included).
          i += this.names[col].length + 1
        } else {
          while (i < end && PLAIN[bytes[i]] === 1) i++
          // Escapes, control and non-ASCII bytes in keys are the general path's.
          if (i >= end || bytes[i] !== QUOTE) return false
          col = this.exact(bytes, keyFrom, i)
          ci = col < 0 && this.caseInsensitive ? this.folded(bytes, keyFrom, i) : -1
          i++
        }
        const keyTo = i - 1
        while (i < end && isWs(bytes[i])) i++
        if (i >= end || bytes[i] !== COLON) return false
        i++
        while (i < end && isWs(bytes[i])) i++
        if (i >= end) return false
        // value
        const b = bytes[i]
        let k: Slot
        let vFrom = i
        let vTo: number
        let int = 0
        if (b === QUOTE) {
          vFrom = i + 1
          k = Slot.Ascii
          i++
          for (;;) {
            // Four plain bytes at a time, then one at a time up to the next byte that needs a look.
            while (
              i + 3 < end &&
              (PLAIN[bytes[i]] & PLAIN[bytes[i + 1]] & PLAIN[bytes[i + 2]] & PLAIN[bytes[i + 3]]) === 1
            )
              i += 4
            while (i < end && PLAIN[bytes[i]] === 1) i++
            if (i >= end) return false
            const c = bytes[i]
            if (c === QUOTE) break
            if (c < 0x20) return false
            if (c === BACKSLASH) {
              k = Slot.Escaped
              const e = bytes[i + 1]
              if (e === 0x75) {
                // \uXXXX
                if (
                  i + 5 >= end ||
                  !isHex(bytes[i + 2]) ||
                  !isHex(bytes[i + 3]) ||
                  !isHex(bytes[i + 4]) ||
                  !isHex(bytes[i + 5])
                )
                  return false
                i += 6
                continue
              }
              if (
                e !== QUOTE &&
                e !== BACKSLASH &&
                e !== 0x2f &&
                e !== 0x62 &&
                e !== 0x66 &&
                e !== 0x6e &&
                e !== 0x72 &&
                e !== 0x74
              )
                return false
              i += 2
              continue
            }
            if (c >= 0x80 && k === Slot.Ascii) k = Slot.Utf8
            i++
          }
          vTo = i++
          if (k === Slot.Escaped) {
            vFrom--
            vTo++
          }
        } else if (b === MINUS || (b >= ZERO && b <= NINE)) {
          let neg = false
          if (b === MINUS) {
            neg = true
            i++
          }
          if (i >= end) return false
          const first = bytes[i]
          const digitsFrom = i
          if (first === ZERO) {
            i++
          } else if (first > ZERO && first <= NINE) {
            while (i < end && bytes[i] >= ZERO && bytes[i] <= NINE) {
              int = int * 10 + (bytes[i] - ZERO)
              i++
            }
          } else {
            return false
          }
          k = i - digitsFrom <= 15 ? Slot.SmallInt : Slot.Number
          if (i < end && bytes[i] === DOT) {
            k = Slot.Number
            i++
            const f = i
            while (i < end && bytes[i] >= ZERO && bytes[i] <= NINE) i++
            if (i === f) return false
          }
          if (i < end && (bytes[i] === LOWER_E || bytes[i] === UPPER_E)) {
            k = Slot.Number
            i++
            if (i < end && (bytes[i] === PLUS || bytes[i] === MINUS)) i++
            const f = i
            while (i < end && bytes[i] >= ZERO && bytes[i] <= NINE) i++
            if (i === f) return false
          }
          if (i < end && bytes[i] >= ZERO && bytes[i] <= NINE) return false // a leading zero
          if (neg) int = -int
          vTo = i
        } else if (b === 0x74) {
          if (i + 3 >= end || bytes[i + 1] !== 0x72 || bytes[i + 2] !== 0x75 || bytes[i + 3] !== 0x65) return false
          k = Slot.True
          i += 4
          vTo = i
        } else if (b === 0x66) {
          if (
            i + 4 >= end ||
            bytes[i + 1] !== 0x61 ||
            bytes[i + 2] !== 0x6c ||
            bytes[i + 3] !== 0x73 ||
            bytes[i + 4] !== 0x65
          )
            return false
          k = Slot.False
          i += 5
          vTo = i
        } else if (b === 0x6e) {
          if (i + 3 >= end || bytes[i + 1] !== 0x75 || bytes[i + 2] !== 0x6c || bytes[i + 3] !== 0x6c) return false
          k = Slot.Null
          i += 4
          vTo = i
        } else {
          return false // nested object or array, or not JSON
        }
        if (col >= 0) {
          kind[col] = k
          this.from[col] = vFrom
          this.to[col] = vTo
          this.int[col] = int
        } else if (ci >= 0) {
          const seen = this.ciKind[ci] !== 0
          // The first distinct key wins; a repeat of that same key overwrites its value.
          if (!seen || this.sameKey(bytes, this.ciKeyFrom[ci], this.ciKeyTo[ci], keyFrom, keyTo)) {
            this.ciKind[ci] = k
            this.ciFrom[ci] = vFrom
            this.ciTo[ci] = vTo
            this.ciInt[ci] = int
            this.ciKeyFrom[ci] = keyFrom
            this.ciKeyTo[ci] = keyTo
          }
        }
        while (i < end && isWs(bytes[i])) i++
        if (i >= end) return false
        const sep = bytes[i++]
        if (sep === CLOSE_BRACE) break
        if (sep !== COMMA) return false
        while (i < end && isWs(bytes[i])) i++
      }
    }
    while (i < end && isWs(bytes[i])) i++
    if (i !== end) return false
    if (this.caseInsensitive) {
      for (let c = 0; c < width; c++) {
        if (kind[c] === Slot.Absent && this.ciKind[c] !== Slot.Absent) {
          kind[c] = this.ciKind[c]
          this.from[c] = this.ciFrom[c]
          this.to[c] = this.ciTo[c]
          this.int[c] = this.ciInt[c]
        }
      }
    }
    return true
  }

  /**
   * The column the record order predicts (`guess`) when the key starting at `from` is exactly its
   * name followed by the closing quote; -1 otherwise (then `exact` searches every column).
   */
  private expected(bytes: Uint8Array, from: number, end: number): number {
    const c = this.guess
    if (c >= this.width) return -1
    const name = this.names[c]
    const len = name.length
    if (from + len >= end || bytes[from + len] !== QUOTE) return -1
    for (let j = 0; j < len; j++) if (name[j] !== bytes[from + j]) return -1
    this.guess = c + 1 === this.width ? 0 : c + 1
    return c
  }

  /** The column named exactly by the key in bytes [from, to), or -1. */
  private exact(bytes: Uint8Array, from: number, to: number): number {
    const width = this.width
    const len = to - from
    for (let n = 0, c = this.guess; n < width; n++, c = c + 1 === width ? 0 : c + 1) {
      const name = this.names[c]
      if (name.length !== len) continue
      let j = 0
      while (j < len && name[j] === bytes[from + j]) j++
      if (j === len) {
        this.guess = c + 1 === width ? 0 : c + 1
        return c
      }
    }
    return -1
  }

  /** The column whose lower-case name equals the key's lower case, or -1. */
  private folded(bytes: Uint8Array, from: number, to: number): number {
    const len = to - from
    for (let c = 0; c < this.width; c++) {
      const name = this.lower[c]
      if (name.length !== len) continue
      let j = 0
      while (j < len && name[j] === lowerAscii(bytes[from + j])) j++
      if (j === len) return c
    }
    return -1
  }

  private sameKey(bytes: Uint8Array, aFrom: number, aTo: number, bFrom: number, bTo: number): boolean {
    if (aTo - aFrom !== bTo - bFrom) return false
    for (let j = 0; j < aTo - aFrom; j++) if (bytes[aFrom + j] !== bytes[bFrom + j]) return false
    return true
  }
}
