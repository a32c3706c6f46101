/**
 * Exact, retractable sums of doubles (for sum/avg over float columns). Adding and then
 * subtracting a double in floating point does not give back the old sum, so a view that sees
 * retractions would drift from the batch answer. Every finite double is an integer multiple of
 * 2^-1074, so we keep the sum exactly as a BigInt in those units (safe integers take a fast path
 * through a plain number) and round once when the result is read. NaN and ±Infinity are counted
 * apart so that they can be retracted too. The result is the exact sum correctly rounded, which
 * equals PostgreSQL's left-to-right float sum whenever that one has no rounding error.
 */

const SCALE = 1074n
const TWO52 = 2 ** 52
const view = new DataView(new ArrayBuffer(8))

/** A finite non-zero double as an exact BigInt count of 2^-1074 units. */
function units(x: number): bigint {
  view.setFloat64(0, x)
  const hi = view.getUint32(0)
  const lo = view.getUint32(4)
  const exp = (hi >>> 20) & 0x7ff
  let mant = BigInt(hi & 0xfffff) * 4294967296n + BigInt(lo)
  if (exp !== 0) mant = (mant + 4503599627370496n) << BigInt(exp - 1)
  return x < 0 ? -mant : mant
}

/** The double nearest to n · 2^-1074 (ties to even). */
function asDouble(n: bigint): number {
  if (n === 0n) return 0
  const neg = n < 0n
  let a = neg ? -n : n
  const bits = a.toString(16).length * 4
  let shift = 0
  if (bits > 64) {
    shift = bits - 64
    const rest = a & ((1n << BigInt(shift)) - 1n)
    a >>= BigInt(shift)
    if (rest !== 0n) a |= 1n // sticky bit, so the rounding below cannot see a false tie
  }
  const exp = shift - 1074
  const r = exp < -1022 ? Number(a) * 2 ** (exp + 1022) * 2 ** -1022 : Number(a) * 2 ** exp
  return neg ? -r : r
}

export class ExactFloatSum {
  /** Safe integers, while the running total stays exactly representable. */
  private small = 0
  /** Everything else, in units of 2^-1074. */
  private big = 0n
  private nan = 0
  private posInf = 0
  private negInf = 0

  add(x: number, op: 1 | -1): void {
    if (Number.isSafeInteger(x)) {
      this.small += op * x
      if (this.small > TWO52 || this.small < -TWO52) {
        this.big += BigInt(this.small) << SCALE
        this.small = 0
      }
    } else if (Number.isNaN(x)) this.nan += op
    else if (x === Infinity) this.posInf += op
    else if (x === -Infinity) this.negInf += op
    else this.big += op > 0 ? units(x) : -units(x)
  }

  value(): number {
    if (this.nan > 0 || (this.posInf > 0 && this.negInf > 0)) return NaN
    if (this.posInf > 0) return Infinity
    if (this.negInf > 0) return -Infinity
    if (this.big === 0n) return this.small
    return asDouble(this.big + (BigInt(this.small) << SCALE))
  }

  snapshot(): [string, number, number, number] {
    return [(this.big + (BigInt(this.small) << SCALE)).toString(36), this.nan, this.posInf, this.negInf]
  }

  restore(state: unknown): void {
    const [big, nan, posInf, negInf] = state as [string, number, number, number]
    this.big = parseBig36(big)
    this.small = 0
    this.nan = nan
    this.posInf = posInf
    this.negInf = negInf
  }
}

function parseBig36(s: string): bigint {
  const neg = s.startsWith('-')
  let n = 0n
  for (const c of neg ? s.slice(1) : s) n = n * 36n + BigInt(parseInt(c, 36))
  return neg ? -n : n
}
