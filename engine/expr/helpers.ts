/**
 * Runtime helpers called from generated expression code: overflow and division checks, LIKE,
 * temporal arithmetic. Passed into the generated function as an argument, never embedded as text.
 */
import type { Value } from '../types/datatype.ts'
import { SluiceError, SqlState } from '../errors.ts'
import type { Decimal } from '../types/decimal.ts'
import { Interval } from '../types/interval.ts'
import { addInterval } from '../types/time.ts'

const INT4_MIN = -2147483648
const INT4_MAX = 2147483647
const US_PER_DAY = 86_400_000_000

export const H = {
  i4(r: number): number {
    if (r > INT4_MAX || r < INT4_MIN) throw new SluiceError(SqlState.numeric_value_out_of_range, 'integer out of range')
    return r
  },
  i8(r: bigint): bigint {
    if (BigInt.asIntN(64, r) !== r) throw new SluiceError(SqlState.numeric_value_out_of_range, 'bigint out of range')
    return r
  },
  divZero(): never {
    throw new SluiceError(SqlState.division_by_zero, 'division by zero')
  },
  i4div(a: number, b: number): number {
    if (b === 0) H.divZero()
    return H.i4(Math.trunc(a / b))
  },
  i4mod(a: number, b: number): number {
    if (b === 0) H.divZero()
    return a % b
  },
  i8div(a: bigint, b: bigint): bigint {
    if (b === 0n) H.divZero()
    return H.i8(a / b)
  },
  i8mod(a: bigint, b: bigint): bigint {
    if (b === 0n) H.divZero()
    return a % b
  },
  f8div(a: number, b: number): number {
    if (b === 0) H.divZero()
    return a / b
  },
  f8(r: number, a: number, b: number): number {
    if (!Number.isFinite(r) && Number.isFinite(a) && Number.isFinite(b)) throw new SluiceError(SqlState.numeric_value_out_of_range, 'value out of range: overflow')
    return r
  },
  like(s: string, pattern: string, insensitive: boolean): boolean {
    return likeRegex(pattern, insensitive).test(s)
  },
  tsPlusInterval(ts: number, iv: Interval): number {
    return addInterval(ts, iv)
  },
  tsMinusTs(a: number, b: number): Interval {
    const diff = a - b
    const days = Math.trunc(diff / US_PER_DAY)
    return new Interval(0, days, diff - days * US_PER_DAY)
  },
  dec(v: Value): Decimal {
    return v as Decimal
  },
}

const likeCache = new Map<string, RegExp>()

function likeRegex(pattern: string, insensitive: boolean): RegExp {
  const key = (insensitive ? 'i' : 's') + pattern
  let re = likeCache.get(key)
  if (re !== undefined) return re
  let src = '^'
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '\\') {
      const next = pattern[++i]
      if (next === undefined) throw new SluiceError(SqlState.invalid_escape_sequence, 'LIKE pattern must not end with escape character')
      src += next.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
    } else if (c === '%') src += '[\\s\\S]*'
    else if (c === '_') src += '[\\s\\S]'
    else src += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  }
  re = new RegExp(src + '$', insensitive ? 'is' : 's')
  if (likeCache.size > 1000) likeCache.clear()
  likeCache.set(key, re)
  return re
}

export type Helpers = typeof H
