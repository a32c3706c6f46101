/**
 * The engine: the catalog of running objects, the state store, dead letters and metrics. The
 * statement layer (engine/exec/) turns parsed statements into calls on this class; nothing here
 * parses SQL or knows about sessions.
 */
import type { Chunk } from './chunk.ts'
import type { ColumnSchema, ConnectorContext, SinkFactory, SourceFactory } from './connector.ts'
import type { StateStore, StateWrite } from './state/store.ts'
import type {
  CatalogObject,
  MaterializedViewObject,
  ObjectKind,
  RelationObject,
  SourceObject,
  TableObject,
} from './catalog/objects.ts'
import type { StoredObject } from './catalog/catalog-store.ts'
import type { IndexObject } from './catalog/indexes.ts'
import type { TableLogEntry } from './catalog/table-rows.ts'
import { WriteClock } from './catalog/table-rows.ts'
import { DeadLetters } from './runtime/dead-letters.ts'
import { DeadLetterOutlets } from './runtime/dead-letter-outlets.ts'
import { EngineMetrics } from './runtime/metrics.ts'
import { Mutex } from './util/mutex.ts'
import { SluiceError, SqlState } from './errors.ts'
import { catalogDelete, catalogPut, loadCatalog } from './catalog/catalog-store.ts'
import { kindLabel } from './catalog/objects.ts'
import { openLevelStore } from './state/leveldb.ts'
import { MemoryStore } from './state/memory.ts'
import { EngineStateCache, defaultStateCacheBytes } from './state/cache.ts'
import { CheckpointCoordinator } from './runtime/checkpoint.ts'
import { Recovery } from './runtime/checkpoint-store.ts'
import { StateDiskUsage } from './runtime/state-disk.ts'
import { StateGate } from './runtime/state-gate.ts'
import { join } from 'node:path'
import { mkdirSync } from 'node:fs'
import { QueryGate } from './exec/admission.ts'
import { AccessControl } from './catalog/access.ts'
import type { RestoreProgress } from './restore-progress.ts'
import { RestorePending } from './restore-progress.ts'
import { ShardHosts } from './shard/hosts.ts'
import { workers } from './shard/sharded-view.ts'

export type LogFn = (
  level: 'debug' | 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void

export interface EngineOptions {
  /** Where state and the catalog live; ':memory:' keeps everything in memory (tests). */
  readonly dataDir: string
  readonly sources?: readonly SourceFactory[]
  readonly sinks?: readonly SinkFactory[]
  readonly log?: LogFn
  /** Wall clock in ms; injected so tests can steer time. */
  readonly now?: () => number
  /** Rows per source poll, and the largest chunk a table write is pushed as. */
  readonly maxBatchRows?: number
  /** How long FLUSH waits for sources to catch up, ms. */
  readonly flushTimeoutMs?: number
  /** Change rows each subscribed relation keeps so SUBSCRIBE clients can resume (default 10000). */
  readonly changeLogRows?: number
  /**
   * Checkpoint interval in ms (docs/design/checkpoints.md); 0 turns checkpoints off, and a
   * restart then rebuilds every view by reading its sources from their startup position. Default
   * 1000 with a data directory, 0 for ':memory:'.
   */
  readonly checkpointIntervalMs?: number
  /** Pull queries running at once; later ones wait their turn (default twice the cores). */
  readonly maxConcurrentQueries?: number
  /**
   * Bytes of operator state kept in memory (state tables' cache, docs/design/state.md); the
   * rest lives in the store. Default: a quarter of the heap limit.
   */
  readonly stateCacheBytes?: number
  /**
   * Shards a new materialized view runs as, each on a worker thread, when its plan can be split
   * (engine/shard/, docs/design/shards.md). Default 1: every view on the main thread.
   */
  readonly workers?: number
  /**
   * With more than one worker: keep shard threads booted ahead of need (engine/shard/pool.ts), so
   * a new sharded view starts in a fraction of a second. Default true; benchmarks turn it off so
   * that no thread boots while they measure.
   */
  readonly warmShards?: boolean
}

export class Engine {
  readonly objects = new Map<string, CatalogObject>()
  /** Declared (CREATE INDEX) indexes by name; they share the relations' namespace, as in PostgreSQL. */
  readonly indexes = new Map<string, IndexObject>()
  /** Roles, grants, secrets and tokens (catalog/access.ts). */
  readonly access = new AccessControl()
  readonly writeLock = new Mutex()
  /** Admission of pull queries (exec/admission.ts). */
  readonly queryGate: QueryGate
  readonly deadLetters: DeadLetters
  /** Sources' dead-letter tables and topics, committed per checkpoint epoch (when checkpoints are on). */
  readonly deadLetterOutlets: DeadLetterOutlets
  readonly metrics: EngineMetrics
  /** The memory budget of operator state (state tables). */
  readonly stateCache: EngineStateCache
  /** Each view's state on disk, measured and compacted in the background (runtime/state-disk.ts). */
  readonly stateDisk: StateDiskUsage
  readonly sourceFactories = new Map<string, SourceFactory>()
  readonly sinkFactories = new Map<string, SinkFactory>()
  /** The shards of sharded views (engine/shard/hosts.ts). */
  readonly shardHosts = new ShardHosts()
  readonly log: LogFn
  readonly now: () => number
  private nextId = 1
  /** Set while replaying the catalog at startup: the id to give the object being re-created. */
  restoringId: number | undefined
  /**
   * Views and sinks planned without fused window aggregates because their checkpoint was written
   * so (CheckpointMeta.plans); recorded in every checkpoint until they are dropped.
   */
  readonly unfusedWindows = new Set<number>()
  /** Views and sinks planned without shared subplans for the same reason (CheckpointMeta.unshared). */
  readonly unsharedSubplans = new Set<number>()
  /** The background restore at startup (engine/restore-progress.ts); finished once all is back. */
  restoring: RestoreProgress | undefined
  closed = false
  readonly checkpoints: CheckpointCoordinator
  /** Holds source polls while state tables hold far more than the cache's budget (state-gate.ts). */
  readonly stateGate: StateGate
  /** Table change-log entries after the checkpoint, replayed once every object is restored. */
  readonly tableRedo: { readonly table: string; readonly entries: readonly TableLogEntry[] }[] = []
  /** Orders table writes across tables (change-log entries), for replay in write order. */
  readonly writeClock = new WriteClock()
  /** The last durable checkpoint, while the catalog is replayed at startup (then undefined). */
  recovery: Recovery | undefined

  private constructor(
    readonly store: StateStore,
    readonly options: EngineOptions,
    recovery: Recovery | undefined,
  ) {
    this.recovery = recovery
    this.queryGate = new QueryGate(options.maxConcurrentQueries)
    this.stateCache = new EngineStateCache(options.stateCacheBytes ?? defaultStateCacheBytes())
    this.checkpoints = new CheckpointCoordinator(
      this,
      options.checkpointIntervalMs ?? (options.dataDir === ':memory:' ? 0 : 1000),
      recovery?.meta,
    )
    this.stateGate = new StateGate(this.stateCache, this.checkpoints)
    this.log = options.log ?? (() => {})
    this.now = options.now ?? Date.now
    if (recovery?.meta.clock !== undefined) this.clockShift = recovery.meta.clock - this.now()
    this.deadLetters = new DeadLetters(10_000, this.now)
    this.stateDisk = new StateDiskUsage(this)
    this.deadLetterOutlets = new DeadLetterOutlets(this)
    this.metrics = new EngineMetrics(() => this.collectMetrics())
    this.deadLetters.onLetter((l) => this.metrics.deadLetters.inc({ object: l.object, reason: l.reason }))
    for (const f of options.sources ?? []) this.sourceFactories.set(f.connector, f)
    for (const f of options.sinks ?? []) this.sinkFactories.set(f.connector, f)
  }

  /** Opens the state store; the caller replays the catalog (see replayCatalog). */
  static async open(options: EngineOptions): Promise<{ engine: Engine; stored: StoredObject[] }> {
    let store: StateStore
    if (options.dataDir === ':memory:') store = new MemoryStore()
    else {
      mkdirSync(options.dataDir, { recursive: true })
      store = await openLevelStore(join(options.dataDir, 'state'))
    }
    const checkpointing = (options.checkpointIntervalMs ?? (options.dataDir === ':memory:' ? 0 : 1000)) > 0
    const engine = new Engine(store, options, checkpointing ? await Recovery.load(store) : undefined)
    engine.deadLetters.checkpointed = checkpointing
    if (engine.recovery !== undefined) await engine.deadLetters.load(store)
    const stored = await loadCatalog(store)
    for (const s of stored) engine.nextId = Math.max(engine.nextId, s.id + 1)
    const shards = workers(engine)
    if (shards > 1 && options.warmShards !== false) await engine.shardHosts.warm(shards)
    return { engine, stored }
  }

  /** Whether views keep checkpointed state (and tables a change log for recovery). */
  get checkpointing(): boolean {
    return this.checkpoints.intervalMs > 0
  }

  /**
   * Whether the view or sink being created plans fused window aggregates: always, except when it
   * is restored from a checkpoint written by a plan without them (its state is keyed by the
   * operators' positions), which it then keeps.
   */
  fuseWindows(): boolean {
    const id = this.restoringId
    if (id === undefined || this.recovery?.has(id) !== true || this.recovery.fusedWindows(id)) return true
    this.unfusedWindows.add(id)
    return false
  }

  /**
   * Whether the view or sink being created lowers a stateful subplan that occurs twice once
   * (engine/plan/shared-subplans.ts): always, except when it is restored from a checkpoint
   * written by a plan without shared subplans, which it then keeps.
   */
  shareSubplans(): boolean {
    const id = this.restoringId
    if (id === undefined || this.recovery?.has(id) !== true || this.recovery.sharedSubplans(id)) return true
    this.unsharedSubplans.add(id)
    return false
  }

  allocateId(): number {
    if (this.restoringId !== undefined) return this.restoringId
    return this.nextId++
  }

  get(name: string): CatalogObject | undefined {
    return this.objects.get(name)
  }

  /** The relation called `name`, or 42P01 naming it. */
  relation(name: string, position?: number): RelationObject {
    const obj = this.objects.get(name)
    if (this.restoring?.blocks(name) === true) throw new RestorePending(name, this.restoring)
    if (obj === undefined || obj.kind === 'view' || obj.kind === 'sink') {
      throw new SluiceError(SqlState.undefined_table, `relation "${name}" does not exist`, { position })
    }
    return obj
  }

  /** Fails with the contract's duplicate-object codes when `name` is taken. */
  checkNameFree(name: string, kind: ObjectKind): void {
    if (this.indexes.has(name) && kind !== 'sink')
      throw new SluiceError(SqlState.duplicate_table, `relation "${name}" already exists`)
    const existing = this.objects.get(name)
    if (existing === undefined) return
    const code = kind === 'source' || kind === 'sink' ? SqlState.duplicate_object : SqlState.duplicate_table
    throw new SluiceError(code, `${kindLabel(existing.kind)} "${name}" already exists`)
  }

  /** Registers a new object and persists its definition with `extra` writes in one batch. */
  async register(obj: CatalogObject, extra: readonly StateWrite[] = []): Promise<void> {
    this.objects.set(obj.name, obj)
    if (this.restoringId !== undefined) return
    try {
      await this.store.write([catalogPut({ id: obj.id, kind: obj.kind, name: obj.name, sql: obj.sql }), ...extra])
    } catch (e) {
      // All or nothing: an object whose definition is not durable (a full disk) does not exist.
      if (this.objects.get(obj.name) === obj) this.objects.delete(obj.name)
      throw e
    }
  }

  async unregister(obj: CatalogObject, extra: readonly StateWrite[] = []): Promise<void> {
    this.objects.delete(obj.name)
    // Grants die with their object, so a later object of the same name starts with none.
    const acl = this.access.forget(obj.name)
    await this.store.write([catalogDelete(obj.id), ...(acl === undefined ? [] : [catalogDelete(acl)]), ...extra])
    if (obj.kind === 'materialized_view' || obj.kind === 'sink') this.stateDisk.dropped(obj.id)
  }

  connectorContext(object: string): ConnectorContext {
    return {
      name: object,
      deadLetter: (letter) => this.deadLetters.add(letter),
      now: this.now,
      log: (level, message, fields) => this.log(level, message, { object, ...fields }),
    }
  }

  /**
   * Applies one batch of table changes: persisted atomically first, then pushed to every view
   * reading the table, then the batch's event-time high marks (SQL.md "Batches"). `extra` writes
   * go in the same atomic batch (a dead-letter outlet's progress marker).
   */
  async applyTableChange(
    table: TableObject,
    inserts: readonly (readonly unknown[])[],
    deletes: readonly number[],
    extra: readonly StateWrite[] = [],
  ): Promise<Chunk | undefined> {
    const { writes, chunk, logSeq, applied } = table.rows.apply(inserts as never, deletes)
    for (const w of extra) writes.push(w)
    if (writes.length > 0) {
      try {
        await this.store.write(writes)
      } catch (e) {
        // Not durable, not pushed: the failed statement must leave no row behind.
        table.rows.revert(applied)
        throw e
      }
    }
    // From here to the end of the pushes nothing awaits: a checkpoint sees all of it or none.
    table.rows.pushedSeq = logSeq
    if (chunk !== undefined) {
      // One batch may travel as several chunks; the watermark moves once, after all of them.
      const size = this.options.maxBatchRows ?? 4096
      for (let start = 0; start < chunk.length; start += size)
        table.stream.push(sliceChunk(chunk, start, Math.min(chunk.length, start + size)))
      table.stream.pushBatchWatermarks(chunk, timeColumns(table.columns))
      this.metrics.sourceRows.inc({ source: table.name }, chunk.length)
      this.metrics.sourceBatches.inc({ source: table.name })
    }
    return chunk
  }

  /**
   * FLUSH: waits until every running source has applied what its input held when called;
   * `limitMs` (the statement's remaining statement_timeout) shortens the wait.
   */
  async flush(limitMs?: number): Promise<void> {
    const timeout = Math.min(this.options.flushTimeoutMs ?? 30_000, limitMs ?? Infinity)
    const waits: Promise<boolean>[] = []
    for (const obj of this.objects.values()) {
      if (obj.kind === 'source') waits.push(obj.driver.caughtUp(timeout))
      else if (obj.kind === 'table' && obj.feed !== undefined) waits.push(obj.feed.caughtUp(timeout))
    }
    const results = await Promise.all(waits)
    // Sharded views read their sources on their own threads: they catch up there.
    if (results.every((ok) => ok)) results.push(await this.shardHosts.flush(timeout))
    if (results.some((ok) => !ok)) {
      throw new SluiceError(SqlState.query_canceled, 'FLUSH timed out waiting for sources to catch up', {
        domain: 'external',
        retryable: true,
      })
    }
    // With checkpoints, dead letters reach their table or topic with a checkpoint: take one.
    if (!(await this.deadLetterOutlets.flush(timeout))) {
      const errors = this.deadLetterOutlets.errors()
      throw new SluiceError(
        SqlState.query_canceled,
        'FLUSH timed out waiting for dead letters to reach their destination',
        {
          domain: 'external',
          retryable: true,
          detail: errors.length > 0 ? errors.join('\n') : undefined,
        },
      )
    }
  }

  sources(): SourceObject[] {
    return [...this.objects.values()].filter((o): o is SourceObject => o.kind === 'source')
  }

  materializedViews(): MaterializedViewObject[] {
    return [...this.objects.values()].filter((o): o is MaterializedViewObject => o.kind === 'materialized_view')
  }

  private closing: Promise<void> | undefined
  /** processingTime() − now(): set at recovery. */
  private clockShift = 0
  private ticker: NodeJS.Timeout | undefined

  /** Starts the once-a-second clock tick of every dataflow (processing-time state: ttl). */
  startTicker(): void {
    this.ticker ??= setInterval(() => this.tick(), 1000).unref()
  }

  /**
   * Processing time for ttl (ms): the clock, shifted at recovery so that it continues from the
   * checkpoint's reading. A key's ttl therefore counts only time the engine was running: after a
   * long outage keys do not all expire at once, and each keeps what it had left.
   */
  processingTime(): number {
    return this.now() + this.clockShift
  }

  /** Hands the clock to every view's and sink's operators now (tests pass their own time). */
  tick(now = this.processingTime()): void {
    for (const obj of this.objects.values()) {
      if (obj.kind === 'materialized_view' || obj.kind === 'sink') obj.dataflow.tick(now)
    }
    this.shardHosts.tick(now)
  }

  /**
   * Stops everything and closes the store. `lastCheckpoint: false` skips the final checkpoint,
   * leaving the data directory as a crash would (tests of recovery use it).
   */
  close(lastCheckpoint = true): Promise<void> {
    this.closing ??= this.shutdown(lastCheckpoint)
    return this.closing
  }

  private async shutdown(lastCheckpoint: boolean): Promise<void> {
    // No new measurement or compaction (the last checkpoint would start one).
    const diskIdle = this.stateDisk.stop()
    await Promise.all(this.sources().map((s) => s.driver.stop()))
    for (const obj of this.objects.values()) if (obj.kind === 'table') await obj.feed?.stop()
    // A last checkpoint, so a clean restart resumes from here instead of replaying.
    if (this.checkpointing && lastCheckpoint) await this.checkpoints.checkpoint()
    await this.shardHosts.stopAll()
    this.closed = true
    if (this.ticker !== undefined) clearInterval(this.ticker)
    await this.checkpoints.stop()
    await this.deadLetterOutlets.close()
    // A compaction that runs cannot be cut short: LevelDB's close would wait for it too.
    await diskIdle
    for (const v of this.materializedViews()) v.dataflow.detach()
    for (const obj of this.objects.values()) {
      if (obj.kind !== 'sink') continue
      obj.dataflow.detach()
      await obj.writer
        .close()
        .catch((e: unknown) =>
          this.log('warn', `closing sink ${obj.name} failed: ${e instanceof Error ? e.message : String(e)}`),
        )
    }
    await this.store.close()
  }

  private collectMetrics(): void {
    this.metrics.viewRows.reset()
    this.metrics.viewState.reset()
    for (const v of this.materializedViews()) {
      this.metrics.viewRows.set({ view: v.name }, v.materialize.rowCount)
      let state = 0
      for (const op of v.dataflow.operators()) state += op.stateSize?.() ?? 0
      this.metrics.viewState.set({ view: v.name }, state)
    }
    const m = this.metrics
    for (const g of [m.stateCached, m.stateCachedBytes, m.stateReads, m.stateEvictions]) g.reset()
    m.stateCacheBudget.set(this.stateCache.budgetBytes)
    m.stateHolds.set({ where: 'main' }, this.stateGate.episodes)
    m.stateHolds.set({ where: 'shard' }, this.stateGate.shardRequests)
    for (const [view, s] of this.stateCache.byOwner()) {
      m.stateCached.set({ view }, s.cachedEntries)
      m.stateCachedBytes.set({ view }, s.cachedBytes)
      m.stateReads.set({ view, result: 'hit' }, s.hits)
      m.stateReads.set({ view, result: 'miss' }, s.misses)
      m.stateEvictions.set({ view }, s.evictions)
    }
    m.stateDiskBytes.reset()
    for (const obj of this.objects.values()) {
      const bytes = obj.kind === 'materialized_view' || obj.kind === 'sink' ? this.stateDisk.bytes(obj.id) : undefined
      if (bytes !== undefined) m.stateDiskBytes.set({ view: obj.name }, bytes)
    }
    this.metrics.sourceLag.reset()
    this.metrics.sourcePaused.reset()
    for (const s of this.sources()) {
      if (!s.driver.started) continue
      for (const p of s.driver.reader.lag?.() ?? []) {
        const labels = { source: s.name, partition: String(p.partition) }
        this.metrics.sourceLag.set(labels, Number(p.end - p.offset))
        this.metrics.sourcePaused.set(labels, p.paused ? 1 : 0)
      }
    }
    const nowSec = this.now() / 1000
    for (const obj of this.objects.values()) {
      if ((obj.kind === 'source' || obj.kind === 'table') && obj.watermark !== undefined) {
        const max = obj.stream.maxEventTime.get(obj.watermark.column)
        if (max !== undefined) this.metrics.watermarkDelay.set({ relation: obj.name }, nowSec - max / 1e6)
      }
    }
  }
}

function sliceChunk(chunk: Chunk, start: number, end: number): Chunk {
  if (start === 0 && end === chunk.length) return chunk
  return {
    columns: chunk.columns.map((c) => c.slice(start, end)),
    ops: chunk.ops.slice(start, end),
    length: end - start,
  }
}

export function timeColumns(columns: readonly ColumnSchema[]): number[] {
  const out: number[] = []
  columns.forEach((c, i) => {
    if (c.type.kind === 'timestamp' || c.type.kind === 'timestamptz') out.push(i)
  })
  return out
}
