/**
 * `"params"` of `POST /v1/sql` as engine values. The statement is described first, so each
 * parameter gets the type the engine inferred for `$n` (as pgwire's Bind does), then:
 *
 * - null → SQL NULL.
 * - a string → PostgreSQL text input of the parameter's type ('2024-01-01 10:00', '1.50',
 *   '{1,2}'), exactly what a pgwire client sends in text format. Large int8 and numeric values
 *   should be sent as strings: JSON numbers are doubles.
 * - a number → the number, for integer types only when it is integral and in range; numeric
 *   takes the number's shortest digits (0.1 → 0.1); other types read its decimal text.
 * - a boolean → bool, or the text 'true'/'false' for other types.
 * - an object or array → jsonb as is; an array for an array type element by element; text gets
 *   the JSON text. Any other type is a 42804 datatype mismatch.
 */
import type { DataType, Value } from '../../engine/types/datatype.ts'
import type { JsonValue } from '../../engine/types/jsonb.ts'
import { SluiceError, SqlState, toSluiceError } from '../../engine/errors.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { Jsonb, formatJson } from '../../engine/types/jsonb.ts'
import { formatTypeName } from '../../engine/types/oid.ts'
import { parseText } from '../../engine/types/text.ts'

/** Converts request parameters; throws SluiceError naming the parameter (`$2`) that failed. */
export function paramsFromJson(values: readonly JsonValue[], types: readonly DataType[], tz: string): Value[] {
  if (values.length !== types.length) {
    throw new SluiceError(
      SqlState.protocol_violation,
      `"params" has ${values.length} values, but the statement has ${types.length} parameters`,
    )
  }
  const out: Value[] = new Array<Value>(values.length)
  for (let i = 0; i < values.length; i++) {
    try {
      out[i] = paramValue(values[i], types[i], tz)
    } catch (e) {
      const err = toSluiceError(e)
      throw new SluiceError(err.code, err.message, {
        domain: err.domain,
        detail: `in parameter $${i + 1}`,
        hint: err.hint,
        cause: e,
      })
    }
  }
  return out
}

/** One JSON value as a value of `type`. */
export function paramValue(v: JsonValue, type: DataType, tz: string): Value {
  if (v === null) return null
  if (typeof v === 'string') return parseText(type, v, tz)
  if (typeof v === 'number') return numberValue(v, type, tz)
  if (typeof v === 'boolean')
    return type.kind === 'bool' ? v : type.kind === 'jsonb' ? new Jsonb(v) : parseText(type, String(v), tz)
  if (type.kind === 'jsonb') return new Jsonb(v)
  if (type.kind === 'array' && Array.isArray(v)) {
    const element = type.element
    return v.map((e) => paramValue(e, element, tz))
  }
  if (type.kind === 'text' || type.kind === 'unknown') return formatJson(v)
  throw new SluiceError(
    SqlState.datatype_mismatch,
    `a JSON ${Array.isArray(v) ? 'array' : 'object'} cannot be a value of type ${formatTypeName(type)}`,
    {
      hint: 'Pass the value as a string in PostgreSQL text form.',
    },
  )
}

function numberValue(n: number, type: DataType, tz: string): Value {
  switch (type.kind) {
    case 'int2':
    case 'int4':
    case 'int8':
      if (!Number.isInteger(n)) {
        throw new SluiceError(
          SqlState.invalid_text_representation,
          `invalid input syntax for type ${formatTypeName(type)}: "${n}"`,
        )
      }
      return parseText(type, BigInt(n).toString(), tz)
    case 'float4':
      return Math.fround(n)
    case 'float8':
      return n
    case 'numeric':
      return Decimal.fromString(String(n))
    case 'jsonb':
      return new Jsonb(n)
    case 'bool':
    case 'text':
    case 'unknown':
    case 'bytea':
    case 'date':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
    case 'interval':
    case 'array':
      return parseText(type, String(n), tz)
  }
}
