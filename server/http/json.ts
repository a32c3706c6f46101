/**
 * Engine values as JSON for the HTTP API: booleans and numbers stay JSON numbers when exact;
 * bigint and numeric become numbers only when they are safe integers or exactly representable,
 * otherwise strings (so no digit is ever lost); temporal types are PostgreSQL text; jsonb is
 * the JSON value itself.
 */
import type { DataType, Value } from '../../engine/types/datatype.ts'
import type { JsonValue } from '../../engine/types/jsonb.ts'
import type { Decimal } from '../../engine/types/decimal.ts'
import type { Jsonb } from '../../engine/types/jsonb.ts'
import { formatText } from '../../engine/types/text.ts'

export function toJson(v: Value, type: DataType, tz: string): JsonValue {
  if (v === null) return null
  switch (type.kind) {
    case 'bool':
      return v as boolean
    case 'int2':
    case 'int4':
      return v as number
    case 'float4':
    case 'float8':
      return Number.isFinite(v) ? (v as number) : formatText(type, v, tz)
    case 'int8': {
      const n = Number(v)
      return Number.isSafeInteger(n) ? n : String(v)
    }
    case 'numeric': {
      const s = (v as Decimal).toString()
      const n = Number(s)
      return Number.isFinite(n) && String(n) === s.replace(/\.?0+$/, '') && (s.includes('.') ? true : Number.isSafeInteger(n)) ? n : s
    }
    case 'jsonb':
      return (v as Jsonb).value
    default:
      return formatText(type, v, tz)
  }
}
