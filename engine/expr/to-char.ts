/**
 * to_char(timestamp, text) and to_char(timestamptz, text): PostgreSQL's template patterns
 * (formatting.c), parsed as it parses them so that every template prints what PostgreSQL prints.
 *
 * A template is read left to right: an optional prefix (FM: no padding; TM: names unpadded, as
 * PostgreSQL's translation mode is in an English locale), then the first keyword of the table
 * below that matches (the table is PostgreSQL's, in its order, so `DDD` wins over `DD` and `D`),
 * then an optional TH/th suffix (ordinal, on numbers only). Anything else is copied: text in
 * double quotes as it is (a backslash takes the next character literally), and outside quotes
 * a backslash before a double quote prints the quote. A prefix not followed by a keyword is
 * dropped, as in PostgreSQL.
 */
import { SluiceError, SqlState } from '../errors.ts'
import { civilFromDays, daysFromCivil } from '../types/zone.ts'

const US_PER_DAY = 86_400_000_000
/** Julian day number of 1970-01-01. */
const JULIAN_EPOCH = 2_440_588

const KEYWORDS: readonly string[] = [
  'A.D.', 'A.M.', 'AD', 'AM', 'B.C.', 'BC', 'CC', 'DAY', 'DDD', 'DD', 'DY', 'Day', 'Dy', 'D',
  'FF1', 'FF2', 'FF3', 'FF4', 'FF5', 'FF6', 'FX', 'HH24', 'HH12', 'HH', 'IDDD', 'ID', 'IW', 'IYYY',
  'IYY', 'IY', 'I', 'J', 'MI', 'MM', 'MONTH', 'MON', 'MS', 'Month', 'Mon', 'OF', 'P.M.', 'PM', 'Q',
  'RM', 'SSSSS', 'SSSS', 'SS', 'TZH', 'TZM', 'TZ', 'US', 'WW', 'W', 'Y,YYY', 'YYYY', 'YYY', 'YY',
  'Y', 'a.d.', 'a.m.', 'ad', 'am', 'b.c.', 'bc', 'cc', 'day', 'ddd', 'dd', 'dy', 'd', 'ff1', 'ff2',
  'ff3', 'ff4', 'ff5', 'ff6', 'fx', 'hh24', 'hh12', 'hh', 'iddd', 'id', 'iw', 'iyyy', 'iyy', 'iy',
  'i', 'j', 'mi', 'mm', 'month', 'mon', 'ms', 'of', 'p.m.', 'pm', 'q', 'rm', 'sssss', 'ssss', 'ss',
  'tzh', 'tzm', 'tz', 'us', 'ww', 'w', 'y,yyy', 'yyyy', 'yyy', 'yy', 'y',
] // prettier-ignore

const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October',
  'November', 'December',
] // prettier-ignore
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
const ROMAN = ['I', 'II', 'III', 'IV', 'V', 'VI', 'VII', 'VIII', 'IX', 'X', 'XI', 'XII']

/** One parsed template item: a keyword with its modifiers, or literal text. */
interface Item {
  /** The keyword as written (its case picks the output's case), or undefined for literal text. */
  readonly key: string | undefined
  /** The keyword upper-cased (number keywords print the same in either case). */
  readonly upper: string
  readonly text: string
  readonly fm: boolean
  readonly tm: boolean
  /** 'TH', 'th' or undefined. */
  readonly th: string | undefined
}

/** Parses a template into items (once per distinct template; see toCharFormatter). */
export function parseTemplate(fmt: string): Item[] {
  const items: Item[] = []
  let literal = ''
  const flush = (): void => {
    if (literal !== '') items.push({ key: undefined, upper: '', text: literal, fm: false, tm: false, th: undefined })
    literal = ''
  }
  let i = 0
  while (i < fmt.length) {
    let fm = false
    let tm = false
    const prefix = fmt.slice(i, i + 2)
    if (prefix === 'FM' || prefix === 'fm') fm = true
    else if (prefix === 'TM' || prefix === 'tm') tm = true
    if (fm || tm) i += 2
    if (i >= fmt.length) break
    const key = KEYWORDS.find((k) => fmt.startsWith(k, i))
    if (key !== undefined) {
      i += key.length
      const suffix = fmt.slice(i, i + 2)
      let th: string | undefined
      if (suffix === 'TH' || suffix === 'th') th = suffix
      if (th !== undefined || suffix === 'SP') i += 2
      flush()
      items.push({ key, upper: key.toUpperCase(), text: '', fm, tm, th })
      continue
    }
    if (fmt[i] === '"') {
      for (i++; i < fmt.length; i++) {
        if (fmt[i] === '"') {
          i++
          break
        }
        if (fmt[i] === '\\' && i + 1 < fmt.length) i++
        literal += fmt[i]
      }
      continue
    }
    if (fmt[i] === '\\' && fmt[i + 1] === '"') i++
    const cp = fmt.codePointAt(i)!
    const ch = String.fromCodePoint(cp)
    literal += ch
    i += ch.length
  }
  flush()
  return items
}

/** The fields of one wall-clock time that the keywords print. */
interface Fields {
  /** Astronomical year: 0 is 1 BC. */
  year: number
  month: number
  day: number
  /** Days since 1970-01-01. */
  days: number
  /** Microseconds into the day. */
  time: number
  hour: number
  minute: number
  second: number
  /** Microseconds into the second. */
  fsec: number
  /** Day of the week, 0 = Sunday. */
  wday: number
  /** Offset from UTC in seconds, east positive (0 for TIMESTAMP). */
  offset: number
  /** Zone abbreviation for TZ; '' for TIMESTAMP. */
  zone: string
}

function isoYearAndWeek(days: number): [number, number] {
  const thursday = days - ((((days + 3) % 7) + 7) % 7) + 3
  const [ty] = civilFromDays(thursday)
  return [ty, Math.floor((thursday - daysFromCivil(ty, 1, 1)) / 7) + 1]
}

/** Day of the year, 1-based. */
function yearDay(f: Fields): number {
  return f.days - daysFromCivil(f.year, 1, 1) + 1
}

/** PostgreSQL's sprintf("%0*d", fm ? 0 : width, n). */
function num(n: number, width: number, fm: boolean): string {
  const s = String(Math.abs(n)).padStart(fm ? 0 : n < 0 ? width - 1 : width, '0')
  return n < 0 ? '-' + s : s
}

/** The year as printed: BC years count from 1 upward. */
function adjustYear(year: number): number {
  return year <= 0 ? 1 - year : year
}

/** The ordinal suffix of a printed number (st, nd, rd, th; the teens take th). */
function ordinal(s: string, upper: boolean): string {
  const last = s[s.length - 1]
  const teen = s.length > 1 && s[s.length - 2] === '1'
  const th = teen ? 'th' : last === '1' ? 'st' : last === '2' ? 'nd' : last === '3' ? 'rd' : 'th'
  return upper ? th.toUpperCase() : th
}

/** A month or day name in the keyword's case, padded to 9 unless FM or TM. */
function name(full: string, key: string, item: Item): string {
  const out = key === key.toUpperCase() ? full.toUpperCase() : key === key.toLowerCase() ? full.toLowerCase() : full
  return item.fm || item.tm ? out : out.padEnd(9)
}

function abbrev(full: string, key: string): string {
  const s = full.slice(0, 3)
  return key === key.toUpperCase() ? s.toUpperCase() : key === key.toLowerCase() ? s.toLowerCase() : s
}

/** A number keyword's text, or undefined for the keywords that print words. */
function number(key: string, f: Fields, fm: boolean): string | undefined {
  const { hour, minute, second, fsec, wday } = f
  switch (key) {
    case 'HH':
    case 'HH12':
      return num(hour % 12 === 0 ? 12 : hour % 12, 2, fm)
    case 'HH24':
      return num(hour, 2, fm)
    case 'MI':
      return num(minute, 2, fm)
    case 'SS':
      return num(second, 2, fm)
    case 'MS':
      return num(Math.floor(fsec / 1000), 3, false)
    case 'US':
      return num(fsec, 6, false)
    case 'FF1':
    case 'FF2':
    case 'FF3':
    case 'FF4':
    case 'FF5':
    case 'FF6': {
      const digits = Number(key[2])
      return num(Math.floor(fsec / 10 ** (6 - digits)), digits, false)
    }
    case 'SSSS':
    case 'SSSSS':
      return String(Math.floor(f.time / 1_000_000))
    case 'Y,YYY': {
      const y = adjustYear(f.year)
      const k = Math.floor(y / 1000)
      return `${k},${num(y - k * 1000, 3, false)}`
    }
    case 'YYYY':
    case 'IYYY': {
      const y = key === 'YYYY' ? f.year : isoYearAndWeek(f.days)[0]
      return y <= 9999 && y >= -9998 ? num(adjustYear(y), 4, fm) : String(adjustYear(y))
    }
    case 'YYY':
    case 'YY':
    case 'Y':
    case 'IYY':
    case 'IY':
    case 'I': {
      const iso = key[0] === 'I'
      const digits = key.length
      const y = iso ? isoYearAndWeek(f.days)[0] : f.year
      return num(adjustYear(y) % 10 ** digits, digits, fm)
    }
    case 'CC': {
      const c = f.year > 0 ? Math.trunc((f.year - 1) / 100) + 1 : Math.trunc(f.year / 100) - 1
      return c <= 99 && c >= -99 ? num(c, c >= 0 ? 2 : 3, fm) : String(c)
    }
    case 'MM':
      return num(f.month, 2, fm)
    case 'DDD':
      return num(yearDay(f), 3, fm)
    case 'DD':
      return num(f.day, 2, fm)
    case 'D':
      return String(wday + 1)
    case 'ID':
      return String(wday === 0 ? 7 : wday)
    case 'IDDD': {
      const [, week] = isoYearAndWeek(f.days)
      return num((week - 1) * 7 + (wday === 0 ? 7 : wday), 3, fm)
    }
    case 'WW':
      return num(Math.floor((yearDay(f) - 1) / 7) + 1, 2, fm)
    case 'IW':
      return num(isoYearAndWeek(f.days)[1], 2, fm)
    case 'W':
      return String(Math.floor((f.day - 1) / 7) + 1)
    case 'Q':
      return String(Math.floor((f.month - 1) / 3) + 1)
    case 'J':
      return String(f.days + JULIAN_EPOCH)
    case 'TZH':
      return `${f.offset >= 0 ? '+' : '-'}${num(Math.floor(Math.abs(f.offset) / 3600), 2, false)}`
    case 'TZM':
      return num(Math.floor((Math.abs(f.offset) % 3600) / 60), 2, false)
    default:
      return undefined
  }
}

/** A word keyword's text (names, meridian and era markers, zone). */
function word(item: Item, f: Fields): string {
  const key = item.key!
  const { hour, wday } = f
  switch (key) {
    case 'AM':
    case 'PM':
      return hour >= 12 ? 'PM' : 'AM'
    case 'am':
    case 'pm':
      return hour >= 12 ? 'pm' : 'am'
    case 'A.M.':
    case 'P.M.':
      return hour >= 12 ? 'P.M.' : 'A.M.'
    case 'a.m.':
    case 'p.m.':
      return hour >= 12 ? 'p.m.' : 'a.m.'
    case 'AD':
    case 'BC':
      return f.year <= 0 ? 'BC' : 'AD'
    case 'ad':
    case 'bc':
      return f.year <= 0 ? 'bc' : 'ad'
    case 'A.D.':
    case 'B.C.':
      return f.year <= 0 ? 'B.C.' : 'A.D.'
    case 'a.d.':
    case 'b.c.':
      return f.year <= 0 ? 'b.c.' : 'a.d.'
    case 'MONTH':
    case 'Month':
    case 'month':
      return name(MONTHS[f.month - 1], key, item)
    case 'MON':
    case 'Mon':
    case 'mon':
      return abbrev(MONTHS[f.month - 1], key)
    case 'DAY':
    case 'Day':
    case 'day':
      return name(DAYS[wday], key, item)
    case 'DY':
    case 'Dy':
    case 'dy':
      return abbrev(DAYS[wday], key)
    case 'RM':
    case 'rm': {
      const r = key === 'RM' ? ROMAN[f.month - 1] : ROMAN[f.month - 1].toLowerCase()
      return item.fm ? r : r.padEnd(4)
    }
    case 'TZ':
      return f.zone
    case 'tz':
      return f.zone.toLowerCase()
    case 'OF':
    case 'of': {
      const a = Math.abs(f.offset)
      const minutes = Math.floor((a % 3600) / 60)
      return `${f.offset >= 0 ? '+' : '-'}${num(Math.floor(a / 3600), 2, item.fm)}${a % 3600 !== 0 ? ':' + num(minutes, 2, false) : ''}`
    }
    default:
      return '' // FX: a to_timestamp option, nothing to print
  }
}

/** Formats wall-clock time `local` (µs, as if UTC) by parsed template `items`. */
export function formatTemplate(items: readonly Item[], local: number, offset: number, zone: string): string {
  const days = Math.floor(local / US_PER_DAY)
  const [year, month, day] = civilFromDays(days)
  const time = local - days * US_PER_DAY
  const f: Fields = {
    year,
    month,
    day,
    days,
    time,
    hour: Math.floor(time / 3_600_000_000),
    minute: Math.floor(time / 60_000_000) % 60,
    second: Math.floor(time / 1_000_000) % 60,
    fsec: time % 1_000_000,
    wday: (((days + 4) % 7) + 7) % 7,
    offset,
    zone,
  }
  let out = ''
  for (const item of items) {
    if (item.key === undefined) {
      out += item.text
      continue
    }
    const n = number(item.upper, f, item.fm)
    if (n === undefined) out += word(item, f)
    else out += item.th === undefined ? n : n + ordinal(n, item.th === 'TH')
  }
  return out
}

/**
 * A to_char implementation for one compiled expression: it keeps the last template parsed, since
 * the template is nearly always a constant. `zoneOf` gives the offset and abbreviation for an
 * instant (TIMESTAMPTZ), or is undefined for TIMESTAMP (offset 0, no abbreviation).
 */
export function toCharFormatter(
  zoneOf: ((us: number) => { readonly offset: number; readonly zone: string | undefined }) | undefined,
): (ts: number, fmt: string) => string | null {
  let lastFmt: string | undefined
  let lastItems: Item[] = []
  let usesZone = false
  return (ts, fmt) => {
    // An empty template gives NULL in PostgreSQL.
    if (fmt === '') return null
    if (fmt !== lastFmt) {
      lastItems = parseTemplate(fmt)
      lastFmt = fmt
      usesZone = lastItems.some((i) => i.key !== undefined && (i.key === 'TZ' || i.key === 'tz'))
    }
    if (zoneOf === undefined) return formatTemplate(lastItems, ts, 0, '')
    const { offset, zone } = zoneOf(ts)
    if (usesZone && zone === undefined) {
      throw new SluiceError(
        SqlState.feature_not_supported,
        'to_char: TZ of a timestamp with time zone is only supported in the UTC time zone so far',
        { hint: 'Use OF for the numeric offset.' },
      )
    }
    return formatTemplate(lastItems, ts + offset * 1e6, offset, zone ?? '')
  }
}
