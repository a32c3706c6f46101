/**
 * Dates, times and timestamps: parsing and PostgreSQL's ISO output, calendar arithmetic,
 * date_trunc and extract. Timestamps are µs since the epoch in JS numbers (exact for years
 * 1..9999). TIMESTAMP is wall-clock time stored as if UTC; TIMESTAMPTZ is an instant, shown in
 * the session time zone.
 */
import { SluiceError, SqlState } from '../errors.ts'
import { Decimal } from './decimal.ts'
import type { Interval } from './interval.ts'
import { civilFromDays, daysFromCivil, daysInMonth, localToInstant, zoneOffsetSeconds } from './zone.ts'

export {
  civilFromDays,
  daysFromCivil,
  daysInMonth,
  isValidTimeZone,
  localToInstant,
  zoneOffsetSeconds,
} from './zone.ts'

const US_PER_DAY = 86_400_000_000

/** The temporal types extract() accepts. */
export type TemporalKind = 'timestamp' | 'timestamptz' | 'date' | 'time' | 'interval'

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0')
}

function bad(type: string, text: string): SluiceError {
  return new SluiceError(SqlState.invalid_datetime_format, `invalid input syntax for type ${type}: "${text}"`)
}

function outOfRange(text: string): SluiceError {
  return new SluiceError(SqlState.datetime_field_overflow, `date/time field value out of range: "${text}"`)
}

const DATE_TIME =
  /^\s*(\d{4,})-(\d{1,2})-(\d{1,2})(?:(?:t|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d*))?)?)?\s*(z|[+-]\d{1,2}(?::?\d{2}(?::?\d{2})?)?|[a-z][a-z_]*(?:\/[a-z_+-]+)*(?:[+-]\d{1,2})?)?\s*$/i

/** A few zone abbreviations PostgreSQL knows, as fixed offsets in seconds. */
const ABBREVIATIONS: Record<string, number> = {
  z: 0,
  utc: 0,
  gmt: 0,
  ut: 0,
  zulu: 0,
  est: -18000,
  edt: -14400,
  cst: -21600,
  cdt: -18000,
  mst: -25200,
  mdt: -21600,
  pst: -28800,
  pdt: -25200,
  cet: 3600,
  cest: 7200,
  eet: 7200,
  eest: 10800,
  wet: 0,
  west: 3600,
  bst: 3600,
  ist: 7200,
  jst: 32400,
}

interface Parts {
  /** Wall-clock µs since the epoch, as if UTC. */
  readonly local: number
  /** The date part as days since 1970-01-01 (a time of 24:00:00 does not move it). */
  readonly days: number
  /** Zone offset in seconds (east positive) written in the text, or a zone name, or undefined. */
  readonly zone: number | string | undefined
}

function parseParts(text: string, type: string): Parts {
  const m = DATE_TIME.exec(text)
  if (m === null) {
    const lower = text.trim().toLowerCase()
    if (lower === 'epoch') return { local: 0, days: 0, zone: 0 }
    throw bad(type, text)
  }
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) throw outOfRange(text)
  const h = Number(m[4] ?? 0)
  const mi = Number(m[5] ?? 0)
  const s = Number(m[6] ?? 0)
  const frac = m[7] === undefined || m[7] === '' ? 0 : Math.round(Number('0.' + m[7]) * 1e6)
  if (h > 24 || mi > 59 || s > 60 || (h === 24 && (mi > 0 || s > 0 || frac > 0))) throw outOfRange(text)
  const days = daysFromCivil(y, mo, d)
  const local = days * US_PER_DAY + ((h * 60 + mi) * 60 + s) * 1e6 + frac
  return { local, days, zone: m[8] === undefined ? undefined : zoneOf(m[8], text, type) }
}

function zoneOf(z: string, text: string, type: string): number | string {
  const lower = z.toLowerCase()
  const abbrev = ABBREVIATIONS[lower]
  if (abbrev !== undefined) return abbrev
  const om = /^([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?$/.exec(z)
  // In timestamp text an offset is ISO 8601: '+05:30' is east of Greenwich.
  if (om !== null)
    return (om[1] === '-' ? -1 : 1) * (Number(om[2]) * 3600 + Number(om[3] ?? 0) * 60 + Number(om[4] ?? 0))
  if (z.includes('/')) return z
  throw bad(type, text)
}

/** DATE input: 'YYYY-MM-DD' (a time part is accepted and ignored). */
export function parseDate(text: string): number {
  return parseParts(text, 'date').days
}

/** TIME input: 'HH:MM[:SS[.ffffff]]'; a date before it or a zone after it is ignored. */
export function parseTime(text: string): number {
  const m =
    /^\s*(?:\d{4,}-\d{1,2}-\d{1,2}(?:t|\s+))?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d*))?)?\s*(?:z|[+-]\d{1,2}(?::?\d{2})?|[a-z][a-z_/]*)?\s*$/i.exec(
      text,
    )
  if (m === null) throw bad('time without time zone', text)
  const h = Number(m[1])
  const mi = Number(m[2])
  const s = Number(m[3] ?? 0)
  const frac = m[4] === undefined || m[4] === '' ? 0 : Math.round(Number('0.' + m[4]) * 1e6)
  const us = ((h * 60 + mi) * 60 + s) * 1e6 + frac
  if (mi > 59 || s > 60 || us > US_PER_DAY) throw outOfRange(text)
  return us
}

/** TIMESTAMP input: a zone in the text is ignored, as PostgreSQL does. */
export function parseTimestamp(text: string): number {
  return parseParts(text, 'timestamp').local
}

/** TIMESTAMPTZ input: a zone in the text wins, else the session zone `tz`. */
export function parseTimestamptz(text: string, tz = 'UTC'): number {
  const p = parseParts(text, 'timestamp with time zone')
  if (typeof p.zone === 'number') return p.local - p.zone * 1e6
  return localToInstant(p.local, p.zone ?? tz)
}

/** 'YYYY-MM-DD' of a day number, without the ' BC' suffix (year 0 is 1 BC). */
function ymd(days: number): string {
  const [y, m, d] = civilFromDays(days)
  return `${pad(y > 0 ? y : 1 - y, 4)}-${pad(m)}-${pad(d)}`
}

/** PostgreSQL ISO date output: '2024-01-02', '0044-03-15 BC'. */
export function formatDate(days: number): string {
  return days < BC_DAYS ? ymd(days) + ' BC' : ymd(days)
}

/** Day number of 0001-01-01: anything earlier prints with ' BC'. */
const BC_DAYS = daysFromCivil(1, 1, 1)

export function formatTime(us: number): string {
  const s = Math.floor(us / 1e6)
  const frac = us - s * 1e6
  let out = `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`
  if (frac > 0) out += '.' + String(Math.round(frac)).padStart(6, '0').replace(/0+$/, '')
  return out
}

/** PostgreSQL ISO output: '2024-01-02 03:04:05', '2024-01-02 03:04:05.5'. */
export function formatTimestamp(us: number): string {
  const days = Math.floor(us / US_PER_DAY)
  const out = `${ymd(days)} ${formatTime(us - days * US_PER_DAY)}`
  return days < BC_DAYS ? out + ' BC' : out
}

/** PostgreSQL ISO output in zone `tz`: '2024-01-02 03:04:05+00', '...+05:30'. */
export function formatTimestamptz(us: number, tz = 'UTC'): string {
  const offset = zoneOffsetSeconds(us, tz)
  const localUs = us + offset * 1e6
  const days = Math.floor(localUs / US_PER_DAY)
  const local = `${ymd(days)} ${formatTime(localUs - days * US_PER_DAY)}`
  const a = Math.abs(offset)
  const h = Math.floor(a / 3600)
  const m = Math.floor(a / 60) % 60
  const sec = a % 60
  const zone = `${offset < 0 ? '-' : '+'}${pad(h)}${m !== 0 || sec !== 0 ? ':' + pad(m) : ''}${sec !== 0 ? ':' + pad(sec) : ''}`
  return days < BC_DAYS ? `${local}${zone} BC` : local + zone
}

/** Wall-clock µs shown by zone `tz` at instant `us`. */
export function instantToLocal(us: number, tz: string): number {
  return us + zoneOffsetSeconds(us, tz) * 1e6
}

/** Adds whole months to a wall-clock time, clamping the day to the month's end (Jan 31 + 1 mon = Feb 29). */
function addMonths(local: number, months: number): number {
  const days = Math.floor(local / US_PER_DAY)
  const rest = local - days * US_PER_DAY
  const [y, m, d] = civilFromDays(days)
  const total = y * 12 + (m - 1) + months
  const ny = Math.floor(total / 12)
  const nm = total - ny * 12 + 1
  return daysFromCivil(ny, nm, Math.min(d, daysInMonth(ny, nm))) * US_PER_DAY + rest
}

/**
 * timestamp + interval as PostgreSQL computes it: months by calendar (day clamped), then days,
 * then µs. With `tz` (TIMESTAMPTZ) months and days move the wall clock in that zone, so
 * '1 day' across a DST change keeps the local time; µs are elapsed time.
 */
export function addInterval(ts: number, iv: Interval, tz?: string): number {
  if (iv.months === 0 && iv.days === 0) return ts + iv.micros
  if (tz === undefined) return addMonths(ts, iv.months) + iv.days * US_PER_DAY + iv.micros
  const local = addMonths(instantToLocal(ts, tz), iv.months) + iv.days * US_PER_DAY
  return localToInstant(local, tz) + iv.micros
}

const UNIT_NAMES: Record<string, string> = {
  microsecond: 'microseconds',
  microseconds: 'microseconds',
  us: 'microseconds',
  usec: 'microseconds',
  usecs: 'microseconds',
  useconds: 'microseconds',
  millisecond: 'milliseconds',
  milliseconds: 'milliseconds',
  ms: 'milliseconds',
  msec: 'milliseconds',
  msecs: 'milliseconds',
  mseconds: 'milliseconds',
  second: 'second',
  seconds: 'second',
  sec: 'second',
  secs: 'second',
  s: 'second',
  minute: 'minute',
  minutes: 'minute',
  min: 'minute',
  mins: 'minute',
  m: 'minute',
  hour: 'hour',
  hours: 'hour',
  hr: 'hour',
  hrs: 'hour',
  h: 'hour',
  day: 'day',
  days: 'day',
  d: 'day',
  week: 'week',
  weeks: 'week',
  w: 'week',
  month: 'month',
  months: 'month',
  mon: 'month',
  mons: 'month',
  quarter: 'quarter',
  qtr: 'quarter',
  year: 'year',
  years: 'year',
  y: 'year',
  yr: 'year',
  yrs: 'year',
  decade: 'decade',
  decades: 'decade',
  dec: 'decade',
  decs: 'decade',
  century: 'century',
  centuries: 'century',
  c: 'century',
  cent: 'century',
  millennium: 'millennium',
  millennia: 'millennium',
  mil: 'millennium',
  mils: 'millennium',
  epoch: 'epoch',
  dow: 'dow',
  isodow: 'isodow',
  doy: 'doy',
  isoyear: 'isoyear',
  julian: 'julian',
  timezone: 'timezone',
  timezone_hour: 'timezone_hour',
  timezone_minute: 'timezone_minute',
}

function unitOf(unit: string, type: string): string {
  const u = UNIT_NAMES[unit.trim().toLowerCase()]
  if (u === undefined)
    throw new SluiceError(SqlState.invalid_parameter_value, `unit "${unit}" not recognized for type ${type}`)
  return u
}

const TRUNC_STEP: Record<string, number> = {
  microseconds: 1,
  milliseconds: 1e3,
  second: 1e6,
  minute: 60e6,
  hour: 3600e6,
  day: US_PER_DAY,
}

/** date_trunc(unit, ts); with `tz` (TIMESTAMPTZ) the truncation happens in that zone's wall clock. */
export function dateTrunc(unit: string, ts: number, tz?: string): number {
  const typeName = tz === undefined ? 'timestamp without time zone' : 'timestamp with time zone'
  const u = unitOf(unit, typeName)
  const local = tz === undefined ? ts : instantToLocal(ts, tz)
  let out: number
  const step = TRUNC_STEP[u]
  if (step !== undefined) out = Math.floor(local / step) * step
  else {
    const days = Math.floor(local / US_PER_DAY)
    const [y, m] = civilFromDays(days)
    switch (u) {
      case 'week':
        out = (days - ((((days + 3) % 7) + 7) % 7)) * US_PER_DAY // back to Monday
        break
      case 'month':
        out = daysFromCivil(y, m, 1) * US_PER_DAY
        break
      case 'quarter':
        out = daysFromCivil(y, m - ((m - 1) % 3), 1) * US_PER_DAY
        break
      case 'year':
        out = daysFromCivil(y, 1, 1) * US_PER_DAY
        break
      case 'decade':
        out = daysFromCivil(y - (((y % 10) + 10) % 10), 1, 1) * US_PER_DAY
        break
      case 'century':
        out = daysFromCivil(Math.floor((y - 1) / 100) * 100 + 1, 1, 1) * US_PER_DAY
        break
      case 'millennium':
        out = daysFromCivil(Math.floor((y - 1) / 1000) * 1000 + 1, 1, 1) * US_PER_DAY
        break
      default:
        throw new SluiceError(SqlState.feature_not_supported, `unit "${unit}" not supported for type ${typeName}`)
    }
  }
  if (tz === undefined || out === local) return tz === undefined ? out : ts
  return localToInstant(out, tz)
}

function dec(n: number, scale = 0): Decimal {
  return new Decimal(BigInt(n), scale)
}

/** ISO 8601 week number and ISO year of a day number. */
function isoWeek(days: number): [number, number] {
  const thursday = days - ((((days + 3) % 7) + 7) % 7) + 3
  const [ty] = civilFromDays(thursday)
  return [Math.floor((thursday - daysFromCivil(ty, 1, 1)) / 7) + 1, ty]
}

const TYPE_NAMES: Record<TemporalKind, string> = {
  timestamp: 'timestamp without time zone',
  timestamptz: 'timestamp with time zone',
  date: 'date',
  time: 'time without time zone',
  interval: 'interval',
}

/**
 * extract(field FROM value) with PostgreSQL 14+ semantics: a NUMERIC, with scale 6 for second
 * and epoch, 3 for milliseconds, 0 otherwise. `value` is the engine value of `type`; `tz` is
 * the session zone (TIMESTAMPTZ fields are read in it).
 */
export function extractField(field: string, value: number | Interval, type: TemporalKind, tz = 'UTC'): Decimal {
  const f = unitOf(field, TYPE_NAMES[type])
  const unsupported = (): SluiceError =>
    new SluiceError(SqlState.feature_not_supported, `unit "${field}" not supported for type ${TYPE_NAMES[type]}`)
  if (type === 'interval') return extractInterval(f, value as Interval, unsupported)
  const v = value as number
  if (type === 'time') {
    switch (f) {
      case 'microseconds':
        return dec(v % 60e6)
      case 'milliseconds':
        return dec(v % 60e6, 3)
      case 'second':
        return dec(v % 60e6, 6)
      case 'minute':
        return dec(Math.floor(v / 60e6) % 60)
      case 'hour':
        return dec(Math.floor(v / 3600e6))
      case 'epoch':
        return dec(v, 6)
      default:
        throw unsupported()
    }
  }
  if (f === 'epoch') return type === 'date' ? dec(v * 86400) : dec(v, 6)
  if (f === 'timezone' || f === 'timezone_hour' || f === 'timezone_minute') {
    if (type !== 'timestamptz') throw unsupported()
    const off = zoneOffsetSeconds(v, tz)
    return dec(f === 'timezone' ? off : f === 'timezone_hour' ? Math.trunc(off / 3600) : Math.trunc(off / 60) % 60)
  }
  const us = type === 'date' ? v * US_PER_DAY : type === 'timestamptz' ? instantToLocal(v, tz) : v
  const days = Math.floor(us / US_PER_DAY)
  const dayUs = us - days * US_PER_DAY
  const [y, m, d] = civilFromDays(days)
  if (
    type === 'date' &&
    (f === 'hour' || f === 'minute' || f === 'second' || f === 'milliseconds' || f === 'microseconds')
  )
    throw unsupported()
  switch (f) {
    case 'microseconds':
      return dec(dayUs % 60e6)
    case 'milliseconds':
      return dec(dayUs % 60e6, 3)
    case 'second':
      return dec(dayUs % 60e6, 6)
    case 'minute':
      return dec(Math.floor(dayUs / 60e6) % 60)
    case 'hour':
      return dec(Math.floor(dayUs / 3600e6))
    case 'day':
      return dec(d)
    case 'month':
      return dec(m)
    case 'year':
      return dec(y)
    case 'quarter':
      return dec(Math.floor((m - 1) / 3) + 1)
    case 'dow':
      return dec((((days + 4) % 7) + 7) % 7)
    case 'isodow':
      return dec(((((days + 3) % 7) + 7) % 7) + 1)
    case 'doy':
      return dec(days - daysFromCivil(y, 1, 1) + 1)
    case 'week':
      return dec(isoWeek(days)[0])
    case 'isoyear':
      return dec(isoWeek(days)[1])
    case 'decade':
      return dec(Math.floor(y / 10))
    case 'century':
      return dec(Math.floor((y - 1) / 100) + 1)
    case 'millennium':
      return dec(Math.floor((y - 1) / 1000) + 1)
    case 'julian': {
      const jd = days + 2440588
      return type === 'date'
        ? dec(jd)
        : Decimal.fromBigInt(BigInt(jd))
            .add(Decimal.divide(dec(dayUs), dec(US_PER_DAY), 20))
            .normalized()
    }
    default:
      throw unsupported()
  }
}

function extractInterval(f: string, iv: Interval, unsupported: () => SluiceError): Decimal {
  const years = Math.trunc(iv.months / 12)
  switch (f) {
    case 'microseconds':
      return dec(iv.micros % 60e6)
    case 'milliseconds':
      return dec(iv.micros % 60e6, 3)
    case 'second':
      return dec(iv.micros % 60e6, 6)
    case 'minute':
      return dec(Math.trunc(iv.micros / 60e6) % 60)
    case 'hour':
      return dec(Math.trunc(iv.micros / 3600e6))
    case 'day':
      return dec(iv.days)
    case 'month':
      return dec(iv.months % 12)
    case 'quarter':
      return dec(Math.trunc((iv.months % 12) / 3) + 1)
    case 'year':
      return dec(years)
    case 'decade':
      return dec(Math.trunc(years / 10))
    case 'century':
      return dec(Math.trunc(years / 100))
    case 'millennium':
      return dec(Math.trunc(years / 1000))
    case 'epoch': {
      // PostgreSQL counts a year as 365.25 days and a month as 30 days here.
      const days = years * 365.25 + (iv.months % 12) * 30 + iv.days
      return new Decimal(BigInt(Math.round(days * 4)) * 21_600_000_000n + BigInt(iv.micros), 6)
    }
    default:
      throw unsupported()
  }
}

/** date_part(field, value): extract as DOUBLE PRECISION. */
export function datePart(field: string, value: number | Interval, type: TemporalKind, tz = 'UTC'): number {
  return extractField(field, value, type, tz).toNumber()
}

/** to_timestamp(seconds) → TIMESTAMPTZ µs. */
export function toTimestamp(seconds: number): number {
  if (!Number.isFinite(seconds)) throw new SluiceError(SqlState.datetime_field_overflow, 'timestamp out of range')
  return Math.round(seconds * 1e6)
}
