/**
 * Sluice as a library: the one entry module the server (and any Node application) uses.
 *
 *   const db = await Sluice.open({ dataDir: './sluice-data', sources: [datagenSourceFactory] })
 *   await db.sql('CREATE TABLE t (k BIGINT, v BIGINT) APPEND ONLY')
 *   const session = db.session()
 *   const [result] = await session.execute('SELECT * FROM t')
 *
 * Nothing in the engine assumes a socket.
 */
import type { Registry } from 'prom-client'
import type { Session, SessionOptions, StatementResult } from './session-api.ts'
import type { EngineOptions } from './engine.ts'
import { Engine, timeColumns } from './engine.ts'
import { EngineSession } from './exec/session.ts'
import { waitForSource } from './exec/ddl.ts'
import type { ChangeSubscription, SubscribeOptions } from './session-api.ts'
import { subscribeToRelation } from './exec/subscribe.ts'
import type { IngestTarget } from './exec/ingest.ts'
import { ingestTarget } from './exec/ingest.ts'
import type { DataflowInfo } from './runtime/dataflow-info.ts'
import { dataflowInfos } from './runtime/dataflow-info.ts'

export type { Session, SessionOptions, StatementResult, PreparedDescription, ResultColumn } from './session-api.ts'
export type { Change, ChangeBatch, ChangeSubscription, SubscribeOptions } from './session-api.ts'
export type { IngestTarget } from './exec/ingest.ts'
export type { DataflowInfo, OperatorInfo } from './runtime/dataflow-info.ts'
export type { EngineOptions, LogFn } from './engine.ts'
export type {
  SourceFactory,
  SinkFactory,
  SourceReader,
  SinkWriter,
  ColumnSchema,
  ConnectorContext,
} from './connector.ts'
export { SluiceError, SqlState } from './errors.ts'
export { parseMemorySetting, setServerQueryMemory } from './batch/budget.ts'

export class Sluice {
  private readonly defaultSession: EngineSession

  private constructor(readonly engine: Engine) {
    this.defaultSession = new EngineSession(engine, {})
  }

  /** Opens (or creates) the data directory and brings every persisted object back to life. */
  static async open(options: EngineOptions): Promise<Sluice> {
    const { engine, stored } = await Engine.open(options)
    const t0 = Date.now()
    const restore = new EngineSession(engine, { user: 'sluice' })
    const failed: string[] = []
    for (const obj of stored) {
      engine.restoringId = obj.id
      try {
        await restore.execute(obj.sql)
      } catch (e) {
        failed.push(`${obj.kind} "${obj.name}": ${e instanceof Error ? e.message : String(e)}`)
        engine.log('error', `could not restore ${obj.kind} "${obj.name}"`, {
          error: e instanceof Error ? e.message : String(e),
        })
      } finally {
        engine.restoringId = undefined
      }
    }
    // A later checkpoint would record source offsets past input the missing object never saw.
    if (failed.length > 0 && engine.recovery !== undefined)
      engine.checkpoints.halt(`could not restore ${failed.join('; ')}`)
    const recovered = engine.recovery
    engine.recovery = undefined
    // Table writes made after the checkpoint, replayed into the restored views in the order
    // they were written (across tables too).
    const redo = engine.tableRedo.splice(0).flatMap(({ table, entries }) => entries.map((entry) => ({ table, entry })))
    redo.sort((a, b) => a.entry.clock - b.entry.clock)
    for (const { table, entry } of redo) {
      const obj = engine.get(table)
      if (obj?.kind !== 'table') continue
      const chunk = obj.rows.redo(entry)
      if (chunk !== undefined) {
        obj.stream.push(chunk)
        obj.stream.pushBatchWatermarks(chunk, timeColumns(obj.columns))
      }
    }
    // Every view is back: the sources may read again (from the checkpoint's offsets).
    for (const src of engine.sources()) {
      try {
        await src.driver.release()
      } catch (e) {
        waitForSource(engine, src.name, e)
      }
    }
    if (recovered !== undefined)
      engine.log('info', `restored checkpoint ${recovered.meta.epoch} in ${Date.now() - t0} ms`)
    // Dead letters logged before a crash are committed now that tables are as the views saw them.
    engine.deadLetterOutlets.start()
    engine.checkpoints.start()
    engine.startTicker()
    return new Sluice(engine)
  }

  /** A new session (one per client connection): its own settings such as the time zone. */
  session(options: SessionOptions = {}): Session {
    return new EngineSession(this.engine, options)
  }

  /** Runs statements in a shared default session. */
  sql(text: string): Promise<StatementResult[]> {
    return this.defaultSession.execute(text)
  }

  /**
   * The changes of a materialized view (or table, or source): its current rows first (unless
   * `snapshot: false` or `from`), then every change as it happens.
   *
   *   for await (const change of db.subscribe('v')) console.log(change.op, change.row)
   *
   * Leaving the loop closes the subscription; `close()` does too.
   */
  subscribe(name: string, options: SubscribeOptions = {}): ChangeSubscription {
    return subscribeToRelation(this.engine, name, options)
  }

  /** The APPEND ONLY table `name`, to append decoded rows to (HTTP ingest); throws 42P01, 42809, 0A000. */
  ingestTarget(name: string): IngestTarget {
    return ingestTarget(this.engine, name)
  }

  get metrics(): Registry {
    return this.engine.metrics.registry
  }

  /** Every materialized view's and sink's operator graph with its row counters (the console). */
  dataflows(): DataflowInfo[] {
    return dataflowInfos(this.engine)
  }

  /**
   * Stops sources, takes a last checkpoint and closes the data directory. With
   * `{ lastCheckpoint: false }` the data directory is left as a crash (kill -9) would leave it.
   */
  async close(options: { readonly lastCheckpoint?: boolean } = {}): Promise<void> {
    await this.engine.close(options.lastCheckpoint ?? true)
  }
}
