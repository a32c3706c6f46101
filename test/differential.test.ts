/**
 * Differential test (ARCHITECTURE.md invariant 1): views maintained incrementally by Sluice
 * equal the same query run in batch by the real PostgreSQL, as multisets, after every batch of
 * seeded random inserts, updates and deletes. Then pull queries (the batch planner and executor)
 * against PostgreSQL: random comma joins of 2–6 tables with equality and inequality conditions,
 * EXCEPT / INTERSECT / UNION with and without ALL, and subqueries.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { Sluice } from '../engine/index.ts'
import { formatText } from '../engine/types/text.ts'
import { rng } from './support.ts'

/** A query, or [the Sluice query, the same query written for PostgreSQL] where they differ (windows). */
const QUERIES: readonly (string | readonly [string, string])[] = [
  'SELECT k, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi FROM t GROUP BY k',
  'SELECT k, avg(v) AS a, count(v) AS c FROM t WHERE v > 10 GROUP BY k',
  'SELECT g, count(DISTINCT k) AS dk, bool_or(v > 50) AS any_big, bool_and(v >= 0) AS all_pos FROM t GROUP BY g',
  'SELECT count(*) AS n, sum(v) AS s, max(name) AS m FROM t',
  "SELECT k, v * 2 + 1 AS w, upper(name) AS u FROM t WHERE name LIKE 'a%' OR v < 20",
  'SELECT DISTINCT g, k FROM t',
  'SELECT g, sum(v) AS s FROM t GROUP BY g HAVING count(*) > 2',
  "SELECT CASE WHEN v > 50 THEN 'big' ELSE 'small' END AS size, count(*) AS n FROM t GROUP BY 1",
  'SELECT k, min(name) AS first_name, max(v) - min(v) AS spread FROM t GROUP BY k',
  'SELECT t.id, t.v, u.label FROM t JOIN u ON t.k = u.k',
  'SELECT t.id, u.label FROM t LEFT JOIN u ON t.k = u.k',
  'SELECT u.label, count(*) AS n, sum(t.v) AS s FROM t JOIN u ON t.k = u.k GROUP BY u.label',
  'SELECT t.id, u.label FROM t RIGHT JOIN u ON t.k = u.k AND t.v > 50',
  'SELECT t.id, u.label, u.k FROM t FULL JOIN u ON t.k = u.k',
  'SELECT a.id, b.id AS other FROM t a JOIN t b ON a.k = b.k AND a.id < b.id',
  'SELECT k FROM t UNION ALL SELECT k FROM u',
  'SELECT k FROM t EXCEPT SELECT k FROM u',
  'SELECT k FROM t EXCEPT ALL SELECT k FROM u',
  'SELECT k FROM t INTERSECT SELECT k FROM u',
  'SELECT k, g FROM t INTERSECT ALL SELECT k, g FROM t WHERE v > 30',
  'SELECT a.id, b.label, c.g FROM t a, u b, t c WHERE a.k = b.k AND c.id = a.id + 1 AND c.v > a.v',
  "SELECT t.id, u.label FROM t, u WHERE t.k = u.k AND u.label <> 'z'",
  'SELECT u.label, count(t.id) AS n FROM u LEFT JOIN t ON u.k = t.k + 0 GROUP BY u.label',
  'SELECT id, k, v FROM (SELECT id, k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC, id) AS rn FROM t) s WHERE rn <= 2',
  'SELECT k, id FROM (SELECT k, id, ROW_NUMBER() OVER (PARTITION BY k ORDER BY id) AS rn FROM t) s WHERE rn = 1',
  'SELECT id, rn FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY v NULLS LAST, id) AS rn FROM t) s WHERE rn < 4',
  'WITH top AS (SELECT g, id, v, ROW_NUMBER() OVER (PARTITION BY g ORDER BY v, id) AS rn FROM t) SELECT g, count(*) AS n, sum(v) AS s FROM top WHERE rn <= 3 GROUP BY g',
  [
    "SELECT window_start, k, count(*) AS n, sum(v) AS s FROM TUMBLE(t, ts, INTERVAL '10 minutes') GROUP BY window_start, k",
    "SELECT date_bin('10 minutes', ts, timestamp '2024-01-01') AS window_start, k, count(*) AS n, sum(v) AS s FROM t GROUP BY 1, 2",
  ],
  [
    "SELECT k, count(*) AS n, max(v) AS top FROM t GROUP BY TUMBLE(ts, '10m'), k",
    "SELECT k, count(*) AS n, max(v) AS top FROM t GROUP BY date_bin('10 minutes', ts, timestamp '2024-01-01'), k",
  ],
  [
    "SELECT window_start, window_end, count(*) AS n FROM HOP(t, ts, INTERVAL '5 minutes', INTERVAL '15 minutes') GROUP BY window_start, window_end",
    "SELECT w AS window_start, w + interval '15 minutes' AS window_end, count(*) AS n FROM t, generate_series(date_bin('5 minutes', ts, timestamp '2024-01-01') - interval '10 minutes', date_bin('5 minutes', ts, timestamp '2024-01-01'), interval '5 minutes') AS w GROUP BY 1, 2",
  ],
  // FILTER (the binder's CASE rewrite) and to_char, with rows moving in and out of the filters.
  "SELECT k, count(*) FILTER (WHERE v > 50) AS big, sum(v) FILTER (WHERE name LIKE 'a%') AS s, min(v) FILTER (WHERE g = 'x') AS lo, max(name) FILTER (WHERE v IS NULL) AS hn, count(v) FILTER (WHERE v < 20) AS c FROM t GROUP BY k",
  'SELECT g, count(DISTINCT k) FILTER (WHERE v < 50) AS dk, avg(v) FILTER (WHERE k <> 2) AS a, bool_and(v > 10) FILTER (WHERE name IS NOT NULL) AS b, count(*) AS n FROM t GROUP BY g',
  'SELECT count(*) FILTER (WHERE v > 30) AS n, sum(v) FILTER (WHERE k = 1) AS s, count(DISTINCT name) FILTER (WHERE k < 2) AS dn FROM t',
  'SELECT g, count(*) AS n FROM t GROUP BY g HAVING count(*) FILTER (WHERE v > 50) > 1',
  [
    "SELECT window_start, count(*) FILTER (WHERE v > 50) AS big, max(v) FILTER (WHERE g = 'y') AS hy FROM TUMBLE(t, ts, INTERVAL '10 minutes') GROUP BY window_start",
    "SELECT date_bin('10 minutes', ts, timestamp '2024-01-01') AS window_start, count(*) FILTER (WHERE v > 50) AS big, max(v) FILTER (WHERE g = 'y') AS hy FROM t GROUP BY 1",
  ],
  "SELECT to_char(ts, 'HH24:MI') AS hm, count(*) AS n, max(to_char(ts, 'FMHH12:MI:SS AM Dy')) AS m FROM t GROUP BY to_char(ts, 'HH24:MI')",
]

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

  // Chunk sizes 1, 2, 7 and 1000: the same changes cut into different chunks must agree. The
  // last run keeps state in a store with a 1-byte state cache and checkpoints after every batch,
  // so every group not used in the batch is evicted and read back from disk when next needed.
  for (const [seed, chunkRows, onDisk] of [
    [1, 1, false],
    [2, 2, false],
    [3, 7, false],
    [4, 1000, false],
    [5, 7, true],
  ] as const) {
    it(`random changes, seed ${seed}, chunks of ${chunkRows}${onDisk ? ', state on disk' : ''}`, async () => {
      const random = rng(seed)
      const dataDir = onDisk ? mkdtempSync(join(tmpdir(), 'sluice-differential-')) : ':memory:'
      const db = await Sluice.open(
        onDisk
          ? { dataDir, maxBatchRows: chunkRows, checkpointIntervalMs: 3_600_000, stateCacheBytes: 1 }
          : { dataDir, maxBatchRows: chunkRows },
      )
      onTestFinished(() => (onDisk ? rmSync(dataDir, { recursive: true, force: true }) : undefined))
      const session = db.session()
      const ddl = 'CREATE TABLE t (id BIGINT PRIMARY KEY, k INT, g TEXT, v BIGINT, name TEXT, ts TIMESTAMP)'
      const ddlU = 'CREATE TABLE u (uid BIGINT PRIMARY KEY, k BIGINT, label TEXT)'
      await session.execute(ddl)
      await session.execute(ddlU)
      await oracle.query('DROP TABLE IF EXISTS t; DROP TABLE IF EXISTS u')
      await oracle.query(ddl)
      await oracle.query(ddlU)
      const liveU = new Set<number>()
      for (const [i, q] of QUERIES.entries())
        await session.execute(`CREATE MATERIALIZED VIEW v${i} AS ${typeof q === 'string' ? q : q[0]}`)
      const live = new Set<number>()
      let nextId = 1
      let checked = 0
      for (let batch = 0; batch < 12; batch++) {
        const statements: string[] = []
        const n = 1 + Math.floor(random() * 8)
        for (let s = 0; s < n; s++) {
          const r = random()
          const ids = [...live]
          if (random() < 0.3) {
            const uids = [...liveU]
            if (uids.length === 0 || random() < 0.6) {
              const uid = nextId++
              liveU.add(uid)
              statements.push(
                `INSERT INTO u VALUES (${uid}, ${random() < 0.1 ? 'NULL' : Math.floor(random() * 5)}, '${['p', 'q', 'z'][Math.floor(random() * 3)]}')`,
              )
            } else if (random() < 0.5) {
              statements.push(
                `UPDATE u SET k = ${Math.floor(random() * 5)} WHERE uid = ${uids[Math.floor(random() * uids.length)]}`,
              )
            } else {
              const uid = uids[Math.floor(random() * uids.length)]
              liveU.delete(uid)
              statements.push(`DELETE FROM u WHERE uid = ${uid}`)
            }
          } else if (r < 0.6 || ids.length === 0) {
            const rows: string[] = []
            for (let n = 1 + Math.floor(random() * 5); n > 0; n--) {
              const id = nextId++
              live.add(id)
              const name = random() < 0.2 ? 'NULL' : `'${['ann', 'bob', 'al', 'cy'][Math.floor(random() * 4)]}'`
              const v = random() < 0.1 ? 'NULL' : String(Math.floor(random() * 100))
              const ts = `'2024-01-01 10:${String(Math.floor(random() * 60)).padStart(2, '0')}:00'`
              rows.push(
                `(${id}, ${Math.floor(random() * 4)}, '${['x', 'y'][Math.floor(random() * 2)]}', ${v}, ${name}, ${ts})`,
              )
            }
            statements.push(`INSERT INTO t VALUES ${rows.join(', ')}`)
          } else if (r < 0.7) {
            const id = ids[Math.floor(random() * ids.length)]
            const ts = `'2024-01-01 10:${String(Math.floor(random() * 60)).padStart(2, '0')}:30'`
            statements.push(
              `UPDATE t SET v = ${Math.floor(random() * 100)}, k = ${Math.floor(random() * 4)}, ts = ${ts} WHERE id = ${id}`,
            )
          } else if (r < 0.8) {
            statements.push(`UPDATE t SET v = v + 1 WHERE k = ${Math.floor(random() * 4)}`)
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
        if (onDisk) await db.engine.checkpoints.checkpoint()
        for (const [i, q] of QUERIES.entries()) {
          const [mine] = await session.execute(`SELECT * FROM v${i}`)
          const theirs = await oracle.query({
            text: typeof q === 'string' ? q : q[1],
            rowMode: 'array',
            types: { getTypeParser: () => (x: string) => x },
          })
          const a = (mine.rows ?? [])
            .map((row) => row.map((v, c) => (v === null ? 'NULL' : formatText(mine.columns![c].type, v))).join('|'))
            .sort()
          const b = (theirs.rows as (string | null)[][]).map((row) => row.map((v) => v ?? 'NULL').join('|')).sort()
          expect(a, `view v${i} (${q}) after batch ${batch}`).toEqual(b)
          checked++
        }
      }
      expect(checked).toBe(12 * QUERIES.length)
      if (onDisk) {
        // The GROUP BY views' groups really went to disk and came back.
        const states = [...db.engine.stateCache.byOwner().values()]
        expect(states.reduce((n, st) => n + st.evictions, 0)).toBeGreaterThan(0)
        expect(states.reduce((n, st) => n + st.misses, 0)).toBeGreaterThan(0)
      }
      await db.close()
    })
  }
})

/** Random pull queries over six small tables with NULLs and many duplicate values. */
function batchQueries(random: () => number): string[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]
  const int = (n: number): number => Math.floor(random() * n)
  const out: string[] = []
  for (let q = 0; q < 60; q++) {
    const n = 2 + int(5)
    const tables = [1, 2, 3, 4, 5, 6].sort(() => random() - 0.5).slice(0, n)
    const alias = tables.map((t, i) => `x${i}`)
    const from = tables.map((t, i) => `r${t} ${alias[i]}`).join(', ')
    const conds: string[] = []
    // Connect every table to an earlier one (a random spanning tree), except that small joins
    // sometimes keep a cross product.
    for (let i = 1; i < n; i++) {
      if (n <= 3 && random() < 0.2) continue
      conds.push(`${alias[int(i)]}.${pick(['a', 'b'])} = ${alias[i]}.${pick(['a', 'b'])}`)
    }
    for (let e = int(3); e > 0; e--) {
      const x = pick(alias)
      const y = pick(alias)
      conds.push(
        pick([
          `${x}.a < ${y}.b`,
          `${x}.b <> ${int(10)}`,
          `${x}.a + ${y}.a > ${int(12)}`,
          `${x}.c = '${pick(['p', 'q', 'r'])}'`,
          `${x}.a BETWEEN ${int(4)} AND ${4 + int(6)}`,
          `(${x}.b IS NULL OR ${y}.a = ${x}.b)`,
        ]),
      )
    }
    const where = conds.length === 0 ? '' : ` WHERE ${conds.join(' AND ')}`
    const select =
      n >= 4 || random() < 0.4
        ? `count(*), sum(${pick(alias)}.a), min(${pick(alias)}.c), max(${pick(alias)}.b)`
        : alias.map((a) => `${a}.a, ${a}.b`).join(', ')
    out.push(`SELECT ${select} FROM ${from}${where}`)
  }
  for (let q = 0; q < 30; q++) {
    const side = (): string => {
      const t = 1 + int(6)
      const cols = random() < 0.5 ? pick(['a', 'b', 'c']) : pick(['a, b', 'b, a', 'a, a'])
      const filter = random() < 0.5 ? ` WHERE a ${pick(['<', '>', '<>'])} ${int(10)}` : ''
      return `SELECT ${cols.includes('c') ? cols : cols} FROM r${t}${filter}`
    }
    const op = pick(['EXCEPT', 'EXCEPT ALL', 'INTERSECT', 'INTERSECT ALL', 'UNION', 'UNION ALL'])
    let left = side()
    let right = side()
    // Both sides need the same column count and types.
    while (
      left.split(' FROM ')[0].split(',').length !== right.split(' FROM ')[0].split(',').length ||
      left.includes('SELECT c') !== right.includes('SELECT c')
    )
      right = side()
    if (random() < 0.3)
      left = `(${left} ${pick(['UNION ALL', 'EXCEPT', 'INTERSECT'])} ${left.replace(/r\d/, `r${1 + int(6)}`)})`
    out.push(`${left} ${op} ${right}`)
  }
  out.push(
    'SELECT a, b FROM r1 WHERE a IN (SELECT b FROM r2 WHERE r2.c = r1.c)',
    'SELECT a, c FROM r3 WHERE EXISTS (SELECT 1 FROM r4 WHERE r4.a = r3.b) AND NOT EXISTS (SELECT 1 FROM r5 WHERE r5.b = r3.a)',
    'SELECT a, (SELECT count(*) FROM r2 WHERE r2.a = r1.a) AS n FROM r1',
    'SELECT s.a, count(*) FROM (SELECT a, b FROM r1 UNION ALL SELECT b, a FROM r2) s, r3 WHERE s.a = r3.b GROUP BY s.a',
    'SELECT x.a, y.n FROM r4 x, (SELECT b, count(*) AS n FROM r5 GROUP BY b) y WHERE x.a = y.b',
    'SELECT a FROM r6 WHERE b > (SELECT avg(a) FROM r1) EXCEPT SELECT b FROM r2',
    'SELECT count(*) FROM r1, r2, r3 WHERE r1.a = r2.a AND r2.b = r3.b AND r1.c <> r3.c',
    "SELECT r1.a, r2.b FROM r1 LEFT JOIN r2 ON r1.a = r2.b AND r2.c = 'p', r3 WHERE r3.a = r1.b",
    "SELECT c, count(*) FILTER (WHERE a > 4), sum(b) FILTER (WHERE a < b), count(DISTINCT a) FILTER (WHERE b IS NOT NULL), max(a) FILTER (WHERE c <> 'q') FROM r1 GROUP BY c",
    'SELECT count(*) FILTER (WHERE r1.a = r2.b), min(r2.a) FILTER (WHERE r1.c IS NULL) FROM r1, r2 WHERE r1.b = r2.a',
  )
  return out
}

describe('pull queries equal PostgreSQL', () => {
  const schema = `sluice_diff_batch_${process.pid}`
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

  it('random joins, set operations and subqueries', { timeout: 300_000 }, async () => {
    const random = rng(42)
    const db = await Sluice.open({ dataDir: ':memory:' })
    const session = db.session()
    for (let t = 1; t <= 6; t++) {
      const ddl = `CREATE TABLE r${t} (a INT, b INT, c TEXT)`
      await session.execute(ddl)
      await oracle.query(ddl)
      const rows: string[] = []
      for (let i = 0, n = 10 + Math.floor(random() * 25); i < n; i++) {
        const v = (): string => (random() < 0.1 ? 'NULL' : String(Math.floor(random() * 10)))
        rows.push(`(${v()}, ${v()}, ${random() < 0.1 ? 'NULL' : `'${['p', 'q', 'r'][Math.floor(random() * 3)]}'`})`)
      }
      const insert = `INSERT INTO r${t} VALUES ${rows.join(', ')}`
      await session.execute(insert)
      await oracle.query(insert)
    }
    const queries = batchQueries(random)
    let nonEmpty = 0
    for (const q of queries) {
      const [mine] = await session.execute(q)
      const theirs = await oracle.query({ text: q, rowMode: 'array', types: { getTypeParser: () => (x: string) => x } })
      const a = (mine.rows ?? [])
        .map((row) => row.map((v, c) => (v === null ? 'NULL' : formatText(mine.columns![c].type, v))).join('|'))
        .sort()
      const b = (theirs.rows as (string | null)[][]).map((row) => row.map((v) => v ?? 'NULL').join('|')).sort()
      expect(a, q).toEqual(b)
      if (b.length > 0) nonEmpty++
      if (process.env.DIFF_DEBUG !== undefined) console.log(b.length, q)
    }
    expect(queries.length).toBeGreaterThan(90)
    // The generator must produce real work, not a run of empty results.
    expect(nonEmpty).toBeGreaterThan(queries.length / 2)
    await db.close()
  })
})
