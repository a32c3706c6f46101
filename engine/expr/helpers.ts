/**
 * Runtime helpers called from generated expression code and inline operator templates:
 * overflow and division checks with PostgreSQL's messages, float comparison with NaN ordering,
 * LIKE. Passed into the generated function as the argument `H`, never embedded as text.
 */
import type { SqlStateCode } from '../errors.ts'
import { SluiceError, SqlState } from '../errors.ts'

const INT2_MIN = -32768
const INT2_MAX = 32767
const INT4_MIN = -2147483648
const INT4_MAX = 2147483647
const INT8_MIN = -9223372036854775808n
const INT8_MAX = 9223372036854775807n

function outOfRange(message: string): never {
  throw new SluiceError(SqlState.numeric_value_out_of_range, message)
}

/**
 * PostgreSQL's specific codes for bad arguments to log and power (2201E, 2201F) and substring
 * (22011), where errors.ts lists them; 22023 until then.
 */
function code(name: string): SqlStateCode {
  return (SqlState as Readonly<Record<string, SqlStateCode>>)[name] ?? SqlState.invalid_parameter_value
}
export const LOG_ERROR = code('invalid_argument_for_logarithm')
export const POWER_ERROR = code('invalid_argument_for_power_function')
export const SUBSTRING_ERROR = code('substring_error')

export function divisionByZero(): never {
  throw new SluiceError(SqlState.division_by_zero, 'division by zero')
}

export const H = {
  i2(r: number): number {
    if (r > INT2_MAX || r < INT2_MIN) outOfRange('smallint out of range')
    return r
  },
  i4(r: number): number {
    if (r > INT4_MAX || r < INT4_MIN) outOfRange('integer out of range')
    return r
  },
  i8(r: bigint): bigint {
    if (r > INT8_MAX || r < INT8_MIN) outOfRange('bigint out of range')
    return r
  },
  /** int2/int4 division: truncates toward zero, as C does. */
  i2div(a: number, b: number): number {
    if (b === 0) divisionByZero()
    return H.i2(Math.trunc(a / b))
  },
  i4div(a: number, b: number): number {
    if (b === 0) divisionByZero()
    return H.i4(Math.trunc(a / b))
  },
  /** Remainder with the sign of the dividend; `+ 0` turns -0 into 0. */
  i4mod(a: number, b: number): number {
    if (b === 0) divisionByZero()
    return (a % b) + 0
  },
  i8div(a: bigint, b: bigint): bigint {
    if (b === 0n) divisionByZero()
    return H.i8(a / b)
  },
  i8mod(a: bigint, b: bigint): bigint {
    if (b === 0n) divisionByZero()
    return a % b
  },
  /** float8 result check: overflow when finite inputs give an infinite result. */
  f8(r: number, a: number, b: number): number {
    if (r === Infinity || r === -Infinity) {
      if (Number.isFinite(a) && Number.isFinite(b)) outOfRange('value out of range: overflow')
    }
    return r
  },
  /** float8 product: also underflow when non-zero inputs give zero. */
  f8mul(a: number, b: number): number {
    const r = H.f8(a * b, a, b)
    if (r === 0 && a !== 0 && b !== 0) outOfRange('value out of range: underflow')
    return r
  },
  f8div(a: number, b: number): number {
    if (b === 0 && !Number.isNaN(a)) divisionByZero()
    const r = H.f8(a / b, a, b)
    if (r === 0 && a !== 0 && Number.isFinite(b)) outOfRange('value out of range: underflow')
    return r
  },
  /** float4 result: rounded to single precision, with the float8 checks in single's range. */
  f4(r: number, a: number, b: number): number {
    return H.f8(Math.fround(r), a, b)
  },
  f4div(a: number, b: number): number {
    return Math.fround(H.f8div(a, b))
  },
  /** Math.pow with PostgreSQL's checks. */
  pow(a: number, b: number): number {
    if (a === 0 && b < 0) throw new SluiceError(POWER_ERROR, 'zero raised to a negative power is undefined')
    if (a < 0 && !Number.isInteger(b)) {
      throw new SluiceError(POWER_ERROR, 'a negative number raised to a non-integer power yields a complex result')
    }
    const r = H.f8(Math.pow(a, b), a, b)
    if (r === 0 && a !== 0 && Number.isFinite(a) && Number.isFinite(b)) outOfRange('value out of range: underflow')
    return r
  },
  /** PostgreSQL orders NaN above every other float and equal to itself. */
  fcmp(a: number, b: number): number {
    if (a < b) return -1
    if (a > b) return 1
    if (a === b) return 0
    return a !== a ? (b !== b ? 0 : 1) : -1
  },
  like(s: string, pattern: string): boolean {
    return likeRegex(pattern, false).test(s)
  },
  ilike(s: string, pattern: string): boolean {
    return likeRegex(pattern, true).test(s)
  },
}

export type Helpers = typeof H

const likeCache = new Map<string, RegExp>()
const SPECIAL = /[.*+?^${}()|[\]\\/]/g

/** LIKE pattern → anchored regex (`%` any run, `_` one character, backslash escapes). */
function likeRegex(pattern: string, insensitive: boolean): RegExp {
  const key = (insensitive ? 'i' : 's') + pattern
  let re = likeCache.get(key)
  if (re !== undefined) return re
  let src = '^'
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '\\') {
      const next = pattern[++i]
      if (next === undefined) {
        throw new SluiceError(SqlState.invalid_escape_sequence, 'LIKE pattern must not end with escape character')
      }
      src += next.replace(SPECIAL, '\\$&')
    } else if (c === '%') src += '[\\s\\S]*'
    else if (c === '_') src += '[\\s\\S]'
    else src += c.replace(SPECIAL, '\\$&')
  }
  re = new RegExp(src + '$', insensitive ? 'isu' : 'su')
  if (likeCache.size > 1000) likeCache.clear()
  likeCache.set(key, re)
  return re
}
