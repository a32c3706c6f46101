/**
 * Time zones: the UTC offset of a zone at an instant, and local wall-clock time back to an
 * instant with PostgreSQL's rules for times skipped or repeated by a DST change. Zone names are
 * IANA names resolved through Intl (one formatter per zone, cached, plus a per-zone cache of
 * offsets by 15-minute bucket so per-row calls rarely reach Intl), or POSIX-style offsets.
 */
import { SluiceError, SqlState } from '../errors.ts'

interface NamedZone {
  readonly fmt: Intl.DateTimeFormat
  readonly buckets: Map<number, number>
}

/** A resolved zone: a fixed offset in seconds (east positive) or a named zone. */
type Zone = number | NamedZone

const US_PER_DAY = 86_400_000_000
const BUCKET_MS = 900_000
const MAX_BUCKETS = 4096
const zones = new Map<string, Zone>()

const UTC_NAMES =
  /^(utc|gmt|z|zulu|uct|universal|etc\/utc|etc\/gmt|etc\/uct|etc\/universal|etc\/zulu|greenwich|gmt0|gmt[+-]0)$/i

function unknownZone(tz: string): SluiceError {
  return new SluiceError(SqlState.invalid_parameter_value, `time zone "${tz}" not recognized`)
}

/**
 * A session time zone setting as PostgreSQL reads it. A bare or UTC/GMT-prefixed numeric offset
 * is POSIX-style, so '+02:00' and 'UTC+2' mean two hours *west* of Greenwich, exactly as
 * `SET timezone = '+02:00'` behaves in PostgreSQL.
 */
function resolveZone(tz: string): Zone {
  let z = zones.get(tz)
  if (z !== undefined) return z
  const t = tz.trim()
  const posix = /^(?:utc|gmt)?([+-]?)(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?$/i.exec(t)
  if (t === '' || UTC_NAMES.test(t)) z = 0
  else if (posix !== null) {
    const secs = Number(posix[2]) * 3600 + Number(posix[3] ?? 0) * 60 + Number(posix[4] ?? 0)
    z = posix[1] === '-' ? secs : -secs || 0
  } else {
    try {
      const fmt = new Intl.DateTimeFormat('en-US', {
        timeZone: t,
        hourCycle: 'h23',
        era: 'short',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      })
      z = { fmt, buckets: new Map() }
    } catch {
      throw unknownZone(tz)
    }
  }
  zones.set(tz, z)
  return z
}

/** True when `tz` names a zone this module can resolve (for SET timezone validation). */
export function isValidTimeZone(tz: string): boolean {
  try {
    resolveZone(tz)
    return true
  } catch {
    return false
  }
}

function intlOffset(fmt: Intl.DateTimeFormat, ms: number): number {
  let year = 0
  let month = 0
  let day = 0
  let hour = 0
  let minute = 0
  let second = 0
  let bc = false
  for (const p of fmt.formatToParts(new Date(ms))) {
    const t = p.type
    if (t === 'year') year = Number(p.value)
    else if (t === 'month') month = Number(p.value)
    else if (t === 'day') day = Number(p.value)
    else if (t === 'hour') hour = Number(p.value)
    else if (t === 'minute') minute = Number(p.value)
    else if (t === 'second') second = Number(p.value)
    else if (t === 'era') bc = p.value.startsWith('B')
  }
  if (bc) year = 1 - year
  const localMs = daysFromCivil(year, month, day) * 86_400_000 + ((hour * 60 + minute) * 60 + second) * 1000
  const wholeMs = ms - (((ms % 1000) + 1000) % 1000)
  return Math.round((localMs - wholeMs) / 1000)
}

/** Offset of zone `tz` from UTC at instant `us` (µs since the epoch), in seconds, east positive. */
export function zoneOffsetSeconds(us: number, tz: string): number {
  const z = resolveZone(tz)
  if (typeof z === 'number') return z
  const ms = Math.floor(us / 1000)
  const bucket = Math.floor(ms / BUCKET_MS)
  const cached = z.buckets.get(bucket)
  if (cached !== undefined) return cached
  const start = intlOffset(z.fmt, bucket * BUCKET_MS)
  const end = intlOffset(z.fmt, bucket * BUCKET_MS + BUCKET_MS - 1)
  // A bucket holding a transition is not cached: its offset depends on the exact instant.
  if (start !== end) return intlOffset(z.fmt, ms)
  if (z.buckets.size >= MAX_BUCKETS) z.buckets.clear()
  z.buckets.set(bucket, start)
  return start
}

/**
 * The instant at which zone `tz` shows wall-clock time `local` (µs, as if UTC). A local time in a
 * spring-forward gap takes the offset from before the change; one repeated by a fall-back takes
 * the offset from after it (PostgreSQL's DetermineTimeZoneOffset).
 */
export function localToInstant(local: number, tz: string): number {
  const z = resolveZone(tz)
  if (typeof z === 'number') return local - z * 1e6
  const before = zoneOffsetSeconds(local - US_PER_DAY, tz)
  const after = zoneOffsetSeconds(local + US_PER_DAY, tz)
  const tAfter = local - after * 1e6
  if (before === after) {
    // The common case; still check, for zones with two changes within two days.
    const o = zoneOffsetSeconds(tAfter, tz)
    return o === after ? tAfter : local - o * 1e6
  }
  const tBefore = local - before * 1e6
  if (zoneOffsetSeconds(tAfter, tz) === after) return tAfter
  return tBefore
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

/** [year, month, day] of a day number (inverse of daysFromCivil). */
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

export function daysInMonth(y: number, m: number): number {
  return m === 2
    ? (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
      ? 29
      : 28
    : m === 4 || m === 6 || m === 9 || m === 11
      ? 30
      : 31
}
