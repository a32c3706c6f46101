/**
 * Dates, times and timestamps: parsing and PostgreSQL's ISO output, time zones, calendar
 * arithmetic. Timestamps are µs since the epoch in JS numbers (exact up to year ~2255 at µs).
 * TIMESTAMP is wall-clock time stored as if UTC; TIMESTAMPTZ is an instant, shown in the
 * session time zone.
 */
import { SluiceError, SqlState } from '../errors.ts'
import type { Interval } from './interval.ts'

const US_PER_DAY = 86_400_000_000

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0')
}

function bad(type: string, text: string): SluiceError {
  return new SluiceError(SqlState.invalid_datetime_format, `invalid input syntax for type ${type}: "${text}"`)
}

const DATE_TIME = /^\s*(\d{4,})-(\d{1,2})-(\d{1,2})(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(z|utc|[+-]\d{1,2}(?::?\d{2})?)?\s*$/i

interface Parts {
  readonly micros: number
  /** Zone offset in seconds written in the text, if any. */
  readonly offset: number | undefined
}

function parseParts(text: string, type: string): Parts {
  const m = DATE_TIME.exec(text)
  if (m === null) {
    const lower = text.trim().toLowerCase()
    if (lower === 'epoch') return { micros: 0, offset: 0 }
    throw bad(type, text)
  }
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) {
    throw new SluiceError(SqlState.datetime_field_overflow, `date/time field value out of range: "${text}"`)
  }
  const h = Number(m[4] ?? 0)
  const mi = Number(m[5] ?? 0)
  const s = Number(m[6] ?? 0)
  if (h > 24 || mi > 59 || s > 60) throw new SluiceError(SqlState.datetime_field_overflow, `date/time field value out of range: "${text}"`)
  const frac = m[7] === undefined ? 0 : Math.round(Number('0.' + m[7]) * 1e6)
  const days = daysFromCivil(y, mo, d)
  const micros = days * US_PER_DAY + ((h * 60 + mi) * 60 + s) * 1e6 + frac
  let offset: number | undefined
  if (m[8] !== undefined) {
    const z = m[8].toLowerCase()
    if (z === 'z' || z === 'utc') offset = 0
    else {
      const om = /^([+-])(\d{1,2}):?(\d{2})?$/.exec(z)!
      offset = (om[1] === '-' ? -1 : 1) * (Number(om[2]) * 3600 + Number(om[3] ?? 0) * 60)
    }
  }
  return { micros, offset }
}

export function parseDate(text: string): number {
  const p = parseParts(text, 'date')
  return Math.floor(p.micros / US_PER_DAY)
}

export function parseTime(text: string): number {
  const m = /^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*$/.exec(text)
  if (m === null) throw bad('time without time zone', text)
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3] ?? 0)) * 1e6 + (m[4] === undefined ? 0 : Math.round(Number('0.' + m[4]) * 1e6))
}

/** TIMESTAMP: a zone in the text is ignored, as PostgreSQL does. */
export function parseTimestamp(text: string): number {
  return parseParts(text, 'timestamp').micros
}

/** TIMESTAMPTZ: a zone in the text wins, else the session zone. */
export function parseTimestamptz(text: string, tz = 'UTC'): number {
  const p = parseParts(text, 'timestamp with time zone')
  if (p.offset !== undefined) return p.micros - p.offset * 1e6
  return p.micros - zoneOffsetSeconds(p.micros - zoneOffsetSeconds(p.micros, tz) * 1e6, tz) * 1e6
}

export function formatDate(days: number): string {
  const [y, m, d] = civilFromDays(days)
  return `${pad(y, 4)}-${pad(m)}-${pad(d)}`
}

export function formatTime(us: number): string {
  const s = Math.floor(us / 1e6)
  const frac = us - s * 1e6
  let out = `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`
  if (frac > 0) out += '.' + String(Math.round(frac)).padStart(6, '0').replace(/0+$/, '')
  return out
}

export function formatTimestamp(us: number): string {
  const days = Math.floor(us / US_PER_DAY)
  return `${formatDate(days)} ${formatTime(us - days * US_PER_DAY)}`
}

export function formatTimestamptz(us: number, tz = 'UTC'): string {
  const offset = zoneOffsetSeconds(us, tz)
  const local = formatTimestamp(us + offset * 1e6)
  const sign = offset < 0 ? '-' : '+'
  const a = Math.abs(offset)
  const h = Math.floor(a / 3600)
  const m = Math.floor(a / 60) % 60
  const sec = a % 60
  return `${local}${sign}${pad(h)}${m !== 0 || sec !== 0 ? ':' + pad(m) : ''}${sec !== 0 ? ':' + pad(sec) : ''}`
}

const formatters = new Map<string, Intl.DateTimeFormat>()

/** Offset of zone `tz` from UTC at instant `us`, in seconds (east positive). */
export function zoneOffsetSeconds(us: number, tz: string): number {
  const t = tz.trim()
  if (t === '' || /^(utc|gmt|z|etc\/utc|etc\/gmt|universal|zulu)$/i.test(t)) return 0
  const fixed = /^([+-])(\d{1,2})(?::?(\d{2}))?$/.exec(t)
  // POSIX-style fixed offsets as PostgreSQL reads them in SET TIME ZONE: '+02' is east of UTC.
  if (fixed !== null) return (fixed[1] === '-' ? -1 : 1) * (Number(fixed[2]) * 3600 + Number(fixed[3] ?? 0) * 60)
  let f = formatters.get(t)
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: t, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    formatters.set(t, f)
  }
  const ms = Math.floor(us / 1000)
  const parts = f.formatToParts(new Date(ms))
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0)
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'))
  return Math.round((asUtc - (ms - (((ms % 1000) + 1000) % 1000))) / 1000)
}

/** timestamp(tz) + interval: months by calendar (day clamped), days and µs as elapsed time. */
export function addInterval(ts: number, iv: Interval, _tz?: string): number {
  let us = ts
  if (iv.months !== 0) {
    const days = Math.floor(us / US_PER_DAY)
    const rest = us - days * US_PER_DAY
    const [y, m, d] = civilFromDays(days)
    const total = y * 12 + (m - 1) + iv.months
    const ny = Math.floor(total / 12)
    const nm = total - ny * 12 + 1
    us = daysFromCivil(ny, nm, Math.min(d, daysInMonth(ny, nm))) * US_PER_DAY + rest
  }
  return us + iv.days * US_PER_DAY + iv.micros
}

const TRUNC_UNITS: Record<string, number> = { microseconds: 1, milliseconds: 1e3, second: 1e6, minute: 60e6, hour: 3600e6, day: US_PER_DAY }

/** date_trunc for timestamps (TIMESTAMPTZ truncates in the session zone). */
export function dateTrunc(unit: string, ts: number, tz?: string): number {
  const u = unit.toLowerCase().replace(/s$/, '') === 'microsecond' ? 'microseconds' : unit.toLowerCase().replace(/s$/, '') === 'millisecond' ? 'milliseconds' : unit.toLowerCase().replace(/s$/, '')
  const offset = tz === undefined ? 0 : zoneOffsetSeconds(ts, tz) * 1e6
  const local = ts + offset
  let out: number
  const step = TRUNC_UNITS[u]
  if (step !== undefined) out = Math.floor(local / step) * step
  else {
    const days = Math.floor(local / US_PER_DAY)
    const [y, m] = civilFromDays(days)
    switch (u) {
      case 'week': {
        const dow = (((days + 3) % 7) + 7) % 7 // Monday = 0
        out = (days - dow) * US_PER_DAY
        break
      }
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
        throw new SluiceError(SqlState.invalid_parameter_value, `unit "${unit}" not recognized for type timestamp`)
    }
  }
  if (tz === undefined) return out
  // Back to an instant: the truncated local time in the zone.
  return out - zoneOffsetSeconds(out - offset, tz) * 1e6
}

/** Fields of extract()/date_part() for a timestamp or date value, as a number. */
export function extractField(field: string, value: number, type: 'timestamp' | 'timestamptz' | 'date' | 'time', tz?: string): number {
  const f = field.toLowerCase()
  let us = type === 'date' ? value * US_PER_DAY : value
  if (type === 'timestamptz' && tz !== undefined && f !== 'epoch') us += zoneOffsetSeconds(value, tz) * 1e6
  if (f === 'epoch') return type === 'date' ? value * 86400 : us / 1e6
  if (type === 'time') {
    if (f === 'hour') return Math.floor(us / 3600e6)
    if (f === 'minute') return Math.floor(us / 60e6) % 60
    if (f === 'second') return (us % 60e6) / 1e6
    if (f === 'milliseconds') return (us % 60e6) / 1e3
    if (f === 'microseconds') return us % 60e6
  }
  const days = Math.floor(us / US_PER_DAY)
  const dayUs = us - days * US_PER_DAY
  const [y, m, d] = civilFromDays(days)
  switch (f) {
    case 'year':
      return y
    case 'month':
      return m
    case 'day':
      return d
    case 'hour':
      return Math.floor(dayUs / 3600e6)
    case 'minute':
      return Math.floor(dayUs / 60e6) % 60
    case 'second':
      return (dayUs % 60e6) / 1e6
    case 'milliseconds':
      return (dayUs % 60e6) / 1e3
    case 'microseconds':
      return dayUs % 60e6
    case 'dow':
      return (((days + 4) % 7) + 7) % 7
    case 'isodow': {
      const dow = (((days + 4) % 7) + 7) % 7
      return dow === 0 ? 7 : dow
    }
    case 'doy':
      return days - daysFromCivil(y, 1, 1) + 1
    case 'quarter':
      return Math.floor((m - 1) / 3) + 1
    case 'week': {
      const thursday = days - ((((days + 3) % 7) + 7) % 7) + 3
      const [ty] = civilFromDays(thursday)
      return Math.floor((thursday - daysFromCivil(ty, 1, 1)) / 7) + 1
    }
    case 'decade':
      return Math.floor(y / 10)
    case 'century':
      return Math.floor((y - 1) / 100) + 1
    case 'millennium':
      return Math.floor((y - 1) / 1000) + 1
    default:
      throw new SluiceError(SqlState.invalid_parameter_value, `unit "${field}" not recognized for type ${type}`)
  }
}

/** to_timestamp(seconds) → TIMESTAMPTZ µs. */
export function toTimestamp(seconds: number): number {
  return Math.round(seconds * 1e6)
}

export function daysInMonth(y: number, m: number): number {
  return [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

export function civilFromDays(z: number): [number, number, number] {
  z += 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const y = yoe + era * 400
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp + (mp < 10 ? 3 : -9)
  return [m <= 2 ? y + 1 : y, m, d]
}
