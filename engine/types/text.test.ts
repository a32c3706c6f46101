import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DataType } from './datatype.ts'
import { T, arrayOf } from './datatype.ts'
import { formatText, parseText } from './text.ts'
import { castValue } from './cast.ts'
import { typeFromName } from './oid.ts'
import { capture, openOracle, type Oracle } from './pg-oracle.ts'

let pg: Oracle
beforeAll(async () => {
  pg = await openOracle()
})
afterAll(async () => {
  await pg.close()
})

const FLOATS = [
  0,
  -0,
  0.1,
  0.2 + 0.1,
  1 / 3,
  1e20,
  1e15,
  1e14,
  123456789012345,
  1234567890123456,
  1e-4,
  1e-5,
  0.000123,
  1.5e300,
  5e-324,
  2 ** 53,
  -2.5,
  100,
  1e21,
  1.7976931348623157e308,
  Math.PI,
  -1e-10,
  12345.678,
  NaN,
  Infinity,
  -Infinity,
]

/** Round trips `samples` through PostgreSQL's input and output for `typeName` and compares with ours. */
async function roundTrip(typeName: string, samples: readonly string[]): Promise<void> {
  const type = typeFromName(typeName) as DataType
  for (const s of samples) {
    const theirs = await pg.one(`SELECT $1::${typeName}::text`, [s])
    const mine = capture(() => castValue(parseText(type, s), type, T.text) as string)
    if (theirs.ok) expect(mine, `${typeName} '${s}'`).toEqual(theirs)
    else {
      expect(mine.ok, `${typeName} '${s}' should fail with ${theirs.code}`).toBe(false)
      if (!mine.ok) {
        expect(mine.code, `${typeName} '${s}'`).toBe(theirs.code)
        expect(mine.message, `${typeName} '${s}'`).toBe(theirs.message)
      }
    }
  }
}

describe('formatText / parseText match PostgreSQL', () => {
  it('float8 output is the shortest round trip, in PostgreSQL notation', async () => {
    const rows = await pg.rows('SELECT x::float8::text FROM unnest($1::text[]) x', [
      FLOATS.map((f) => (Object.is(f, -0) ? '-0' : String(f))),
    ])
    expect(FLOATS.map((f) => formatText(T.float8, f))).toEqual(rows.map((r) => r[0]))
  })

  it('float4 output at float4 precision', async () => {
    const f4 = [0.1, 1 / 3, 1234567, 123456, 100000, 1e6, 3.4e38, 1e-5, 0.0001, 16777217, 2.5, -7.125e-3, 1e-45].map(
      Math.fround,
    )
    const rows = await pg.rows('SELECT x::float4::text FROM unnest($1::text[]) x', [f4.map(String)])
    expect(f4.map((f) => formatText(T.float4, f))).toEqual(rows.map((r) => r[0]))
  })

  it('bool, integers, floats: accepted spellings and errors', async () => {
    await roundTrip('bool', [
      't',
      'f',
      'true',
      'FALSE',
      ' yes ',
      'no',
      'on',
      'off',
      '1',
      '0',
      'tr',
      'of',
      'o',
      'maybe',
      '',
    ])
    await roundTrip('int4', ['0', '-2147483648', '2147483647', '2147483648', ' 42 ', '+7', '1.5', 'abc', ''])
    await roundTrip('int2', ['32767', '-32769', 'x'])
    await roundTrip('int8', ['9223372036854775807', '-9223372036854775809', '12e3'])
    await roundTrip('float8', ['NaN', 'Infinity', '-inf', ' 1.5 ', '1e400', '1e-400', 'abc', '.5', '5.'])
    await roundTrip('float4', ['1e39', '3.4e38', '0.1'])
    await roundTrip('numeric', ['1.50', ' -0.0 ', '1e5', '.5', 'x1'])
  })

  it('bytea, jsonb, text arrays', async () => {
    await roundTrip('bytea', ['\\x0102ff', '\\xZZ', '\\x123', 'a\\9b', 'abc', 'a\\\\b', '\\001\\377', '\\x'])
    await roundTrip('jsonb', [
      '{"b": [1, 2], "a": 1}',
      '{"aa":1,"b":2,"a":{"z":null,"y":true}}',
      '[1, "x", null, false, 1.5]',
      '"str\\nwith\\"escapes\\u0001"',
      '1e25',
      '1e-7',
      '{}',
      '[]',
      '{bad',
      '12',
      '"é"',
    ])
    await roundTrip('int4[]', ['{1,2,NULL}', '{}', '{ 1 , 2 }', '{1,x}', '1,2', '[1:2]={5,6}'])
    await roundTrip('text[]', ['{"a b","",NULL,"NULL","x\\"y",é,a\\,b}', '{abc}', '{"{}"}'])
    await roundTrip('float8[]', ['{1.5,NaN,-Infinity}'])
    await roundTrip('bool[]', ['{t,false}'])
    await roundTrip('int4[][]', ['{{1,2},{3,4}}', '{{1},{NULL}}'])
  })

  it('dates, times, intervals', async () => {
    await roundTrip('date', ['2024-02-29', '2023-02-29', '0001-01-01'])
    await roundTrip('interval', ['1 day', '1:2:3', '-2 mons +3 days'])
    await roundTrip('timestamp', ['2024-01-02 03:04:05.678901', '2024-01-02 03:04:05.1234567'])
  })

  it('formats arrays of non-text types with quoting', () => {
    expect(formatText(arrayOf(T.bytea), [Uint8Array.of(1, 2)])).toBe('{"\\\\x0102"}')
    expect(formatText(arrayOf(T.timestamp), [0])).toBe('{"1970-01-01 00:00:00"}')
  })
})
