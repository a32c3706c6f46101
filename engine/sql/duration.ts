/**
 * Durations in Sluice-only clauses (`WATERMARK 30s`, window sizes written as '1m'): a number and
 * a unit — ms s m h d — or PostgreSQL interval text such as '5 seconds' or '1 minute 30 seconds'.
 * Returns microseconds.
 */
import { SluiceError, SqlState } from '../errors.ts'

const UNITS: Record<string, number> = {
  us: 1,
  microsecond: 1,
  microseconds: 1,
  ms: 1e3,
  millisecond: 1e3,
  milliseconds: 1e3,
  s: 1e6,
  sec: 1e6,
  secs: 1e6,
  second: 1e6,
  seconds: 1e6,
  m: 60e6,
  min: 60e6,
  mins: 60e6,
  minute: 60e6,
  minutes: 60e6,
  h: 3600e6,
  hr: 3600e6,
  hrs: 3600e6,
  hour: 3600e6,
  hours: 3600e6,
  d: 86400e6,
  day: 86400e6,
  days: 86400e6,
  w: 7 * 86400e6,
  week: 7 * 86400e6,
  weeks: 7 * 86400e6,
}

export function parseDurationMicros(text: string, position?: number): number {
  const s = text.trim().toLowerCase()
  let total = 0
  let matched = false
  // "00:00:05" style
  const clock = /^(-)?(\d+):(\d{2})(?::(\d{2}(?:\.\d+)?))?$/.exec(s)
  if (clock !== null) {
    const v = (Number(clock[2]) * 3600 + Number(clock[3]) * 60 + Number(clock[4] ?? 0)) * 1e6
    return clock[1] === '-' ? -v : v
  }
  const re = /\s*(-?\d+(?:\.\d+)?)\s*([a-z]+)\s*/y
  let at = 0
  while (at < s.length) {
    re.lastIndex = at
    const m = re.exec(s)
    if (m === null) break
    const unit = UNITS[m[2]]
    if (unit === undefined) break
    total += Number(m[1]) * unit
    matched = true
    at = re.lastIndex
  }
  if (!matched || at < s.length) {
    throw new SluiceError(SqlState.invalid_datetime_format, `invalid duration "${text}"`, {
      position,
      hint: `Write a number and a unit (ms, s, m, h, d), e.g. '30s', or an interval such as INTERVAL '5 seconds'.`,
    })
  }
  return Math.round(total)
}
