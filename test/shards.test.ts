/**
 * Sharded views (docs/design/shards.md): a view split into shards on worker threads gives the
 * rows the same view gives on the main thread, keeps them across a restart and a crash, and a
 * plan that cannot be split runs on the main thread.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { Sluice } from '../engine/index.ts'
import type { Value } from '../engine/types/datatype.ts'
import { datagenSourceFactory } from '../connectors/datagen/index.ts'
import { TempDirs, operatorNames } from './support.ts'

const dirs = new TempDirs('sluice-shards-')
afterAll(() => dirs.removeAll())

const EVENTS = 60_000

function open(dataDir: string, workers: number): Promise<Sluice> {
  return Sluice.open({ dataDir, workers, sources: [datagenSourceFactory], checkpointIntervalMs: 200 })
}

async function rows(db: Sluice, sql: string): Promise<string[]> {
  const [r] = await db.sql(sql)
  return (r.rows ?? []).map((row: readonly Value[]) => row.map((v) => String(v)).join('|')).sort()
}

/** A view over a source sees it from the view's creation on: each view reads a source of its own. */
const seq = (name: string, events = EVENTS): string =>
  `CREATE SOURCE ${name} WITH (connector = 'datagen', generator = 'sequence', max_events = '${events}', paced = 'false')`
const SOURCES = [
  seq('seq1'),
  seq('seq2'),
  seq('seq3'),
  ...['bid', 'bid5'].map(
    (name) =>
      `CREATE SOURCE ${name} WITH (connector = 'datagen', generator = 'nexmark', table = 'bid', max_events = '${EVENTS}', paced = 'false', base_time = '2026-01-01T00:00:00Z', rate = '10000')`,
  ),
]

/** Views of each shape the shards support, and one (a global count) they do not. */
const VIEWS: Record<string, string> = {
  grouped: 'SELECT n % 97 AS k, count(*) AS c, sum(n) AS s FROM seq1 GROUP BY 1',
  filtered: 'SELECT n, n * 2 AS twice FROM seq2 WHERE n % 13 = 0',
  // A windowed join of a HOP aggregate with a window-only aggregate (two phases when sharded).
  hot: `SELECT a.auction, a.window_start, a.num, m.top FROM (
    SELECT auction, window_start, count(*) AS num FROM HOP(bid, date_time, INTERVAL '2 seconds', INTERVAL '10 seconds')
    GROUP BY auction, window_start) a
  JOIN (SELECT window_start, max(price) AS top FROM TUMBLE(bid, date_time, INTERVAL '10 seconds') GROUP BY window_start) m
  ON a.window_start = m.window_start WATERMARK 1s`,
  // Nexmark q5: the same HOP aggregate on both sides, which one thread computes once: not split.
  q5: `SELECT a.auction, a.window_start, a.num FROM (
    SELECT auction, window_start, count(*) AS num FROM HOP(bid5, date_time, INTERVAL '2 seconds', INTERVAL '10 seconds')
    GROUP BY auction, window_start) a
  JOIN (SELECT window_start, max(num) AS top FROM (
    SELECT auction, window_start, count(*) AS num FROM HOP(bid5, date_time, INTERVAL '2 seconds', INTERVAL '10 seconds')
    GROUP BY auction, window_start) c GROUP BY window_start) m
  ON a.window_start = m.window_start AND a.num >= m.top WATERMARK 1s`,
  total: 'SELECT count(*) AS c FROM seq3',
}

async function build(db: Sluice): Promise<void> {
  for (const s of SOURCES) await db.sql(s)
  for (const [name, sql] of Object.entries(VIEWS)) await db.sql(`CREATE MATERIALIZED VIEW ${name} AS ${sql}`)
}

async function results(db: Sluice): Promise<Record<string, string[]>> {
  await db.sql('FLUSH')
  const out: Record<string, string[]> = {}
  for (const name of Object.keys(VIEWS)) out[name] = await rows(db, `SELECT * FROM ${name}`)
  return out
}

describe('sharded views', () => {
  let expected: Record<string, string[]>

  it('give the rows one thread gives', async () => {
    const one = await open(dirs.make(), 1)
    await build(one)
    expected = await results(one)
    await one.close()
    expect(expected.grouped).toHaveLength(97)
    expect(expected.total).toEqual([String(EVENTS)])
    expect(expected.hot.length).toBeGreaterThan(3)
    expect(expected.q5.length).toBeGreaterThan(3)

    const two = await open(dirs.make(), 2)
    await build(two)
    expect(operatorNames(two, 'grouped')).toContain('Gather')
    expect(operatorNames(two, 'hot')).toContain('Gather')
    expect(operatorNames(two, 'q5')).not.toContain('Gather')
    const [explained] = await two.sql(`EXPLAIN CREATE MATERIALIZED VIEW q5b AS ${VIEWS.q5}`)
    const plan = (explained.rows ?? []).map((r: readonly Value[]) => String(r[0])).join('\n')
    expect(plan).toMatch(/Shards: 1 \(not split: it computes one subplan twice/)
    expect(plan).toMatch(/WindowAggregate \(shared: line \d+\)/)
    // A global count has no key to split by: it stays on the main thread.
    expect(operatorNames(two, 'total')).not.toContain('Gather')
    // Compared as one string: a mismatch of thousands of rows makes a diff too slow to print.
    const got = await results(two)
    for (const name of Object.keys(VIEWS)) expect(got[name].join('\n'), name).toBe(expected[name].join('\n'))
    await two.close()
  })

  it('keep their rows and shard count across a clean restart and a crash', async () => {
    const dataDir = dirs.make()
    let db = await open(dataDir, 2)
    await build(db)
    expect(await results(db)).toEqual(expected)
    await db.close()
    // Restarted with one worker: the views keep the two shards their state is split by.
    db = await open(dataDir, 1)
    await db.restored
    expect(operatorNames(db, 'grouped')).toContain('Gather')
    expect(await results(db)).toEqual(expected)
    // A crash: no last checkpoint; the shards read again from the last one's positions.
    await db.close({ lastCheckpoint: false })
    db = await open(dataDir, 2)
    await db.restored
    expect(await results(db)).toEqual(expected)
    await db.close()
  })

  it('restart mid-stream from a checkpoint and end exactly where one thread does', async () => {
    const dataDir = dirs.make()
    let db = await open(dataDir, 2)
    await db.sql(seq('seq1', EVENTS * 20))
    await db.sql(`CREATE MATERIALIZED VIEW grouped AS ${VIEWS.grouped}`)
    // Crash mid-stream, after a checkpoint that holds the shards' state: the view's rows on the
    // main thread and its shards' groups must come back from the same point. (A checkpoint taken
    // while the shards were stopping wrote the rows without the shards' state: a stale row per
    // group after the restart.)
    const n = EVENTS * 20
    const counted = async (): Promise<number> => Number((await rows(db, 'SELECT coalesce(sum(c), 0) FROM grouped'))[0])
    while ((await counted()) < n / 5) await new Promise((r) => setTimeout(r, 5))
    const epoch = db.engine.checkpoints.history.at(-1)?.epoch ?? 0
    while ((db.engine.checkpoints.history.at(-1)?.epoch ?? 0) <= epoch) await new Promise((r) => setTimeout(r, 5))
    // The window of a shutdown: the shards stopped, a checkpoint on its timer still runs.
    await db.engine.shardHosts.stopAll()
    await db.engine.checkpoints.checkpoint()
    await db.close({ lastCheckpoint: false })
    db = await open(dataDir, 2)
    await db.restored
    await db.sql('FLUSH')
    const counts = await rows(db, 'SELECT sum(c), sum(s) FROM grouped')
    expect(await rows(db, 'SELECT count(*) FROM grouped')).toEqual(['97'])
    expect(counts).toEqual([`${n}|${(BigInt(n) * BigInt(n - 1)) / 2n}`])
    await db.close()
  })
  it('keep groups beyond their cache in the store and read them back through the main thread, across a crash', async () => {
    // A cache of one byte: after every checkpoint each shard sends its groups to the store, and
    // every row of a group read back is a round trip to the main thread (engine/shard/state-link.ts).
    const dataDir = dirs.make()
    const openSmall = (): Promise<Sluice> =>
      Sluice.open({
        dataDir,
        workers: 2,
        sources: [datagenSourceFactory],
        checkpointIntervalMs: 100,
        stateCacheBytes: 1,
      })
    const n = 40_000
    let db = await openSmall()
    await db.sql(
      `CREATE SOURCE s WITH (connector = 'datagen', generator = 'sequence', max_events = '${n}', rate = '20000')`,
    )
    await db.sql('CREATE MATERIALIZED VIEW g AS SELECT n % 5000 AS k, count(*) AS c, sum(n) AS s FROM s GROUP BY 1')
    const counted = async (): Promise<number> => Number((await rows(db, 'SELECT coalesce(sum(c), 0) FROM g'))[0])
    const until = async (done: () => Promise<boolean>): Promise<void> => {
      const deadline = Date.now() + 60_000
      while (!(await done())) {
        if (Date.now() > deadline) throw new Error(`timed out at ${await counted()} of ${n} rows`)
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    // A crash mid-stream, after a checkpoint that evicted groups.
    await until(async () => (await counted()) >= n / 2)
    const epoch = db.engine.checkpoints.history.at(-1)?.epoch ?? 0
    await until(async () => (db.engine.checkpoints.history.at(-1)?.epoch ?? 0) > epoch)
    await db.close({ lastCheckpoint: false })
    db = await openSmall()
    await db.restored
    await until(async () => (await counted()) >= n)
    await db.sql('FLUSH')
    expect(await rows(db, 'SELECT count(*), sum(c), sum(s) FROM g')).toEqual([`5000|${n}|${(n * (n - 1)) / 2}`])
    const [state] = await rows(db, "SELECT evictions > 0, misses > 0 FROM sluice_catalog.state WHERE name = 'g'")
    expect(state).toBe('true|true')
    await db.close()
  })
})
