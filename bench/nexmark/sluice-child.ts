/**
 * Sluice's side of one timed Nexmark run, in its own process (so its CPU counters are its own):
 * `npx tsx bench/nexmark/sluice-child.ts '<json SluiceRunSpec>'`. Speaks the harness's protocol
 * (measure.ts): prints READY once the engine is open, waits for a line on stdin, creates the
 * sources and `CREATE SINK ... AS <query> WITH (connector = 'blackhole')`, waits with FLUSH until
 * every event is through the dataflow, prints DONE, then waits for stdin to close.
 */
import { createInterface } from 'node:readline'
import { Sluice } from '../../engine/index.ts'
import { SINKS, SOURCES } from '../../server/connectors.ts'
import type { EventSpec } from './events.ts'
import { sourceStatements, type SourceMode } from './sluice-sources.ts'

export interface SluiceRunSpec {
  readonly mode: SourceMode
  readonly spec: EventSpec
  readonly brokers: string
  readonly prefix: string
  readonly sql: string
  /** The query's own tables (NexmarkQuery.tables), created and filled before the timed span. */
  readonly tables?: readonly string[]
  /** Shards per query (EngineOptions.workers). */
  readonly workers: number
}

/**
 * A timed figure is only worth something if every event went through: FLUSH returns early for a
 * source that failed to start, so the read positions are checked against the end as well.
 */
async function assertConsumed(db: Sluice, run: SluiceRunSpec): Promise<void> {
  const [sinks] = await db.sql('SELECT name, last_error FROM sluice_catalog.sinks WHERE last_error IS NOT NULL')
  for (const [name, error] of sinks.rows ?? []) throw new Error(`sink ${String(name)}: ${String(error)}`)
  // A sharded sink's shards read the sources themselves (FLUSH waited for them): no shared reader moved.
  if (db.engine.shardHosts.size > 0) return
  const [sources] = await db.sql('SELECT name, last_error FROM sluice_catalog.sources WHERE last_error IS NOT NULL')
  for (const [name, error] of sources.rows ?? []) throw new Error(`source ${String(name)}: ${String(error)}`)
  const [lag] = await db.sql('SELECT source, topic, "offset", lag FROM sluice_catalog.lag')
  const positions = lag.rows ?? []
  if (positions.length === 0) throw new Error('no source was read')
  for (const [source, topic, offset, behind] of positions) {
    const short = run.mode === 'kafka' ? behind !== 0n : topic === 'next' && Number(offset) < run.spec.events
    if (short)
      throw new Error(`source ${String(source)} stopped short of the end: ${String(topic)} at ${String(offset)}`)
  }
}

async function main(): Promise<void> {
  const run = JSON.parse(process.argv[2] ?? '') as SluiceRunSpec
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
  // No data directory: no checkpoints, as the Flink side runs without them.
  const db = await Sluice.open({
    dataDir: ':memory:',
    flushTimeoutMs: 3_600_000,
    sources: SOURCES,
    sinks: SINKS,
    workers: run.workers,
    // No thread boots in the background while the run is measured.
    warmShards: false,
  })
  for (const stmt of run.tables ?? []) await db.sql(stmt)
  console.log('READY')
  if ((await lines.next()).done === true) return
  const started = performance.now()
  for (const stmt of sourceStatements(run.mode, run.spec, run.brokers, run.prefix)) await db.sql(stmt)
  await db.sql(`CREATE SINK nexmark_out AS ${run.sql} WITH (connector = 'blackhole')`)
  await db.sql('FLUSH')
  await assertConsumed(db, run)
  console.log(`DONE ${Math.round(performance.now() - started)}`)
  while ((await lines.next()).done !== true) {
    // the harness closes stdin once it has read the counters
  }
  await db.close()
  process.exit(0)
}

await main()
