/**
 * INTERVAL as PostgreSQL stores it: months, days and microseconds kept apart (a month is not a
 * fixed number of days). Comparison normalises with PostgreSQL's rule: 1 month = 30 days,
 * 1 day = 24 hours. Input and output follow PostgreSQL's `postgres` IntervalStyle.
 */
import { SluiceError, SqlState } from '../errors.ts'

const US_PER_DAY = 86_400_000_000
const US_PER_SEC = 1_000_000

/** Units worth a fixed number of µs. */
const UNIT_US: Record<string, number> = {
  microsecond: 1,
  microseconds: 1,
  microsecon: 1,
  us: 1,
  usec: 1,
  usecs: 1,
  usecond: 1,
  useconds: 1,
  millisecond: 1e3,
  milliseconds: 1e3,
  millisecon: 1e3,
  ms: 1e3,
  msec: 1e3,
  msecs: 1e3,
  msecond: 1e3,
  mseconds: 1e3,
  second: 1e6,
  seconds: 1e6,
  sec: 1e6,
  secs: 1e6,
  s: 1e6,
  minute: 60e6,
  minutes: 60e6,
  min: 60e6,
  mins: 60e6,
  m: 60e6,
  hour: 3600e6,
  hours: 3600e6,
  hr: 3600e6,
  hrs: 3600e6,
  h: 3600e6,
}
/** Units counted in days: fractions cascade into µs. */
const UNIT_DAYS: Record<string, number> = { day: 1, days: 1, d: 1, week: 7, weeks: 7, w: 7 }
/** Months: fractions cascade into days (30 per month), then µs. */
const UNIT_MONTHS: Record<string, number> = { month: 1, months: 1, mon: 1, mons: 1 }
/** Years and longer: PostgreSQL rounds their fraction to whole months and drops the rest. */
const UNIT_YEARS: Record<string, number> = {
  year: 12,
  years: 12,
  y: 12,
  yr: 12,
  yrs: 12,
  decade: 120,
  decades: 120,
  dec: 120,
  decs: 120,
  century: 1200,
  centuries: 1200,
  cent: 1200,
  c: 1200,
  millennium: 12000,
  millennia: 12000,
  mil: 12000,
  mils: 12000,
}

/** Round half to even, as C's rint(). */
function rint(x: number): number {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** PostgreSQL's TSROUND: round to whole microseconds of a value in seconds or days. */
function tsRound(x: number): number {
  return rint(x * 1e6) / 1e6
}

function badInterval(text: string): SluiceError {
  return new SluiceError(SqlState.invalid_datetime_format, `invalid input syntax for type interval: "${text}"`)
}

export class Interval {
  constructor(
    readonly months: number,
    readonly days: number,
    readonly micros: number,
  ) {}

  /** PostgreSQL interval input ('1 day 02:03:04', '-1 day', '1.5 hours', '5 minutes ago', 'PT1M', '5'). */
  static parse(text: string): Interval {
    let s = text.trim().toLowerCase()
    if (s.startsWith('@')) s = s.slice(1).trim()
    if (s === '') throw badInterval(text)
    if (s.startsWith('p')) return parseIso(s, text)
    let months = 0
    let days = 0
    let micros = 0
    let ago = false
    let any = false
    const re = /\s*(?:([+-]?)(\d+):(\d+)(?::(\d+(?:\.\d*)?))?|([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([a-z]+)?|(ago)\b)\s*/y
    let at = 0
    while (at < s.length) {
      re.lastIndex = at
      const m = re.exec(s)
      if (m === null || re.lastIndex === at) throw badInterval(text)
      at = re.lastIndex
      any = true
      if (m[7] !== undefined) {
        ago = true
      } else if (m[2] !== undefined) {
        const sign = m[1] === '-' ? -1 : 1
        micros += sign * Math.round((Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4] ?? 0)) * 1e6)
      } else {
        const n = Number(m[5])
        const unit = m[6]
        if (unit === undefined) {
          // A bare number: days when a time follows ('1 02:03:04'), else seconds.
          if (at < s.length && /^[+-]?\d+:/.test(s.slice(at))) {
            if (!Number.isInteger(n)) throw badInterval(text)
            days += n
          } else micros += Math.round(n * US_PER_SEC)
        } else if (UNIT_US[unit] !== undefined) micros += Math.round(n * UNIT_US[unit])
        else if (UNIT_DAYS[unit] !== undefined) {
          const d = n * UNIT_DAYS[unit]
          days += Math.trunc(d)
          micros += Math.round((d - Math.trunc(d)) * US_PER_DAY)
        } else if (UNIT_MONTHS[unit] !== undefined) {
          months += Math.trunc(n)
          const restDays = tsRound((n - Math.trunc(n)) * 30)
          days += Math.trunc(restDays)
          micros += Math.round((restDays - Math.trunc(restDays)) * US_PER_DAY)
        } else if (UNIT_YEARS[unit] !== undefined) {
          months += Math.trunc(n) * UNIT_YEARS[unit] + rint((n - Math.trunc(n)) * UNIT_YEARS[unit])
        } else throw badInterval(text)
      }
    }
    if (!any) throw badInterval(text)
    return ago ? new Interval(-months || 0, -days || 0, -micros || 0) : new Interval(months, days, micros)
  }

  add(o: Interval): Interval {
    return new Interval(this.months + o.months, this.days + o.days, this.micros + o.micros)
  }

  sub(o: Interval): Interval {
    return new Interval(this.months - o.months, this.days - o.days, this.micros - o.micros)
  }

  neg(): Interval {
    return new Interval(-this.months || 0, -this.days || 0, -this.micros || 0)
  }

  /** interval * number, cascading fractional months and days down exactly as PostgreSQL's interval_mul. */
  mul(f: number): Interval {
    return scaleInterval(this.months * f, this.days * f, this.micros * f)
  }

  /** interval / number (PostgreSQL's interval_div). */
  div(f: number): Interval {
    if (f === 0) throw new SluiceError(SqlState.division_by_zero, 'division by zero')
    return scaleInterval(this.months / f, this.days / f, this.micros / f)
  }

  /** Length in µs with PostgreSQL's comparison rule: a month is 30 days, a day 24 hours. */
  totalMicros(): number {
    return (this.months * 30 + this.days) * US_PER_DAY + this.micros
  }

  cmp(o: Interval): number {
    const a = this.totalMicros()
    const b = o.totalMicros()
    return a < b ? -1 : a > b ? 1 : 0
  }

  /** SQL equality: '1 day' = '24 hours' (as PostgreSQL). */
  equals(o: Interval): boolean {
    return this.cmp(o) === 0
  }

  /** PostgreSQL's default (postgres) interval output, e.g. `1 year 2 mons 3 days 04:05:06`. */
  toString(): string {
    let out = ''
    let isZero = true
    let isBefore = false
    const part = (value: number, unit: string): void => {
      if (value === 0) return
      out += `${isZero ? '' : ' '}${isBefore && value > 0 ? '+' : ''}${value} ${unit}${value !== 1 ? 's' : ''}`
      isBefore = value < 0
      isZero = false
    }
    part(Math.trunc(this.months / 12), 'year')
    part(this.months % 12, 'mon')
    part(this.days, 'day')
    if (isZero || this.micros !== 0) {
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
      out += `${isZero ? '' : ' '}${neg ? '-' : isBefore ? '+' : ''}${t}`
    }
    return out
  }
}

/** Builds an interval from fractional months/days/µs the way interval_mul and interval_div do. */
function scaleInterval(monthsF: number, daysF: number, microsF: number): Interval {
  if (
    !Number.isFinite(monthsF) ||
    Math.abs(monthsF) > 2147483647 ||
    !Number.isFinite(daysF) ||
    Math.abs(daysF) > 2147483647
  ) {
    throw new SluiceError(SqlState.datetime_field_overflow, 'interval out of range')
  }
  const months = Math.trunc(monthsF)
  let days = Math.trunc(daysF)
  const monthRemainderDays = tsRound((monthsF - months) * 30)
  let secRemainder = tsRound((daysF - days + monthRemainderDays - Math.trunc(monthRemainderDays)) * 86400)
  if (Math.abs(secRemainder) >= 86400) {
    const whole = Math.trunc(secRemainder / 86400)
    days += whole
    secRemainder -= whole * 86400
  }
  days += Math.trunc(monthRemainderDays)
  const micros = rint(microsF + secRemainder * US_PER_SEC)
  return new Interval(months || 0, days || 0, micros || 0)
}

function parseIso(s: string, text: string): Interval {
  const num = '([+-]?\\d+(?:\\.\\d+)?)'
  const re = new RegExp(`^p(?:${num}y)?(?:${num}m)?(?:${num}w)?(?:${num}d)?(?:t(?:${num}h)?(?:${num}m)?(?:${num}s)?)?$`)
  const m = re.exec(s)
  if (m === null || s === 'p' || s.endsWith('t')) throw badInterval(text)
  const n = (i: number): number => Number(m[i] ?? 0)
  const monthsF = n(1) * 12 + n(2)
  const months = Math.trunc(monthsF)
  const daysF = n(3) * 7 + n(4) + (monthsF - months) * 30
  const days = Math.trunc(daysF)
  const micros = Math.round((daysF - days) * US_PER_DAY + (n(5) * 3600 + n(6) * 60 + n(7)) * 1e6)
  return new Interval(months, days, micros)
}

/**
 * A duration as SQL.md's short form writes it — a number and a unit `us ms s m h d`
 * ('500ms', '30s', '1m', '2h', '1d') — or any INTERVAL text ('5 seconds'), in µs.
 * Months count as 30 days. Negative durations are refused.
 */
export function parseDuration(text: string): number {
  const t = text.trim()
  const short = /^(\d+(?:\.\d+)?|\.\d+)\s*(us|ms|s|m|h|d)$/i.exec(t)
  let micros: number
  if (short !== null) micros = Math.round(Number(short[1]) * UNIT_US_SHORT[short[2].toLowerCase()])
  else {
    try {
      micros = Interval.parse(t).totalMicros()
    } catch {
      throw new SluiceError(
        SqlState.invalid_datetime_format,
        `invalid duration "${text}": write a number and a unit (ms, s, m, h, d) such as '30s', or an interval such as '5 seconds'`,
      )
    }
  }
  if (micros < 0) throw new SluiceError(SqlState.invalid_parameter_value, `duration "${text}" must not be negative`)
  return micros
}

const UNIT_US_SHORT: Record<string, number> = { us: 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6, d: US_PER_DAY }
