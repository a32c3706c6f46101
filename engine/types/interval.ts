/**
 * INTERVAL as PostgreSQL stores it: months, days and microseconds kept apart (a month is not a
 * fixed number of days). Comparison normalises with PostgreSQL's rule: 1 month = 30 days,
 * 1 day = 24 hours.
 */
import { SluiceError, SqlState } from '../errors.ts'

const US_PER_DAY = 86_400_000_000
const UNIT_US: Record<string, number> = {
  microsecond: 1, microseconds: 1, us: 1, usec: 1, usecs: 1,
  millisecond: 1e3, milliseconds: 1e3, ms: 1e3, msec: 1e3, msecs: 1e3,
  second: 1e6, seconds: 1e6, sec: 1e6, secs: 1e6, s: 1e6,
  minute: 60e6, minutes: 60e6, min: 60e6, mins: 60e6, m: 60e6,
  hour: 3600e6, hours: 3600e6, hr: 3600e6, hrs: 3600e6, h: 3600e6,
}
const UNIT_DAYS: Record<string, number> = { day: 1, days: 1, d: 1, week: 7, weeks: 7, w: 7 }
const UNIT_MONTHS: Record<string, number> = { month: 1, months: 1, mon: 1, mons: 1, year: 12, years: 12, y: 12, yr: 12, yrs: 12, decade: 120, decades: 120, century: 1200, centuries: 1200 }

export class Interval {
  constructor(
    readonly months: number,
    readonly days: number,
    readonly micros: number,
  ) {}

  static parse(text: string): Interval {
    const s = text.trim().toLowerCase()
    const bad = (): SluiceError => new SluiceError(SqlState.invalid_datetime_format, `invalid input syntax for type interval: "${text}"`)
    if (s === '') throw bad()
    if (s.startsWith('p')) return parseIso(s, bad)
    let months = 0
    let days = 0
    let micros = 0
    let ago = false
    const re = /\s*([+-]?\d+(?:\.\d+)?)\s*([a-z]+)|\s*([+-]?)(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d+)?))?|\s*(ago)\b/y
    let at = 0
    while (at < s.length) {
      re.lastIndex = at
      const m = re.exec(s)
      if (m === null) {
        if (s.slice(at).trim() === '') break
        // A bare number means seconds, as in PostgreSQL.
        const bare = /^\s*([+-]?\d+(?:\.\d+)?)\s*$/.exec(s.slice(at))
        if (bare !== null) {
          micros += Math.round(Number(bare[1]) * 1e6)
          break
        }
        throw bad()
      }
      at = re.lastIndex
      if (m[7] !== undefined) {
        ago = true
      } else if (m[2] !== undefined) {
        const n = Number(m[1])
        const unit = m[2]
        if (UNIT_US[unit] !== undefined) micros += Math.round(n * UNIT_US[unit])
        else if (UNIT_DAYS[unit] !== undefined) {
          const d = n * UNIT_DAYS[unit]
          days += Math.trunc(d)
          micros += Math.round((d - Math.trunc(d)) * US_PER_DAY)
        } else if (UNIT_MONTHS[unit] !== undefined) {
          const mo = n * UNIT_MONTHS[unit]
          months += Math.trunc(mo)
          const restDays = (mo - Math.trunc(mo)) * 30
          days += Math.trunc(restDays)
          micros += Math.round((restDays - Math.trunc(restDays)) * US_PER_DAY)
        } else throw bad()
      } else {
        const sign = m[3] === '-' ? -1 : 1
        micros += sign * Math.round((Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6] ?? 0)) * 1e6)
      }
    }
    return ago ? new Interval(-months, -days, -micros) : new Interval(months, days, micros)
  }

  add(o: Interval): Interval {
    return new Interval(this.months + o.months, this.days + o.days, this.micros + o.micros)
  }

  sub(o: Interval): Interval {
    return new Interval(this.months - o.months, this.days - o.days, this.micros - o.micros)
  }

  neg(): Interval {
    return new Interval(-this.months, -this.days, -this.micros)
  }

  /** Multiplies, cascading fractional months and days down as PostgreSQL does. */
  mul(f: number): Interval {
    const months = this.months * f
    const wholeMonths = Math.trunc(months)
    const days = this.days * f + (months - wholeMonths) * 30
    const wholeDays = Math.trunc(days)
    const micros = Math.round(this.micros * f + (days - wholeDays) * US_PER_DAY)
    return new Interval(wholeMonths, wholeDays, micros)
  }

  totalMicros(): number {
    return (this.months * 30 + this.days) * US_PER_DAY + this.micros
  }

  cmp(o: Interval): number {
    const a = this.totalMicros()
    const b = o.totalMicros()
    return a < b ? -1 : a > b ? 1 : 0
  }

  equals(o: Interval): boolean {
    return this.cmp(o) === 0
  }

  /** PostgreSQL's default (postgres) interval output, e.g. `1 year 2 mons 3 days 04:05:06`. */
  toString(): string {
    const parts: string[] = []
    const years = Math.trunc(this.months / 12)
    const months = this.months % 12
    if (years !== 0) parts.push(`${years} year${Math.abs(years) === 1 ? '' : 's'}`)
    if (months !== 0) parts.push(`${months} mon${Math.abs(months) === 1 ? '' : 's'}`)
    if (this.days !== 0) parts.push(`${this.days} day${Math.abs(this.days) === 1 ? '' : 's'}`)
    if (this.micros !== 0 || parts.length === 0) {
      const neg = this.micros < 0
      let us = Math.abs(this.micros)
      const h = Math.floor(us / 3600e6)
      us -= h * 3600e6
      const m = Math.floor(us / 60e6)
      us -= m * 60e6
      const sec = Math.floor(us / 1e6)
      const frac = us - sec * 1e6
      let t = `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`
      if (frac > 0) t += '.' + String(frac).padStart(6, '0').replace(/0+$/, '')
      const anyNegative = this.months < 0 || this.days < 0
      parts.push((neg ? '-' : anyNegative ? '+' : '') + t)
    }
    return parts.join(' ')
  }
}

function parseIso(s: string, bad: () => SluiceError): Interval {
  const m = /^p(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)w)?(?:(\d+)d)?(?:t(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?)?$/.exec(s)
  if (m === null) throw bad()
  const n = (i: number): number => Number(m[i] ?? 0)
  return new Interval(n(1) * 12 + n(2), n(3) * 7 + n(4), Math.round((n(5) * 3600 + n(6) * 60 + n(7)) * 1e6))
}
