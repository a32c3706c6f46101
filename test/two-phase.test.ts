/**
 * Two-phase window aggregation on shards (engine/plan/rules/two-phase.ts): a GROUP BY of only a
 * window — Nexmark q7's max price per window, counts, sums, min and max over TUMBLE and HOP —
 * runs sharded, a partial aggregate in every shard and a final one keyed by the window, and gives
 * the rows the same view gives on one thread.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { Sluice } from '../engine/index.ts'
import type { Value } from '../engine/types/datatype.ts'
import { datagenSourceFactory } from '../connectors/datagen/index.ts'
import { TempDirs, operatorNames } from './support.ts'

const dirs = new TempDirs('sluice-two-phase-')
afterAll(() => dirs.removeAll())

const EVENTS = 60_000
/**
 * A source for each view (a view sees a source from its creation on), of 1,000 events a second
 * of event time: a minute of bids, many windows.
 */
const source = (name: string): string =>
  `CREATE SOURCE ${name} WITH (connector = 'datagen', generator = 'nexmark', table = 'bid', max_events = '${EVENTS}', paced = 'false', base_time = '2026-01-01T00:00:00Z', rate = '1000')`

const tumble = (bid: string): string => `TUMBLE(${bid}, date_time, INTERVAL '2 seconds')`
const hop = (bid: string): string => `HOP(${bid}, date_time, INTERVAL '1 second', INTERVAL '4 seconds')`

const VIEWS: Record<string, string> = {
  q7: `SELECT max(price) AS maxprice, window_end FROM ${tumble('bid1')} GROUP BY window_end WATERMARK 1s`,
  counts: `SELECT window_end, count(*) AS n, count(channel) AS nc, sum(price) AS total, min(price) AS low, max(url) AS url
    FROM ${tumble('bid2')} GROUP BY window_end WATERMARK 1s`,
  hop: `SELECT window_start, window_end, count(*) AS n, sum(price) AS total, min(bidder) AS first
    FROM ${hop('bid3')} GROUP BY window_start, window_end WATERMARK 1s`,
  closed: `SELECT window_start, count(*) AS n, max(price) AS top FROM ${hop('bid4')} GROUP BY window_start
    WATERMARK 1s EMIT ON WINDOW CLOSE`,
}

/** Windows ending this long before the last bid are closed whatever each shard's watermark. */
const CLOSED_BEFORE = "TIMESTAMP '2026-01-01 00:00:40'"

function open(workers: number, dataDir = dirs.make()): Promise<Sluice> {
  return Sluice.open({ dataDir, workers, sources: [datagenSourceFactory], checkpointIntervalMs: 200 })
}

async function build(db: Sluice): Promise<void> {
  for (const [i, [name, sql]] of Object.entries(VIEWS).entries()) {
    await db.sql(source(`bid${i + 1}`))
    await db.sql(`CREATE MATERIALIZED VIEW ${name} AS ${sql}`)
  }
}

async function results(db: Sluice): Promise<Record<string, string>> {
  await db.sql('FLUSH')
  const out: Record<string, string> = {}
  for (const name of Object.keys(VIEWS)) {
    // EMIT ON WINDOW CLOSE shows the windows the watermark closed: compare the surely closed.
    const where = name === 'closed' ? ` WHERE window_start < ${CLOSED_BEFORE}` : ''
    const [r] = await db.sql(`SELECT * FROM ${name}${where}`)
    out[name] = (r.rows ?? [])
      .map((row: readonly Value[]) => row.map((v) => String(v)).join('|'))
      .sort()
      .join('\n')
  }
  return out
}

describe('two-phase window aggregation', () => {
  it('runs a window-only GROUP BY sharded, gives the rows one thread gives and keeps them across a restart', async () => {
    const one = await open(1)
    await build(one)
    const expected = await results(one)
    await one.close()
    expect(expected.q7.split('\n').length).toBeGreaterThan(20)
    expect(expected.closed.split('\n').length).toBeGreaterThan(20)

    const dataDir = dirs.make()
    let two = await open(2, dataDir)
    await build(two)
    const got = await results(two)
    for (const name of Object.keys(VIEWS)) expect(operatorNames(two, name), name).toContain('Gather')
    // Compared as one string: a mismatch of many rows makes a diff too slow to print.
    for (const name of Object.keys(VIEWS)) expect(got[name], name).toBe(expected[name])
    // Restored from its checkpoint, each phase's state where it was: the same rows again.
    await two.close()
    two = await open(2, dataDir)
    await two.restored
    expect(operatorNames(two, 'q7')).toContain('Gather')
    const restored = await results(two)
    for (const name of Object.keys(VIEWS)) expect(restored[name], name).toBe(expected[name])
    await two.close()
  })
})
