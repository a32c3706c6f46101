/**
 * The JSON record format: one JSON object per record → one row of a source's declared columns.
 *
 * Fields map to columns by name (exact first, then case-insensitive, so `eventTime` fills the
 * column `eventtime` that an unquoted SQL name folds to); a missing field or JSON null is SQL NULL.
 * Values convert to the engine's representation (engine/types/datatype.ts):
 *   - numbers → int2/int4 (integral, range checked), int8 (bigint, exact beyond 2^53: read from the
 *     record's text), float4/float8, numeric (Decimal from the number's text, so `1.50` keeps its scale);
 *   - strings are accepted for every scalar type and parsed with PostgreSQL's text input rules
 *     (`"42"` for an int, `"NaN"` for a float, `"1 day"` for an interval);
 *   - timestamp/timestamptz: ISO strings, or numbers as epoch milliseconds; date: strings only;
 *   - text: strings as they are, any other JSON value as its JSON text; jsonb: any value.
 * A record that is not a JSON object is a `decode_error`; a field that does not fit its column a
 * `type_error` whose detail names the field. A failed record leaves the columns untouched.
 *
 * Records given as bytes (`decodeBytes`, what the Kafka source uses) are read straight from the
 * bytes when they are flat objects (./json-scan.ts): no object, and no string for a field that is
 * not a text column, is built per record; timestamps in the usual forms are read from the bytes
 * too (./json-time.ts). Every other record goes through JSON.parse as text, so both ways give the
 * same rows and the same errors.
 */
import type { Column } from '../../engine/chunk.ts'
import type { ColumnSchema } from '../../engine/connector.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { Jsonb, type JsonValue } from '../../engine/types/jsonb.ts'
import { formatTypeName } from '../../engine/types/oid.ts'
import { parseText } from '../../engine/types/text.ts'
import { parseTimestamp, parseTimestamptz } from '../../engine/types/time.ts'
import { FlatJsonScanner, Slot } from './json-scan.ts'
import { timestampFromBytes, timestamptzFromBytes } from './json-time.ts'

/** A Buffer with Node's unchecked slice decoders (what toString(encoding, start, end) calls after its checks). */
type SliceBuffer = Buffer & {
  latin1Slice(start: number, end: number): string
  utf8Slice(start: number, end: number): string
}

/** Why a record could not become a row; the reader turns it into a dead letter. */
export interface JsonDecodeFailure {
  readonly reason: 'decode_error' | 'type_error'
  readonly detail: string
}

export interface JsonDecoderOptions {
  /** Zone for timestamptz strings without an offset (default UTC). */
  readonly timeZone?: string
  /** Match field names case-insensitively when there is no exact match (default true). */
  readonly caseInsensitive?: boolean
}

export interface JsonDecoder {
  /**
   * Decodes one record and appends one value to each of `columns` (declared order), or appends
   * nothing and returns why the record was rejected.
   */
  decode(text: string, columns: readonly Column[]): JsonDecodeFailure | undefined
  /** The same for a record in UTF-8 bytes [start, end) of `bytes`. */
  decodeBytes(bytes: Buffer, start: number, end: number, columns: readonly Column[]): JsonDecodeFailure | undefined
}

/** A value that does not fit its column; the message is completed with the field name. */
class FieldError extends Error {}

/** Where a converter finds the current field's value exactly as written (big integers, numeric digits). */
interface RawText {
  rawValue(): string | undefined
}

/** Per-record state the converters share: the record text, for exact number text when needed. */
class RecordText implements RawText {
  text = ''
  key = ''
  private raw: Map<string, string> | undefined

  reset(text: string): void {
    this.text = text
    this.raw = undefined
  }

  /** The current field's value exactly as written in the record. */
  rawValue(): string | undefined {
    this.raw ??= topLevelRawValues(this.text)
    return this.raw.get(this.key)
  }
}

/** The raw text of a number field read by the byte scanner: its bytes, sliced only when asked. */
class ScannedNumber implements RawText {
  bytes = Buffer.alloc(0) as SliceBuffer
  from = 0
  to = 0

  rawValue(): string {
    return this.bytes.latin1Slice(this.from, this.to)
  }
}

type Converter = (v: unknown, rec: RawText) => Value

/**
 * How the byte path fills a column when the scanner found the value in its commonest shape,
 * without a converter call: an int8 from a SmallInt, a float8 from a SmallInt, text from an
 * unescaped string, a timestamp from an unescaped string in one of the forms json-time.ts reads.
 * Any other shape, and `None`, goes through the column's converter.
 */
const Direct = { None: 0, Int8: 1, Float8: 2, Text: 3, Timestamp: 4, Timestamptz: 5 } as const
type Direct = (typeof Direct)[keyof typeof Direct]

function directOf(type: DataType): Direct {
  switch (type.kind) {
    case 'int8':
      return Direct.Int8
    case 'float8':
      return Direct.Float8
    case 'text':
    case 'unknown':
      return Direct.Text
    case 'timestamp':
      return Direct.Timestamp
    case 'timestamptz':
      return Direct.Timestamptz
    default:
      return Direct.None
  }
}

const INT_LIMITS = { int2: 32767, int4: 2147483647 } as const
const INT8_MIN = -9223372036854775808n
const INT8_MAX = 9223372036854775807n

function describe(v: unknown): string {
  const kind = Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v
  const text = JSON.stringify(v) ?? String(v)
  return `${kind} ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`
}

function mismatch(type: DataType, v: unknown): FieldError {
  return new FieldError(`expected ${formatTypeName(type)}, got ${describe(v)}`)
}

/** Builds the converter of one column type, once per decoder (not per row). */
function converterFor(type: DataType, tz: string): Converter {
  if (type.kind === 'array') {
    const element = converterFor(type.element, tz)
    return (v, rec) => {
      if (!Array.isArray(v)) throw mismatch(type, v)
      // Elements have no raw text of their own: big int8 elements inside arrays are not exact.
      return v.map((x: unknown) => (x === null ? null : element(x, rec)))
    }
  }
  switch (type.kind) {
    case 'bool':
      return (v) => (typeof v === 'boolean' ? v : typeof v === 'string' ? parseText(type, v) : fail(type, v))
    case 'int2':
    case 'int4': {
      const max = INT_LIMITS[type.kind]
      return (v) => {
        if (typeof v === 'string') return parseText(type, v)
        if (typeof v !== 'number' || !Number.isInteger(v)) throw mismatch(type, v)
        if (v > max || v < -max - 1) throw new FieldError(`value ${v} is out of range for type ${formatTypeName(type)}`)
        return v
      }
    }
    case 'int8':
      return (v, rec) => {
        if (typeof v === 'string') return parseText(type, v)
        if (typeof v !== 'number' || !Number.isInteger(v)) throw mismatch(type, v)
        if (Number.isSafeInteger(v)) return BigInt(v)
        // Beyond 2^53 JSON.parse has rounded the number: take the digits from the record text.
        const raw = rec.rawValue()
        const exact = raw !== undefined && /^-?\d+$/.test(raw) ? BigInt(raw) : BigInt(v)
        if (exact < INT8_MIN || exact > INT8_MAX)
          throw new FieldError(`value ${raw ?? v} is out of range for type bigint`)
        return exact
      }
    case 'float4':
      return (v) =>
        typeof v === 'number' ? Math.fround(v) : typeof v === 'string' ? parseText(type, v) : fail(type, v)
    case 'float8':
      return (v) => (typeof v === 'number' ? v : typeof v === 'string' ? parseText(type, v) : fail(type, v))
    case 'numeric':
      return (v, rec) => {
        if (typeof v === 'string') return Decimal.fromString(v)
        if (typeof v !== 'number') throw mismatch(type, v)
        // The written text keeps scale and digits a double cannot (`1.50`, 30 significant digits).
        const raw = rec.rawValue()
        return raw !== undefined ? Decimal.fromString(raw) : Decimal.fromNumber(v)
      }
    case 'text':
    case 'unknown':
      return (v) => (typeof v === 'string' ? v : JSON.stringify(v))
    case 'timestamp':
      return (v) => {
        if (typeof v === 'string') return parseTimestamp(v)
        if (typeof v === 'number' && Number.isFinite(v)) return Math.round(v * 1000) // epoch ms → µs
        throw mismatch(type, v)
      }
    case 'timestamptz':
      return (v) => {
        if (typeof v === 'string') return parseTimestamptz(v, tz)
        if (typeof v === 'number' && Number.isFinite(v)) return Math.round(v * 1000) // epoch ms → µs
        throw mismatch(type, v)
      }
    case 'jsonb':
      return (v) => new Jsonb(v as JsonValue)
    case 'date':
    case 'time':
    case 'interval':
    case 'bytea':
      return (v) => (typeof v === 'string' ? parseText(type, v, tz) : fail(type, v))
  }
}

function fail(type: DataType, v: unknown): never {
  throw mismatch(type, v)
}

/**
 * The top-level fields of a JSON object record as written (`{"a": 1.50}` → a → `1.50`), for the
 * few values JSON.parse cannot keep exactly. Only called for records that need it; assumes the
 * text already parsed as a JSON object. A repeated key keeps its last value, as JSON.parse does.
 */
export function topLevelRawValues(text: string): Map<string, string> {
  const out = new Map<string, string>()
  const n = text.length
  let i = text.indexOf('{') + 1
  while (i > 0 && i < n) {
    const open = text.indexOf('"', i)
    if (open < 0) break
    const close = stringEnd(text, open)
    const literal = text.slice(open, close + 1)
    const key = literal.includes('\\') ? (JSON.parse(literal) as string) : literal.slice(1, -1)
    i = text.indexOf(':', close) + 1
    const start = i
    let depth = 0
    for (; i < n; i++) {
      const ch = text.charCodeAt(i)
      if (ch === 0x22)
        i = stringEnd(text, i) // "
      else if (ch === 0x7b || ch === 0x5b)
        depth++ // { [
      else if ((ch === 0x7d || ch === 0x5d) && depth-- === 0)
        break // } ] closing the record
      else if (ch === 0x2c && depth === 0) break // ,
    }
    out.set(key, text.slice(start, i).trim())
    i++
  }
  return out
}

/** Index of the quote that closes the string opening at `open`. */
function stringEnd(text: string, open: number): number {
  let i = open + 1
  for (;;) {
    const q = text.indexOf('"', i)
    if (q < 0) return text.length
    let slashes = 0
    while (text.charCodeAt(q - 1 - slashes) === 0x5c) slashes++
    if (slashes % 2 === 0) return q
    i = q + 1
  }
}

/** Names that plain property access would find on Object.prototype when the field is absent. */
function inherited(name: string): boolean {
  return name in Object.prototype
}

/** Decodes an already parsed JSON object into one row (Debezium's `before`/`after` images use this). */
export interface JsonObjectDecoder {
  /**
   * Appends one value per column from the fields of `obj`, or nothing and why not. `text` is the
   * record text that exact number digits are read from, when `obj` is its top-level object.
   */
  decodeObject(
    obj: Record<string, unknown>,
    text: string | undefined,
    out: readonly Column[],
  ): JsonDecodeFailure | undefined
}

/** Builds a decoder for records of `columns`; converters are chosen once here. */
export function createJsonDecoder(columns: readonly ColumnSchema[], options: JsonDecoderOptions = {}): JsonDecoder {
  const objects = createJsonObjectDecoder(columns, options)
  const width = columns.length
  const names = columns.map((c) => c.name)
  const tz = options.timeZone ?? 'UTC'
  const convert = columns.map((c) => converterFor(c.type, tz))
  const direct = columns.map((c) => directOf(c.type))
  const scanner = new FlatJsonScanner(names, options.caseInsensitive ?? true)
  const { kind, from, to, int } = scanner
  const raw = new ScannedNumber()
  return {
    decodeBytes(buffer, start, end, out) {
      const bytes = buffer as SliceBuffer
      if (!scanner.usable || !scanner.scan(bytes, start, end)) return this.decode(bytes.utf8Slice(start, end), out)
      raw.bytes = bytes
      let c = 0
      try {
        for (; c < width; c++) {
          const k = kind[c]
          if (k === Slot.Absent || k === Slot.Null) {
            out[c].push(null)
            continue
          }
          switch (direct[c]) {
            case Direct.None:
              break
            case Direct.Int8:
              if (k === Slot.SmallInt) {
                out[c].push(BigInt(int[c])) // at most 15 digits: exact
                continue
              }
              break
            case Direct.Float8:
              if (k === Slot.SmallInt) {
                out[c].push(int[c])
                continue
              }
              break
            case Direct.Text:
              if (k === Slot.Ascii) {
                out[c].push(bytes.latin1Slice(from[c], to[c]))
                continue
              }
              if (k === Slot.Utf8) {
                out[c].push(bytes.utf8Slice(from[c], to[c]))
                continue
              }
              break
            case Direct.Timestamp:
              if (k === Slot.Ascii) {
                const us = timestampFromBytes(bytes, from[c], to[c])
                if (!Number.isNaN(us)) {
                  out[c].push(us)
                  continue
                }
              }
              break
            case Direct.Timestamptz:
              if (k === Slot.Ascii) {
                const us = timestamptzFromBytes(bytes, from[c], to[c], tz)
                if (!Number.isNaN(us)) {
                  out[c].push(us)
                  continue
                }
              }
              break
          }
          let v: unknown
          switch (k) {
            case Slot.SmallInt:
              v = int[c]
              raw.from = from[c]
              raw.to = to[c]
              break
            case Slot.Number:
              raw.from = from[c]
              raw.to = to[c]
              v = Number(bytes.latin1Slice(from[c], to[c]))
              break
            case Slot.Ascii:
              v = bytes.latin1Slice(from[c], to[c])
              break
            case Slot.Utf8:
              v = bytes.utf8Slice(from[c], to[c])
              break
            case Slot.Escaped:
              v = JSON.parse(bytes.utf8Slice(from[c], to[c]))
              break
            case Slot.True:
              v = true
              break
            case Slot.False:
              v = false
              break
          }
          out[c].push(convert[c](v, raw))
        }
      } catch (e) {
        for (let undo = 0; undo < c; undo++) out[undo].pop()
        const reason = e instanceof Error ? e.message : String(e)
        return { reason: 'type_error', detail: `field "${names[c]}": ${reason}` }
      }
      return undefined
    },
    decode(text, out) {
      let record: unknown
      try {
        record = JSON.parse(text)
      } catch (e) {
        return { reason: 'decode_error', detail: `invalid JSON: ${(e as Error).message}` }
      }
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        return { reason: 'decode_error', detail: `expected a JSON object, got ${describe(record)}` }
      }
      return objects.decodeObject(record as Record<string, unknown>, text, out)
    },
  }
}

/** Builds the field-to-column part of the JSON decoder; converters are chosen once here. */
export function createJsonObjectDecoder(
  columns: readonly ColumnSchema[],
  options: JsonDecoderOptions = {},
): JsonObjectDecoder {
  const width = columns.length
  const names = columns.map((c) => c.name)
  const lower = names.map((n) => n.toLowerCase())
  const guarded = names.map(inherited)
  const convert = columns.map((c) => converterFor(c.type, options.timeZone ?? 'UTC'))
  const caseInsensitive = options.caseInsensitive ?? true
  const rec = new RecordText()

  return {
    decodeObject(obj, text, out) {
      // Without the record text (a nested object), big numbers come from the parsed value.
      rec.reset(text ?? '{}')
      let c = 0
      try {
        for (; c < width; c++) {
          let key = names[c]
          let v = guarded[c] ? (Object.hasOwn(obj, key) ? obj[key] : undefined) : obj[key]
          if (v === undefined && caseInsensitive) {
            const want = lower[c]
            for (const k in obj) {
              if (k.length === want.length && k.toLowerCase() === want) {
                key = k
                v = obj[k]
                break
              }
            }
          }
          if (v === undefined || v === null) {
            out[c].push(null)
          } else {
            rec.key = key
            out[c].push(convert[c](v, rec))
          }
        }
      } catch (e) {
        for (let undo = 0; undo < c; undo++) out[undo].pop()
        const reason = e instanceof FieldError || e instanceof Error ? e.message : String(e)
        return { reason: 'type_error', detail: `field "${names[c]}": ${reason}` }
      }
      return undefined
    },
  }
}
