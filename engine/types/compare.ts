/**
 * Ordering, equality and hashing of non-null values of one type, as PostgreSQL orders them
 * (NaN above every other float; numeric 1.0 = 1.00). Hashes are consistent with equality and
 * cheap for numbers: no string is built for them.
 */
import type { DataType, Value } from './datatype.ts'
import { Decimal } from './decimal.ts'
import { Interval } from './interval.ts'
import { Jsonb, formatJson } from './jsonb.ts'

export function compareValues(a: Value, b: Value, type: DataType): number {
  if (type.kind === 'array') {
    const x = a as readonly Value[]
    const y = b as readonly Value[]
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      if (x[i] === null || y[i] === null) {
        if (x[i] === y[i]) continue
        return x[i] === null ? 1 : -1
      }
      const c = compareValues(x[i], y[i], type.element)
      if (c !== 0) return c
    }
    return x.length - y.length
  }
  switch (type.kind) {
    case 'numeric':
      return (a as Decimal).cmp(b as Decimal)
    case 'interval':
      return (a as Interval).cmp(b as Interval)
    case 'float4':
    case 'float8': {
      const x = a as number
      const y = b as number
      if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : 1
      if (Number.isNaN(y)) return -1
      return x < y ? -1 : x > y ? 1 : 0
    }
    case 'bool':
      return a === b ? 0 : a === false ? -1 : 1
    case 'bytea':
      return Buffer.compare(a as Uint8Array, b as Uint8Array)
    case 'jsonb': {
      const x = formatJson((a as Jsonb).value)
      const y = formatJson((b as Jsonb).value)
      return x < y ? -1 : x > y ? 1 : 0
    }
    case 'text':
    case 'unknown': {
      const x = a as string
      const y = b as string
      return x < y ? -1 : x > y ? 1 : 0
    }
    default: {
      const x = a as number | bigint
      const y = b as number | bigint
      return x < y ? -1 : x > y ? 1 : 0
    }
  }
}

export function valuesEqual(a: Value, b: Value, type: DataType): boolean {
  if (a === b) return type.kind === 'float4' || type.kind === 'float8' ? true : true
  switch (type.kind) {
    case 'numeric':
    case 'interval':
    case 'bytea':
    case 'jsonb':
    case 'array':
      return compareValues(a, b, type) === 0
    case 'float4':
    case 'float8':
      return Number.isNaN(a) && Number.isNaN(b)
    default:
      return false
  }
}

export function hashCombine(h: number, v: number): number {
  return (Math.imul(h ^ v, 0x9e3779b1) + 0x7f4a7c15) | 0
}

function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h | 0
}

function hashNumber(n: number): number {
  if ((n | 0) === n) return Math.imul(n, 0x9e3779b1) | 0
  if (Number.isNaN(n)) return 0x7ff8
  // Non-integers and large integers: mix the two 32-bit halves of the double.
  f64[0] = n === 0 ? 0 : n
  return hashCombine(u32[0], u32[1])
}

const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)

export function hashValue(v: Value, type: DataType): number {
  switch (typeof v) {
    case 'number':
      return hashNumber(v)
    case 'string':
      return hashString(v)
    case 'bigint':
      return v >= -2147483648n && v <= 2147483647n ? hashNumber(Number(v)) : hashCombine(Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n)))
    case 'boolean':
      return v ? 1 : 2
    default:
      break
  }
  if (v instanceof Decimal) {
    const n = v.normalized()
    return hashCombine(hashString(n.unscaled.toString()), n.scale)
  }
  if (v instanceof Interval) return hashNumber(v.totalMicros())
  if (v instanceof Jsonb) return hashString(formatJson(v.value))
  if (v instanceof Uint8Array) return hashString(Buffer.from(v).toString('latin1'))
  if (Array.isArray(v) && type.kind === 'array') {
    let h = 7
    for (const x of v as readonly Value[]) h = hashCombine(h, x === null ? 0 : hashValue(x, type.element))
    return h
  }
  return 0
}
