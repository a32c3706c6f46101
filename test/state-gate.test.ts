/**
 * Backpressure on state memory (engine/runtime/state-gate.ts): with no checkpoint due for an
 * hour, a source of new keys would keep every group in memory (nothing is evicted before a
 * checkpoint holds it).
 * The gate holds polls once the cache is over its high-water mark and takes checkpoints, so the
 * cache stays near its budget, and the view is exact at the end.
 */
import { afterAll, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Sluice } from '../engine/index.ts'
import { datagenSourceFactory } from '../connectors/datagen/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'sluice-gate-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const BUDGET = 32 << 20
const EVENTS = 800_000

// Sharded (2), each shard holds its own polls against its share of the budget, with the same
// 16 MB floor over it, and rows from the other shard's reader arrive meanwhile: a looser bound.
// The main thread sees a shard's cache only as of its last barrier, so there the bound holds at
// the checkpoints the shards asked for, and `shardRequests` shows they asked.
it.each([
  [1, 2 * BUDGET],
  [2, 4 * BUDGET],
])('holds polls while new keys outrun eviction, and loses nothing (%i shards)', async (workers, bound) => {
  const db = await Sluice.open({
    dataDir: join(dir, String(workers)),
    workers,
    sources: [datagenSourceFactory],
    checkpointIntervalMs: 3_600_000,
    stateCacheBytes: BUDGET,
  })
  let peak = 0
  const sample = setInterval(() => (peak = Math.max(peak, db.engine.stateCache.cachedBytes)), 1)
  try {
    await db.sql(
      `CREATE SOURCE seq WITH (connector = 'datagen', generator = 'sequence', max_events = '${EVENTS}', paced = 'false')`,
    )
    // Every event a new group.
    await db.sql(
      'CREATE MATERIALIZED VIEW v AS SELECT n % 100000000 AS k, count(*) AS c FROM seq GROUP BY n % 100000000',
    )
    const deadline = Date.now() + 60_000
    for (;;) {
      const [r] = await db.sql('SELECT count(*) AS g, sum(c) AS c FROM v')
      const [g, c] = (r.rows?.[0] ?? []).map(Number)
      if (g === EVENTS) {
        expect(c).toBe(EVENTS)
        break
      }
      if (Date.now() > deadline) throw new Error(`view has ${g} groups of ${EVENTS}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    // Without the gate all 800k groups (about 256 MB by the cache's estimate) stay in memory. With
    // it: the high-water mark (budget + 16 MB here) plus what the polls under way add (4,096 rows each).
    console.log(`${workers} shard(s): peak ${(peak / 2 ** 20).toFixed(0)} MiB by the cache's estimate`)
    expect(peak).toBeLessThan(bound)
    // Operators see it on /metrics.
    const metrics = await db.engine.metrics.registry.metrics()
    const where = workers === 1 ? 'main' : 'shard'
    expect(metrics).toMatch(new RegExp(`^sluice_state_backpressure_holds\\{where="${where}"\\} [1-9]`, 'm'))
  } finally {
    clearInterval(sample)
    await db.close()
  }
})
