/**
 * Timestamps read straight from a JSON record's bytes, for the forms records nearly always carry:
 * `YYYY-MM-DD HH:MM[:SS[.ffffff]]` (PostgreSQL's output, Nexmark's) and ISO 8601 with `T`, each
 * optionally followed by `Z` or a numeric offset (`+05:30`, `-0800`, `+02`). No string is built.
 *
 * Anything else, and anything out of range, returns NaN: the caller then slices the text and
 * calls engine/types/time.ts, which accepts every other form (zone names, `epoch`, spaces, BC
 * years, more than six fractional digits) and produces the exact error. The arithmetic here is
 * the same as that parser's, so both give the same µs for what this one accepts.
 */
import { daysFromCivil, daysInMonth, localToInstant } from '../../engine/types/time.ts'

const US_PER_DAY = 86_400_000_000
const ZERO = 0x30
const NO_ZONE = 0x7fffffff

/** The number the two digits at [i, i + 2) make, or -1 when they are not two digits. */
function two(b: Uint8Array, i: number): number {
  const d0 = b[i] - ZERO
  const d1 = b[i + 1] - ZERO
  return d0 >= 0 && d0 <= 9 && d1 >= 0 && d1 <= 9 ? d0 * 10 + d1 : -1
}

/** A TIMESTAMP (wall clock, as if UTC) read from bytes [from, to), a written zone ignored; NaN: ask the text parser. */
export function timestampFromBytes(b: Uint8Array, from: number, to: number): number {
  return scanLocal(b, from, to)
}

/** A TIMESTAMPTZ read from bytes [from, to): a written offset wins, else zone `tz`. NaN: ask the text parser. */
export function timestamptzFromBytes(b: Uint8Array, from: number, to: number, tz: string): number {
  const local = scanLocal(b, from, to)
  if (Number.isNaN(local)) return NaN
  return zoneFound === NO_ZONE ? localToInstant(local, tz) : local - zoneFound * 1e6
}

/** The zone offset (seconds east) the last scanLocal read, NO_ZONE for none: a second result without an object. */
let zoneFound = NO_ZONE

/** Wall-clock µs of the text in [from, to), setting zoneFound; NaN when this reader does not take the form. */
function scanLocal(b: Uint8Array, from: number, to: number): number {
  zoneFound = NO_ZONE
  // YYYY-MM-DD
  if (to - from < 10 || b[from + 4] !== 0x2d || b[from + 7] !== 0x2d) return NaN
  const yh = two(b, from)
  const yl = two(b, from + 2)
  const mo = two(b, from + 5)
  const d = two(b, from + 8)
  if (yh < 0 || yl < 0 || mo < 1 || mo > 12 || d < 1) return NaN
  const y = yh * 100 + yl
  if (y < 1 || d > daysInMonth(y, mo)) return NaN
  let i = from + 10
  let h = 0
  let mi = 0
  let s = 0
  let frac = 0
  if (i < to && (b[i] === 0x20 || b[i] === 0x54 || b[i] === 0x74)) {
    // [ Tt]HH:MM[:SS[.f]]
    if (i + 6 > to || b[i + 3] !== 0x3a) return NaN
    h = two(b, i + 1)
    mi = two(b, i + 4)
    if (h < 0 || mi < 0) return NaN
    i += 6
    if (i < to && b[i] === 0x3a) {
      if (i + 3 > to) return NaN
      s = two(b, i + 1)
      if (s < 0) return NaN
      i += 3
      if (i < to && b[i] === 0x2e) {
        i++
        let digits = 0
        while (i < to && b[i] >= ZERO && b[i] <= ZERO + 9) {
          if (++digits > 6) return NaN // rounding beyond µs: the text parser's
          frac = frac * 10 + (b[i] - ZERO)
          i++
        }
        for (let k = digits; k < 6; k++) frac *= 10
      }
    }
    if (h > 24 || mi > 59 || s > 60 || (h === 24 && (mi > 0 || s > 0 || frac > 0))) return NaN
  }
  if (i < to) {
    const z = b[i]
    if ((z === 0x5a || z === 0x7a) && i + 1 === to) {
      zoneFound = 0
    } else if (z === 0x2b || z === 0x2d) {
      // ±HH, ±HH:MM, ±HHMM
      const zh = i + 3 <= to ? two(b, i + 1) : -1
      if (zh < 0) return NaN
      let zm = 0
      let k = i + 3
      if (k < to) {
        if (b[k] === 0x3a) k++
        if (k + 2 !== to) return NaN
        zm = two(b, k)
        if (zm < 0) return NaN
      }
      zoneFound = (z === 0x2d ? -1 : 1) * (zh * 3600 + zm * 60)
    } else return NaN
  }
  return daysFromCivil(y, mo, d) * US_PER_DAY + ((h * 60 + mi) * 60 + s) * 1e6 + frac
}
