/**
 * The checkpoint coordinator (ARCHITECTURE.md "Exactly-once";
 * docs/design/checkpoints.md).
 *
 * Every dataflow in one engine runs on one thread and pushes each chunk synchronously from its
 * source to every view and sink. Between two pushes the whole graph is therefore aligned: every
 * operator has consumed exactly the inputs the sources' recorded positions cover. A checkpoint
 * is taken at such a point, in one synchronous step (the in-band barrier of a multi-threaded
 * engine collapses to this): each operator writes what changed since the previous checkpoint,
 * each source its position, each table the last change-log entry its views applied, each sink
 * its epoch's output (write-ahead log). One atomic LevelDB batch makes epoch n durable; only then
 * are the sinks asked to commit n, in epoch order, and their logged output dropped.
 *
 * The key layout and recovery are in checkpoint-store.ts.
 */
import type { Engine } from '../engine.ts'
import type { CheckpointWriter, Operator } from '../ops/operator.ts'
import type { StateWrite } from '../state/store.ts'
import type { SinkObject } from '../catalog/objects.ts'
import type { SourceClocks } from '../connector.ts'
import { prefixEnd } from '../state/store.ts'
import {
  META_KEY,
  concat,
  operatorPrefix,
  sinkLogKey,
  type CheckpointMeta,
  type PendingEpoch,
  dropStateWrites,
  operatorShape,
} from './checkpoint-store.ts'

/** The plan version checkpoints record (CheckpointMeta.plans). */
const PLAN_VERSION = 3

/** One row of sluice_catalog.checkpoints. */
export interface CheckpointRecord {
  readonly epoch: number
  readonly startedAt: number
  readonly durationMs: number
  readonly sizeBytes: number
  readonly status: 'completed' | 'failed'
  readonly error: string | undefined
}

/**
 * Where checkpoint keys are built: subarrays of shared slabs, not one small array each. LevelDB's
 * binding reads a key through its ArrayBuffer, and a small new Uint8Array lives on V8's heap
 * until something asks for its buffer, when it is copied out into a buffer of its own: per write,
 * an allocation for the garbage collector and most of the cost of the batch's put or del. (Keys
 * only: the memory store keeps values by reference, and one would pin its whole slab.)
 */
const SLAB_BYTES = 1 << 16
let slab = new Uint8Array(SLAB_BYTES)
let slabUsed = 0

function prefixedKey(prefix: Uint8Array, key: Uint8Array): Uint8Array {
  const n = prefix.length + key.length
  if (n > SLAB_BYTES >>> 4) return concat(prefix, key)
  if (slabUsed + n > SLAB_BYTES) {
    // The old slab stays alive as long as keys in it do (until their batch is written).
    slab = new Uint8Array(SLAB_BYTES)
    slabUsed = 0
  }
  const out = slab.subarray(slabUsed, slabUsed + n)
  slabUsed += n
  out.set(prefix, 0)
  out.set(key, prefix.length)
  return out
}

/** Collects one operator's checkpoint writes under its prefix. */
class PrefixedWriter implements CheckpointWriter {
  bytes = 0
  constructor(
    private readonly prefix: Uint8Array,
    private readonly writes: StateWrite[],
  ) {}
  put(key: Uint8Array, value: Uint8Array): void {
    this.bytes += key.length + value.length
    this.writes.push({ type: 'put', key: prefixedKey(this.prefix, key), value })
  }
  del(key: Uint8Array): void {
    this.writes.push({ type: 'del', key: prefixedKey(this.prefix, key) })
  }
  clear(): void {
    const lt = prefixEnd(this.prefix)
    if (lt !== undefined) this.writes.push({ type: 'delRange', gte: this.prefix, lt })
  }
}

interface SinkCommits {
  readonly pending: PendingEpoch[]
  running: boolean
}

/** Epochs a sink may fall behind on commits before the sources it reads are paused. */
const MAX_PENDING_EPOCHS = 8

/** A sink's output of one epoch, handed over at its checkpoint. */
type LoggedEpoch = readonly [SinkObject, number, Uint8Array | undefined]

/**
 * What a checkpoint that failed for lack of disk space handed over, written again (in order,
 * before the next checkpoint's writes, which override them) by the next attempt.
 */
interface Carried {
  /** Its writes, all but the meta record. */
  readonly writes: StateWrite[]
  readonly size: number
  readonly logged: LoggedEpoch[]
  readonly included: Operator[]
  /** Views and sinks it wrote state of. */
  readonly dataflows: readonly number[]
  /** Failed attempts so far in this episode. */
  readonly attempts: number
}

/** A store write that failed because the disk (or the user's quota) is full. */
export function isDiskFull(message: string): boolean {
  return /no space left on device|ENOSPC|disk quota exceeded|EDQUOT/i.test(message)
}

export class CheckpointCoordinator {
  /** The last durable epoch. */
  epoch: number
  readonly history: CheckpointRecord[] = []
  private timer: NodeJS.Timeout | undefined
  private running: Promise<CheckpointRecord | undefined> = Promise.resolve(undefined)
  private readonly commits = new Map<number, SinkCommits>()
  private stopped = false
  /** Set after a failed batch: operators already handed over their changes, so later incremental checkpoints would be incomplete. */
  broken: string | undefined
  /**
   * Set while checkpoints fail for lack of disk space ("disk full: ..."): sources are paused and
   * every interval retries with the failed batches carried (docs/operations.md, "Disk full").
   */
  stalled: string | undefined
  /** The failed batches of the current disk-full episode. */
  private carried: Carried | undefined
  /** The last epoch number handed out (failed attempts use up theirs: a sink's output is logged under it). */
  private attempted = 0
  /** The views and sinks whose state the last durable checkpoint holds. */
  private durableDataflows: ReadonlySet<number>
  /**
   * Sinks and sources with a dead-letter outlet whose CREATE skipped the epochs up to their
   * destination's committed progress (skipTo): left out of any checkpoint numbered at or below it,
   * which may have chosen its epoch before the skip, or its output would be committed under an
   * epoch the destination takes for one already applied.
   */
  private readonly floors = new Map<number, number>()

  constructor(
    private readonly engine: Engine,
    readonly intervalMs: number,
    last: CheckpointMeta | undefined,
  ) {
    this.epoch = last?.epoch ?? 0
    this.durableDataflows = new Set(last?.dataflows ?? [])
  }

  /**
   * A sharded view or sink whose shards did not align in this checkpoint (starting, stopped,
   * failed): nothing of it is written, its rows on this thread included, so that what the store
   * holds of it stays from one point of its input. It stays restorable from the last checkpoint
   * that had it.
   */
  private skipSharded(id: number, aligned: ReadonlySet<number>, dataflows: number[]): boolean {
    if (!this.engine.shardHosts.isSharded(id) || aligned.has(id)) return false
    if (this.durableDataflows.has(id)) dataflows.push(id)
    return true
  }

  start(): void {
    if (this.intervalMs <= 0 || this.timer !== undefined) return
    const tick = (): void => {
      this.timer = setTimeout(() => {
        void this.checkpoint().finally(() => {
          if (!this.stopped) tick()
        })
      }, this.intervalMs)
      this.timer.unref()
    }
    tick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    await this.running
  }

  /** Numbers new epochs above `epoch`: object `id` is new and its destination's progress is already there. */
  skipTo(epoch: number, id: number): void {
    if (epoch > this.epoch) this.epoch = epoch
    if (epoch > 0) this.floors.set(id, epoch)
    else this.floors.delete(id) // (held by holdUntilSkip)
  }

  /** Whether the last durable checkpoint has the state of view or sink `id`. */
  holds(id: number): boolean {
    return this.durableDataflows.has(id)
  }

  /**
   * Object `id`, restored without checkpoint state (a crash after its CREATE, before a checkpoint
   * had it), must skip past its destination's progress as its CREATE did, and learns it only once
   * its destination answers: it sits out every checkpoint (its output waits for a later one) until
   * `progress` resolves, then skips to it. A failed read is retried with backoff while `alive`.
   */
  async holdUntilSkip(id: number, what: string, progress: () => Promise<number>, alive: () => boolean): Promise<void> {
    this.floors.set(id, Infinity)
    for (let backoff = 200; ; backoff = Math.min(2 * backoff, 10_000)) {
      try {
        this.skipTo(await progress(), id)
        return
      } catch (e) {
        if (this.engine.closed || !alive()) return
        this.engine.log('warn', `${what}: cannot read its committed progress, retrying`, {
          error: e instanceof Error ? e.message : String(e),
        })
        await new Promise((r) => setTimeout(r, backoff))
      }
    }
  }

  /** Whether object `id` sits out checkpoint `epoch` (see floors); its output goes into a later one. */
  private belowFloor(id: number, epoch: number): boolean {
    const floor = this.floors.get(id)
    if (floor === undefined) return false
    if (floor >= epoch) return true
    this.floors.delete(id)
    return false
  }

  /** Sink epochs logged before a restart, to be committed again (in order) once the writer is open. */
  addPending(sinkId: number, epochs: readonly PendingEpoch[]): void {
    const c = this.sinkCommits(sinkId)
    c.pending.push(...epochs)
    c.pending.sort((a, b) => a.epoch - b.epoch)
  }

  /**
   * Stops taking checkpoints, so the last durable one stays the recovery point (e.g. an object
   * could not be restored from it: a later checkpoint without its state would lose what it had).
   * Shown in sluice_catalog.checkpoints as a failed entry with the reason.
   */
  halt(reason: string): void {
    if (this.broken !== undefined) return
    this.broken = reason
    const now = Date.now()
    this.remember({
      epoch: this.epoch + 1,
      startedAt: now,
      durationMs: 0,
      sizeBytes: 0,
      status: 'failed',
      error: reason,
    })
    this.engine.log('error', 'checkpoints stopped until restart (recovery uses the last durable one)', { reason })
  }

  /** Takes a checkpoint now (after any running one); resolves once it is durable or failed. */
  checkpoint(): Promise<CheckpointRecord | undefined> {
    const next = this.running.then(() => this.take())
    this.running = next.catch(() => undefined)
    return next
  }

  private async take(): Promise<CheckpointRecord | undefined> {
    if (this.broken !== undefined || this.engine.closed) return undefined
    const startedAt = Date.now()
    const epoch = Math.max(this.epoch, this.attempted) + 1
    this.attempted = epoch
    // Sharded views first: their shards stop and drain (every row read before reaches the view),
    // hand over their state, and wait; nothing moves in them until resume() below.
    const sharded = await this.engine.shardHosts.barrier(epoch)
    // Everything up to the store write is synchronous: the graph does not move meanwhile.
    const carried = this.carried
    this.carried = undefined
    const writes: StateWrite[] = carried?.writes ?? []
    let size = carried?.size ?? 0
    const sources: Record<string, Record<string, string>> = {}
    const clocks: Record<string, SourceClocks> = {}
    const tables: Record<string, number> = {}
    const dataflows: number[] = []
    const marks: Record<string, (readonly [number, number])[]> = {}
    const shapes: Record<string, string> = {}
    const logged: LoggedEpoch[] = carried?.logged ?? []
    const included: Operator[] = carried?.included ?? []
    const live = new Set<number>()
    const leftOut = new Set<number>()
    for (const obj of this.engine.objects.values()) {
      live.add(obj.id)
      switch (obj.kind) {
        case 'source': {
          const at = obj.driver.position ?? obj.driver.resumeFrom
          if (at !== undefined) sources[obj.id] = { ...at }
          const clock = obj.driver.position !== undefined ? obj.driver.clocks : obj.driver.resumeClocks
          if (clock !== undefined) clocks[obj.id] = clock
          marks[obj.id] = [...obj.stream.maxEventTime]
          break
        }
        case 'table': {
          tables[obj.id] = obj.rows.pushedSeq
          const trim = obj.rows.trimWrite()
          if (trim !== undefined) writes.push(trim)
          marks[obj.id] = [...obj.stream.maxEventTime]
          break
        }
        case 'materialized_view':
          if (this.skipSharded(obj.id, sharded.aligned, dataflows)) break
          size += checkpointOperators(obj.id, obj.dataflow.operators(), writes, included)
          dataflows.push(obj.id)
          shapes[obj.id] = operatorShape(obj.dataflow.operators())
          marks[obj.id] = [...obj.stream.maxEventTime]
          break
        case 'sink': {
          if (this.belowFloor(obj.id, epoch)) {
            leftOut.add(obj.id)
            break
          }
          if (this.skipSharded(obj.id, sharded.aligned, dataflows)) break
          size += checkpointOperators(obj.id, obj.dataflow.operators(), writes, included)
          dataflows.push(obj.id)
          shapes[obj.id] = operatorShape(obj.dataflow.operators())
          const bytes = obj.writer.preCommit(epoch)
          if (bytes !== undefined) {
            writes.push({ type: 'put', key: sinkLogKey(obj.id, epoch), value: bytes })
            size += bytes.length
          }
          logged.push([obj, epoch, bytes])
          break
        }
        case 'view':
          break
      }
    }
    // A carried batch may hold state of a view or sink dropped since: its DROP's deletes came first.
    for (const id of carried?.dataflows ?? []) if (!live.has(id)) for (const w of dropStateWrites(id)) writes.push(w)
    for (const w of sharded.writes) if (live.has(w.objectId) && !leftOut.has(w.objectId)) writes.push(w.write)
    size += sharded.bytes
    this.engine.shardHosts.resume()
    for (const w of this.engine.deadLetters.checkpointWrites()) writes.push(w)
    // Letters bound for a dead-letter table or topic: logged here, committed once n is durable.
    this.engine.deadLetterOutlets.preCommit(epoch, writes, (source) => this.belowFloor(source, epoch))
    const meta: CheckpointMeta = {
      epoch,
      at: this.engine.now(),
      clock: this.engine.processingTime(),
      sources,
      clocks,
      tables,
      dataflows,
      marks,
      plans: PLAN_VERSION,
      unfused: dataflows.filter((id) => this.engine.unfusedWindows.has(id)),
      unshared: dataflows.filter((id) => this.engine.unsharedSubplans.has(id)),
      shapes,
    }
    const metaBytes = new TextEncoder().encode(JSON.stringify(meta))
    writes.push({ type: 'put', key: META_KEY, value: metaBytes })
    size += metaBytes.length
    let record: CheckpointRecord
    const syncMs = Date.now() - startedAt
    try {
      await this.engine.store.write(writes)
      this.engine.log('debug', 'checkpoint written', {
        epoch,
        writes: writes.length,
        bytes: size,
        collectMs: syncMs,
        writeMs: Date.now() - startedAt - syncMs,
      })
      // Never back: a CREATE SINK may have skipped past its name's committed progress (skipTo)
      // while this checkpoint waited for the shards' barrier or the store.
      this.epoch = Math.max(this.epoch, epoch)
      this.durableDataflows = new Set(dataflows)
      record = {
        epoch,
        startedAt,
        durationMs: Date.now() - startedAt,
        sizeBytes: size,
        status: 'completed',
        error: undefined,
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e)
      record = {
        epoch,
        startedAt,
        durationMs: Date.now() - startedAt,
        sizeBytes: size,
        status: 'failed',
        error: message,
      }
      if (isDiskFull(message) && !this.stopped) {
        writes.pop() // the meta record: the next attempt writes its own
        for (const id of carried?.dataflows ?? []) if (!dataflows.includes(id)) dataflows.push(id)
        this.carried = {
          writes,
          size,
          // An epoch without output needs no commit; skipping it keeps a long episode from piling them up.
          logged: logged.filter((l) => l[2] !== undefined),
          included: [...new Set(included)],
          dataflows,
          attempts: (carried?.attempts ?? 0) + 1,
        }
        this.remember(record)
        this.stall(epoch, message)
        return record
      }
      this.broken = message
      this.engine.log(
        'error',
        'checkpoint failed; no further checkpoints until restart (recovery uses the last durable one)',
        { epoch, error: message },
      )
      // Ends a disk-full episode too: what was carried is given up, so sources run as after any failure.
      if (this.stalled !== undefined) {
        this.stalled = undefined
        this.resumeSources()
      }
    }
    this.remember(record)
    if (record.status === 'completed') {
      // Operators with state tables may now evict what this checkpoint made durable.
      for (const op of new Set(included)) op.checkpointed?.()
      this.engine.shardHosts.durable()
      this.engine.stateDisk.checkpointed(writes) // measure and compact state in the background
      this.engine.deadLetterOutlets.durable()
      // In epoch order: a carried failed epoch's output before this one's.
      for (const [sink, n, bytes] of logged) {
        this.sinkCommits(sink.id).pending.push({ epoch: n, bytes })
        this.drain(sink)
      }
      if (carried !== undefined) this.unstall(epoch, carried.attempts)
    } else this.engine.deadLetterOutlets.failed()
    return record
  }

  /**
   * A checkpoint failed for lack of disk space: the sources pause (what they read stays in
   * memory until a checkpoint holds it), the views show `halted`, and the next interval retries.
   * Logged once per episode.
   */
  private stall(epoch: number, message: string): void {
    for (const src of this.engine.sources()) src.driver.paused = true
    this.engine.shardHosts.pause(true)
    if (this.stalled !== undefined) {
      this.engine.log('debug', 'checkpoint failed again: disk still full', { epoch, error: message })
      return
    }
    this.stalled = `disk full: ${message}`
    this.engine.log(
      'error',
      'checkpoint failed: disk full; sources paused, retrying every checkpoint interval (nothing is lost: the failed checkpoint is written again with the next one)',
      { epoch, error: message },
    )
  }

  /** A checkpoint after a disk-full episode is durable: sources resume unless a sink or outlet holds them. */
  private unstall(epoch: number, attempts: number): void {
    this.stalled = undefined
    this.resumeSources()
    this.engine.log('info', 'disk space available again: checkpoint durable, sources resumed', {
      epoch,
      failedAttempts: attempts,
    })
  }

  /** Unpauses the sources a disk-full episode paused, but those a sink or outlet far behind holds. */
  private resumeSources(): void {
    const held = new Set(this.engine.deadLetterOutlets.pausingSources())
    for (const sink of this.engine.objects.values()) {
      if (sink.kind !== 'sink' || this.pendingEpochs(sink.id) < MAX_PENDING_EPOCHS) continue
      for (const name of upstreamSources(this.engine, sink.dependsOn)) held.add(name)
    }
    for (const src of this.engine.sources()) src.driver.paused = held.has(src.name)
    this.engine.shardHosts.pause(false)
  }

  private remember(record: CheckpointRecord): void {
    this.history.push(record)
    if (this.history.length > 100) this.history.shift()
    const m = this.engine.metrics
    m.checkpoints.inc({ status: record.status })
    m.checkpointSeconds.observe(record.durationMs / 1000)
    m.checkpointBytes.set(record.sizeBytes)
    m.checkpointEpoch.set(this.epoch)
  }

  private sinkCommits(sinkId: number): SinkCommits {
    let c = this.commits.get(sinkId)
    if (c === undefined) {
      c = { pending: [], running: false }
      this.commits.set(sinkId, c)
    }
    return c
  }

  /** Pending epochs of a sink (sluice_catalog.sinks). */
  pendingEpochs(sinkId: number): number {
    return this.commits.get(sinkId)?.pending.length ?? 0
  }

  /** Commits a sink's pending epochs in order; on failure leaves them for the next checkpoint's try. */
  drain(sink: SinkObject): void {
    const c = this.sinkCommits(sink.id)
    if (c.running) return
    c.running = true
    void (async () => {
      try {
        while (c.pending.length > 0 && !this.stopped && this.engine.get(sink.name) === sink) {
          const next = c.pending[0]
          if (next.bytes === undefined) {
            // Nothing was written in that epoch: no transaction, no progress marker needed.
            c.pending.shift()
            continue
          }
          const t0 = performance.now()
          try {
            await sink.ready()
            await sink.writer.commit(next.epoch, next.bytes)
          } catch (e) {
            sink.lastError = e instanceof Error ? e.message : String(e)
            this.engine.metrics.sinkErrors.inc({ sink: sink.name })
            this.engine.log(
              'warn',
              `sink ${sink.name}: commit of epoch ${next.epoch} failed, retrying at the next checkpoint`,
              { error: sink.lastError },
            )
            break
          }
          this.engine.metrics.sinkCommitSeconds.observe({ sink: sink.name }, (performance.now() - t0) / 1000)
          sink.lastError = undefined
          sink.committedEpoch = next.epoch
          c.pending.shift()
          await this.engine.store.write([{ type: 'del', key: sinkLogKey(sink.id, next.epoch) }]).catch(() => {})
        }
      } finally {
        c.running = false
        this.backpressure(sink, c.pending.length)
      }
    })()
  }

  /** A sink far behind on commits pauses the sources it reads (lag grows, memory does not). */
  private backpressure(sink: SinkObject, pending: number): void {
    // A disk-full episode pauses every source until a checkpoint is durable again.
    const behind = pending >= MAX_PENDING_EPOCHS || this.stalled !== undefined
    for (const name of upstreamSources(this.engine, sink.dependsOn)) {
      const src = this.engine.get(name)
      if (src?.kind === 'source') src.driver.paused = behind
    }
  }
}

/** Sources a set of objects reads, transitively. */
export function upstreamSources(engine: Engine, names: readonly string[]): Set<string> {
  const out = new Set<string>()
  const seen = new Set<string>()
  const visit = (name: string): void => {
    if (seen.has(name)) return
    seen.add(name)
    const obj = engine.get(name)
    if (obj === undefined) return
    if (obj.kind === 'source') out.add(name)
    else if (obj.kind === 'materialized_view' || obj.kind === 'view' || obj.kind === 'sink')
      for (const d of obj.dependsOn) visit(d)
  }
  for (const n of names) visit(n)
  return out
}

function checkpointOperators(
  objectId: number,
  ops: readonly Operator[],
  writes: StateWrite[],
  included: Operator[],
): number {
  let size = 0
  ops.forEach((op, i) => {
    if (op.checkpoint === undefined) return
    const w = new PrefixedWriter(operatorPrefix(objectId, i), writes)
    op.checkpoint(w)
    size += w.bytes
    included.push(op)
  })
  return size
}
