/**
 * JSON records → rows of a source's declared columns. Fields map by column name (exact, then
 * case-insensitive); a missing field is NULL. Values convert to the engine's representation
 * with PostgreSQL's input rules (timestamps as text, or numbers as epoch milliseconds). A record
 * that is not JSON is a `decode_error`; a field of the wrong type a `type_error` naming it.
 * Limit: integers beyond 2^53 in JSON numbers lose precision in JSON.parse; send them as strings.
 */
import type { ColumnSchema, DeadLetterReason } from '../../engine/connector.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import type { JsonValue } from '../../engine/types/jsonb.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { Jsonb } from '../../engine/types/jsonb.ts'
import { parseText } from '../../engine/types/text.ts'
import { formatTypeName } from '../../engine/types/oid.ts'

export interface DecodeFailure {
  readonly reason: DeadLetterReason
  readonly detail: string
}

export interface JsonDecoder {
  /** Appends the record's values to `columns` (one per declared column), or reports why it cannot. */
  decode(bytes: Buffer | null, columns: Value[][]): DecodeFailure | undefined
}

class TypeMismatch extends Error {}

function convert(v: JsonValue, type: DataType, field: string): Value {
  if (v === null) return null
  const wrong = (): never => {
    throw new TypeMismatch(`field "${field}": expected ${formatTypeName(type)}, got ${Array.isArray(v) ? 'array' : typeof v} ${JSON.stringify(v).slice(0, 60)}`)
  }
  try {
    switch (type.kind) {
      case 'bool':
        return typeof v === 'boolean' ? v : typeof v === 'string' ? parseText(type, v) : wrong()
      case 'int2':
      case 'int4':
      case 'int8':
        if (typeof v === 'number') return Number.isInteger(v) ? parseText(type, String(BigInt(v))) : wrong()
        return typeof v === 'string' ? parseText(type, v) : wrong()
      case 'float4':
      case 'float8':
        return typeof v === 'number' ? v : typeof v === 'string' ? parseText(type, v) : wrong()
      case 'numeric':
        return typeof v === 'number' ? Decimal.fromNumber(v) : typeof v === 'string' ? Decimal.fromString(v) : wrong()
      case 'text':
        return typeof v === 'string' ? v : JSON.stringify(v)
      case 'timestamp':
      case 'timestamptz':
        if (typeof v === 'number') return Math.round(v * 1000) // epoch milliseconds
        return typeof v === 'string' ? parseText(type, v, 'UTC') : wrong()
      case 'date':
      case 'time':
      case 'interval':
        return typeof v === 'string' ? parseText(type, v) : wrong()
      case 'jsonb':
        return new Jsonb(v)
      case 'bytea':
        return typeof v === 'string' ? parseText(type, v) : wrong()
      case 'array':
        return Array.isArray(v) ? v.map((x, i) => convert(x, type.element, `${field}[${i}]`)) : wrong()
      case 'unknown':
        return typeof v === 'string' ? v : JSON.stringify(v)
    }
  } catch (e) {
    if (e instanceof TypeMismatch) throw e
    throw new TypeMismatch(`field "${field}": ${e instanceof Error ? e.message : String(e)}`)
  }
}

export function createJsonDecoder(columns: readonly ColumnSchema[]): JsonDecoder {
  const names = columns.map((c) => c.name)
  const lower = names.map((n) => n.toLowerCase())
  return {
    decode(bytes, out) {
      if (bytes === null) return { reason: 'decode_error', detail: 'the record has no value (tombstone)' }
      let record: unknown
      try {
        record = JSON.parse(bytes.toString('utf8'))
      } catch (e) {
        return { reason: 'decode_error', detail: `invalid JSON: ${e instanceof Error ? e.message : String(e)}` }
      }
      if (record === null || typeof record !== 'object' || Array.isArray(record)) return { reason: 'decode_error', detail: 'the record is not a JSON object' }
      const obj = record as Record<string, JsonValue>
      const row: Value[] = new Array<Value>(columns.length)
      try {
        for (let c = 0; c < columns.length; c++) {
          let v = obj[names[c]]
          if (v === undefined) {
            const key = Object.keys(obj).find((k) => k.toLowerCase() === lower[c])
            v = key === undefined ? null : obj[key]
          }
          row[c] = convert(v, columns[c].type, names[c])
        }
      } catch (e) {
        return { reason: 'type_error', detail: e instanceof Error ? e.message : String(e) }
      }
      for (let c = 0; c < columns.length; c++) out[c].push(row[c])
      return undefined
    },
  }
}
