/**
 * Operator state is keyed by the operators' positions in a dataflow, so a view restores under the
 * plan shape its checkpoint was written by. Grouping by a window became one operator
 * (WindowAggregate) where it was two (WindowAssign, HashAggregate): a checkpoint written before
 * (no `plans` in its meta) must restore its views under the old shape, or the state of a
 * windowed join's right side lands on the wrong operator. Simulated here exactly: the view is
 * planned the old way and the meta written without the fields an older build did not know.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Sluice } from '../engine/index.ts'
import type { Value } from '../engine/types/datatype.ts'
import { openLevelStore } from '../engine/state/leveldb.ts'
import { encodeKey } from '../engine/state/codec.ts'
import { T } from '../engine/types/datatype.ts'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const open = (dataDir: string): Promise<Sluice> => Sluice.open({ dataDir, checkpointIntervalMs: 3_600_000 })

/** Per 2-second hop window of 10 s: each auction's bid count, beside the window's top price. */
const VIEW = (name: string): string =>
  `CREATE MATERIALIZED VIEW ${name} AS SELECT a.window_start, a.auction, a.n, b.top FROM ` +
  `(SELECT window_start, auction, count(*) AS n FROM HOP(bid, ts, INTERVAL '2 seconds', INTERVAL '10 seconds') GROUP BY window_start, auction) a ` +
  `JOIN (SELECT window_start, max(price) AS top FROM TUMBLE(bid, ts, INTERVAL '10 seconds') GROUP BY window_start) b ` +
  `ON a.window_start = b.window_start`

function bids(from: number, to: number): string {
  const values: string[] = []
  for (let i = from; i < to; i++)
    // Times repeat every 400 bids: later bids land in windows the checkpoint already holds.
    values.push(
      `(${i % 7}, ${(i * 37) % 101}, TIMESTAMP '2026-01-01 00:00:00' + ${(i % 400) * 300} * INTERVAL '1 millisecond')`,
    )
  return `INSERT INTO bid VALUES ${values.join(',')}`
}

async function rows(db: Sluice, sql: string): Promise<string[]> {
  const [r] = await db.sql(sql)
  return (r.rows ?? []).map((row: readonly Value[]) => row.map((v) => String(v)).join('|')).sort()
}

function operators(db: Sluice, view: string): string[] {
  const obj = db.engine.get(view)
  if (obj?.kind !== 'materialized_view') throw new Error(`${view} is not a view`)
  return obj.dataflow.operators().map((op) => op.name)
}

/** Nexmark q5's shape: the same HOP aggregate on both sides of a join. */
const HOT_ITEMS = (name: string): string =>
  `CREATE MATERIALIZED VIEW ${name} AS SELECT ab.window_start, ab.auction, ab.num FROM ` +
  `(SELECT auction, count(*) AS num, window_start FROM HOP(bid, ts, INTERVAL '2 seconds', INTERVAL '10 seconds') GROUP BY auction, window_start) ab ` +
  `JOIN (SELECT max(num) AS maxn, window_start FROM (SELECT count(*) AS num, window_start FROM HOP(bid, ts, INTERVAL '2 seconds', INTERVAL '10 seconds') GROUP BY auction, window_start) c GROUP BY window_start) mb ` +
  `ON ab.window_start = mb.window_start AND ab.num >= mb.maxn`

/** Rewrites the last checkpoint's meta (this build writes plan version 3) with `edit`. */
async function rewriteMeta(dataDir: string, edit: (meta: Record<string, unknown>) => void): Promise<void> {
  const store = await openLevelStore(join(dataDir, 'state'))
  const key = encodeKey([-3n], [T.int8])
  const meta = JSON.parse(new TextDecoder().decode(await store.get(key))) as Record<string, unknown>
  expect(meta.plans).toBe(3)
  edit(meta)
  await store.write([{ type: 'put', key, value: new TextEncoder().encode(JSON.stringify(meta)) }])
  await store.close()
}

/** As the build before shared subplans (plan version 2) wrote it. */
const asVersion2 = (dataDir: string): Promise<void> =>
  rewriteMeta(dataDir, (meta) => {
    meta.plans = 2
    delete meta.unshared
  })

/** As a build before plan versions wrote it. */
const asOlderBuild = (dataDir: string): Promise<void> =>
  rewriteMeta(dataDir, (meta) => {
    delete meta.plans
    delete meta.unfused
    delete meta.unshared
  })

/** A new data directory with the bid table and its first 400 bids. */
async function withBids(): Promise<{ dataDir: string; db: Sluice }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-plan-versions-'))
  dirs.push(dataDir)
  const db = await open(dataDir)
  await db.sql('CREATE TABLE bid (auction BIGINT, price BIGINT, ts TIMESTAMP)')
  await db.sql(bids(0, 400))
  return { dataDir, db }
}

describe('a checkpoint written by an older plan shape', () => {
  it('restores its windowed join under that shape, keeps it, and plans new views the new way', async () => {
    const fresh = await withBids()
    const dataDir = fresh.dataDir
    let db = fresh.db
    // Planned as an older build did: WindowAssign and HashAggregate.
    const fuse = db.engine.fuseWindows.bind(db.engine)
    db.engine.fuseWindows = () => false
    await db.sql(VIEW('hot'))
    db.engine.fuseWindows = fuse
    expect(operators(db, 'hot')).toContain('WindowAssign')
    const before = await rows(db, 'SELECT * FROM hot')
    expect(before.length).toBeGreaterThan(50)
    await db.engine.checkpoints.checkpoint()
    await db.close()
    await asOlderBuild(dataDir)

    db = await open(dataDir)
    expect(operators(db, 'hot')).toContain('WindowAssign')
    expect(operators(db, 'hot')).not.toContain('WindowAggregate')
    expect(await rows(db, 'SELECT * FROM hot')).toEqual(before)
    // The same state goes on: more bids, compared with a view created now over all of them.
    await db.sql(bids(400, 700))
    await db.sql(VIEW('fresh'))
    expect(operators(db, 'fresh')).toContain('WindowAggregate')
    const expected = await rows(db, 'SELECT * FROM fresh')
    expect(await rows(db, 'SELECT * FROM hot')).toEqual(expected)
    await db.engine.checkpoints.checkpoint()
    await db.close()

    // This build's checkpoint records the old shape: kept at the next restart too.
    db = await open(dataDir)
    expect(operators(db, 'hot')).toContain('WindowAssign')
    expect(operators(db, 'fresh')).toContain('WindowAggregate')
    await db.sql(bids(700, 800))
    expect(await rows(db, 'SELECT * FROM hot')).toEqual(await rows(db, 'SELECT * FROM fresh'))
    await db.close()
  }, 60_000)

  it('restores a view planned before shared subplans under that shape; new views share', async () => {
    const fresh = await withBids()
    const dataDir = fresh.dataDir
    let db = fresh.db
    // Planned as the build before shared subplans did: the HOP aggregate on each side of the join.
    const share = db.engine.shareSubplans.bind(db.engine)
    db.engine.shareSubplans = () => false
    await db.sql(HOT_ITEMS('hot'))
    db.engine.shareSubplans = share
    const count = (ops: string[]): number => ops.filter((n) => n === 'WindowAggregate').length
    expect(count(operators(db, 'hot'))).toBe(2)
    const before = await rows(db, 'SELECT * FROM hot')
    expect(before.length).toBeGreaterThan(20)
    await db.engine.checkpoints.checkpoint()
    await db.close()
    await asVersion2(dataDir)

    db = await open(dataDir)
    expect(count(operators(db, 'hot'))).toBe(2)
    expect(await rows(db, 'SELECT * FROM hot')).toEqual(before)
    // A view created now shares the aggregate: once, read by both sides of the join.
    await db.sql(bids(400, 700))
    await db.sql(HOT_ITEMS('fresh'))
    expect(count(operators(db, 'fresh'))).toBe(1)
    const [explained] = await db.sql(`EXPLAIN ${HOT_ITEMS('x')}`)
    expect((explained.rows ?? []).map((r: readonly Value[]) => String(r[0])).join('\n')).toMatch(
      /WindowAggregate \(shared: line \d+\)/,
    )
    const expected = await rows(db, 'SELECT * FROM fresh')
    expect(await rows(db, 'SELECT * FROM hot')).toEqual(expected)
    await db.engine.checkpoints.checkpoint()
    await db.close()

    // This build's checkpoint records which view is unshared: both keep their shapes.
    db = await open(dataDir)
    expect(count(operators(db, 'hot'))).toBe(2)
    expect(count(operators(db, 'fresh'))).toBe(1)
    await db.sql(bids(700, 800))
    expect(await rows(db, 'SELECT * FROM hot')).toEqual(await rows(db, 'SELECT * FROM fresh'))
    await db.close()
  }, 60_000)

  it('refuses to restore a view whose plan now lowers to other operators, and keeps its state', async () => {
    const fresh = await withBids()
    const dataDir = fresh.dataDir
    let db = fresh.db
    await db.sql(HOT_ITEMS('hot'))
    await db.sql('CREATE MATERIALIZED VIEW other AS SELECT auction, count(*) AS n FROM bid GROUP BY auction')
    const others = await rows(db, 'SELECT * FROM other')
    await db.engine.checkpoints.checkpoint()
    await db.close()
    // Claims a version before shared subplans: 'hot' would be planned with two aggregates, and
    // its state (written by one) would land on the wrong operators.
    await asVersion2(dataDir)

    db = await open(dataDir)
    expect(db.engine.get('hot')).toBeUndefined()
    expect(await rows(db, 'SELECT * FROM other')).toEqual(others)
    const [failed] = await db.sql("SELECT error FROM sluice_catalog.checkpoints WHERE status = 'failed'")
    expect(String(failed.rows?.[0]?.[0])).toMatch(/could not restore .*hot.*plan of other operators/)
    await db.close()
  }, 60_000)
})
