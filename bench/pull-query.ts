/**
 * Pull-query latency and throughput for point lookups on a materialized view of 1 million rows:
 * `SELECT * FROM v WHERE k = $1` over pgwire (a prepared statement, `pg`) and over HTTP
 * (POST /v1/sql with params), one client for latency (p50, p99) and several at once for
 * queries/s. The server runs in this process on a temporary data directory.
 *
 *   npx tsx bench/pull-query.ts [rows=1000000] [lookups=2000] [clients=8]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { startServer } from '../server/main.ts'

const ROWS = Number(process.argv[2] ?? 1_000_000)
const LOOKUPS = Number(process.argv[3] ?? 2000)
const CLIENTS = Number(process.argv[4] ?? 8)

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
  console.log(`${name}: p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms, ${Math.round(LOOKUPS / seconds)} queries/s with ${CLIENTS} clients`)
}

const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-pull-'))
const server = await startServer({ dataDir: join(dir, 'data'), host: '127.0.0.1', pgPort: 0, httpPort: 0, demo: false, auth: { mode: 'trust' }, logLevel: 'warn', checkpointIntervalMs: 0 })
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
  if (check.rows.length !== 1 || check.rows[0].v !== 'value-42') throw new Error(`unexpected answer ${JSON.stringify(check.rows)}`)
  await measure('pgwire', async (c, key) => {
    const r = await clients[c].query({ name: 'point', text: 'SELECT * FROM v WHERE k = $1', values: [key] })
    if (r.rows.length !== 1) throw new Error(`no row for ${key}`)
  })
  for (const c of clients) await c.end()

  const url = `http://127.0.0.1:${server.httpPort}/v1/sql`
  await measure('HTTP', async (_c, key) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: 'SELECT * FROM v WHERE k = $1', params: [key] }) })
    const body = (await res.json()) as { results: { rows: unknown[] }[] }
    if (res.status !== 200 || body.results[0].rows.length !== 1) throw new Error(`HTTP ${res.status} for ${key}`)
  })
} finally {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
}
