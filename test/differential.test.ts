/**
 * Differential test (ARCHITECTURE.md invariant 1): views maintained incrementally by Sluice
 * equal the same query run in batch by the real PostgreSQL, as multisets, after every batch of
 * seeded random inserts, updates and deletes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pg from 'pg'
import { Sluice } from '../engine/index.ts'
import { formatText } from '../engine/types/text.ts'

const QUERIES = [
  'SELECT k, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi FROM t GROUP BY k',
  'SELECT k, avg(v) AS a, count(v) AS c FROM t WHERE v > 10 GROUP BY k',
  'SELECT g, count(DISTINCT k) AS dk, bool_or(v > 50) AS any_big, bool_and(v >= 0) AS all_pos FROM t GROUP BY g',
  'SELECT count(*) AS n, sum(v) AS s, max(name) AS m FROM t',
  "SELECT k, v * 2 + 1 AS w, upper(name) AS u FROM t WHERE name LIKE 'a%' OR v < 20",
  'SELECT DISTINCT g, k FROM t',
  'SELECT g, sum(v) AS s FROM t GROUP BY g HAVING count(*) > 2',
  "SELECT CASE WHEN v > 50 THEN 'big' ELSE 'small' END AS size, count(*) AS n FROM t GROUP BY 1",
  'SELECT k, min(name) AS first_name, max(v) - min(v) AS spread FROM t GROUP BY k',
]

/** A small seeded PRNG so that every run checks the same cases. */
function rng(seed: number): () => number {
  let s = seed
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) | 0
    return (s >>> 0) / 4294967296
  }
}

describe('incremental views equal PostgreSQL', () => {
  const schema = `sluice_diff_${process.pid}`
  let oracle: pg.Client

  beforeAll(async () => {
    oracle = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' })
    await oracle.connect()
    await oracle.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}; SET search_path = ${schema}`)
  })

  afterAll(async () => {
    await oracle.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await oracle.end()
  })

  for (const seed of [1, 2, 3]) {
    it(`random changes, seed ${seed}`, async () => {
      const random = rng(seed)
      const db = await Sluice.open({ dataDir: ':memory:' })
      const session = db.session()
      const ddl = 'CREATE TABLE t (id BIGINT PRIMARY KEY, k INT, g TEXT, v BIGINT, name TEXT)'
      await session.execute(ddl)
      await oracle.query('DROP TABLE IF EXISTS t')
      await oracle.query(ddl)
      for (const [i, q] of QUERIES.entries()) await session.execute(`CREATE MATERIALIZED VIEW v${i} AS ${q}`)
      const live = new Set<number>()
      let nextId = 1
      let checked = 0
      for (let batch = 0; batch < 12; batch++) {
        const statements: string[] = []
        const n = 1 + Math.floor(random() * 8)
        for (let s = 0; s < n; s++) {
          const r = random()
          const ids = [...live]
          if (r < 0.6 || ids.length === 0) {
            const id = nextId++
            live.add(id)
            const name = random() < 0.2 ? 'NULL' : `'${['ann', 'bob', 'al', 'cy'][Math.floor(random() * 4)]}'`
            const v = random() < 0.1 ? 'NULL' : String(Math.floor(random() * 100))
            statements.push(`INSERT INTO t VALUES (${id}, ${Math.floor(random() * 4)}, '${['x', 'y'][Math.floor(random() * 2)]}', ${v}, ${name})`)
          } else if (r < 0.8) {
            const id = ids[Math.floor(random() * ids.length)]
            statements.push(`UPDATE t SET v = ${Math.floor(random() * 100)}, k = ${Math.floor(random() * 4)} WHERE id = ${id}`)
          } else {
            const id = ids[Math.floor(random() * ids.length)]
            live.delete(id)
            statements.push(`DELETE FROM t WHERE id = ${id}`)
          }
        }
        for (const s of statements) {
          await session.execute(s)
          await oracle.query(s)
        }
        for (const [i, q] of QUERIES.entries()) {
          const [mine] = await session.execute(`SELECT * FROM v${i}`)
          const theirs = await oracle.query({ text: q, rowMode: 'array', types: { getTypeParser: () => (x: string) => x } })
          const a = (mine.rows ?? []).map((row) => row.map((v, c) => (v === null ? 'NULL' : formatText(mine.columns![c].type, v))).join('|')).sort()
          const b = (theirs.rows as (string | null)[][]).map((row) => row.map((v) => v ?? 'NULL').join('|')).sort()
          expect(a, `view v${i} (${q}) after batch ${batch}`).toEqual(b)
          checked++
        }
      }
      expect(checked).toBe(12 * QUERIES.length)
      await db.close()
    })
  }
})
