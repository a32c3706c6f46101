/**
 * Exact NUMERIC values: an unscaled bigint and a decimal scale (value = unscaled / 10^scale).
 * Arithmetic follows PostgreSQL's scale rules, so results print as PostgreSQL prints them
 * (e.g. avg of 1 and 2 is 1.5000000000000000).
 */
import { SluiceError, SqlState } from '../errors.ts'

const TEN = 10n

function pow10(n: number): bigint {
  return TEN ** BigInt(n)
}

export class Decimal {
  constructor(
    readonly unscaled: bigint,
    readonly scale: number,
  ) {}

  /** PostgreSQL numeric input: `12`, `-1.50`, `.5`, `1e3`, surrounding spaces. NaN/Infinity are not supported. */
  static fromString(text: string): Decimal {
    const m = /^\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(text)
    if (m === null || (m[2] === '' && (m[3] ?? '') === '')) {
      throw new SluiceError(SqlState.invalid_text_representation, `invalid input syntax for type numeric: "${text}"`)
    }
    const frac = m[3] ?? ''
    let unscaled = BigInt((m[2] || '0') + frac)
    let scale = frac.length
    const exp = m[4] === undefined ? 0 : Number(m[4])
    // PostgreSQL's limit on exponents; also keeps '1e999999999' from allocating a huge bigint.
    if (Math.abs(exp) > 1000) {
      throw new SluiceError(SqlState.numeric_value_out_of_range, `value overflows numeric format`)
    }
    if (exp > 0) {
      if (exp >= scale) {
        unscaled *= pow10(exp - scale)
        scale = 0
      } else scale -= exp
    } else if (exp < 0) scale -= exp
    if (m[1] === '-') unscaled = -unscaled
    return new Decimal(unscaled, scale)
  }

  static fromBigInt(b: bigint): Decimal {
    return new Decimal(b, 0)
  }

  /**
   * float → numeric as PostgreSQL does it: through the text form with `digits` significant digits
   * (15 = DBL_DIG for float8, 6 = FLT_DIG for float4), so 0.1::float8::numeric is 0.1.
   */
  static fromNumber(n: number, digits = 15): Decimal {
    if (!Number.isFinite(n)) throw new SluiceError(SqlState.feature_not_supported, `cannot convert ${n} to numeric`)
    if (Number.isSafeInteger(n) && Math.abs(n) < 10 ** digits) return new Decimal(BigInt(n), 0)
    // Like C's %.15g: `digits` significant digits, trailing fraction zeros dropped.
    const [mant, exp] = n.toPrecision(digits).split('e')
    const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant
    return Decimal.fromString(exp === undefined ? m : `${m}e${exp}`)
  }

  private rescale(scale: number): bigint {
    return scale >= this.scale ? this.unscaled * pow10(scale - this.scale) : this.unscaled / pow10(this.scale - scale)
  }

  add(o: Decimal): Decimal {
    const s = Math.max(this.scale, o.scale)
    return new Decimal(this.rescale(s) + o.rescale(s), s)
  }

  sub(o: Decimal): Decimal {
    const s = Math.max(this.scale, o.scale)
    return new Decimal(this.rescale(s) - o.rescale(s), s)
  }

  mul(o: Decimal): Decimal {
    return new Decimal(this.unscaled * o.unscaled, this.scale + o.scale)
  }

  /** Division with PostgreSQL's select_div_scale: at least 16 significant digits. */
  div(o: Decimal): Decimal {
    if (o.unscaled === 0n) throw new SluiceError(SqlState.division_by_zero, 'division by zero')
    const [w1, d1] = this.base10000()
    const [w2, d2] = o.base10000()
    let qweight = w1 - w2
    if (d1 <= d2) qweight--
    let rscale = 16 - qweight * 4
    rscale = Math.min(Math.max(rscale, this.scale, o.scale, 0), 1000)
    return Decimal.divide(this, o, rscale)
  }

  /** PostgreSQL's view of the value: weight and first digit in base 10000. */
  private base10000(): [number, number] {
    const a = this.unscaled < 0n ? -this.unscaled : this.unscaled
    if (a === 0n) return [0, 0]
    const w = a.toString().length - 1 - this.scale // decimal weight of the leading digit
    const w4 = Math.floor(w / 4)
    const shift = this.scale + 4 * w4
    const first = shift >= 0 ? a / pow10(shift) : a * pow10(-shift)
    return [w4, Number(first)]
  }

  /** a / b at `scale` digits, rounded half away from zero. */
  static divide(a: Decimal, b: Decimal, scale: number): Decimal {
    if (b.unscaled === 0n) throw new SluiceError(SqlState.division_by_zero, 'division by zero')
    const num = a.unscaled * pow10(scale + b.scale + 1)
    const den = b.unscaled * pow10(a.scale)
    let q = num / den // one extra digit
    const neg = q < 0n
    if (neg) q = -q
    q = (q + 5n) / TEN
    return new Decimal(neg ? -q : q, scale)
  }

  /** Remainder with the sign of the dividend, at the larger scale (PostgreSQL's mod_var). */
  mod(o: Decimal): Decimal {
    if (o.unscaled === 0n) throw new SluiceError(SqlState.division_by_zero, 'division by zero')
    const s = Math.max(this.scale, o.scale)
    return new Decimal(this.rescale(s) % o.rescale(s), s)
  }

  neg(): Decimal {
    return new Decimal(-this.unscaled, this.scale)
  }

  abs(): Decimal {
    return this.unscaled < 0n ? this.neg() : this
  }

  sign(): number {
    return this.unscaled > 0n ? 1 : this.unscaled < 0n ? -1 : 0
  }

  isZero(): boolean {
    return this.unscaled === 0n
  }

  cmp(o: Decimal): number {
    const s = Math.max(this.scale, o.scale)
    const a = this.rescale(s)
    const b = o.rescale(s)
    return a < b ? -1 : a > b ? 1 : 0
  }

  equals(o: Decimal): boolean {
    return this.cmp(o) === 0
  }

  /** Rounds half away from zero to `scale` digits (scale may be negative). */
  round(scale = 0): Decimal {
    if (scale >= this.scale) return new Decimal(this.rescale(scale), scale)
    const factor = pow10(this.scale - scale)
    let q = this.unscaled / factor
    const r = this.unscaled % factor
    const twice = (r < 0n ? -r : r) * 2n
    if (twice >= factor) q += this.unscaled < 0n ? -1n : 1n
    return scale >= 0 ? new Decimal(q, scale) : new Decimal(q * pow10(-scale), 0)
  }

  /** Truncates toward zero to `scale` digits (scale may be negative). */
  trunc(scale = 0): Decimal {
    if (scale >= this.scale) return new Decimal(this.rescale(scale), scale)
    const q = this.unscaled / pow10(this.scale - scale)
    return scale >= 0 ? new Decimal(q, scale) : new Decimal(q * pow10(-scale), 0)
  }

  /** Strips trailing zeros (for hashing: 1.0 and 1.00 are equal). */
  normalized(): Decimal {
    let u = this.unscaled
    let s = this.scale
    while (s > 0 && u % TEN === 0n) {
      u /= TEN
      s--
    }
    return s === this.scale ? this : new Decimal(u, s)
  }

  /** Nearest integer, halves away from zero (numeric → int casts). */
  toBigInt(): bigint {
    return this.round(0).unscaled
  }

  toNumber(): number {
    return Number(this.toString())
  }

  toString(): string {
    const neg = this.unscaled < 0n
    let digits = (neg ? -this.unscaled : this.unscaled).toString()
    if (this.scale <= 0) return (neg ? '-' : '') + digits + '0'.repeat(-this.scale)
    if (digits.length <= this.scale) digits = '0'.repeat(this.scale - digits.length + 1) + digits
    const int = digits.slice(0, digits.length - this.scale)
    const frac = digits.slice(digits.length - this.scale)
    return (neg ? '-' : '') + int + '.' + frac
  }
}
