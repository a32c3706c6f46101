/**
 * Casts between Sluice's types with PostgreSQL's semantics (rounding, range checks, text
 * round trips) and the contexts in which PostgreSQL applies them (pg_cast's castcontext).
 */
import type { DataType, ScalarKind, Value } from './datatype.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { Decimal } from './decimal.ts'
import { Interval } from './interval.ts'
import type { Jsonb } from './jsonb.ts'
import { formatText, parseText } from './text.ts'
import { formatTypeName } from './oid.ts'
import { instantToLocal, localToInstant } from './time.ts'

const US_PER_DAY = 86_400_000_000
const INT_LIMITS = {
  int2: [-32768n, 32767n, 'smallint'],
  int4: [-2147483648n, 2147483647n, 'integer'],
  int8: [-9223372036854775808n, 9223372036854775807n, 'bigint'],
} as const
type IntKind = keyof typeof INT_LIMITS

function outOfRange(name: string): SluiceError {
  return new SluiceError(SqlState.numeric_value_out_of_range, `${name} out of range`)
}

function toIntKind(n: bigint, to: IntKind): number | bigint {
  const [min, max, name] = INT_LIMITS[to]
  if (n < min || n > max) throw outOfRange(name)
  return to === 'int8' ? n : Number(n)
}

/** Round half to even, as PostgreSQL's rint() does for float → int. */
function rint(v: number): number {
  const r = Math.round(v)
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r
}

function isInt(k: string): k is IntKind {
  return k === 'int2' || k === 'int4' || k === 'int8'
}

function jsonTypeName(v: unknown): string {
  // PostgreSQL's names for jsonb value kinds in this message.
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  return typeof v === 'object' ? 'object' : typeof v === 'number' ? 'numeric' : typeof v
}

function jsonCastError(j: Jsonb, to: DataType): SluiceError {
  return new SluiceError(
    SqlState.invalid_parameter_value,
    `cannot cast jsonb ${jsonTypeName(j.value)} to type ${formatTypeName(to)}`,
  )
}

/**
 * Converts a value of type `from` to type `to` as PostgreSQL's cast does. `tz` is the session
 * zone (timestamp ↔ timestamptz, date ↔ timestamptz, timestamptz → text). NULL stays NULL.
 */
export function castValue(value: Value, from: DataType, to: DataType, tz = 'UTC'): Value {
  if (value === null) return null
  const f = from.kind
  const t = to.kind
  if (f === t && f !== 'array') return value
  if (t === 'unknown') return value
  if (t === 'text') {
    if (f === 'text' || f === 'unknown') return value
    // bool → text is PostgreSQL's booltext ('true'), not boolout ('t').
    if (f === 'bool') return value === true ? 'true' : 'false'
    return formatText(from, value, tz)
  }
  if (f === 'text' || f === 'unknown') return parseText(to, value as string, tz)
  if (f === 'array' || t === 'array') {
    if (from.kind === 'array' && to.kind === 'array') {
      const el = from.element
      const te = to.element
      return (value as readonly Value[]).map((v) => castValue(v, el, te, tz))
    }
    throw cannot(from, to)
  }
  if (isInt(t)) {
    if (f === 'int2' || f === 'int4') return toIntKind(BigInt(value as number), t)
    if (f === 'int8') return toIntKind(value as bigint, t)
    if (f === 'float4' || f === 'float8') {
      const v = value as number
      if (!Number.isFinite(v)) throw outOfRange(INT_LIMITS[t][2])
      return toIntKind(BigInt(rint(v)), t)
    }
    if (f === 'numeric') return toIntKind((value as Decimal).toBigInt(), t)
    if (f === 'bool' && t === 'int4') return value === true ? 1 : 0
    if (f === 'jsonb') return toIntKind(jsonNumber(value as Jsonb, to).toBigInt(), t)
    throw cannot(from, to)
  }
  switch (t) {
    case 'float4':
    case 'float8': {
      // numeric → float goes through text, as PostgreSQL's numeric_float8 does (same errors too).
      if (f === 'numeric') return parseText(to, (value as Decimal).toString())
      let v: number
      if (f === 'int2' || f === 'int4' || f === 'float4' || f === 'float8') v = value as number
      else if (f === 'int8') v = Number(value)
      else if (f === 'jsonb') v = jsonNumber(value as Jsonb, to).toNumber()
      else throw cannot(from, to)
      if (t === 'float8') return v
      const r = Math.fround(v)
      if (!Number.isFinite(r) && Number.isFinite(v))
        throw new SluiceError(SqlState.numeric_value_out_of_range, 'value out of range: overflow')
      if (r === 0 && v !== 0)
        throw new SluiceError(SqlState.numeric_value_out_of_range, 'value out of range: underflow')
      return r
    }
    case 'numeric':
      if (f === 'int2' || f === 'int4') return Decimal.fromBigInt(BigInt(value as number))
      if (f === 'int8') return Decimal.fromBigInt(value as bigint)
      if (f === 'float4') return Decimal.fromNumber(value as number, 6)
      if (f === 'float8') return Decimal.fromNumber(value as number, 15)
      if (f === 'jsonb') return jsonNumber(value as Jsonb, to)
      break
    case 'bool':
      if (f === 'int4') return value !== 0
      if (f === 'jsonb') {
        const j = (value as Jsonb).value
        if (typeof j === 'boolean') return j
        throw jsonCastError(value as Jsonb, to)
      }
      break
    case 'timestamp':
      if (f === 'date') return (value as number) * US_PER_DAY
      if (f === 'timestamptz') return instantToLocal(value as number, tz)
      break
    case 'timestamptz':
      if (f === 'date') return localToInstant((value as number) * US_PER_DAY, tz)
      if (f === 'timestamp') return localToInstant(value as number, tz)
      break
    case 'date':
      if (f === 'timestamp') return Math.floor((value as number) / US_PER_DAY)
      if (f === 'timestamptz') return Math.floor(instantToLocal(value as number, tz) / US_PER_DAY)
      break
    case 'time':
      if (f === 'timestamp') return (((value as number) % US_PER_DAY) + US_PER_DAY) % US_PER_DAY
      if (f === 'timestamptz') return ((instantToLocal(value as number, tz) % US_PER_DAY) + US_PER_DAY) % US_PER_DAY
      if (f === 'interval') {
        // PostgreSQL keeps the time part modulo one day.
        const us = (value as Interval).micros % US_PER_DAY
        return us < 0 ? us + US_PER_DAY : us
      }
      break
    case 'interval':
      if (f === 'time') return new Interval(0, 0, value as number)
      break
    case 'bytea':
    case 'jsonb':
      break
  }
  throw cannot(from, to)
}

/** A jsonb number as a Decimal (jsonb numbers are numeric in PostgreSQL). */
function jsonNumber(j: Jsonb, to: DataType): Decimal {
  if (typeof j.value !== 'number') throw jsonCastError(j, to)
  return Decimal.fromString(String(j.value))
}

function cannot(from: DataType, to: DataType): SluiceError {
  return new SluiceError(
    SqlState.datatype_mismatch,
    `cannot cast type ${formatTypeName(from)} to ${formatTypeName(to)}`,
  )
}

type Context = 'implicit' | 'assignment' | 'explicit'
type CastTable = Partial<Record<ScalarKind, Partial<Record<ScalarKind, 'i' | 'a' | 'e'>>>>

/** pg_cast for Sluice's types (casts through text I/O are handled apart). */
const CASTS: CastTable = {
  int2: { int4: 'i', int8: 'i', numeric: 'i', float4: 'i', float8: 'i' },
  int4: { int2: 'a', int8: 'i', numeric: 'i', float4: 'i', float8: 'i', bool: 'e' },
  int8: { int2: 'a', int4: 'a', numeric: 'i', float4: 'i', float8: 'i' },
  numeric: { int2: 'a', int4: 'a', int8: 'a', float4: 'i', float8: 'i' },
  float4: { int2: 'a', int4: 'a', int8: 'a', numeric: 'a', float8: 'i' },
  float8: { int2: 'a', int4: 'a', int8: 'a', numeric: 'a', float4: 'a' },
  bool: { int4: 'e' },
  date: { timestamp: 'i', timestamptz: 'i' },
  timestamp: { date: 'a', time: 'a', timestamptz: 'i' },
  timestamptz: { date: 'a', time: 'a', timestamp: 'a' },
  time: { interval: 'i' },
  interval: { time: 'a' },
  jsonb: { bool: 'e', int2: 'e', int4: 'e', int8: 'e', numeric: 'e', float4: 'e', float8: 'e' },
}

const RANK: Record<'i' | 'a' | 'e', number> = { i: 0, a: 1, e: 2 }
const CONTEXT_RANK: Record<Context, number> = { implicit: 0, assignment: 1, explicit: 2 }

/**
 * Whether PostgreSQL would apply a cast from `from` to `to` in `context`: implicitly (in
 * expressions), on assignment (INSERT/UPDATE targets) or only when written (CAST / ::).
 * Anything converts to text on assignment and from text explicitly (I/O conversion casts); an
 * untyped literal ('unknown') converts to anything implicitly.
 */
export function canCast(from: DataType, to: DataType, context: Context): boolean {
  if (from.kind === 'unknown') return true
  if (from.kind === 'array' || to.kind === 'array') {
    if (from.kind === 'array' && to.kind === 'array') return canCast(from.element, to.element, context)
    if (to.kind === 'text') return context !== 'implicit'
    return from.kind === 'text' && context === 'explicit'
  }
  if (from.kind === to.kind) return true
  if (to.kind === 'unknown') return false
  const c = CASTS[from.kind]?.[to.kind]
  if (c !== undefined) return RANK[c] <= CONTEXT_RANK[context]
  if (to.kind === 'text') return context !== 'implicit'
  if (from.kind === 'text') return context === 'explicit'
  return false
}
