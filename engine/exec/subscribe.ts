/**
 * SUBSCRIBE: a relation's changes pushed to a client — a snapshot of its current rows first, then
 * every change as it happens, each row carrying a position so a client that reconnects can resume.
 *
 * Positions. Each subscribed relation gets one ChangeLog, created at its first subscription and
 * kept while the relation exists. The log numbers change rows one by one; the first number is the
 * wall clock in µs when the log started, so positions keep growing across restarts (a position
 * handed out before a restart is below every position after it, and so reads as "too old" rather
 * than silently meaning another change). Snapshot rows all carry the position the snapshot
 * reflects (the last change before it). `from = p` resumes with the changes after p.
 *
 * Bounds. The log keeps the newest `changeLogRows` change rows (whole chunks) for resuming; a
 * resume from a position older than that fails with 22023 (HTTP answers with a fresh snapshot,
 * see server/http/subscribe.ts). Each subscriber has its own queue of at most `maxQueueRows`
 * rows; when a subscriber falls further behind it is cut off with 54000 and the engine goes on —
 * delivery from the relation's stream never waits for a subscriber.
 *
 * All queue work is synchronous over chunks (chunk references are queued, never rows).
 */
import type { Chunk } from '../chunk.ts'
import type { Engine } from '../engine.ts'
import type { EngineSession } from './session.ts'
import type {
  Change,
  ChangeBatch,
  ChangeSubscription,
  ResultColumn,
  StatementResult,
  SubscribeOptions,
} from '../session-api.ts'
import type { Value } from '../types/datatype.ts'
import type { Subscriber } from '../runtime/stream.ts'
import type { RelationInput } from '../runtime/dataflow.ts'
import type { Options, Query } from '../sql/tree.ts'
import { Stream } from '../runtime/stream.ts'
import { Dataflow, diskScan } from '../runtime/dataflow.ts'
import { Materialize } from '../ops/materialize.ts'
import { SnapshotScan, snapshotFailure } from './snapshot-scan.ts'
import { bind, lowerStream, streamLowering } from '../plan/pipeline.ts'
import { planStatement, planningContext } from './plan-statement.ts'
import { operatorContext } from './ddl.ts'
import { chunkFromRows } from '../chunk.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { T } from '../types/datatype.ts'

/** Change rows each subscribed relation keeps for resuming subscribers. */
export const DEFAULT_CHANGE_LOG_ROWS = 10_000
/** Change rows one subscriber may have queued before it is cut off. */
export const DEFAULT_MAX_QUEUE_ROWS = 100_000
/** How often a log checks that its relation still exists (drops end subscriptions). */
const CHECK_MS = 200
/** Rows per piece of a snapshot read from disk. */
const SNAPSHOT_PIECE_ROWS = 4096

/** The columns every SUBSCRIBE result starts with, before the relation's own. */
export const SUBSCRIBE_COLUMNS: readonly ResultColumn[] = [
  { name: 'position', type: T.int8 },
  { name: 'op', type: T.text },
]

interface Logged {
  readonly chunk: Chunk
  readonly position: number
}

/** What a log watches: a named relation or a SUBSCRIBE query's own dataflow. */
interface Target {
  readonly name: string
  readonly input: RelationInput
  readonly columns: readonly ResultColumn[]
  /** Why the target is gone (dropped, failed), or undefined while it runs. */
  gone(): SluiceError | undefined
  /** Frees what the target holds (a query's dataflow) once the log is closed. */
  release?(): void
}

/** The numbered change history of one relation, and its live subscriptions. */
export class ChangeLog implements Subscriber {
  /** The position the next change row gets. */
  private nextPosition: number
  private readonly base: number
  private readonly logged: Logged[] = []
  private head = 0
  private loggedRows = 0
  private readonly subscriptions = new Set<Subscription>()
  private readonly timer: NodeJS.Timeout
  closed = false

  constructor(
    readonly target: Target,
    now: number,
    private readonly keepRows: number,
    private readonly onClose: (log: ChangeLog) => void,
  ) {
    this.base = Math.floor(now * 1000)
    this.nextPosition = this.base
    target.input.stream.subscribe(this)
    this.timer = setInterval(() => this.check(), CHECK_MS)
    this.timer.unref()
  }

  /** The position of the newest change (the one a snapshot taken now reflects). */
  get position(): number {
    return this.nextPosition - 1
  }

  get subscriberCount(): number {
    return this.subscriptions.size
  }

  chunk(chunk: Chunk): void {
    const position = this.nextPosition
    this.nextPosition += chunk.length
    this.logged.push({ chunk, position })
    this.loggedRows += chunk.length
    while (this.loggedRows > this.keepRows && this.logged.length - this.head > 1) {
      this.loggedRows -= this.logged[this.head].chunk.length
      this.head++
    }
    // Compact the array once the dropped prefix is large.
    if (this.head > 1024 && this.head * 2 > this.logged.length) {
      this.logged.splice(0, this.head)
      this.head = 0
    }
    for (const s of this.subscriptions) s.deliver(chunk, position)
  }

  watermark(): void {}

  failed(error: unknown): void {
    this.close(
      new SluiceError(
        SqlState.internal_error,
        `subscription to "${this.target.name}" failed: ${error instanceof Error ? error.message : String(error)}`,
        { domain: 'internal' },
      ),
    )
  }

  /**
   * A new subscription: snapshot (current rows at the current position) and/or the logged
   * changes after `from`, then live changes. Synchronous, so no change falls in between.
   */
  subscribe(options: SubscribeOptions): Subscription {
    if (this.closed) throw new SluiceError(SqlState.undefined_table, `relation "${this.target.name}" does not exist`)
    const gone = this.target.gone()
    if (gone !== undefined) throw gone
    const s = new Subscription(this, this.target.columns, options.maxQueueRows ?? DEFAULT_MAX_QUEUE_ROWS)
    const from = options.from
    if (from !== undefined) {
      if (!Number.isSafeInteger(from) || from > this.position) {
        throw new SluiceError(
          SqlState.invalid_parameter_value,
          `position ${from} of "${this.target.name}" has not been reached (the newest is ${this.position})`,
          {
            hint: 'Positions come from earlier changes of the same relation; resubscribe with a snapshot.',
          },
        )
      }
      const oldest = this.head < this.logged.length ? this.logged[this.head].position : this.nextPosition
      if (from + 1 < oldest) {
        throw new SluiceError(
          SqlState.invalid_parameter_value,
          `position ${from} of "${this.target.name}" is too old to resume from (the oldest kept is ${oldest})`,
          {
            hint: `Resubscribe with a snapshot. Each relation keeps its newest ${this.keepRows} changes.`,
          },
        )
      }
      s.start(from)
      for (let i = this.head; i < this.logged.length; i++) {
        const { chunk, position } = this.logged[i]
        const end = position + chunk.length
        if (end <= from + 1) continue
        const skip = Math.max(0, from + 1 - position)
        s.deliver(skip === 0 ? chunk : sliceChunk(chunk, skip, chunk.length), position + skip)
      }
    } else {
      s.start(this.position)
      if (options.snapshot !== false) {
        // Rows partly on disk (a derived view): the scan is opened now, at this position, and
        // read as the subscriber takes the pieces; changes queue behind it.
        const scan = diskScan(this.target.input, SNAPSHOT_PIECE_ROWS)
        if (scan !== undefined) s.deliverSnapshotScan(scan, this.position)
        else s.deliverSnapshot(this.target.input.snapshot(), this.position)
      }
    }
    this.subscriptions.add(s)
    return s
  }

  remove(s: Subscription): void {
    this.subscriptions.delete(s)
  }

  /** Ends every subscription (with `error` when given) and stops logging. */
  close(error?: SluiceError): void {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    this.target.input.stream.unsubscribe(this)
    for (const s of [...this.subscriptions]) s.end(error)
    this.subscriptions.clear()
    this.target.release?.()
    this.onClose(this)
  }

  private check(): void {
    const gone = this.target.gone()
    if (gone !== undefined) this.close(gone)
  }
}

/**
 * One subscriber's end: a bounded queue of change batches (the snapshot first), read with
 * `next()` / `poll()` or `for await`. Implements the Session API's ChangeSubscription.
 */
export class Subscription implements ChangeSubscription {
  private readonly queue: ChangeBatch[] = []
  private qhead = 0
  private queuedRows = 0
  private failure: SluiceError | undefined
  private ended = false
  private waiter: (() => void) | undefined
  startPosition = 0
  /** Position of the last row handed out (`from` for a resume). */
  lastPosition = 0
  /** Called once when the subscription ends, for whatever reason. */
  onEnd: (() => void) | undefined
  /** A snapshot read from disk (deliverSnapshotScan): the queued changes wait until it ends. */
  private scan: SnapshotScan | undefined
  private scanPosition = 0

  constructor(
    private readonly log: ChangeLog,
    readonly columns: readonly ResultColumn[],
    private readonly maxQueueRows: number,
  ) {}

  get relation(): string {
    return this.log.target.name
  }

  get closed(): boolean {
    return this.ended && this.qhead >= this.queue.length
  }

  /** True while the snapshot is still being read from disk: an empty poll() does not mean it ended. */
  get readingSnapshot(): boolean {
    return this.scan !== undefined
  }

  /** @internal */
  start(position: number): void {
    this.startPosition = position
    this.lastPosition = position
  }

  /** @internal The snapshot: not counted against the queue bound (it is a one-time copy). */
  deliverSnapshot(chunk: Chunk, position: number): void {
    if (chunk.length > 0) this.queue.push({ chunk, position, snapshot: true })
    this.wake()
  }

  /** @internal The snapshot as a scan of rows on disk, read as the subscriber takes it (not counted either). */
  deliverSnapshotScan(scan: AsyncIterable<Chunk>, position: number): void {
    this.scanPosition = position
    const reader: SnapshotScan = new SnapshotScan(
      scan[Symbol.asyncIterator](),
      () => {
        if (reader.done && this.scan === reader) this.scan = undefined
        this.wake()
      },
      (e) => {
        if (this.scan !== reader) return
        this.scan = undefined
        // Changes without their snapshot would mislead: the subscriber gets the failure alone.
        this.queue.length = 0
        this.qhead = 0
        this.queuedRows = 0
        // The relation dropped or the engine closing under the scan says so, not as a read error.
        this.end(this.log.target.gone() ?? snapshotFailure(e, this.relation))
      },
    )
    this.scan = reader
  }

  /** @internal */
  deliver(chunk: Chunk, position: number): void {
    if (this.ended) return
    if (this.queuedRows + chunk.length > this.maxQueueRows) {
      // Cut off: the queue is dropped at once, so a stalled client holds no memory.
      this.queue.length = 0
      this.qhead = 0
      this.queuedRows = 0
      this.end(
        new SluiceError(
          SqlState.program_limit_exceeded,
          `subscriber to "${this.relation}" fell behind: more than ${this.maxQueueRows} changes queued`,
          {
            hint: 'Read changes faster, or resume from the last position received.',
          },
        ),
      )
      return
    }
    this.queue.push({ chunk, position, snapshot: false })
    this.queuedRows += chunk.length
    this.wake()
  }

  /** Rows queued and not yet handed out. */
  get pending(): number {
    let n = this.scan?.readyRows ?? 0
    for (let i = this.qhead; i < this.queue.length; i++) n += this.queue[i].chunk.length
    return n
  }

  /** Up to `maxRows` queued rows without waiting; undefined when none. Throws the failure once drained. */
  poll(maxRows = Infinity): ChangeBatch | undefined {
    if (this.scan !== undefined) {
      const chunk = this.scan.take(maxRows)
      return chunk === undefined ? undefined : { chunk, position: this.scanPosition, snapshot: true }
    }
    if (this.qhead >= this.queue.length) {
      if (this.failure !== undefined) throw this.failure
      return undefined
    }
    const batch = this.queue[this.qhead]
    let out: ChangeBatch
    if (batch.chunk.length <= maxRows) {
      this.queue[this.qhead++] = EMPTY_BATCH
      out = batch
    } else {
      const n = Math.max(1, Math.floor(maxRows))
      out = { chunk: sliceChunk(batch.chunk, 0, n), position: batch.position, snapshot: batch.snapshot }
      this.queue[this.qhead] = {
        chunk: sliceChunk(batch.chunk, n, batch.chunk.length),
        position: batch.snapshot ? batch.position : batch.position + n,
        snapshot: batch.snapshot,
      }
    }
    if (this.qhead >= this.queue.length) {
      this.queue.length = 0
      this.qhead = 0
    }
    if (!out.snapshot) {
      this.queuedRows -= out.chunk.length
      this.lastPosition = out.position + out.chunk.length - 1
    }
    return out
  }

  /** Resolves when poll() has something to return, or the subscription has ended. */
  ready(): Promise<void> {
    if (this.scan !== undefined) {
      if (this.scan.ready || this.ended) return Promise.resolve()
    } else if (this.qhead < this.queue.length || this.ended) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const prev = this.waiter
      this.waiter = () => {
        prev?.()
        resolve()
      }
    })
  }

  /** The next batch (waiting for one); undefined once the subscription was closed. */
  async next(maxRows = Infinity): Promise<ChangeBatch | undefined> {
    for (;;) {
      const batch = this.poll(maxRows)
      if (batch !== undefined) return batch
      if (this.ended) return undefined
      await this.ready()
    }
  }

  /** Changes one row at a time: `for await (const change of db.subscribe('v'))`. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Change> {
    try {
      for (;;) {
        const batch = await this.next()
        if (batch === undefined) return
        const { chunk } = batch
        for (let i = 0; i < chunk.length; i++) {
          const row = new Array<Value>(chunk.columns.length)
          for (let c = 0; c < chunk.columns.length; c++) row[c] = chunk.columns[c][i]
          yield {
            op: chunk.ops[i] > 0 ? 'insert' : 'delete',
            position: batch.snapshot ? batch.position : batch.position + i,
            row,
            snapshot: batch.snapshot,
          }
        }
      }
    } finally {
      this.close()
    }
  }

  /** Stops the subscription; what is queued is dropped. */
  close(): void {
    this.queue.length = 0
    this.qhead = 0
    this.end(undefined)
  }

  /** Ends it with 57014, as a cancelled statement. */
  cancel(): void {
    this.queue.length = 0
    this.qhead = 0
    this.end(new SluiceError(SqlState.query_canceled, 'canceling statement due to user request'))
  }

  /** @internal Ends delivery; queued rows stay readable, then `error` (if any) is thrown. */
  end(error: SluiceError | undefined): void {
    if (this.ended) return
    this.scan?.stop()
    this.scan = undefined
    this.ended = true
    this.failure = error
    this.log.remove(this)
    this.wake()
    this.onEnd?.()
  }

  private wake(): void {
    const w = this.waiter
    this.waiter = undefined
    w?.()
  }
}

const EMPTY_BATCH: ChangeBatch = {
  chunk: { columns: [], ops: new Int8Array(0), length: 0 },
  position: 0,
  snapshot: false,
}

function sliceChunk(chunk: Chunk, start: number, end: number): Chunk {
  return {
    columns: chunk.columns.map((c) => c.slice(start, end)),
    ops: chunk.ops.slice(start, end),
    length: end - start,
  }
}

// ---- the registry of logs, per engine ----

const logs = new WeakMap<Engine, Map<string, ChangeLog>>()

/** Where SUBSCRIBE options are read from (SQL WITH options, HTTP query parameters). */
export function subscribeOptions(options: Options): SubscribeOptions {
  let snapshot: boolean | undefined
  let from: number | undefined
  let maxQueueRows: number | undefined
  for (const [key, value] of options) {
    const v = value.trim().toLowerCase()
    if (key === 'snapshot') {
      if (v !== 'true' && v !== 'false' && v !== 'on' && v !== 'off')
        throw new SluiceError(
          SqlState.invalid_parameter_value,
          `invalid value for SUBSCRIBE option "snapshot": "${value}"`,
          { hint: 'Use true or false.' },
        )
      snapshot = v === 'true' || v === 'on'
    } else if (key === 'from') {
      if (!/^\d{1,16}$/.test(v))
        throw new SluiceError(
          SqlState.invalid_parameter_value,
          `invalid value for SUBSCRIBE option "from": "${value}"`,
          { hint: 'Use a position from an earlier change.' },
        )
      from = Number(v)
    } else if (key === 'queue.max' || key === 'queue_max') {
      if (!/^\d{1,9}$/.test(v) || Number(v) < 1)
        throw new SluiceError(
          SqlState.invalid_parameter_value,
          `invalid value for SUBSCRIBE option "${key}": "${value}"`,
        )
      maxQueueRows = Number(v)
    } else {
      throw new SluiceError(SqlState.invalid_parameter_value, `unknown SUBSCRIBE option "${key}"`, {
        hint: 'SUBSCRIBE takes snapshot, from and queue.max.',
      })
    }
  }
  if (from !== undefined && snapshot === true)
    throw new SluiceError(SqlState.invalid_parameter_value, 'SUBSCRIBE cannot take both a snapshot and "from"', {
      hint: 'A resume (from = p) replays the changes after p instead of a snapshot.',
    })
  return { snapshot, from, maxQueueRows }
}

/** Subscribes to the relation (materialized view, table or source) called `name`. */
export function subscribeToRelation(engine: Engine, name: string, options: SubscribeOptions = {}): Subscription {
  const relation = engine.relation(name)
  let perEngine = logs.get(engine)
  if (perEngine === undefined) {
    perEngine = new Map()
    logs.set(engine, perEngine)
  }
  let log = perEngine.get(name)
  if (log !== undefined && log.target.input !== relation) {
    // The relation was dropped and created again since: the old log ends.
    log.close(new SluiceError(SqlState.undefined_table, `relation "${name}" was dropped`))
    log = undefined
  }
  if (log === undefined) {
    const registry = perEngine
    log = new ChangeLog(
      {
        name,
        input: relation,
        columns: relation.columns.map((c) => ({ name: c.name, type: c.type, typmod: c.typmod })),
        gone: () => {
          if (engine.closed) return new SluiceError(SqlState.admin_shutdown, 'the server is shutting down')
          if (engine.get(name) !== relation)
            return new SluiceError(SqlState.undefined_table, `relation "${name}" was dropped`)
          if (relation.kind === 'materialized_view' && relation.failure !== undefined) {
            return new SluiceError(
              SqlState.internal_error,
              `materialized view "${name}" failed and stopped updating: ${relation.failure}`,
              { domain: 'internal' },
            )
          }
          return undefined
        },
      },
      engine.now(),
      engine.options.changeLogRows ?? DEFAULT_CHANGE_LOG_ROWS,
      (closed) => {
        if (registry.get(name) === closed) registry.delete(name)
      },
    )
    perEngine.set(name, log)
  }
  return log.subscribe(options)
}

/**
 * `SUBSCRIBE TO (query)`: the query runs as a dataflow of its own for as long as the
 * subscription lasts. Its positions are its own, so it cannot be resumed.
 */
export async function subscribeToQuery(
  session: EngineSession,
  query: Query,
  options: SubscribeOptions,
): Promise<Subscription> {
  const engine = session.engine
  if (options.from !== undefined)
    throw new SluiceError(SqlState.invalid_parameter_value, 'a SUBSCRIBE to a query cannot resume "from" a position', {
      hint: 'Create a materialized view and subscribe to it by name.',
    })
  // The same planning as EXPLAIN SUBSCRIBE shows; ORDER BY's extra columns are dropped by it.
  const planned = await planStatement(session, { kind: 'subscribe', name: undefined, query, options: new Map() })
  const plan = planned.plan
  const width = plan.columns.length
  const columns = plan.columns.map((c) => ({ name: c.name, type: c.type }))
  const physical = lowerStream(streamLowering(planned), operatorContext(engine, 'subscribe'))
  const materialize = new Materialize(plan.columns.map((c) => c.type))
  const stream = new Stream('subscribe')
  let failure: string | undefined
  const dataflow = new Dataflow(
    { op: materialize, inputs: [physical], types: materialize.types },
    { chunk: (c) => stream.push(c), watermark: () => {} },
    (e) => (failure = e instanceof Error ? e.message : String(e)),
  )
  const reads = [...planned.bound.reads].map((n) => [n, engine.get(n)] as const)
  const input: RelationInput = {
    name: 'subscribe',
    stream,
    snapshot: () => {
      const rows = materialize.snapshot()
      return chunkFromRows(width, rows)
    },
  }
  const log = new ChangeLog(
    {
      name: 'subscribe',
      input,
      columns,
      gone: () => {
        if (engine.closed) return new SluiceError(SqlState.admin_shutdown, 'the server is shutting down')
        for (const [n, obj] of reads)
          if (engine.get(n) !== obj) return new SluiceError(SqlState.undefined_table, `relation "${n}" was dropped`)
        if (failure !== undefined)
          return new SluiceError(SqlState.internal_error, `the SUBSCRIBE query failed: ${failure}`, {
            domain: 'internal',
          })
        return undefined
      },
      release: () => dataflow.detach(),
    },
    engine.now(),
    0,
    () => {},
  )
  // Over a view whose rows are partly on disk, the backfill reads them over awaits.
  if (dataflow.readsFromDisk()) await dataflow.attachInSlices(() => new Promise<void>((r) => setImmediate(r)))
  else dataflow.attach()
  for (const [, obj] of reads) if (obj?.kind === 'source' && !obj.driver.started) await obj.driver.start()
  const s = log.subscribe(options)
  // The query's dataflow lives exactly as long as its one subscriber.
  s.onEnd = () => log.close()
  return s
}

/** The statement form: a result whose `subscription` streams the changes. */
export async function executeSubscribe(
  session: EngineSession,
  name: string | undefined,
  query: Query | undefined,
  withOptions: Options,
): Promise<StatementResult> {
  const options = subscribeOptions(withOptions)
  const subscription =
    name !== undefined
      ? subscribeToRelation(session.engine, name, options)
      : await subscribeToQuery(session, query!, options)
  return { tag: 'SUBSCRIBE', columns: [...SUBSCRIBE_COLUMNS, ...subscription.columns], rows: [], subscription }
}

/** The result columns of a SUBSCRIBE, without starting it (the extended protocol's Describe). */
export function describeSubscribe(
  session: EngineSession,
  name: string | undefined,
  query: Query | undefined,
): ResultColumn[] {
  if (name !== undefined)
    return [...SUBSCRIBE_COLUMNS, ...session.engine.relation(name).columns.map((c) => ({ name: c.name, type: c.type }))]
  const bound = bind(query!, planningContext(session, []), true)
  return [
    ...SUBSCRIBE_COLUMNS,
    ...bound.plan.columns
      .slice(0, bound.plan.columns.length - bound.hidden)
      .map((c) => ({ name: c.name, type: c.type })),
  ]
}
