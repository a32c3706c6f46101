/**
 * Engine values as JSON for `POST /v1/sql` results. The rule, per type:
 *
 * - bool → true/false; int2, int4 → numbers.
 * - float4, float8 → numbers (float4 by its shortest float4 digits, so 0.1::real is 0.1);
 *   NaN, Infinity and -Infinity → the strings "NaN", "Infinity", "-Infinity".
 * - int8 → a number when it is a safe integer (|n| ≤ 2^53 − 1), else its decimal string.
 * - numeric → a number when the JSON number denotes exactly the same decimal value and a double
 *   reading it back prints the same digits: at most 2^53 − 1 in magnitude and the shortest
 *   double digits equal the value (0.1 → 0.1, 1.50 → 1.5, 2.5e-3 → 0.0025). Otherwise the
 *   PostgreSQL text as a string (12345678901234567.5 → "12345678901234567.5"). JSON numbers
 *   carry no scale: use `::text` to keep trailing zeros.
 * - jsonb → the JSON value itself; arrays → JSON arrays of their converted elements.
 * - everything else (text, bytea, date, time, timestamp, timestamptz, interval) → the PostgreSQL
 *   text output, timestamptz in the session's time zone.
 * - SQL NULL → null.
 */
import type { DataType, Value } from '../../engine/types/datatype.ts'
import type { JsonValue } from '../../engine/types/jsonb.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { Jsonb } from '../../engine/types/jsonb.ts'
import { formatFloat, formatText } from '../../engine/types/text.ts'

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** One value of `type` as JSON, by the rule in this file's header. `tz` is the session time zone. */
export function toJson(v: Value, type: DataType, tz: string): JsonValue {
  if (v === null) return null
  if (type.kind === 'array') {
    const element = type.element
    return (v as readonly Value[]).map((e) => toJson(e, element, tz))
  }
  switch (type.kind) {
    case 'bool':
      return v === true
    case 'int2':
    case 'int4':
      return typeof v === 'number' ? v : Number(v)
    case 'float4':
    case 'float8':
      return floatJson(v, type.kind === 'float4')
    case 'int8':
      return typeof v === 'bigint' ? bigintJson(v) : floatJson(v, false)
    case 'numeric':
      return v instanceof Decimal ? decimalJson(v) : floatJson(v, false)
    case 'jsonb':
      return v instanceof Jsonb ? v.value : formatText(type, v, tz)
    case 'text':
    case 'unknown':
    case 'bytea':
    case 'date':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
    case 'interval':
      return formatText(type, v, tz)
  }
}

function floatJson(v: Value, single: boolean): JsonValue {
  if (typeof v !== 'number') return String(v)
  if (!Number.isFinite(v)) return formatFloat(v, single)
  return single ? Number(formatFloat(v, true)) : v
}

function bigintJson(v: bigint): JsonValue {
  return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v.toString()
}

function decimalJson(d: Decimal): JsonValue {
  const text = d.toString()
  // The value's canonical digits: no trailing fractional zeros, no lone trailing point.
  const canonical = text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text
  const n = Number(canonical)
  if (Math.abs(n) <= Number.MAX_SAFE_INTEGER && String(n) === (canonical === '-0' ? '0' : canonical)) return n
  return text
}
