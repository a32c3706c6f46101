/**
 * Pull-query latency and throughput for point lookups on a materialized view of 1 million rows:
 * `SELECT * FROM v WHERE k = $1` over pgwire (a prepared statement, `pg`) and over HTTP
 * (POST /v1/sql with params), one client for latency (p50, p99) and several at once for
 * queries/s. The server runs in this process on a temporary data directory.
 *
 * With `--batch`, batch queries instead: a 5-table join and an EXCEPT over five tables of 100K
 * rows each, timed over pgwire on Sluice and on the local PostgreSQL (127.0.0.1:5432) with the
 * same data, median of 3 runs each, with the ratio.
 *
 *   npx tsx bench/pull-query.ts [rows=1000000] [lookups=2000] [clients=8]
 *   npx tsx bench/pull-query.ts --batch [rows=100000]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { startLocalServer } from '../test/local-server.ts'

const BATCH = process.argv[2] === '--batch'
const args = process.argv.slice(BATCH ? 3 : 2)
const ROWS = Number(args[0] ?? (BATCH ? 100_000 : 1_000_000))
const LOOKUPS = Number(args[1] ?? 2000)
const CLIENTS = Number(args[2] ?? 8)

/** The batch queries, the same text on both engines. */
const BATCH_QUERIES: readonly (readonly [string, string])[] = [
  [
    '5-table join',
    'SELECT count(*), sum(e.v) FROM t1 a, t2 b, t3 c, t4 d, t5 e WHERE a.fk = b.id AND b.fk = c.id AND c.fk = d.id AND d.fk = e.id AND a.v < 10',
  ],
  ['EXCEPT', 'SELECT count(*) FROM (SELECT fk, v FROM t1 EXCEPT SELECT fk, v FROM t2) s'],
]

async function median(run: () => Promise<void>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now()
    await run()
    times.push(performance.now() - t0)
  }
  return times.sort((a, b) => a - b)[1]
}

/** Five tables t1..t5 (id, fk, v) of ROWS rows each, fk pointing at ids of the next table. */
function loadStatements(): string[] {
  const out: string[] = []
  for (let t = 1; t <= 5; t++) {
    out.push(`CREATE TABLE t${t} (id BIGINT, fk BIGINT, v INT)`)
    for (let start = 1; start <= ROWS; start += 20_000) {
      const end = Math.min(ROWS, start + 19_999)
      out.push(
        `INSERT INTO t${t} SELECT g, (g * ${7 + t}) % ${ROWS} + 1, g % 100 FROM generate_series(${start}, ${end}) AS g`,
      )
    }
  }
  return out
}

async function batchBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-batch-'))
  const server = await startLocalServer(join(dir, 'data'), { checkpointIntervalMs: 0 })
  const sluice = new pg.Client({ host: '127.0.0.1', port: server.pgPort, user: 'sluice', database: 'sluice' })
  const postgres = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' })
  const schema = `sluice_bench_${process.pid}`
  try {
    await sluice.connect()
    await postgres.connect()
    await postgres.query(`CREATE SCHEMA ${schema}; SET search_path = ${schema}`)
    const t0 = performance.now()
    for (const sql of loadStatements()) {
      await sluice.query(sql)
      await postgres.query(sql)
    }
    await postgres.query('ANALYZE')
    console.log(`loaded 5 tables of ${ROWS} rows into both in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    for (const [name, sql] of BATCH_QUERIES) {
      const mine = (await sluice.query(sql)).rows
      const theirs = (await postgres.query(sql)).rows
      if (JSON.stringify(mine) !== JSON.stringify(theirs))
        throw new Error(`${name}: Sluice ${JSON.stringify(mine)} but PostgreSQL ${JSON.stringify(theirs)}`)
      const a = await median(async () => void (await sluice.query(sql)))
      const b = await median(async () => void (await postgres.query(sql)))
      console.log(
        `${name}: Sluice ${a.toFixed(0)} ms, PostgreSQL ${b.toFixed(0)} ms, ratio ${(a / b).toFixed(1)}x  (${JSON.stringify(mine[0])})`,
      )
    }
  } finally {
    await postgres.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {})
    await postgres.end()
    await sluice.end()
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

async function measure(name: string, lookup: (client: number, key: number) => Promise<void>): Promise<void> {
  // Latency: one client, one query at a time.
  const times: number[] = []
  for (let i = 0; i < LOOKUPS; i++) {
    const key = (i * 7919) % ROWS
    const t0 = performance.now()
    await lookup(0, key)
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  // Throughput: CLIENTS clients, each LOOKUPS / CLIENTS queries back to back.
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_x, c) => {
      for (let i = 0; i < LOOKUPS / CLIENTS; i++) await lookup(c, (c * 104_729 + i * 7919) % ROWS)
    }),
  )
  const seconds = (performance.now() - t0) / 1000
  console.log(
    `${name}: p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms, ${Math.round(LOOKUPS / seconds)} queries/s with ${CLIENTS} clients`,
  )
}

async function lookupBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-pull-'))
  const server = await startLocalServer(join(dir, 'data'), { checkpointIntervalMs: 0 })
  try {
    const db = server.db
    await db.sql('CREATE TABLE t (k BIGINT PRIMARY KEY, v TEXT, n DOUBLE PRECISION)')
    const t0 = performance.now()
    for (let start = 0; start < ROWS; start += 20_000) {
      const values: string[] = []
      for (let k = start; k < Math.min(ROWS, start + 20_000); k++) values.push(`(${k}, 'value-${k}', ${k * 0.5})`)
      await db.sql(`INSERT INTO t VALUES ${values.join(',')}`)
    }
    await db.sql('CREATE MATERIALIZED VIEW v AS SELECT k, v, n FROM t')
    await db.sql('FLUSH')
    console.log(`loaded ${ROWS} rows into t and view v in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const c = new pg.Client({ host: '127.0.0.1', port: server.pgPort, user: 'sluice', database: 'sluice' })
        await c.connect()
        return c
      }),
    )
    const check = await clients[0].query({ name: 'point', text: 'SELECT * FROM v WHERE k = $1', values: [42] })
    if (check.rows.length !== 1 || check.rows[0].v !== 'value-42')
      throw new Error(`unexpected answer ${JSON.stringify(check.rows)}`)
    await measure('pgwire', async (c, key) => {
      const r = await clients[c].query({ name: 'point', text: 'SELECT * FROM v WHERE k = $1', values: [key] })
      if (r.rows.length !== 1) throw new Error(`no row for ${key}`)
    })
    for (const c of clients) await c.end()

    const url = `http://127.0.0.1:${server.httpPort}/v1/sql`
    await measure('HTTP', async (_c, key) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sql: 'SELECT * FROM v WHERE k = $1', params: [key] }),
      })
      const body = (await res.json()) as { results: { rows: unknown[] }[] }
      if (res.status !== 200 || body.results[0].rows.length !== 1) throw new Error(`HTTP ${res.status} for ${key}`)
    })
  } finally {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (BATCH) await batchBench()
else await lookupBench()
