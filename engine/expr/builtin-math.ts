/**
 * Mathematical functions on integers, floats and numerics. Numeric results use PostgreSQL's
 * result scales (at least 16 significant digits for sqrt, ln, log, exp and power); sqrt and
 * integer powers are exact, ln/log/exp and fractional powers come from the float result and may
 * differ from PostgreSQL in the last printed digit.
 */
import type { Value } from '../types/datatype.ts'
import type { SqlStateCode } from '../errors.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { LOG_ERROR, POWER_ERROR } from './helpers.ts'
import { Decimal } from '../types/decimal.ts'
import { def } from './registry.ts'

function fail(message: string, code: SqlStateCode = POWER_ERROR): never {
  throw new SluiceError(code, message)
}

const MIN_SIG_DIGITS = 16
const MAX_DISPLAY_SCALE = 1000

function clampScale(rscale: number, ...atLeast: number[]): number {
  return Math.min(Math.max(rscale, 0, ...atLeast), MAX_DISPLAY_SCALE)
}

/** Decimal exponent of the leading digit (1234.5 → 3, 0.01 → -2); 0 for zero. */
function decimalWeight(d: Decimal): number {
  const u = d.unscaled < 0n ? -d.unscaled : d.unscaled
  return u === 0n ? 0 : u.toString().length - 1 - d.scale
}

/** Round half to even, as C's rint() (PostgreSQL's round(float8)). */
function rint(v: number): number {
  if (!Number.isFinite(v)) return v
  const r = Math.round(v)
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

function ceilDec(d: Decimal): Decimal {
  const t = d.trunc(0)
  return d.cmp(t) > 0 ? t.add(Decimal.fromBigInt(1n)) : t
}

function floorDec(d: Decimal): Decimal {
  const t = d.trunc(0)
  return d.cmp(t) < 0 ? t.sub(Decimal.fromBigInt(1n)) : t
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n
  let x = BigInt(Math.floor(Math.sqrt(Number(n))))
  // Newton from the float estimate; a few steps fix the float's error.
  for (;;) {
    const y = (x + n / x) >> 1n
    if (y >= x && x * x <= n) {
      while ((x + 1n) * (x + 1n) <= n) x++
      while (x * x > n) x--
      return x
    }
    x = y
  }
}

/** Exact numeric square root at PostgreSQL's result scale, rounded half away from zero. */
function sqrtDec(d: Decimal): Decimal {
  if (d.sign() < 0) fail('cannot take square root of a negative number')
  const weight = Math.floor(decimalWeight(d) / 4) // base-10000 weight, as PostgreSQL counts
  const sweight = ((weight + 1) * 4) / 2 - 1
  const rscale = clampScale(MIN_SIG_DIGITS - sweight, d.scale)
  // sqrt(u / 10^s) * 10^(R+1) = sqrt(u * 10^(2R + 2 - s)); one extra digit for rounding.
  const q = isqrt(d.unscaled * 10n ** BigInt(2 * rscale + 2 - d.scale))
  return new Decimal((q + 5n) / 10n, rscale)
}

/** A float result as a numeric at `rscale` digits, from the double's exact decimal expansion. */
function decFromFloat(v: number, rscale: number): Decimal {
  if (!Number.isFinite(v)) throw new SluiceError(SqlState.numeric_value_out_of_range, 'value overflows numeric format')
  if (Math.abs(v) < 1e21) return Decimal.fromString(v.toFixed(Math.min(rscale, 100)))
  return new Decimal(BigInt(v), 0).round(rscale)
}

/** PostgreSQL's estimate_ln_dweight: decimal weight of ln(x). */
function lnWeight(x: number): number {
  if (x >= 0.9 && x <= 1.1) {
    const d = Math.abs(x - 1)
    return d === 0 ? 0 : Math.floor(Math.log10(d))
  }
  return Math.trunc(Math.log10(Math.abs(Math.log(x))))
}

function checkLog(x: number): void {
  if (x === 0) fail('cannot take logarithm of zero', LOG_ERROR)
  if (x < 0) fail('cannot take logarithm of a negative number', LOG_ERROR)
}

function lnDec(d: Decimal, base10: boolean): Decimal {
  const x = d.toNumber()
  checkLog(x)
  const weight = base10 ? lnWeight(x) - lnWeight(10) : lnWeight(x)
  return decFromFloat(base10 ? Math.log10(x) : Math.log(x), clampScale(MIN_SIG_DIGITS - weight, d.scale))
}

function expDec(d: Decimal): Decimal {
  const x = d.toNumber()
  const rscale = clampScale(MIN_SIG_DIGITS - Math.trunc(x * 0.434294481903252), d.scale)
  return decFromFloat(Math.exp(x), rscale)
}

function powDec(a: Decimal, b: Decimal): Decimal {
  if (a.isZero() && b.sign() < 0) fail('zero raised to a negative power is undefined')
  const integral = b.trunc(0).equals(b)
  if (a.sign() < 0 && !integral) fail('a negative number raised to a non-integer power yields a complex result')
  if (integral && Math.abs(b.toNumber()) <= 10_000) {
    // Integer powers are exact, at 16 digits after the point or the base's scale if larger.
    const rscale = clampScale(MIN_SIG_DIGITS, a.scale, b.scale)
    const n = b.toBigInt()
    const p = new Decimal(a.unscaled ** (n < 0n ? -n : n), a.scale * Number(n < 0n ? -n : n))
    return n < 0n ? Decimal.divide(Decimal.fromBigInt(1n), p, rscale) : p.round(rscale)
  }
  const approx = Math.pow(a.toNumber(), b.toNumber())
  const est = approx === 0 || !Number.isFinite(approx) ? 0 : Math.trunc(Math.log10(Math.abs(approx)))
  return decFromFloat(approx, clampScale(MIN_SIG_DIGITS - est, a.scale, b.scale))
}

def(
  'abs',
  { args: ['int2'], ret: 'int2', inline: ([a]) => `H.i2(Math.abs(${a}))` },
  { args: ['int4'], ret: 'int4', inline: ([a]) => `H.i4(Math.abs(${a}))` },
  { args: ['int8'], ret: 'int8', inline: ([a]) => `(${a} < 0n ? H.i8(-${a}) : ${a})` },
  { args: ['numeric'], ret: 'numeric', impl: (a) => (a as Decimal).abs() },
  { args: ['float4'], ret: 'float4', inline: ([a]) => `Math.abs(${a})` },
  { args: ['float8'], ret: 'float8', inline: ([a]) => `Math.abs(${a})` },
)
def(
  'round',
  { args: ['float8'], ret: 'float8', impl: (a) => rint(a as number) },
  { args: ['numeric'], ret: 'numeric', impl: (a) => (a as Decimal).round(0) },
  { args: ['numeric', 'int4'], ret: 'numeric', impl: (a, s) => (a as Decimal).round(s as number) },
)
def(
  ['ceil', 'ceiling'],
  { args: ['float8'], ret: 'float8', inline: ([a]) => `Math.ceil(${a})` },
  { args: ['numeric'], ret: 'numeric', impl: (a) => ceilDec(a as Decimal) },
)
def(
  'floor',
  { args: ['float8'], ret: 'float8', inline: ([a]) => `Math.floor(${a})` },
  { args: ['numeric'], ret: 'numeric', impl: (a) => floorDec(a as Decimal) },
)
def(
  'trunc',
  { args: ['float8'], ret: 'float8', inline: ([a]) => `Math.trunc(${a})` },
  { args: ['numeric'], ret: 'numeric', impl: (a) => (a as Decimal).trunc(0) },
  { args: ['numeric', 'int4'], ret: 'numeric', impl: (a, s) => (a as Decimal).trunc(s as number) },
)
def(
  'mod',
  { args: ['int2', 'int2'], ret: 'int2', inline: ([a, b]) => `H.i4mod(${a}, ${b})` },
  { args: ['int4', 'int4'], ret: 'int4', inline: ([a, b]) => `H.i4mod(${a}, ${b})` },
  { args: ['int8', 'int8'], ret: 'int8', inline: ([a, b]) => `H.i8mod(${a}, ${b})` },
  { args: ['numeric', 'numeric'], ret: 'numeric', impl: (a, b) => (a as Decimal).mod(b as Decimal) },
)
def(
  ['power', 'pow'],
  { args: ['float8', 'float8'], ret: 'float8', inline: ([a, b]) => `H.pow(${a}, ${b})` },
  { args: ['numeric', 'numeric'], ret: 'numeric', impl: (a, b) => powDec(a as Decimal, b as Decimal) },
)
def('^', { args: ['numeric', 'numeric'], ret: 'numeric', impl: (a, b) => powDec(a as Decimal, b as Decimal) })
def(
  'sqrt',
  {
    args: ['float8'],
    ret: 'float8',
    impl: (a) => ((a as number) < 0 ? fail('cannot take square root of a negative number') : Math.sqrt(a as number)),
  },
  { args: ['numeric'], ret: 'numeric', impl: (a) => sqrtDec(a as Decimal) },
)
def('cbrt', { args: ['float8'], ret: 'float8', inline: ([a]) => `Math.cbrt(${a})` })
const lnFloat = (a: Value): number => (checkLog(a as number), Math.log(a as number))
const log10Float = (a: Value): number => (checkLog(a as number), Math.log10(a as number))
def(
  'ln',
  { args: ['float8'], ret: 'float8', impl: lnFloat },
  { args: ['numeric'], ret: 'numeric', impl: (a) => lnDec(a as Decimal, false) },
)
def(
  ['log', 'log10'],
  { args: ['float8'], ret: 'float8', impl: log10Float },
  { args: ['numeric'], ret: 'numeric', impl: (a) => lnDec(a as Decimal, true) },
)
def(
  'exp',
  { args: ['float8'], ret: 'float8', impl: (a) => expFloat(a as number) },
  { args: ['numeric'], ret: 'numeric', impl: (a) => expDec(a as Decimal) },
)
def(
  'sign',
  { args: ['float8'], ret: 'float8', inline: ([a]) => `(Math.sign(${a}) + 0)` },
  { args: ['numeric'], ret: 'numeric', impl: (a) => Decimal.fromBigInt(BigInt((a as Decimal).sign())) },
)
def('pi', { args: [], ret: 'float8', inline: () => 'Math.PI' })
def('degrees', { args: ['float8'], ret: 'float8', inline: ([a]) => `(${a} * (180 / Math.PI))` })
def('radians', { args: ['float8'], ret: 'float8', inline: ([a]) => `(${a} * (Math.PI / 180))` })

function expFloat(x: number): number {
  const r = Math.exp(x)
  if (r === Infinity && Number.isFinite(x))
    throw new SluiceError(SqlState.numeric_value_out_of_range, 'value out of range: overflow')
  if (r === 0 && Number.isFinite(x))
    throw new SluiceError(SqlState.numeric_value_out_of_range, 'value out of range: underflow')
  return r
}

// Bitwise AND, OR and XOR of integers (pgJDBC's getIndexInfo reads `indoption[k] & 1::smallint`).
for (const [op, int, big] of [
  ['&', (a: number, b: number) => a & b, (a: bigint, b: bigint) => a & b],
  ['|', (a: number, b: number) => a | b, (a: bigint, b: bigint) => a | b],
  ['#', (a: number, b: number) => a ^ b, (a: bigint, b: bigint) => a ^ b],
] as const) {
  def(
    op,
    { args: ['int2', 'int2'], ret: 'int2', impl: (a, b) => int(a as number, b as number) },
    { args: ['int4', 'int4'], ret: 'int4', impl: (a, b) => int(a as number, b as number) },
    { args: ['int8', 'int8'], ret: 'int8', impl: (a, b) => big(a as bigint, b as bigint) },
  )
}
