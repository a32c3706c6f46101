import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DataType, Value } from './datatype.ts'
import { T } from './datatype.ts'
import { compareValues, hashValue, valuesEqual } from './compare.ts'
import { formatText, parseText } from './text.ts'
import { typeFromName } from './oid.ts'
import { Decimal } from './decimal.ts'
import { Interval } from './interval.ts'
import { openOracle, type Oracle } from './pg-oracle.ts'

let pg: Oracle
beforeAll(async () => {
  pg = await openOracle()
})
afterAll(async () => {
  await pg.close()
})

const SETS: [string, string[]][] = [
  ['float8', ['1', 'NaN', '-Infinity', 'Infinity', '0', '-0', '-1.5', '1e300', 'NaN', '2']],
  ['numeric', ['1.0', '1', '-2.50', '0.001', '100', '-0', '99999999999999999999.5']],
  ['int8', ['9223372036854775807', '-9223372036854775808', '0', '42', '-1']],
  ['interval', ['1 day', '24 hours', '1 mon', '29 days', '-1 hour', '1 year']],
  [
    'jsonb',
    [
      'null',
      '"a"',
      '"b"',
      '1',
      '2.5',
      'true',
      'false',
      '[]',
      '[1]',
      '[1, 2]',
      '[0, 0, 0]',
      '{}',
      '{"a": 1}',
      '{"a": 2}',
      '{"b": 1}',
      '{"aa": 1}',
      '{"a": 1, "b": 2}',
      '[[1]]',
      '[{"a": 1}]',
      '["a"]',
    ],
  ],
  ['bytea', ['\\x', '\\x00', '\\x0001', '\\xff', '\\x01']],
  ['int4[]', ['{1,2}', '{1}', '{1,NULL}', '{}', '{2}', '{1,2,3}']],
  ['bool', ['t', 'f']],
  ['date', ['2024-01-01', '1999-12-31', '2024-01-02']],
]

describe('compareValues sorts like PostgreSQL ORDER BY', () => {
  for (const [typeName, samples] of SETS) {
    it(typeName, async () => {
      const type = typeFromName(typeName) as DataType
      const rows = await pg.rows(
        `SELECT x::${typeName} FROM unnest($1::text[]) x ORDER BY x::${typeName}, x COLLATE "C"`,
        [samples],
      )
      const mine = samples
        .map((s) => ({ s, v: parseText(type, s) }))
        .sort((a, b) => compareValues(a.v, b.v, type) || (a.s < b.s ? -1 : a.s > b.s ? 1 : 0))
        .map((x) => formatText(type, x.v))
      expect(mine).toEqual(rows.map((r) => r[0]))
    })
  }
})

describe('valuesEqual and hashValue agree', () => {
  const pairs: [DataType, Value, Value][] = [
    [T.numeric, Decimal.fromString('1.0'), Decimal.fromString('1.00')],
    [
      T.numeric,
      Decimal.fromString('123456789012345678901234567890.10'),
      Decimal.fromString('123456789012345678901234567890.1'),
    ],
    [T.float8, NaN, NaN],
    [T.float8, 0, -0],
    [T.interval, Interval.parse('1 day'), Interval.parse('24 hours')],
    [T.int8, 2n ** 62n, 2n ** 62n],
    [T.jsonb, parseText(T.jsonb, '{"a":1,"b":2}'), parseText(T.jsonb, '{"b":2,"a":1}')],
    [T.bytea, Uint8Array.of(1, 2), Uint8Array.of(1, 2)],
  ]
  it('equal values hash equal', () => {
    for (const [t, a, b] of pairs) {
      expect(valuesEqual(a, b, t), formatText(t, a)).toBe(true)
      expect(hashValue(a, t), formatText(t, a)).toBe(hashValue(b, t))
      expect(Number.isInteger(hashValue(a, t)) && hashValue(a, t) === (hashValue(a, t) | 0)).toBe(true)
    }
  })
  it('different values are not equal', () => {
    expect(valuesEqual(Decimal.fromString('1.01'), Decimal.fromString('1.1'), T.numeric)).toBe(false)
    expect(valuesEqual(NaN, 1, T.float8)).toBe(false)
    expect(valuesEqual(parseText(T.jsonb, '[1,2]'), parseText(T.jsonb, '[2,1]'), T.jsonb)).toBe(false)
    expect(hashValue(1n, T.int8)).not.toBe(hashValue(2n, T.int8))
  })
})
