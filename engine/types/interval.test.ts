import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Interval, parseDuration } from './interval.ts'
import { extractField } from './time.ts'
import { capture, openOracle, type Oracle } from './pg-oracle.ts'

const SAMPLES = [
  '5 seconds',
  '1 minute',
  '2 hours 30 minutes',
  '1 day 02:03:04',
  '00:00:05',
  '-1 day',
  '1 year 2 mons',
  '-1 year 2 mons 3 hours',
  '1.5 hours',
  '1.5 days',
  '1.5 months',
  '1.01 years',
  '2 weeks',
  '3 mons -2 days',
  '-1 day +02:03:04',
  '1 day -02:03:04',
  '10:00',
  '100 milliseconds',
  '1.000001 seconds',
  '45 minutes ago',
  '1 02:03:04',
  '0',
  '5',
  '@ 1 hour',
  'PT1M',
  'P1Y2M3DT4H5M6S',
  'P1W',
  'PT0.5S',
  '-00:00:01.5',
  '25 hours',
  '1 decade',
  '1 century',
  '36 mons',
  '1h',
  '2d',
  '1 min 30 sec',
  '7 days 1 microsecond',
]

let pg: Oracle
beforeAll(async () => {
  pg = await openOracle()
})
afterAll(async () => {
  await pg.close()
})

describe('Interval matches PostgreSQL', () => {
  it('parses and prints like interval_in / interval_out', async () => {
    const rows = await pg.rows('SELECT x::interval::text FROM unnest($1::text[]) x', [SAMPLES])
    expect(SAMPLES.map((s) => Interval.parse(s).toString())).toEqual(rows.map((r) => r[0]))
  })

  it('rejects what PostgreSQL rejects', async () => {
    for (const s of ['', 'abc', '5 parsecs', '1 day 2 fortnights', 'P1X']) {
      const theirs = await pg.one('SELECT $1::interval::text', [s])
      const mine = capture(() => Interval.parse(s).toString())
      expect(mine.ok, s).toBe(false)
      expect(theirs.ok, s).toBe(false)
      if (!mine.ok && !theirs.ok) expect(mine.code, s).toBe(theirs.code)
    }
  })

  it('add, sub, neg, mul, div, comparison', async () => {
    const as: string[] = []
    const bs: string[] = []
    for (const a of SAMPLES.slice(0, 16))
      for (const b of SAMPLES.slice(8, 24)) {
        as.push(a)
        bs.push(b)
      }
    const rows = await pg.rows(
      `SELECT (a::interval + b::interval)::text, (a::interval - b::interval)::text, (-a::interval)::text,
              (a::interval * 1.5)::text, (a::interval * 0.3)::text, (a::interval / 7)::text, (a::interval * -2)::text,
              CASE WHEN a::interval < b::interval THEN '-1' WHEN a::interval > b::interval THEN '1' ELSE '0' END
         FROM unnest($1::text[], $2::text[]) AS t(a, b)`,
      [as, bs],
    )
    const mine = as.map((a, i) => {
      const x = Interval.parse(a)
      const y = Interval.parse(bs[i])
      return [x.add(y), x.sub(y), x.neg(), x.mul(1.5), x.mul(0.3), x.div(7), x.mul(-2)]
        .map(String)
        .concat([String(x.cmp(y))])
    })
    expect(mine).toEqual(rows)
  })

  it('extract from interval', async () => {
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
      'decade',
      'century',
    ]
    const rows = await pg.rows(
      `SELECT ${fields.map((f) => `extract(${f} from x::interval)::text`).join(', ')} FROM unnest($1::text[]) x`,
      [SAMPLES],
    )
    expect(SAMPLES.map((s) => fields.map((f) => extractField(f, Interval.parse(s), 'interval').toString()))).toEqual(
      rows,
    )
  })

  it('equality follows 30-day months and 24-hour days', () => {
    expect(Interval.parse('1 day').equals(Interval.parse('24 hours'))).toBe(true)
    expect(Interval.parse('1 mon').equals(Interval.parse('30 days'))).toBe(true)
    expect(Interval.parse('1 mon').totalMicros()).toBe(30 * 86_400_000_000)
  })
})

describe('parseDuration', () => {
  it('reads the short form and INTERVAL text', () => {
    expect(parseDuration('500ms')).toBe(500_000)
    expect(parseDuration('30s')).toBe(30_000_000)
    expect(parseDuration('1m')).toBe(60_000_000)
    expect(parseDuration('2h')).toBe(7_200_000_000)
    expect(parseDuration('1d')).toBe(86_400_000_000)
    expect(parseDuration('5 seconds')).toBe(5_000_000)
    expect(parseDuration('1 minute 30 seconds')).toBe(90_000_000)
    expect(parseDuration('PT1M')).toBe(60_000_000)
  })

  it('refuses junk and negative durations', () => {
    expect(capture(() => String(parseDuration('soon')))).toMatchObject({ ok: false, code: '22007' })
    expect(capture(() => String(parseDuration('-5 seconds')))).toMatchObject({ ok: false, code: '22023' })
  })
})
