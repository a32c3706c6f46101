/**
 * The in-memory store's figure for sluice_catalog.state.disk_bytes: the bytes of the keys and
 * values in a view's range, and 0 once the view's state is deleted.
 */
import { describe, expect, it } from 'vitest'
import { Sluice } from '../index.ts'
import { MemoryStore } from '../state/memory.ts'
import { stateRange } from './state-disk.ts'

describe('state on disk in the in-memory store', () => {
  it('approximateSize sums the keys and values in the range', async () => {
    const store = new MemoryStore()
    const b = (...xs: number[]): Uint8Array => new Uint8Array(xs)
    await store.write([
      { type: 'put', key: b(1, 1), value: b(9) },
      { type: 'put', key: b(2, 1), value: b(9, 9, 9) },
      { type: 'put', key: b(2, 2, 2), value: b() },
      { type: 'put', key: b(3), value: b(9, 9) },
    ])
    expect(await store.approximateSize(b(2), b(3))).toBe(2 + 3 + 3)
    expect(await store.approximateSize(b(0), b(9))).toBe(3 + 5 + 3 + 3)
    expect(await store.approximateSize(b(3), b(2))).toBe(0)
    await store.compactRange()
    expect(await store.approximateSize(b(0), b(9))).toBe(14)
  })

  it("shows each view's checkpointed state, and nothing of a dropped one", async () => {
    const db = await Sluice.open({ dataDir: ':memory:', checkpointIntervalMs: 3_600_000 })
    await db.sql('CREATE TABLE t (k BIGINT, v BIGINT) APPEND ONLY')
    await db.sql('CREATE MATERIALIZED VIEW g AS SELECT k, sum(v) AS s FROM t GROUP BY k')
    await db.sql(`INSERT INTO t VALUES ${Array.from({ length: 500 }, (_, i) => `(${i % 50}, ${i})`).join(',')}`)
    await db.engine.checkpoints.checkpoint()
    await db.engine.stateDisk.refresh()
    const id = db.engine.get('g')!.id
    const r = stateRange(id)
    let bytes = 0
    for await (const [k, v] of db.engine.store.scan(new Uint8Array(0), { gte: r.gte, lt: r.lt }))
      bytes += k.length + v.length
    expect(bytes).toBeGreaterThan(0)
    const [state] = await db.sql("SELECT entries, disk_bytes FROM sluice_catalog.state WHERE name = 'g'")
    expect(state.rows).toEqual([[50n, BigInt(bytes)]])
    await db.sql('DROP MATERIALIZED VIEW g')
    await db.engine.stateDisk.idle()
    expect(await db.engine.store.approximateSize(r.gte, r.lt)).toBe(0)
    const [after] = await db.sql('SELECT count(*) FROM sluice_catalog.state')
    expect(after.rows).toEqual([[0n]])
    await db.close()
  })

  it('compacts a range with enough deletes once it doubled or an hour passed since its last compaction', async () => {
    let clock = Date.UTC(2026, 0, 1)
    const db = await Sluice.open({ dataDir: ':memory:', checkpointIntervalMs: 3_600_000, now: () => clock })
    const disk = db.engine.stateDisk
    disk.compactAfterDeletes = 5
    await db.sql('CREATE TABLE t (k BIGINT)')
    await db.sql('CREATE MATERIALIZED VIEW g AS SELECT k, count(*) AS n FROM t GROUP BY k')
    const step = async (sql: string): Promise<number> => {
      await db.sql(sql)
      await db.engine.checkpoints.checkpoint()
      await disk.refresh()
      await disk.idle()
      return disk.compactions
    }
    const keys = (from: number, to: number): string =>
      `INSERT INTO t VALUES ${Array.from({ length: to - from }, (_, i) => `(${from + i})`).join(',')}`
    // Inserts delete nothing.
    expect(await step(keys(0, 2000))).toBe(0)
    // The first compaction waits only for the deletes (emptied pages of groups).
    expect(await step('DELETE FROM t WHERE k < 1000')).toBe(1)
    // Shrinking, less than an hour later: not again.
    expect(await step('DELETE FROM t WHERE k < 1800')).toBe(1)
    // Those deletes are pending; the range doubles since: again.
    expect(await step(keys(2000, 6000))).toBe(2)
    expect(await step('DELETE FROM t WHERE k >= 5000')).toBe(2)
    // Shrinking again, but an hour later.
    clock += 3_600_000
    expect(await step('DELETE FROM t WHERE k < 4000')).toBe(3)
    await db.close()
  })
})
