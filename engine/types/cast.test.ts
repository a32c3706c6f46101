import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DataType } from './datatype.ts'
import { T, arrayOf, SQL_KINDS } from './datatype.ts'
import { canCast, castValue } from './cast.ts'
import { parseText } from './text.ts'
import { formatTypeName, typeFromName } from './oid.ts'
import { capture, openOracle, type Oracle } from './pg-oracle.ts'

let pg: Oracle
beforeAll(async () => {
  pg = await openOracle()
})
afterAll(async () => {
  await pg.rows('RESET timezone')
  await pg.close()
})

/** [source type, target type, sample values as source-type text] */
const CASES: [string, string, string[]][] = [
  ['float8', 'int4', ['2.5', '3.5', '-2.5', '-0.5', '1e10', 'NaN', '2147483647.4', '-2147483648.6']],
  ['float8', 'int2', ['32767.5', '-32768.4', '1.49']],
  ['float8', 'int8', ['9.3e18', '1e19', '-4.5', 'Infinity']],
  ['float4', 'int4', ['2.5', '1e10']],
  ['numeric', 'int4', ['2.5', '-2.5', '3.49', '2147483647.5', '0.5']],
  ['numeric', 'int8', ['9223372036854775807.4', '9223372036854775807.5', '-1.5']],
  ['numeric', 'int2', ['32767.49', '-32768.5']],
  ['int8', 'int4', ['2147483648', '-2147483648', '5']],
  ['int4', 'int2', ['32768', '-5']],
  ['int8', 'int2', ['40000']],
  ['int4', 'bool', ['0', '1', '-7']],
  ['bool', 'int4', ['t', 'f']],
  ['bool', 'text', ['t', 'f']],
  ['int4', 'numeric', ['-5', '2147483647']],
  ['int8', 'float8', ['9007199254740993', '-1']],
  ['int8', 'float4', ['16777217']],
  ['numeric', 'float8', ['0.1', '1.00000000000000000001', '123456789.123456789']],
  ['numeric', 'float4', ['0.1', '3.5e38']],
  ['float8', 'numeric', ['0.1', '1e20', '1e-7', '123.456789012345678']],
  ['float4', 'numeric', ['0.1', '1.2345678', '16777217']],
  ['float8', 'float4', ['1e300', '1e-300', '0.1']],
  ['float4', 'float8', ['0.1']],
  ['int4', 'float4', ['16777217']],
  ['date', 'timestamp', ['2024-02-29']],
  ['date', 'timestamptz', ['2024-03-31', '2024-10-27']],
  ['timestamp', 'timestamptz', ['2024-03-31 02:30:00', '2024-10-27 02:30:00', '2024-06-01 12:00:00']],
  ['timestamptz', 'timestamp', ['2024-06-01 12:00:00+00', '2024-12-31 23:30:00+00']],
  ['timestamptz', 'date', ['2024-12-31 23:30:00+00']],
  ['timestamp', 'date', ['2024-12-31 23:30:00']],
  ['timestamp', 'time', ['2024-12-31 23:30:00.25']],
  ['timestamptz', 'time', ['2024-12-31 23:30:00.25+00']],
  ['time', 'interval', ['12:34:56.5']],
  ['interval', 'time', ['1 day 02:03:04', '-1 hour', '27 hours']],
  ['jsonb', 'int4', ['2.5', '"x"', 'null', '3000000000']],
  ['jsonb', 'numeric', ['1.5', '[1]']],
  ['jsonb', 'float8', ['1.5', 'true']],
  ['jsonb', 'bool', ['true', '1']],
  ['jsonb', 'text', ['{"b": 1, "a": [1, "x"]}', '"s"']],
  ['text', 'jsonb', ['{"b":1,"a":2}', 'nope']],
  ['int4[]', 'int8[]', ['{1,NULL,3}']],
  ['float8[]', 'int4[]', ['{1.5,2.5}']],
  ['int4[]', 'text', ['{1,2}']],
  ['text', 'int4[]', ['{1,2}']],
  ['timestamptz', 'text', ['2024-06-01 12:00:00+00']],
  ['interval', 'text', ['1 year 2 days']],
]

function oracleExpr(from: string, to: string): string {
  return `SELECT $1::${from}::${to}::text`
}

describe('castValue matches PostgreSQL casts', () => {
  for (const tz of ['UTC', 'Europe/Berlin']) {
    it(`casts with timezone ${tz}`, async () => {
      await pg.rows(`SET timezone = '${tz}'`)
      for (const [fromName, toName, samples] of CASES) {
        const from = typeFromName(fromName) as DataType
        const to = typeFromName(toName) as DataType
        for (const s of samples) {
          const label = `'${s}'::${fromName}::${toName} (${tz})`
          const theirs = await pg.one(oracleExpr(fromName, toName), [s])
          const mine = capture(
            () =>
              castValue(
                castValue(castValue(parseText(from, s, tz), from, to, tz), to, T.text, tz),
                T.text,
                T.text,
              ) as string,
          )
          if (theirs.ok) expect(mine, label).toEqual(theirs)
          else {
            expect(mine.ok, `${label} should fail: ${theirs.message}`).toBe(false)
            if (!mine.ok) {
              expect(mine.code, label).toBe(theirs.code)
              expect(mine.message, label).toBe(theirs.message)
            }
          }
        }
      }
    })
  }

  it('NaN and infinities have no numeric form in Sluice (PostgreSQL 14+ has them)', () => {
    expect(capture(() => String(castValue(NaN, T.float8, T.numeric)))).toMatchObject({ ok: false, code: '0A000' })
  })

  it('null stays null', () => {
    expect(castValue(null, T.int4, T.text)).toBeNull()
  })
})

describe('canCast follows pg_cast contexts', () => {
  it('agrees with pg_cast for every pair of engine types', async () => {
    const names = [...SQL_KINDS]
    // pg_cast lists the explicit casts; I/O conversion casts (to text: assignment, from text: explicit) are implicit rules.
    const rows = await pg.rows(
      `SELECT s.typname, t.typname, c.castcontext FROM pg_cast c JOIN pg_type s ON s.oid = c.castsource JOIN pg_type t ON t.oid = c.casttarget
        WHERE s.typname = ANY($1) AND t.typname = ANY($1) AND s.typname <> t.typname`,
      [names],
    )
    const table = new Map(rows.map((r) => [`${r[0]}>${r[1]}`, r[2]]))
    for (const f of names) {
      for (const t of names) {
        if (f === t) continue
        const from = typeFromName(f) as DataType
        const to = typeFromName(t) as DataType
        let ctx = table.get(`${f}>${t}`)
        if (ctx === undefined && t === 'text') ctx = 'a'
        if (ctx === undefined && f === 'text') ctx = 'e'
        const expected = ctx === undefined ? [false, false, false] : [ctx === 'i', ctx !== 'e', true]
        const label = `${formatTypeName(from)} → ${formatTypeName(to)}`
        expect(
          [canCast(from, to, 'implicit'), canCast(from, to, 'assignment'), canCast(from, to, 'explicit')],
          label,
        ).toEqual(expected)
      }
    }
  })

  it('unknown literals cast to anything; arrays by element', () => {
    expect(canCast(T.unknown, T.timestamptz, 'implicit')).toBe(true)
    expect(canCast(T.unknown, arrayOf(T.int4), 'implicit')).toBe(true)
    expect(canCast(arrayOf(T.int4), arrayOf(T.int8), 'implicit')).toBe(true)
    expect(canCast(arrayOf(T.int8), arrayOf(T.int4), 'implicit')).toBe(false)
    expect(canCast(arrayOf(T.int4), T.int4, 'explicit')).toBe(false)
  })
})
