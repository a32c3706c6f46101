/**
 * One shard of a sharded materialized view, on its worker thread (docs/design/shards.md).
 *
 * The shard plans the view's statement again, over its own readers of the sources (each reads
 * its split: Kafka partitions, a share of the generator's events), and lowers it with an
 * exchange on the input of every stateful operator. That cuts the operator graph into stages:
 * the stage below an exchange runs over this shard's rows and sends each row to the shard that
 * owns its key; the stage above it runs over the rows of this shard's keys. The top stage's
 * output goes to the main thread, where the view's rows are kept and served.
 *
 * A checkpoint barrier (`barrier`) stops the readers, then passes the exchanges stage by stage:
 * a stage is through once a marker came from every shard on each exchange it reads, and then
 * sends its own markers. With the readers stopped no row follows a marker, so nothing needs
 * buffering; once the top stage is through, every row before the barrier has been applied
 * everywhere, and the shard snapshots its operators and its readers' positions. It goes on
 * reading when the main thread has every shard's snapshot (`resume`).
 */
import type { MessagePort } from 'node:worker_threads'
import type { Chunk } from '../chunk.ts'
import type { ConnectorContext, SourceClocks, SourceFactory } from '../connector.ts'
import type { CheckpointWriter, Emitter, Operator, OperatorContext, StateEntry } from '../ops/operator.ts'
import type { BinderCatalog } from '../plan/binder.ts'
import type { RelationRef } from '../plan/logical.ts'
import type { Query, Statement } from '../sql/tree.ts'
import type { Target } from '../plan/pipeline.ts'
import type { FromShard, PeerMessage, ShardInit, ShardSource, ShardWrite, ToShard } from './protocol.ts'
import { Dataflow, isRelationInput, type PhysicalNode, type RelationInput } from '../runtime/dataflow.ts'
import { SourceDriver } from '../runtime/source-driver.ts'
import { Stream } from '../runtime/stream.ts'
import { emptyColumns } from '../chunk.ts'
import { parseSql } from '../sql/front-door.ts'
import { lowerStream, planQuery, streamLowering } from '../plan/pipeline.ts'
import { splitWindowAggregates } from '../plan/rules/two-phase.ts'
import { viewTarget } from '../exec/plan-statement.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { ExchangeEdge, ShardNet, MAX_IN_FLIGHT } from './exchange.ts'
import { encodeChunk } from './wire.ts'
import { needsNoExchange, splitBy } from './partitioning.ts'
import { ShardStateClient } from './state-link.ts'
import { EngineStateCache } from '../state/cache.ts'
import { overHighWater } from '../runtime/state-gate.ts'

/** A stage: the graph between exchanges, with the exchanges it reads and where it emits. */
interface Stage {
  readonly dataflow: Dataflow
  readonly reads: readonly ExchangeEdge[]
  /** The readers it reads (the stages below the first exchanges). */
  readonly sources: readonly Reader[]
  /** The exchange it feeds; undefined for the top stage (its output goes to the main thread). */
  readonly feeds: ExchangeEdge | undefined
  /** Through the current barrier (its markers are sent). */
  passed: boolean
}

interface Reader {
  readonly name: string
  readonly driver: SourceDriver
  readonly stream: Stream
}

/**
 * A connector module as this thread can import it: the main thread names its own module, a
 * source file when it runs from the sources; a shard running the compiled build imports the
 * build's copy (host.ts starts shards from dist/ whenever dist/ is current).
 */
function compiledTwin(module: string): string {
  if (!import.meta.url.endsWith('.js') || !module.endsWith('.ts')) return module
  const dist = new URL('../../', import.meta.url).href
  const root = new URL('../', dist).href
  if (!module.startsWith(root) || module.startsWith(dist)) return module
  return `${dist}${module.slice(root.length, -3)}.js`
}

/** The query and target of the statement a shard runs: CREATE MATERIALIZED VIEW or CREATE SINK ... AS. */
function shardTarget(stmt: Statement | undefined): { readonly query: Query; readonly target: Target } {
  if (stmt?.kind === 'create_materialized_view') return { query: stmt.query, target: viewTarget(stmt) }
  if (stmt?.kind === 'create_sink' && stmt.query !== undefined) {
    const connector = (stmt.options.get('connector') ?? '').toLowerCase()
    return { query: stmt.query, target: { kind: 'sink', name: stmt.name, connector, emitOnWindowClose: false } }
  }
  throw new SluiceError(SqlState.internal_error, 'a shard runs CREATE MATERIALIZED VIEW or CREATE SINK ... AS', {
    domain: 'internal',
  })
}

/** How long a shard over its cache's high-water mark waits for a durable checkpoint before it asks again. */
const PRESSURE_RETRY_MS = 2000

export class Shard {
  private readonly net: ShardNet
  private readonly edges: ExchangeEdge[] = []
  private readonly stages: Stage[] = []
  private readonly readers: Reader[] = []
  /** Output chunks posted to the main thread and not yet acknowledged. */
  private toMain = 0
  private mainWaiters: (() => void)[] = []
  /** Set while polls wait for a durable checkpoint to evict (pressure()). */
  private relieved: { promise: Promise<void>; resolve: () => void; timer: NodeJS.Timeout } | undefined
  /** Barriers begun; a stage has passed barrier n once its exchanges counted shards × n markers. */
  private round = 0
  private barrier: { readonly epoch: number; readonly snapshot: boolean; readersStopped: boolean } | undefined
  private late = 0
  private stopping = false
  /** Paused from the main thread (a full disk, sinks behind): kept across barriers. */
  private held = false
  private statusTimer: NodeJS.Timeout | undefined
  private lastStatus = ''
  private evalErrors = 0
  /** State tables (when the engine checkpoints): reads of the store, and this shard's cache budget. */
  private readonly link: ShardStateClient | undefined
  private readonly cache: EngineStateCache | undefined

  private constructor(
    private readonly init: ShardInit,
    private readonly main: MessagePort,
  ) {
    this.net = new ShardNet(init.shard, init.shards, init.peers)
    if (init.state !== undefined) {
      this.link = new ShardStateClient(init.state.link)
      this.cache = new EngineStateCache(init.state.budgetBytes)
    }
  }

  static async start(init: ShardInit, main: MessagePort): Promise<Shard> {
    const shard = new Shard(init, main)
    await shard.build()
    return shard
  }

  private post(message: FromShard, transfer?: ArrayBuffer[]): void {
    this.main.postMessage(message, transfer ?? [])
  }

  private async build(): Promise<void> {
    const init = this.init
    const [stmt] = await parseSql(init.sql)
    const target = shardTarget(stmt)
    const views = new Map<string, Query>()
    for (const v of init.views) {
      const [parsed] = await parseSql(v.sql)
      if (parsed?.kind === 'create_view') views.set(v.name, parsed.query)
    }
    const factories = new Map<string, SourceFactory>()
    for (const src of init.sources) {
      const mod = (await import(compiledTwin(src.module))) as Record<string, SourceFactory | undefined>
      const factory = mod[src.exportName]
      if (factory === undefined) throw new SluiceError(SqlState.internal_error, `no source factory in ${src.module}`)
      factories.set(src.name, factory)
    }
    for (const src of init.sources) this.readers.push(this.reader(src, factories.get(src.name)!))
    const planned = planQuery(
      target.query,
      {
        catalog: this.catalog(views),
        compile: { params: [], timezone: init.timezone, now: init.now },
        paramTypes: [],
      },
      target.target,
    )
    const root = lowerStream(
      // Grouping by a window alone: partial in every shard, final by window (rules/two-phase.ts).
      { ...streamLowering(planned), plan: splitWindowAggregates(planned.plan), fuseWindows: init.fuseWindows },
      this.operatorContext(),
      (input, keys, grouping) => this.exchange(input, keys, grouping),
    )
    this.stages.push(this.stage(root, undefined))
    this.attachStores()
    await this.restoreOperators()
    const restored = init.restore?.restored === true
    for (const stage of this.stages) stage.dataflow.attach(restored)
    for (const r of this.readers) {
      r.driver.resumeFrom = init.restore?.offsets[r.name]
      r.driver.resumeClocks = init.restore?.clocks[r.name]
      await this.startReader(r)
    }
    this.statusTimer = setInterval(() => this.postStatus(), 500)
    this.statusTimer.unref()
    this.postStatus()
  }

  /** The readers' state for sluice_catalog (sources, lag, a view's `waiting`), when it changed. */
  private postStatus(): void {
    // Only the exchanges the readers' stages feed: a later stage may have rows of other shards in flight.
    for (const stage of this.stages)
      if (stage.reads.length === 0 && this.nothingToRead(stage.sources)) stage.feeds?.declareIdle()
    const readers = this.readers.map((r) => {
      const reader = r.driver.reader
      const running = r.driver.started
      return {
        source: r.name,
        running,
        waiting: r.driver.waiting,
        error: r.driver.lastError,
        lag: running && reader.lag !== undefined ? reader.lag() : [],
        offsets: running && reader.lag === undefined ? reader.offsets() : {},
      }
    })
    const text = JSON.stringify(readers, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
    if (text === this.lastStatus) return
    this.lastStatus = text
    this.post({ t: 'readers', readers })
  }

  /**
   * Opens a reader. One that cannot start for a reason that may pass (a topic not created yet,
   * brokers down) retries in the background with backoff while the view waits, as a shared
   * reader does (docs/sql.md, "An input that is not there yet").
   */
  private async startReader(r: Reader): Promise<void> {
    try {
      await r.driver.start()
    } catch (e) {
      if (!(e instanceof SluiceError && e.retryable)) throw e
      this.post({ t: 'log', level: 'warn', message: `source ${r.name} waits: ${e.message}` })
      r.driver.waiting = true
      r.driver.lastError = e.message
      void this.retryReader(r)
    }
  }

  private async retryReader(r: Reader): Promise<void> {
    for (let backoff = 200; !this.stopping; backoff = Math.min(backoff * 2, 10_000)) {
      await new Promise((resolve) => setTimeout(resolve, backoff))
      try {
        await r.driver.start()
        r.driver.waiting = false
        r.driver.lastError = undefined
        return
      } catch (e) {
        if (!(e instanceof SluiceError && e.retryable)) return this.fail(e)
        r.driver.lastError = e.message
      }
    }
  }

  /**
   * Whether every one of these readers is open and vouches for no event time (SourceReader.idle: a Kafka split
   * without records, or whose partitions all passed the source's idle_timeout); a generator's
   * split is never idle.
   */
  private nothingToRead(readers: readonly Reader[]): boolean {
    return readers.length > 0 && readers.every((r) => r.driver.started && r.driver.reader.idle?.() === true)
  }

  /** Lowering's exchange hook: the input becomes a stage of its own feeding a new exchange. */
  private exchange(input: PhysicalNode, keys: readonly number[], grouping: boolean): PhysicalNode | RelationInput {
    // Already split by these keys (an operator keyed as the one below it): no exchange.
    const by = splitBy(input, (n) => this.edges.find((e) => e.relation === n)?.keys)
    if (needsNoExchange(by, keys, grouping)) return input
    const edge = new ExchangeEdge(this.edges.length, keys, input.types, this.net)
    this.edges.push(edge)
    this.stages.push(this.stage(input, edge))
    return edge.relation
  }

  private stage(root: PhysicalNode, feeds: ExchangeEdge | undefined): Stage {
    const reads: ExchangeEdge[] = []
    const sources: Reader[] = []
    const walk = (node: PhysicalNode | RelationInput): void => {
      if (isRelationInput(node)) {
        const edge = this.edges.find((e) => e.relation === node)
        if (edge !== undefined) reads.push(edge)
        const reader = this.readers.find((r) => r.stream === node.stream)
        if (reader !== undefined && !sources.includes(reader)) sources.push(reader)
      } else node.inputs.forEach(walk)
    }
    walk(root)
    const output: Emitter = feeds !== undefined ? feeds.sender() : this.toMainEmitter(root.types)
    const dataflow = new Dataflow(root, output, (error) => this.fail(error))
    return { dataflow, reads, sources, feeds, passed: false }
  }

  private toMainEmitter(types: PhysicalNode['types']): Emitter {
    return {
      chunk: (chunk: Chunk) => {
        if (chunk.length === 0) return
        const bytes = encodeChunk(chunk, types)
        this.toMain++
        this.post({ t: 'chunk', bytes }, [bytes.buffer])
      },
      watermark: (w) => this.post({ t: 'watermark', column: w.column, value: w.value }),
    }
  }

  /** Every operator of the shard, in an order fixed by the plan (checkpoint keys use it). */
  operators(): Operator[] {
    return this.stages.flatMap((s) => s.dataflow.operators())
  }

  /**
   * State tables: each operator that keeps state in the store gets its key range of the
   * checkpoint, under this shard's prefixes, read through the state link; its cache counts
   * against this shard's share of the engine's budget.
   */
  private attachStores(): void {
    const { link, cache } = this
    if (link === undefined || cache === undefined) return
    this.operators().forEach((op, i) => {
      op.attachStore?.({
        owner: this.init.view,
        cache,
        getSync: (key) => link.getSync(i, key),
        snapshot: () => {
          // Scans of an operator's output serve pull queries; a sharded view's rows are served
          // from the main thread, so no shard operator is ever asked.
          throw new SluiceError(SqlState.internal_error, "a shard's state is not scanned for queries")
        },
      })
    })
  }

  /**
   * Recovery: every operator reads its entries of the last checkpoint (only those below
   * `restoreBelow` for a state table: its cold tier stays on disk), as the main thread's do.
   */
  private async restoreOperators(): Promise<void> {
    if (this.init.restore?.restored !== true) return
    const link = this.link
    if (link === undefined)
      throw new SluiceError(SqlState.internal_error, 'a shard restores from a checkpoint without a state link')
    const ops = this.operators()
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]
      if (op.restore === undefined) continue
      const entries: StateEntry[] = []
      for await (const batch of link.scan(i, undefined, op.restoreBelow)) {
        if (op.restoresInBatches === true) op.restore(batch)
        else for (const e of batch) entries.push(e)
      }
      if (entries.length > 0) op.restore(entries)
    }
  }

  private reader(src: ShardSource, factory: SourceFactory): Reader {
    const ctx: ConnectorContext = {
      name: src.name,
      split: { index: this.init.shard, count: this.init.shards },
      deadLetter: (letter) => this.post({ t: 'dead_letter', letter, source: src.name }),
      now: () => Date.now(),
      log: (level, message) => this.post({ t: 'log', level, message: `source ${src.name}: ${message}` }),
    }
    const reader = factory.create(src.columns, new Map(src.options), ctx)
    const stream = new Stream(src.name)
    const timeColumns = src.columns.flatMap((c, i) =>
      c.type.kind === 'timestamp' || c.type.kind === 'timestamptz' ? [i] : [],
    )
    const driver = new SourceDriver(reader, stream, {
      maxRows: this.init.maxBatchRows,
      idleMs: 20,
      timeColumns,
      onBatch: (rows) => this.post({ t: 'source_rows', source: src.name, rows }),
      onError: (e) => this.post({ t: 'log', level: 'warn', message: `source ${src.name}: ${String(e)}` }),
      beforePoll: () => this.ready(),
    })
    return { name: src.name, driver, stream }
  }

  private catalog(views: ReadonlyMap<string, Query>): BinderCatalog {
    const inputs = new Map(this.readers.map((r) => [r.name, r]))
    return {
      relation: (_schema, name, position) => {
        const view = views.get(name)
        if (view !== undefined) return { kind: 'view', query: view, columnNames: undefined, name }
        const src = this.init.sources.find((s) => s.name === name)
        const reader = inputs.get(name)
        if (src === undefined || reader === undefined)
          throw new SluiceError(SqlState.undefined_table, `relation "${name}" does not exist`, { position })
        const width = src.columns.length
        const ref: RelationRef = {
          kind: 'source',
          name,
          input: {
            name,
            stream: reader.stream,
            snapshot: () => ({ columns: emptyColumns(width), ops: new Int8Array(0), length: 0 }),
          },
          watermarkDelays: new Map(src.watermark === undefined ? [] : [[src.watermark.column, src.watermark.delay]]),
          appendOnly: true,
        }
        return { kind: 'relation', ref, columns: src.columns }
      },
    }
  }

  private operatorContext(): OperatorContext {
    return {
      owner: this.init.view,
      deadLetter: (letter) => this.post({ t: 'dead_letter', letter }),
      countLate: (n) => {
        this.late += n
        this.postCounts()
      },
      countEvalErrors: (n) => {
        this.evalErrors += n
        this.postCounts()
      },
    }
  }

  private postCounts(): void {
    this.post({ t: 'counts', late: this.late, evalErrors: this.evalErrors })
    this.late = 0
    this.evalErrors = 0
  }

  /** Undefined when every channel has room; else resolves when they have. */
  private ready(): Promise<void> | undefined {
    const peers = this.net.ready()
    if (peers !== undefined) return peers
    if (this.toMain > MAX_IN_FLIGHT) return new Promise((resolve) => this.mainWaiters.push(resolve))
    return this.pressure()
  }

  /**
   * Backpressure on state memory (engine/runtime/state-gate.ts): over its cache's high-water mark
   * the shard's polls wait for the next durable checkpoint, which the main thread takes at once
   * (or PRESSURE_RETRY_MS, should none come: a checkpoint that failed, or left this shard out).
   */
  private pressure(): Promise<void> | undefined {
    if (this.relieved !== undefined) return this.relieved.promise
    if (this.cache === undefined || !overHighWater(this.cache)) return undefined
    let resolve!: () => void
    const promise = new Promise<void>((r) => (resolve = r))
    const timer = setTimeout(() => this.relieve(), PRESSURE_RETRY_MS)
    timer.unref()
    this.relieved = { promise, resolve, timer }
    this.post({ t: 'pressure' })
    return promise
  }

  private relieve(): void {
    const r = this.relieved
    if (r === undefined) return
    this.relieved = undefined
    clearTimeout(r.timer)
    r.resolve()
  }

  fromMain(m: ToShard): void {
    switch (m.t) {
      case 'ack':
        this.toMain -= m.n
        if (this.toMain <= MAX_IN_FLIGHT && this.mainWaiters.length > 0) {
          const waiters = this.mainWaiters
          this.mainWaiters = []
          for (const w of waiters) w()
        }
        return
      case 'barrier':
        if (m.allowance !== undefined) this.cache?.resize(m.allowance)
        void this.beginBarrier(m.epoch, m.snapshot).catch((e: unknown) => this.fail(e))
        return
      case 'resume':
        this.barrier = undefined
        for (const s of this.stages) s.passed = false
        for (const r of this.readers) r.driver.paused = this.held
        return
      case 'pause':
        this.held = m.paused
        if (this.barrier === undefined) for (const r of this.readers) r.driver.paused = m.paused
        return
      case 'durable':
        for (const op of this.operators()) op.checkpointed?.()
        this.relieve()
        return
      case 'tick':
        for (const s of this.stages) s.dataflow.tick(m.now)
        return
      case 'flush':
        void this.caughtUp(m.id, m.timeoutMs)
        return
      case 'stop':
        this.relieve()
        void this.stop()
        return
    }
  }

  fromPeer(from: number, m: PeerMessage): void {
    switch (m.t) {
      case 'chunk':
        this.edges[m.edge].receiveChunk(from, m.bytes)
        this.net.applied(from)
        return
      case 'watermark':
        this.edges[m.edge].watermarkFrom(from, m.column, m.value)
        return
      case 'idle':
        this.edges[m.edge].idleFrom(from)
        return
      case 'marker':
        this.edges[m.edge].markers++
        if (this.barrier?.readersStopped === true) this.advance()
        return
      case 'ack':
        this.net.acknowledged(from, m.n)
        return
    }
  }

  private async beginBarrier(epoch: number, snapshot: boolean): Promise<void> {
    this.round++
    this.barrier = { epoch, snapshot, readersStopped: false }
    await Promise.all(this.readers.map((r) => r.driver.quiesce()))
    this.barrier.readersStopped = true
    this.advance()
  }

  /** Passes the barrier through every stage whose exchanges have all their markers. */
  private advance(): void {
    const b = this.barrier
    if (b === undefined || !b.readersStopped) return
    const due = this.init.shards * this.round
    // Stages are in dataflow order (a stage after those feeding it), and this shard's own marker
    // counts at once: one pass takes the barrier as far as the markers received allow.
    let all = true
    for (const stage of this.stages) {
      if (stage.passed) continue
      if (stage.reads.every((e) => e.markers >= due)) {
        // Everything before the barrier has arrived: through the stage before its markers go.
        for (const e of stage.reads) e.flush()
        stage.passed = true
        stage.feeds?.sendMarkers()
      } else all = false
    }
    if (!all) return
    this.net.flushAcks()
    this.post({
      t: 'aligned',
      epoch: b.epoch,
      writes: b.snapshot ? this.snapshot() : [],
      operators: this.operators().length,
      offsets: Object.fromEntries(this.readers.map((r) => [r.name, r.driver.position ?? r.driver.resumeFrom ?? {}])),
      clocks: Object.fromEntries(
        this.readers.flatMap((r): [string, SourceClocks][] => {
          const c = r.driver.clocks ?? r.driver.resumeClocks
          return c === undefined ? [] : [[r.name, c]]
        }),
      ),
      cache: this.cache?.total(),
    })
  }

  private snapshot(): ShardWrite[] {
    const writes: ShardWrite[] = []
    this.operators().forEach((op, i) => {
      if (op.checkpoint === undefined) return
      const writer: CheckpointWriter = {
        put: (key, value) => writes.push({ op: i, type: 'put', key: key.slice(), value: value.slice() }),
        del: (key) => writes.push({ op: i, type: 'del', key: key.slice() }),
        clear: () => writes.push({ op: i, type: 'clear' }),
      }
      op.checkpoint(writer)
    })
    return writes
  }

  private async caughtUp(id: number, timeoutMs: number): Promise<void> {
    const results = await Promise.all(this.readers.map((r) => r.driver.caughtUp(timeoutMs)))
    // What FLUSH's caller reads next (sluice_catalog) is as of now, not of the last timer.
    this.postStatus()
    this.post({ t: 'caught_up', id, ok: results.every((ok) => ok) })
  }

  private async stop(): Promise<void> {
    this.stopping = true
    if (this.statusTimer !== undefined) clearInterval(this.statusTimer)
    for (const s of this.stages) s.dataflow.detach()
    for (const op of this.operators()) op.detachStore?.()
    await Promise.all(this.readers.map((r) => r.driver.stop().catch(() => {})))
    this.link?.close()
    this.post({ t: 'stopped' })
  }

  private fail(error: unknown): void {
    this.post({
      t: 'failed',
      message: error instanceof Error ? error.message : String(error),
      stack: error instanceof Error ? error.stack : undefined,
    })
  }
}
