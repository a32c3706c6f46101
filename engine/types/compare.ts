/**
 * Ordering, equality and hashing of non-null values of one type, as PostgreSQL orders them
 * (NaN above every other float; numeric 1.0 = 1.00; jsonb by type, then size, then content).
 * Hashes are consistent with equality and cheap for numbers: no string is built for them.
 * Text sorts by UTF-16 code units (PostgreSQL's "C" collation for BMP text).
 */
import type { DataType, Value } from './datatype.ts'
import { Decimal } from './decimal.ts'
import { Interval } from './interval.ts'
import { Jsonb, compareJsonb, formatJson } from './jsonb.ts'

function compareArrays(x: readonly Value[], y: readonly Value[], element: DataType): number {
  const n = Math.min(x.length, y.length)
  for (let i = 0; i < n; i++) {
    const a = x[i]
    const b = y[i]
    if (a === null || b === null) {
      if (a === b) continue
      return a === null ? 1 : -1 // NULL elements sort after non-null ones
    }
    const c = compareValues(a, b, element)
    if (c !== 0) return c
  }
  return x.length - y.length
}

/** Total order of two non-null values of `type`, as PostgreSQL's ORDER BY sorts them (NULLs are the caller's). */
export function compareValues(a: Value, b: Value, type: DataType): number {
  switch (type.kind) {
    case 'array':
      return compareArrays(a as readonly Value[], b as readonly Value[], type.element)
    case 'numeric':
      return (a as Decimal).cmp(b as Decimal)
    case 'interval':
      return (a as Interval).cmp(b as Interval)
    case 'float4':
    case 'float8': {
      const x = a as number
      const y = b as number
      if (x < y) return -1
      if (x > y) return 1
      if (x === y) return 0
      // At least one NaN: NaN equals NaN and sorts above everything else.
      return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1
    }
    case 'bool':
      return a === b ? 0 : a === false ? -1 : 1
    case 'bytea':
      return Buffer.compare(a as Uint8Array, b as Uint8Array)
    case 'jsonb':
      return compareJsonb((a as Jsonb).value, (b as Jsonb).value)
    case 'text':
    case 'unknown':
    case 'int2':
    case 'int4':
    case 'int8':
    case 'date':
    case 'time':
    case 'timestamp':
    case 'timestamptz': {
      const x = a as number | bigint | string
      const y = b as number | bigint | string
      return x < y ? -1 : x > y ? 1 : 0
    }
  }
}

/** SQL equality of two non-null values of `type` (NaN = NaN and 1.0 = 1.00, as in PostgreSQL). */
export function valuesEqual(a: Value, b: Value, type: DataType): boolean {
  if (a === b) return true
  switch (type.kind) {
    case 'numeric':
      return (a as Decimal).cmp(b as Decimal) === 0
    case 'interval':
      return (a as Interval).totalMicros() === (b as Interval).totalMicros()
    case 'bytea':
    case 'jsonb':
    case 'array':
      return compareValues(a, b, type) === 0
    case 'float4':
    case 'float8':
      return Number.isNaN(a) && Number.isNaN(b)
    case 'bool':
    case 'int2':
    case 'int4':
    case 'int8':
    case 'text':
    case 'unknown':
    case 'date':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      return false
  }
}

/** Mixes hash `v` into running hash `h` (32-bit). */
export function hashCombine(h: number, v: number): number {
  return (Math.imul(h ^ v, 0x9e3779b1) + 0x7f4a7c15) | 0
}

function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h | 0
}

const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)

function hashNumber(n: number): number {
  if ((n | 0) === n) return Math.imul(n, 0x9e3779b1) | 0
  if (Number.isNaN(n)) return 0x7ff8
  // Non-integers and large integers: mix the two 32-bit halves of the double.
  f64[0] = n
  return hashCombine(u32[0], u32[1])
}

function hashBigInt(v: bigint): number {
  if (v >= -2147483648n && v <= 2147483647n) return hashNumber(Number(v))
  let h = hashCombine(Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n)))
  // Beyond 64 bits (numeric), keep folding 64-bit limbs.
  for (let rest = v >> 64n; rest !== 0n && rest !== -1n; rest >>= 64n) {
    h = hashCombine(h, hashCombine(Number(BigInt.asIntN(32, rest)), Number(BigInt.asIntN(32, rest >> 32n))))
  }
  return h
}

/** A 32-bit hash of a non-null value of `type`, equal for values that valuesEqual calls equal. */
export function hashValue(v: Value, type: DataType): number {
  if (typeof v === 'number') return hashNumber(v) // -0 hashes as 0: (-0 | 0) === -0
  if (typeof v === 'string') return hashString(v)
  if (typeof v === 'bigint') return hashBigInt(v)
  if (typeof v === 'boolean') return v ? 1 : 2
  if (v instanceof Decimal) {
    const n = v.normalized()
    return hashCombine(hashBigInt(n.unscaled), n.scale)
  }
  if (v instanceof Interval) return hashNumber(v.totalMicros())
  if (v instanceof Jsonb) return hashString(formatJson(v.value))
  if (v instanceof Uint8Array) {
    let h = 0x811c9dc5
    for (let i = 0; i < v.length; i++) h = Math.imul(h ^ v[i], 0x01000193)
    return h | 0
  }
  if (Array.isArray(v) && type.kind === 'array') {
    let h = 7
    for (const x of v as readonly Value[]) h = hashCombine(h, x === null ? 0 : hashValue(x, type.element))
    return h
  }
  return 0
}
