/**
 * Casts between Sluice's types with PostgreSQL's semantics (rounding, range checks, text
 * round trips) and the contexts in which PostgreSQL applies them implicitly.
 */
import type { DataType, ScalarKind, Value } from './datatype.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { Decimal } from './decimal.ts'
import { Jsonb } from './jsonb.ts'
import { formatText, parseText } from './text.ts'
import { formatTypeName } from './oid.ts'
import { zoneOffsetSeconds } from './time.ts'

const US_PER_DAY = 86_400_000_000
const LIMITS: Partial<Record<ScalarKind, [number, number, string]>> = {
  int2: [-32768, 32767, 'smallint'],
  int4: [-2147483648, 2147483647, 'integer'],
}
const INT8_MIN = -9223372036854775808n
const INT8_MAX = 9223372036854775807n

function outOfRange(name: string): SluiceError {
  return new SluiceError(SqlState.numeric_value_out_of_range, `${name} out of range`)
}

function toIntKind(n: bigint, to: ScalarKind): Value {
  if (to === 'int8') {
    if (n < INT8_MIN || n > INT8_MAX) throw outOfRange('bigint')
    return n
  }
  const [min, max, name] = LIMITS[to]!
  if (n < BigInt(min) || n > BigInt(max)) throw outOfRange(name)
  return Number(n)
}

/** Round half to even, as PostgreSQL's rint() does for float → int. */
function rint(v: number): number {
  const r = Math.round(v)
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

export function castValue(value: Value, from: DataType, to: DataType, tz = 'UTC'): Value {
  if (value === null) return null
  if (from.kind === to.kind && from.kind !== 'array') return value
  if (to.kind === 'text') return from.kind === 'text' || from.kind === 'unknown' ? value : formatText(from, value, tz)
  if (from.kind === 'text' || from.kind === 'unknown') return parseText(to, String(value), tz)
  if (from.kind === 'array' || to.kind === 'array') {
    if (from.kind === 'array' && to.kind === 'array') return (value as readonly Value[]).map((v) => castValue(v, from.element, to.element, tz))
    throw cannot(from, to)
  }
  const f = from.kind
  const t = to.kind
  switch (t) {
    case 'int2':
    case 'int4':
    case 'int8':
      if (f === 'int2' || f === 'int4') return toIntKind(BigInt(value as number), t)
      if (f === 'int8') return toIntKind(value as bigint, t)
      if (f === 'float4' || f === 'float8') {
        const v = value as number
        if (!Number.isFinite(v)) throw outOfRange(t === 'int8' ? 'bigint' : LIMITS[t]![2])
        return toIntKind(BigInt(rint(v)), t)
      }
      if (f === 'numeric') return toIntKind((value as Decimal).toBigInt(), t)
      if (f === 'bool' && t === 'int4') return value === true ? 1 : 0
      if (f === 'jsonb') return castValue(jsonScalar(value as Jsonb, to), { kind: 'float8' }, to)
      break
    case 'float4':
    case 'float8': {
      let v: number | undefined
      if (f === 'int2' || f === 'int4' || f === 'float4' || f === 'float8') v = value as number
      else if (f === 'int8') v = Number(value)
      else if (f === 'numeric') v = (value as Decimal).toNumber()
      else if (f === 'jsonb') return jsonScalar(value as Jsonb, to)
      if (v !== undefined) return t === 'float4' ? Math.fround(v) : v
      break
    }
    case 'numeric':
      if (f === 'int2' || f === 'int4') return Decimal.fromBigInt(BigInt(value as number))
      if (f === 'int8') return Decimal.fromBigInt(value as bigint)
      if (f === 'float4' || f === 'float8') {
        const v = value as number
        if (Number.isNaN(v) || !Number.isFinite(v)) throw new SluiceError(SqlState.feature_not_supported, `cannot convert ${v} to numeric`)
        return Decimal.fromNumber(v)
      }
      if (f === 'jsonb') return Decimal.fromNumber(jsonScalar(value as Jsonb, to) as number)
      break
    case 'bool':
      if (f === 'int4') return value !== 0
      if (f === 'jsonb') {
        const j = (value as Jsonb).value
        if (typeof j === 'boolean') return j
        throw new SluiceError(SqlState.invalid_parameter_value, `cannot cast jsonb ${typeof j} to type boolean`)
      }
      break
    case 'timestamp':
      if (f === 'date') return (value as number) * US_PER_DAY
      if (f === 'timestamptz') return (value as number) + zoneOffsetSeconds(value as number, tz) * 1e6
      break
    case 'timestamptz':
      if (f === 'date') return castValue((value as number) * US_PER_DAY, { kind: 'timestamp' }, to, tz)
      if (f === 'timestamp') {
        const local = value as number
        return local - zoneOffsetSeconds(local - zoneOffsetSeconds(local, tz) * 1e6, tz) * 1e6
      }
      break
    case 'date':
      if (f === 'timestamp') return Math.floor((value as number) / US_PER_DAY)
      if (f === 'timestamptz') return Math.floor(((value as number) + zoneOffsetSeconds(value as number, tz) * 1e6) / US_PER_DAY)
      break
    case 'time':
      if (f === 'timestamp') return (((value as number) % US_PER_DAY) + US_PER_DAY) % US_PER_DAY
      break
    case 'jsonb':
      if (f === 'int2' || f === 'int4' || f === 'float4' || f === 'float8') return new Jsonb(value as number)
      if (f === 'int8') return new Jsonb(Number(value))
      if (f === 'numeric') return new Jsonb((value as Decimal).toNumber())
      if (f === 'bool') return new Jsonb(value as boolean)
      break
    default:
      break
  }
  throw cannot(from, to)
}

function jsonScalar(j: Jsonb, to: DataType): Value {
  if (typeof j.value === 'number') return j.value
  throw new SluiceError(SqlState.invalid_parameter_value, `cannot cast jsonb ${j.value === null ? 'null' : Array.isArray(j.value) ? 'array' : typeof j.value} to type ${formatTypeName(to)}`)
}

function cannot(from: DataType, to: DataType): SluiceError {
  return new SluiceError(SqlState.datatype_mismatch, `cannot cast type ${formatTypeName(from)} to ${formatTypeName(to)}`)
}

const IMPLICIT: Partial<Record<ScalarKind, readonly ScalarKind[]>> = {
  int2: ['int4', 'int8', 'numeric', 'float4', 'float8'],
  int4: ['int8', 'numeric', 'float4', 'float8'],
  int8: ['numeric', 'float4', 'float8'],
  numeric: ['float4', 'float8'],
  float4: ['float8'],
  date: ['timestamp', 'timestamptz'],
  timestamp: ['timestamptz'],
}

export function canCast(from: DataType, to: DataType, context: 'implicit' | 'assignment' | 'explicit'): boolean {
  if (from.kind === 'unknown') return true
  if (from.kind === 'array' || to.kind === 'array') return from.kind === 'array' && to.kind === 'array' && canCast(from.element, to.element, context)
  if (from.kind === to.kind) return true
  if (IMPLICIT[from.kind]?.includes(to.kind) === true) return true
  if (context === 'implicit') return false
  if (to.kind === 'text') return true
  const numeric = ['int2', 'int4', 'int8', 'numeric', 'float4', 'float8']
  if (numeric.includes(from.kind) && numeric.includes(to.kind)) return true
  if (context === 'assignment') return (from.kind === 'timestamptz' && (to.kind === 'timestamp' || to.kind === 'date')) || (from.kind === 'timestamp' && (to.kind === 'date' || to.kind === 'time'))
  return true
}
