/**
 * The planning pipeline against the real engine: a lookup keyed by a parameter or by a constant of
 * another integer type finds the row (and nothing when the value has no exact counterpart in the
 * key's type), INSERT ... SELECT and SUBSCRIBE run the plans their EXPLAIN shows, and a view's
 * column list and a sink's key come out as EXPLAIN printed them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sluice } from '../index.ts'

let db: Sluice

beforeAll(async () => {
  db = await Sluice.open({ dataDir: ':memory:' })
  await db.sql('CREATE TABLE pk8 (id BIGINT PRIMARY KEY, s SMALLINT, v TEXT)')
  await db.sql("INSERT INTO pk8 VALUES (1, 1, 'one'), (2, 2, 'two'), (9000000000, 3, 'big')")
  await db.sql('CREATE INDEX pk8_s ON pk8 (s)')
}, 60_000)

afterAll(async () => {
  await db.close()
})

async function values(sql: string, params?: readonly unknown[]): Promise<unknown[]> {
  const results = await db.session().execute(sql, params as never)
  return (results[results.length - 1].rows ?? []).map((r) => r[0])
}

describe('the planning pipeline', () => {
  it('looks up a BIGINT key by an int4 constant, a parameter or a numeric that is whole', async () => {
    const plan = (await values('EXPLAIN SELECT v FROM pk8 WHERE id = 2')).join('\n')
    expect(plan).toContain('Scan pk8 (lookup via pk8_pkey on id)')
    expect(await values('SELECT v FROM pk8 WHERE id = 2')).toEqual(['two'])
    expect(await values('SELECT v FROM pk8 WHERE id = $1', [2n])).toEqual(['two'])
    expect(await values('SELECT v FROM pk8 WHERE id = $1', [9000000000n])).toEqual(['big'])
    expect(await values('SELECT v FROM pk8 WHERE id = 2.0')).toEqual(['two'])
    expect(await values('SELECT v FROM pk8 WHERE id = 2.5')).toEqual([])
    expect(await values('SELECT v FROM pk8 WHERE s = 3')).toEqual(['big'])
    expect(await values('SELECT v FROM pk8 WHERE s = 100000')).toEqual([])
  })

  it('runs INSERT ... SELECT through the same lookups', async () => {
    await db.sql('CREATE TABLE copy8 (id BIGINT PRIMARY KEY, v TEXT)')
    await db.sql('INSERT INTO copy8 SELECT id, v FROM pk8 WHERE id = 9000000000')
    expect(await values('SELECT v FROM copy8')).toEqual(['big'])
  })

  it('gives a view the columns its EXPLAIN shows', async () => {
    const sql = 'CREATE MATERIALIZED VIEW by_s (small, label) AS SELECT s, v FROM pk8 ORDER BY id'
    const plan = await values(`EXPLAIN ${sql}`)
    expect(plan[1]).toBe(' 1 Project #0 AS small, #1 AS label  [retracting]')
    expect(plan).toContain(' 1 Materialize by_s')
    await db.sql(sql)
    await db.sql('FLUSH')
    const [result] = await db.sql('SELECT * FROM by_s ORDER BY small')
    expect(result.columns?.map((c) => c.name)).toEqual(['small', 'label'])
    expect(result.rows).toEqual([
      [1, 'one'],
      [2, 'two'],
      [3, 'big'],
    ])
  })
})
