/**
 * Rows as JSON records for the Kafka sink (`format = 'json'`): one JSON object per row, column
 * names as keys, in column order. Values follow the rule of Sluice's HTTP API, so the two JSON
 * outputs agree, except that times are ISO 8601:
 *
 * - bool → true/false; int2, int4 → numbers; float4/float8 → numbers (float4 by its shortest
 *   float4 digits), NaN and ±Infinity → the strings "NaN", "Infinity", "-Infinity";
 * - int8 → a number when |n| ≤ 2^53 − 1, else its decimal string (exact either way: no consumer
 *   that parses JSON numbers as doubles rounds it silently);
 * - numeric → a number when a double reads it back with the same digits (1.5, 0.1), else the
 *   PostgreSQL text as a string ("12345678901234567.5"); trailing zeros of the scale are not kept;
 * - timestamp → "2024-01-02T03:04:05.123456" (ISO 8601, no zone), timestamptz →
 *   "2024-01-02T03:04:05.123456Z" (UTC); fractional digits only as many as needed;
 * - date → "2024-01-02", time → "03:04:05.5", interval → PostgreSQL text ("1 day 02:00:00"),
 *   bytea → PostgreSQL hex text ("\\xdeadbeef"), text → the string, jsonb → the JSON value itself,
 *   arrays → JSON arrays; SQL NULL → null.
 *
 * Sluice's own JSON source reads every one of these back to the same value.
 * The encoder builds each record's text by concatenation over precomputed per-column converters:
 * no per-row objects.
 */
import type { Chunk } from '../../engine/chunk.ts'
import type { ColumnSchema } from '../../engine/connector.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import type { Interval } from '../../engine/types/interval.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { Jsonb } from '../../engine/types/jsonb.ts'
import { formatFloat, formatText } from '../../engine/types/text.ts'
import { formatDate, formatTime, formatTimestamp } from '../../engine/types/time.ts'

/** Encodes chosen columns of one chunk row as one record's bytes. */
export interface RowEncoder {
  encode(chunk: Chunk, row: number): Buffer
}

type ToJson = (v: Value) => string

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

function bigintJson(v: bigint): string {
  return v <= MAX_SAFE && v >= -MAX_SAFE ? v.toString() : `"${v.toString()}"`
}

function decimalJson(d: Decimal): string {
  const text = d.toString()
  const canonical = text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text
  const n = Number(canonical)
  if (Math.abs(n) <= Number.MAX_SAFE_INTEGER && String(n) === (canonical === '-0' ? '0' : canonical)) return String(n)
  return JSON.stringify(text)
}

function floatJson(v: number, single: boolean): string {
  if (!Number.isFinite(v)) return `"${formatFloat(v, single)}"`
  // A REAL carries a float4 value; fround guards a double that slipped in (its digits would not be found).
  return single ? formatFloat(Math.fround(v), true) : JSON.stringify(v)
}

/** µs since the epoch as ISO 8601 (PostgreSQL's ISO text with a `T`; BC years keep the suffix). */
export function isoTimestamp(us: number, utc: boolean): string {
  const text = formatTimestamp(us)
  const iso = text.replace(' ', 'T')
  return utc ? (iso.endsWith(' BC') ? `${iso.slice(0, -3)}Z BC` : `${iso}Z`) : iso
}

function converter(type: DataType): ToJson {
  if (type.kind === 'array') {
    const element = converter(type.element)
    return (v) => `[${(v as readonly Value[]).map((e) => (e === null ? 'null' : element(e))).join(',')}]`
  }
  switch (type.kind) {
    case 'bool':
      return (v) => (v === true ? 'true' : 'false')
    case 'int2':
    case 'int4':
      return (v) => String(v)
    case 'int8':
      return (v) => (typeof v === 'bigint' ? bigintJson(v) : floatJson(v as number, false))
    case 'float4':
      return (v) => floatJson(v as number, true)
    case 'float8':
      return (v) => floatJson(v as number, false)
    case 'numeric':
      return (v) => (v instanceof Decimal ? decimalJson(v) : floatJson(v as number, false))
    case 'text':
    case 'unknown':
      return (v) => JSON.stringify(v)
    case 'jsonb':
      return (v) => (v instanceof Jsonb ? JSON.stringify(v.value) : JSON.stringify(String(v)))
    case 'date':
      return (v) => `"${formatDate(v as number)}"`
    case 'time':
      return (v) => `"${formatTime(v as number)}"`
    case 'timestamp':
      return (v) => `"${isoTimestamp(v as number, false)}"`
    case 'timestamptz':
      return (v) => `"${isoTimestamp(v as number, true)}"`
    case 'interval':
      return (v) => JSON.stringify((v as Interval).toString())
    case 'bytea':
      return (v) => JSON.stringify(formatText(type, v))
  }
}

/** The JSON text of one value of `type` (exported for tests and for readers of the rule). */
export function valueJson(v: Value, type: DataType): string {
  return v === null ? 'null' : converter(type)(v)
}

/** A JSON object of `columns[indexes]` per row. */
export function jsonRowEncoder(columns: readonly ColumnSchema[], indexes: readonly number[]): RowEncoder {
  const prefixes = indexes.map((c, i) => `${i === 0 ? '{' : ','}${JSON.stringify(columns[c].name)}:`)
  const convert = indexes.map((c) => converter(columns[c].type))
  const width = indexes.length
  return {
    encode(chunk, row) {
      let out = width === 0 ? '{' : ''
      for (let i = 0; i < width; i++) {
        const v = chunk.columns[indexes[i]][row]
        out += prefixes[i] + (v === null ? 'null' : convert[i](v))
      }
      return Buffer.from(out + '}', 'utf8')
    },
  }
}
