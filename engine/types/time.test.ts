import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Interval } from './interval.ts'
import {
  addInterval,
  dateTrunc,
  extractField,
  formatDate,
  formatTime,
  formatTimestamp,
  formatTimestamptz,
  parseDate,
  parseTime,
  parseTimestamp,
  parseTimestamptz,
  toTimestamp,
} from './time.ts'
import { capture, openOracle, type Oracle } from './pg-oracle.ts'

const TIMESTAMPS = [
  '2024-01-02 03:04:05',
  '2024-01-02 03:04:05.5',
  '2024-01-02T03:04:05.123456',
  '2024-01-02',
  '1970-01-01 00:00:00',
  '1969-12-31 23:59:59.999999',
  '2000-02-29 12:00',
  '0001-01-01 00:00:00',
  '9999-12-31 23:59:59',
  '2024-03-31 02:30:00',
  '2024-10-27 02:30:00',
  '2024-06-15 12:00:00+05:30',
  '2024-06-15 12:00:00Z',
  '2024-06-15 12:00:00-08',
  '2024-06-15 12:00:00 America/New_York',
  '2023-11-05 01:30:00',
  '2024-01-02 24:00:00',
]
const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Asia/Kolkata',
  'Australia/Lord_Howe',
  '+02:00',
  'UTC-3',
  'Asia/Kathmandu',
]

let pg: Oracle
beforeAll(async () => {
  pg = await openOracle()
})
afterAll(async () => {
  await pg.rows('RESET timezone')
  await pg.close()
})

describe('timestamps match PostgreSQL', () => {
  it('timestamp input and output', async () => {
    const rows = await pg.rows('SELECT x::timestamp::text, x::date::text FROM unnest($1::text[]) x', [TIMESTAMPS])
    expect(TIMESTAMPS.map((s) => [formatTimestamp(parseTimestamp(s)), formatDate(parseDate(s))])).toEqual(rows)
  })

  it('timestamptz input and output under SET timezone', async () => {
    for (const tz of ZONES) {
      await pg.rows(`SET timezone = '${tz}'`)
      const rows = await pg.rows(
        `SELECT x::timestamptz::text, x::timestamp::timestamptz::text, x::timestamptz::timestamp::text, x::timestamptz::date::text,
                (x::timestamptz + interval '1 day')::text, (x::timestamptz + interval '1 mon 2 hours')::text, (x::timestamptz - interval '1 year 1 day')::text
           FROM unnest($1::text[]) x`,
        [TIMESTAMPS],
      )
      const mine = TIMESTAMPS.map((s) => {
        const t = parseTimestamptz(s, tz)
        const local = parseTimestamp(s)
        return [
          formatTimestamptz(t, tz),
          formatTimestamptz(parseTimestamptz(formatTimestamp(local), tz), tz),
          formatTimestamp(t + 0 + (parseTimestamp(formatTimestamptz(t, tz)) - t)),
          formatDate(Math.floor(parseTimestamp(formatTimestamptz(t, tz)) / 86_400_000_000)),
          formatTimestamptz(addInterval(t, Interval.parse('1 day'), tz), tz),
          formatTimestamptz(addInterval(t, Interval.parse('1 mon 2 hours'), tz), tz),
          formatTimestamptz(addInterval(t, Interval.parse('-1 year -1 day'), tz), tz),
        ]
      })
      expect(mine, tz).toEqual(rows)
    }
  })

  it('timestamp + interval uses calendar months', async () => {
    const ivs = ['1 mon', '-1 mon', '1 year', '1 day', '36 hours', '1 mon 1 day', '13 mons']
    const as: string[] = []
    const bs: string[] = []
    for (const a of TIMESTAMPS.slice(0, 9))
      for (const b of ivs) {
        as.push(a)
        bs.push(b)
      }
    const rows = await pg.rows(
      `SELECT (a::timestamp + b::interval)::text FROM unnest($1::text[], $2::text[]) AS t(a, b)`,
      [as, bs],
    )
    expect(as.map((a, i) => formatTimestamp(addInterval(parseTimestamp(a), Interval.parse(bs[i]))))).toEqual(
      rows.map((r) => r[0]),
    )
    expect(formatTimestamp(addInterval(parseTimestamp('2024-01-31'), Interval.parse('1 mon')))).toBe(
      '2024-02-29 00:00:00',
    )
  })

  it('date_trunc for every unit, timestamp and timestamptz', async () => {
    const units = [
      'microseconds',
      'milliseconds',
      'second',
      'minute',
      'hour',
      'day',
      'week',
      'month',
      'quarter',
      'year',
      'decade',
      'century',
      'millennium',
    ]
    const sample = TIMESTAMPS.slice(0, 11)
    const rows = await pg.rows(
      `SELECT ${units.map((u) => `date_trunc('${u}', x::timestamp)::text`).join(', ')} FROM unnest($1::text[]) x`,
      [sample],
    )
    expect(sample.map((s) => units.map((u) => formatTimestamp(dateTrunc(u, parseTimestamp(s)))))).toEqual(rows)
    for (const tz of ['Europe/Berlin', 'Asia/Kolkata']) {
      await pg.rows(`SET timezone = '${tz}'`)
      const rowsTz = await pg.rows(
        `SELECT ${units.map((u) => `date_trunc('${u}', x::timestamptz)::text`).join(', ')} FROM unnest($1::text[]) x`,
        [sample],
      )
      expect(
        sample.map((s) => units.map((u) => formatTimestamptz(dateTrunc(u, parseTimestamptz(s, tz), tz), tz))),
        tz,
      ).toEqual(rowsTz)
    }
  })

  it('extract returns numeric like PostgreSQL 14+', async () => {
    const fields = [
      'epoch',
      'second',
      'milliseconds',
      'microseconds',
      'minute',
      'hour',
      'day',
      'month',
      'year',
      'quarter',
      'dow',
      'isodow',
      'doy',
      'week',
      'isoyear',
      'decade',
      'century',
      'millennium',
    ]
    const sample = TIMESTAMPS.slice(0, 11)
    const rows = await pg.rows(
      `SELECT ${fields.map((f) => `extract(${f} from x::timestamp)::text`).join(', ')} FROM unnest($1::text[]) x`,
      [sample],
    )
    expect(sample.map((s) => fields.map((f) => extractField(f, parseTimestamp(s), 'timestamp').toString()))).toEqual(
      rows,
    )
    const dateFields = ['epoch', 'day', 'month', 'year', 'dow', 'doy', 'week', 'century', 'julian']
    const rowsDate = await pg.rows(
      `SELECT ${dateFields.map((f) => `extract(${f} from x::date)::text`).join(', ')} FROM unnest($1::text[]) x`,
      [sample],
    )
    expect(sample.map((s) => dateFields.map((f) => extractField(f, parseDate(s), 'date').toString()))).toEqual(rowsDate)
    await pg.rows(`SET timezone = 'Asia/Kolkata'`)
    const tzFields = ['epoch', 'hour', 'minute', 'day', 'timezone', 'timezone_hour', 'timezone_minute']
    const rowsTz = await pg.rows(
      `SELECT ${tzFields.map((f) => `extract(${f} from x::timestamptz)::text`).join(', ')} FROM unnest($1::text[]) x`,
      [sample],
    )
    expect(
      sample.map((s) =>
        tzFields.map((f) =>
          extractField(f, parseTimestamptz(s, 'Asia/Kolkata'), 'timestamptz', 'Asia/Kolkata').toString(),
        ),
      ),
    ).toEqual(rowsTz)
  })

  it('time input and output', async () => {
    const times = [
      '03:04:05',
      '03:04',
      '23:59:59.999999',
      '00:00:00',
      '12:00:00.5',
      '24:00:00',
      '2024-01-02 03:04:05',
      '10:11:12+02',
    ]
    const rows = await pg.rows(
      'SELECT x::time::text, extract(second from x::time)::text, extract(epoch from x::time)::text FROM unnest($1::text[]) x',
      [times],
    )
    expect(
      times.map((s) => [
        formatTime(parseTime(s)),
        extractField('second', parseTime(s), 'time').toString(),
        extractField('epoch', parseTime(s), 'time').toString(),
      ]),
    ).toEqual(rows)
  })

  it('to_timestamp', async () => {
    await pg.rows(`SET timezone = 'UTC'`)
    const secs = [0, 1.5, 1700000000.123456, -86400.25]
    const rows = await pg.rows('SELECT to_timestamp(x::float8)::text FROM unnest($1::text[]) x', [secs.map(String)])
    expect(secs.map((s) => formatTimestamptz(toTimestamp(s), 'UTC'))).toEqual(rows.map((r) => r[0]))
  })

  it('rejects bad input with PostgreSQL codes', async () => {
    for (const s of ['2024-13-01', '2024-02-30', 'not a date', '2024-01-01 25:00:00', '2024-01-01 10:61']) {
      const theirs = await pg.one('SELECT $1::timestamp::text', [s])
      const mine = capture(() => formatTimestamp(parseTimestamp(s)))
      expect(theirs.ok, s).toBe(false)
      expect(mine.ok, s).toBe(false)
      if (!mine.ok && !theirs.ok) expect(mine.code, s).toBe(theirs.code)
    }
    expect(capture(() => formatTimestamptz(0, 'Mars/Olympus'))).toMatchObject({ ok: false, code: '22023' })
  })
})
