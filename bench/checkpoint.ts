/**
 * Checkpoint overhead and recovery time (issue: exactly once through crashes).
 *
 * 1. Overhead: a Nexmark bid generator as fast as it goes into two aggregating views (per bidder,
 *    per auction), on a LevelDB data directory, for a fixed wall time; rows/s with checkpoints
 *    every second against checkpoints off, alternating runs so drift hits both alike.
 * 2. Recovery: a server process holding a table of `keys` rows and a view with as many groups
 *    is killed with SIGKILL after a checkpoint; the time from the kill to the restarted server
 *    answering a point query on the restored view (restored: the view serves its current rows),
 *    and to a pull query over the whole view (which also measures reading every group back).
 *
 * Run: `npx tsx bench/checkpoint.ts [seconds per run] [keys]` (defaults 8 and 1000000), or
 * `npx tsx bench/checkpoint.ts recovery [keys] [runs]` for the recovery part only (default 3 runs).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Sluice } from '../engine/index.ts'
import { datagenSourceFactory } from '../connectors/datagen/index.ts'
import { SluiceProcess } from '../test/sluice-process.ts'

const RECOVERY_ONLY = process.argv[2] === 'recovery'
const SECONDS = RECOVERY_ONLY ? 0 : Number(process.argv[2] ?? 8)
const KEYS = Number(process.argv[3] ?? 1_000_000)
const RECOVERY_RUNS = RECOVERY_ONLY ? Number(process.argv[4] ?? 3) : 1

/** Views per workload: every group changing every second, or a windowed dashboard view. */
const WORKLOADS: Record<string, readonly string[]> = {
  'high churn': [
    'CREATE MATERIALIZED VIEW per_bidder AS SELECT bidder, count(*) AS n, max(price) AS top FROM bid GROUP BY bidder',
    'CREATE MATERIALIZED VIEW per_auction AS SELECT auction, count(*) AS n, sum(price) AS total FROM bid GROUP BY auction',
  ],
  windowed: [
    "CREATE MATERIALIZED VIEW per_bidder AS SELECT window_start, bidder, count(*) AS n, max(price) AS top FROM TUMBLE(bid, date_time, INTERVAL '10 seconds') GROUP BY window_start, bidder WATERMARK 1s EMIT ON WINDOW CLOSE",
    "CREATE MATERIALIZED VIEW per_auction AS SELECT window_start, auction, count(*) AS n FROM TUMBLE(bid, date_time, INTERVAL '10 seconds') GROUP BY window_start, auction WATERMARK 1s",
  ],
}

async function throughput(
  workload: string,
  checkpointIntervalMs: number,
): Promise<{ rowsPerSec: number; checkpoints: number; p50ms: number; maxms: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-bench-ckpt-'))
  const db = await Sluice.open({ dataDir, sources: [datagenSourceFactory], checkpointIntervalMs })
  try {
    await db.sql(
      "CREATE SOURCE bid WITH (connector = 'datagen', generator = 'nexmark', table = 'bid', rate = '100000000')",
    )
    for (const sql of WORKLOADS[workload]) await db.sql(sql)
    const count = async (): Promise<number> =>
      (await db.engine.metrics.sourceRows.get()).values.reduce((a, v) => a + v.value, 0)
    await new Promise((r) => setTimeout(r, 1000)) // warm up
    const before = await count()
    const t0 = performance.now()
    await new Promise((r) => setTimeout(r, SECONDS * 1000))
    const after = await count()
    const elapsed = (performance.now() - t0) / 1000
    const history = db.engine.checkpoints.history
      .filter((c) => c.status === 'completed')
      .map((c) => c.durationMs)
      .sort((a, b) => a - b)
    return {
      rowsPerSec: (after - before) / elapsed,
      checkpoints: history.length,
      p50ms: history[Math.floor(history.length / 2)] ?? 0,
      maxms: history[history.length - 1] ?? 0,
    }
  } finally {
    await db.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function recovery(): Promise<{
  loadSec: number
  pointSec: number
  recoverSec: number
  answerSec: number
  code: string
  rows: number
}> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-bench-recovery-'))
  const sluice = await SluiceProcess.create(dataDir, ['--checkpoint-interval', '1000'])
  try {
    await sluice.start()
    const c = await sluice.client()
    await c.query('CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT)')
    await c.query('CREATE MATERIALIZED VIEW per_id AS SELECT id, count(*) AS n, sum(v) AS s FROM t GROUP BY id')
    const t0 = performance.now()
    const batch = 10_000
    for (let start = 0; start < KEYS; start += batch) {
      const values: string[] = []
      for (let i = start; i < Math.min(KEYS, start + batch); i++) values.push(`(${i}, ${i % 977})`)
      await c.query(`INSERT INTO t VALUES ${values.join(',')}`)
    }
    const loadSec = (performance.now() - t0) / 1000
    // Wait for a checkpoint that holds everything (the epoch moves after the last insert).
    const epochNow = async (): Promise<number> =>
      Number((await c.query('SELECT max(epoch) AS e FROM sluice_catalog.checkpoints')).rows[0].e ?? 0)
    const e0 = await epochNow()
    while ((await epochNow()) < e0 + 2) await new Promise((r) => setTimeout(r, 200))
    await c.end()
    const killedAt = performance.now()
    await sluice.kill()
    // pgwire answers before the view is restored (a read of it waits for its restore).
    const answerSec = (await sluice.start()) / 1000
    const point = await sluice.query(`SELECT n FROM per_id WHERE id = ${KEYS >> 1}`)
    if (point.rows.length !== 1) throw new Error('the restored view lost a group')
    const pointSec = (performance.now() - killedAt) / 1000
    const r = await sluice.query('SELECT count(*) AS n FROM per_id')
    const recoverSec = (performance.now() - killedAt) / 1000
    // Which build bin/sluice.js ran: dist/ (compiled) or the sources through tsx.
    const code = /"code":"(\w+)"/.exec(sluice.output)?.[1] ?? '?'
    return { loadSec, pointSec, recoverSec, answerSec, code, rows: Number(r.rows[0].n) }
  } finally {
    await sluice.kill()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]
for (const workload of RECOVERY_ONLY ? [] : Object.keys(WORKLOADS)) {
  const runs: { mode: string; rowsPerSec: number }[] = []
  for (let round = 0; round < 3; round++) {
    for (const interval of round % 2 === 0 ? [0, 1000] : [1000, 0]) {
      const r = await throughput(workload, interval)
      const mode = interval === 0 ? 'no checkpoints' : '1 s checkpoints'
      runs.push({ mode, rowsPerSec: r.rowsPerSec })
      console.log(
        `${workload.padEnd(10)} ${mode.padEnd(16)} ${Math.round(r.rowsPerSec).toLocaleString('en-US').padStart(12)} rows/s  checkpoints=${r.checkpoints} p50=${r.p50ms.toFixed(1)} ms max=${r.maxms.toFixed(1)} ms`,
      )
    }
  }
  const off = median(runs.filter((r) => r.mode === 'no checkpoints').map((r) => r.rowsPerSec))
  const on = median(runs.filter((r) => r.mode === '1 s checkpoints').map((r) => r.rowsPerSec))
  console.log(
    `${workload}: median off ${Math.round(off).toLocaleString('en-US')} rows/s, on ${Math.round(on).toLocaleString('en-US')} rows/s, overhead ${(((off - on) / off) * 100).toFixed(1)}%`,
  )
}

for (let run = 0; run < RECOVERY_RUNS; run++) {
  const rec = await recovery()
  console.log(
    `recovery: ${rec.rows.toLocaleString('en-US')} keys (table rows + view groups), loaded in ${rec.loadSec.toFixed(1)} s; ` +
      `process start to pgwire answering: ${rec.answerSec.toFixed(2)} s; kill -9 to the view answering: ${rec.pointSec.toFixed(2)} s; ` +
      `to a count(*) over the whole view: ${rec.recoverSec.toFixed(2)} s (code: ${rec.code})`,
  )
}
console.log(`rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`)
