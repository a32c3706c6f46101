import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Decimal } from './decimal.ts'
import { SluiceError } from '../errors.ts'
import { openOracle, type Oracle } from './pg-oracle.ts'

const SAMPLES = [
  '0',
  '1',
  '-1',
  '2',
  '3',
  '7',
  '0.5',
  '1.50',
  '-2.25',
  '10',
  '100',
  '12345.6789',
  '0.001',
  '0.0001234',
  '99999999999999999999',
  '-0.3333',
  '123456789012345678901234567890.123',
  '5',
  '1e3',
  '1.5e-5',
  '9999',
  '10000',
  '0.9999',
]

let pg: Oracle
beforeAll(async () => {
  pg = await openOracle()
})
afterAll(async () => {
  await pg.close()
})

describe('Decimal arithmetic matches PostgreSQL numeric', () => {
  it('parses and prints like numeric_in / numeric_out', async () => {
    const rows = await pg.rows('SELECT x::numeric::text FROM unnest($1::text[]) x', [SAMPLES])
    expect(SAMPLES.map((s) => Decimal.fromString(s).toString())).toEqual(rows.map((r) => r[0]))
  })

  it('add, sub, mul, div, mod, cmp over all pairs', async () => {
    const as: string[] = []
    const bs: string[] = []
    for (const a of SAMPLES)
      for (const b of SAMPLES) {
        as.push(a)
        bs.push(b)
      }
    const rows = await pg.rows(
      `SELECT (a::numeric + b::numeric)::text, (a::numeric - b::numeric)::text, (a::numeric * b::numeric)::text,
              CASE WHEN b::numeric = 0 THEN NULL ELSE (a::numeric / b::numeric)::text END,
              CASE WHEN b::numeric = 0 THEN NULL ELSE mod(a::numeric, b::numeric)::text END,
              sign(a::numeric - b::numeric)::int::text
         FROM unnest($1::text[], $2::text[]) AS t(a, b)`,
      [as, bs],
    )
    const mine = as.map((a, i) => {
      const x = Decimal.fromString(a)
      const y = Decimal.fromString(bs[i])
      return [
        x.add(y).toString(),
        x.sub(y).toString(),
        x.mul(y).toString(),
        y.isZero() ? null : x.div(y).toString(),
        y.isZero() ? null : x.mod(y).toString(),
        String(x.cmp(y)),
      ]
    })
    expect(mine).toEqual(rows)
  })

  it('round, trunc, numeric → bigint, abs, neg', async () => {
    const rows = await pg.rows(
      `SELECT round(x::numeric, 2)::text, round(x::numeric)::text, round(x::numeric, -1)::text, trunc(x::numeric, 1)::text, trunc(x::numeric, -2)::text,
              CASE WHEN abs(x::numeric) < 1e18 THEN x::numeric::int8::text END, abs(x::numeric)::text, (-x::numeric)::text
         FROM unnest($1::text[]) x`,
      [SAMPLES],
    )
    const mine = SAMPLES.map((s) => {
      const d = Decimal.fromString(s)
      return [d.round(2), d.round(0), d.round(-1), d.trunc(1), d.trunc(-2)]
        .map((x): string | null => x.toString())
        .concat([
          d.abs().cmp(Decimal.fromString('1e18')) < 0 ? d.toBigInt().toString() : null,
          d.abs().toString(),
          d.neg().toString(),
        ])
    })
    expect(mine).toEqual(rows)
  })

  it('float8 → numeric goes through 15 significant digits', async () => {
    const floats = [0.1, 1 / 3, 2 ** 60, 1e20, 1e-7, 123.456, -0.5, 1e15 + 0.3, 5e-324 * 1e10]
    const rows = await pg.rows('SELECT x::float8::numeric::text FROM unnest($1::text[]) x', [floats.map(String)])
    expect(floats.map((f) => Decimal.fromNumber(f).toString())).toEqual(rows.map((r) => r[0]))
  })

  it('avg-style division keeps PostgreSQL scale', () => {
    expect(Decimal.fromBigInt(5n).div(Decimal.fromBigInt(2n)).toString()).toBe('2.5000000000000000')
    expect(Decimal.fromBigInt(3n).div(Decimal.fromBigInt(2n)).toString()).toBe('1.5000000000000000')
  })

  it('errors: bad input 22P02, division by zero 22012', () => {
    expect(() => Decimal.fromString('abc')).toThrow(/invalid input syntax for type numeric: "abc"/)
    try {
      Decimal.fromBigInt(1n).div(Decimal.fromBigInt(0n))
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(SluiceError)
      expect((e as SluiceError).code).toBe('22012')
    }
    expect(() => Decimal.fromBigInt(1n).mod(new Decimal(0n, 2))).toThrow('division by zero')
  })

  it('normalized strips trailing zeros; equals ignores scale', () => {
    expect(Decimal.fromString('1.500').normalized().toString()).toBe('1.5')
    expect(Decimal.fromString('1.0').equals(Decimal.fromString('1.00'))).toBe(true)
    expect(Decimal.fromString('-0.00').sign()).toBe(0)
  })
})
