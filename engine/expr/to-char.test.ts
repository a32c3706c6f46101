// to_char(timestamp | timestamptz, text) against PostgreSQL: the sample rows through the binder
// (types, NULLs, time zones), then a grid of templates over timestamps spread across years (ISO
// week edges, leap days, noon and midnight) compared string for string.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pg from 'pg'
import { OracleCheck } from './oracle-check.ts'
import { parseTemplate, toCharFormatter } from './to-char.ts'
import { daysFromCivil } from '../types/zone.ts'

const TEMPLATES = [
  'YYYY-MM-DD',
  'HH24:MI',
  'HH:MI:SS AM',
  'HH12 PM pm A.M. a.m. P.M. p.m.',
  'YYYY YYY YY Y Y,YYY IYYY IYY IY I',
  'FMYYYY FMYYY FMYY FMMM FMDD FMHH24 FMHH12 FMMI FMSS FMDDD FMIW FMWW FMCC FMIYYY',
  'Month Mon MONTH MON month mon FMMonth FMMONTH fmmonth TMMonth TMMON TMmon',
  'Day Dy DAY DY day dy FMDay FMDAY TMDay TMDY',
  'DDD DD D ID IDDD WW IW W Q J CC',
  'MS US FF1 FF2 FF3 FF4 FF5 FF6 FMMS FMUS',
  'SSSS SSSSS sssss',
  'DDth DDTH FMDDth MMth HH24th Dth Qth Jth IWth YYYYth Y,YYYth CCth MSth FF2TH',
  'RM rm FMRM fmrm',
  'BC AD bc ad B.C. a.d. A.D. b.c.',
  '"quoted YYYY" \\"YYYY\\" "a\\"b" \\x "unterminated YYYY',
  'TZ tz OF of TZH TZM tzh tzm FMOF',
  'FX YYYY FM FMFM fmdd DDSP MonthTH RMth',
  'yYyY mM Mm hh24 mi ss us ms',
  'YYYYMMDDHH24MISS',
  'Dy, DD Mon YYYY HH24:MI:SS',
  'FMDay, FMDDth "of" FMMonth YYYY',
  'é YYYY 日本 😀 MM',
  'ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789 !#$%&()*+,-./:;<=>?@[]^_{|}~',
]

const US_PER_DAY = 86_400_000_000

/** Timestamps over 1999–2030 every 37 h 13 min 7.654321 s, plus the year edges and far years. */
function timestamps(): number[] {
  const out: number[] = []
  const start = daysFromCivil(1999, 1, 1) * US_PER_DAY
  const end = daysFromCivil(2031, 1, 1) * US_PER_DAY
  for (let t = start; t < end; t += 133_987_654_321) out.push(t)
  for (let y = 1999; y <= 2031; y++) {
    for (const [m, d] of [
      [1, 1],
      [1, 3],
      [12, 28],
      [12, 31],
    ])
      out.push(daysFromCivil(y, m, d) * US_PER_DAY, daysFromCivil(y, m, d) * US_PER_DAY + 43_200_000_000)
  }
  for (const [y, m, d] of [
    [1, 1, 1],
    [999, 6, 15],
    [1900, 3, 1],
    [2100, 2, 28],
    [9999, 12, 31],
    [0, 12, 31],
    [-43, 3, 15],
  ])
    out.push(daysFromCivil(y, m, d) * US_PER_DAY + 45_296_789_012)
  return out
}

/** PostgreSQL's text for a timestamp value (µs since 1970, wall clock). */
function pgTimestamp(us: number): string {
  const days = Math.floor(us / US_PER_DAY)
  const d = new Date(days * 86_400_000)
  const year = d.getUTCFullYear()
  const rest = us - days * US_PER_DAY
  const y = year <= 0 ? 1 - year : year
  const date = `${String(y).padStart(4, '0')}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')}`
  const hms = new Date(rest / 1000).toISOString().slice(11, 19)
  const frac = String(rest % 1_000_000).padStart(6, '0')
  return `${date} ${hms}.${frac}${year <= 0 ? ' BC' : ''}`
}

describe('to_char matches PostgreSQL', () => {
  let check: OracleCheck
  let client: pg.Client

  beforeAll(async () => {
    check = await OracleCheck.open('UTC')
    client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' })
    await client.connect()
    await client.query(`SET TimeZone = 'UTC'`)
  })

  afterAll(async () => {
    await check.close()
    await client.end()
  })

  it('over the sample rows: timestamp, timestamptz, date, NULLs and a template column', async () => {
    const exprs = [
      `to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US')`,
      `to_char(ts, 'FMDay FMDDth FMMonth YYYY, HH12:MI AM')`,
      `to_char(tz, 'YYYY-MM-DD HH24:MI:SS TZ OF')`,
      `to_char(dt, 'YYYY-MM-DD TZ')`,
      `to_char(ts, s)`,
      `to_char(ts, '')`,
      `to_char(ts, NULL)`,
      `to_char(NULL::timestamp, 'YYYY')`,
    ]
    for (const e of exprs) expect(await check.diff(e), e).toEqual([])
  })

  it('a grid of templates over timestamps across years', async () => {
    const values = timestamps()
    const format = toCharFormatter(undefined)
    let compared = 0
    for (const template of TEMPLATES) {
      const res = await client.query<{ out: string | null }>(
        'SELECT to_char(t, $2) AS out FROM unnest($1::timestamp[]) WITH ORDINALITY AS u(t, n) ORDER BY n',
        [values.map(pgTimestamp), template],
      )
      const theirs = res.rows.map((r) => r.out)
      const ours = values.map((v) => format(v, template))
      const diffs = ours
        .map((o, i) => (o === theirs[i] ? '' : `${pgTimestamp(values[i])} '${template}': ours ${o} | pg ${theirs[i]}`))
        .filter((d) => d !== '')
      expect(diffs.slice(0, 5), template).toEqual([])
      compared += values.length
    }
    expect(compared).toBeGreaterThan(10_000)
  })

  it('timestamptz in zones with offsets (OF, TZH, TZM and fields in the session zone)', async () => {
    const values = timestamps().slice(0, 200)
    for (const zone of ['Asia/Kolkata', 'America/New_York', 'Australia/Lord_Howe']) {
      await client.query(`SET TimeZone = '${zone}'`)
      const template = 'YYYY-MM-DD HH24:MI:SS.US OF FMOF TZH:TZM Dy IW'
      const res = await client.query<{ out: string }>(
        `SELECT to_char((t || '+00')::timestamptz, $2) AS out FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n`,
        [values.map(pgTimestamp), template],
      )
      const format = toCharFormatter((us) => ({ offset: offsetIn(zone, us), zone: undefined }))
      const ours = values.map((v) => format(v, template))
      expect(ours, zone).toEqual(res.rows.map((r) => r.out))
    }
    await client.query(`SET TimeZone = 'UTC'`)
  })
})

/** The zone's offset at an instant, from PostgreSQL's own zone rules via Intl (both read tzdata). */
function offsetIn(zone: string, us: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(Math.floor(us / 1000)))
  const get = (t: string): number => Number(parts.find((p) => p.type === t)!.value)
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'))
  return Math.round((local - Math.floor(us / 1e6) * 1000) / 1000)
}

describe('to_char templates', () => {
  const at = (text: string): number => {
    const [date, time] = text.split(' ')
    const [y, m, d] = date.split('-').map(Number)
    const [hh, mi, ss] = time.split(':').map(Number)
    return daysFromCivil(y, m, d) * US_PER_DAY + Math.round(((hh * 60 + mi) * 60 + ss) * 1e6)
  }
  const format = toCharFormatter(undefined)

  it('prints the Nexmark suite’s day and minute', () => {
    expect(format(at('2026-12-07 05:25:36'), 'YYYY-MM-DD')).toBe('2026-12-07')
    expect(format(at('2026-12-07 05:25:36'), 'HH24:MI')).toBe('05:25')
  })

  it('pads names to 9 unless FM or TM, and follows the keyword’s case', () => {
    expect(format(at('2024-03-05 00:00:00'), 'Month|MONTH|month|FMMonth|TMMonth|Mon|MON|mon')).toBe(
      'March    |MARCH    |march    |March|March|Mar|MAR|mar',
    )
    expect(format(at('2024-03-05 00:00:00'), 'Day|FMDAY|dy')).toBe('Tuesday  |TUESDAY|tue')
  })

  it('takes the longest keyword, drops a prefix with no keyword, and copies quoted text', () => {
    expect(format(at('2024-03-05 00:08:09'), 'FX YYYY FM FMFM MM fmdd DDD')).toBe(' 2024  FM 03 5 065')
    expect(format(at('2024-03-05 00:00:00'), '"YYYY is" YYYY \\"x\\" "a\\"b" \\x')).toBe('YYYY is 2024 "x" a"b \\x')
  })

  it('ordinal suffixes, with the teens taking th', () => {
    expect(format(at('2024-03-11 00:00:00'), 'DDth')).toBe('11th')
    expect(format(at('2024-03-21 00:00:00'), 'DDTH FMDDth')).toBe('21ST 21st')
    expect(format(at('2024-03-02 00:00:00'), 'FMDDth FMMMth')).toBe('2nd 3rd')
  })

  it('an empty template is NULL; TIMESTAMP has no zone (TZ empty, OF +00)', () => {
    expect(format(at('2024-03-05 00:00:00'), '')).toBeNull()
    expect(format(at('2024-03-05 00:00:00'), '[TZ] OF')).toBe('[] +00')
  })

  it('parses a template into keywords and literal runs', () => {
    expect(parseTemplate('YYYY-MM').map((i) => i.key ?? i.text)).toEqual(['YYYY', '-', 'MM'])
  })
})
