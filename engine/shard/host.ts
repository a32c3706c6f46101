/**
 * The main thread's side of a sharded materialized view (docs/design/shards.md): its shard
 * workers, the channels between them, and the gather of their output into the view.
 *
 * Each shard's output arrives here as encoded chunks and is applied to the view's rows (kept on
 * this thread, so pull queries, indexes, subscriptions and sinks read the view as any other);
 * the view's watermark is the minimum over the shards'. A checkpoint asks every shard for a
 * barrier (shard.ts): once all are aligned, all their output before it has been applied here,
 * and the view's state on this thread and in the shards describe the same point of the input.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import type { Chunk, Watermark } from '../chunk.ts'
import type { DataType } from '../types/datatype.ts'
import type { FromShard, ReaderStatus, ShardInit, ShardRestore, ShardWrite, ToShard } from './protocol.ts'
import type { CacheMember, StateCache } from '../ops/operator.ts'
import { emptyState, type OwnerState } from '../state/cache.ts'
import type { StateStore } from '../state/store.ts'
import { shardOperatorPrefix } from '../runtime/checkpoint-store.ts'
import { ShardStateServer } from './state-link.ts'
import type { Placed, ShardThreads } from './pool.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { ACK_EVERY } from './exchange.ts'
import { decodeChunk } from './wire.ts'

/** What the main thread does with a shard's reports besides its rows. */
export interface ShardEvents {
  chunk(chunk: Chunk): void
  watermark(w: Watermark): void
  /** A shard failed: the view stops updating (as a failed dataflow does). */
  failed(message: string, stack: string | undefined): void
  /** Dead letters, counters, logs and source metrics. */
  report(m: FromShard): void
}

/** One shard's answer to a barrier. */
export interface Aligned {
  readonly writes: readonly ShardWrite[]
  readonly operators: number
  readonly offsets: ShardRestore['offsets']
  readonly clocks: ShardRestore['clocks']
}

type Base = Omit<ShardInit, 'shard' | 'peers' | 'restore' | 'state'>

/** Where a sharded view's state tables live (when the engine checkpoints). */
export interface ShardStateHome {
  readonly store: StateStore
  readonly cache: StateCache
  readonly objectId: number
}

/**
 * A shard's state tables as the engine's cache sees them: what the shard last reported at a
 * barrier. Its bytes count against the budget the other views' allowances are cut from.
 */
class ShardCacheMember implements CacheMember {
  stats: OwnerState = emptyState()
  constructor(readonly owner: string) {}
  cachedBytes(): number {
    return this.stats.cachedBytes
  }
  cachedEntries(): number {
    return this.stats.cachedEntries
  }
  totalEntries(): number {
    return this.stats.totalEntries
  }
  get hits(): number {
    return this.stats.hits
  }
  get misses(): number {
    return this.stats.misses
  }
  get evictions(): number {
    return this.stats.evictions
  }
}

export class ShardHost {
  /** Each shard's place on the engine's threads: its port, and its watch on the thread. */
  private readonly placed: Placed[] = []
  private readonly unacked: Int32Array
  /** Per watermark column: each shard's latest value. */
  private readonly marks = new Map<number, Float64Array>()
  private aligned: (Aligned | undefined)[] = []
  private alignWait: { resolve: (a: Aligned[]) => void; reject: (e: unknown) => void } | undefined
  private readonly flushes = new Map<number, { left: number; ok: boolean; resolve: (ok: boolean) => void }>()
  private nextFlush = 1
  private stopping: Promise<void> | undefined
  failure: string | undefined
  /** Each shard's readers as it last reported them. */
  private readonly readerStatus: (readonly ReaderStatus[])[] = []
  /** Per shard, with state tables: its link to the store and its place in the engine's cache. */
  private readonly links: ShardStateServer[] = []
  private readonly members: ShardCacheMember[] = []

  private constructor(
    readonly shards: number,
    private readonly types: readonly DataType[],
    private readonly events: ShardEvents,
    private readonly home: ShardStateHome | undefined,
  ) {
    this.unacked = new Int32Array(shards)
  }

  /** Starts the shards and resolves once every one has planned the view and opened its readers. */
  static async start(
    base: Base,
    restores: readonly (ShardRestore | undefined)[],
    types: readonly DataType[],
    events: ShardEvents,
    home: ShardStateHome | undefined,
    threads: ShardThreads,
  ): Promise<ShardHost> {
    const host = new ShardHost(base.shards, types, events, home)
    if (home !== undefined)
      for (let s = 0; s < base.shards; s++) {
        host.links.push(new ShardStateServer(home.store, (op) => shardOperatorPrefix(home.objectId, s, op)))
        const member = new ShardCacheMember(base.view)
        host.members.push(member)
        home.cache.join(member)
      }
    const peers: (MessagePort | undefined)[][] = Array.from({ length: base.shards }, () =>
      new Array<MessagePort | undefined>(base.shards).fill(undefined),
    )
    for (let a = 0; a < base.shards; a++)
      for (let b = a + 1; b < base.shards; b++) {
        const { port1, port2 } = new MessageChannel()
        peers[a][b] = port1
        peers[b][a] = port2
      }
    const ready: Promise<void>[] = []
    for (let s = 0; s < base.shards; s++) {
      const link = host.links[s] as ShardStateServer | undefined
      const state =
        link === undefined || home === undefined
          ? undefined
          : { link: link.ends, budgetBytes: home.cache.allowance(host.members[s]) }
      const init: ShardInit = { ...base, shard: s, peers: peers[s], restore: restores[s], state }
      const transfer = [...peers[s].filter((p): p is MessagePort => p !== undefined), ...(link?.transfer() ?? [])]
      let lost: (message: string) => void = () => {}
      const placed = threads.place(init, transfer, (message, stack) => {
        lost(message)
        host.fail(`shard ${s} of ${base.view}: ${message}`, stack)
      })
      host.placed.push(placed)
      ready.push(
        new Promise<void>((resolve, reject) => {
          lost = (message) => reject(new SluiceError(SqlState.internal_error, `shard ${s} of ${base.view}: ${message}`))
          // A shard may send output before `ready`: its readers start as it finishes.
          const first = (m: FromShard): void => {
            if (m.t === 'ready') resolve()
            else if (m.t === 'failed')
              reject(
                new SluiceError(SqlState.internal_error, `shard ${s} of ${base.view} could not start: ${m.message}`),
              )
            else return
            placed.port.off('message', first)
          }
          placed.port.on('message', first)
        }),
      )
      placed.port.on('message', (m: FromShard) => host.receive(s, m))
    }
    try {
      await Promise.all(ready)
    } catch (e) {
      await host.stop()
      throw e
    }
    return host
  }

  private send(s: number, m: ToShard): void {
    this.placed[s].port.postMessage(m)
  }

  private receive(s: number, m: FromShard): void {
    switch (m.t) {
      case 'ready':
        return
      case 'chunk':
        if (++this.unacked[s] >= ACK_EVERY) {
          this.send(s, { t: 'ack', n: this.unacked[s] })
          this.unacked[s] = 0
        }
        if (this.failure === undefined) this.events.chunk(decodeChunk(m.bytes, this.types))
        return
      case 'watermark':
        this.watermark(s, m.column, m.value)
        return
      case 'aligned':
        this.aligned[s] = { writes: m.writes, operators: m.operators, offsets: m.offsets, clocks: m.clocks }
        if (m.cache !== undefined && this.members[s] !== undefined) this.members[s].stats = m.cache
        if (this.alignWait !== undefined && this.aligned.filter((a) => a !== undefined).length === this.shards) {
          const wait = this.alignWait
          this.alignWait = undefined
          wait.resolve(this.aligned as Aligned[])
        }
        return
      case 'caught_up': {
        const f = this.flushes.get(m.id)
        if (f === undefined) return
        f.ok &&= m.ok
        if (--f.left === 0) {
          this.flushes.delete(m.id)
          f.resolve(f.ok)
        }
        return
      }
      case 'failed':
        this.fail(`shard ${s}: ${m.message}`, m.stack)
        return
      case 'readers':
        this.readerStatus[s] = m.readers
        return
      default:
        this.events.report(m)
    }
  }

  private watermark(s: number, column: number, value: number): void {
    let marks = this.marks.get(column)
    if (marks === undefined) {
      marks = new Float64Array(this.shards).fill(-Infinity)
      this.marks.set(column, marks)
    }
    if (value <= marks[s]) return
    marks[s] = value
    let min = Infinity
    for (let i = 0; i < marks.length; i++) if (marks[i] < min) min = marks[i]
    if (min !== -Infinity && min !== Infinity) this.events.watermark({ kind: 'watermark', column, value: min })
  }

  private fail(message: string, stack: string | undefined): void {
    if (this.failure !== undefined || this.stopping !== undefined) return
    this.failure = message
    this.alignWait?.reject(new SluiceError(SqlState.internal_error, message))
    this.alignWait = undefined
    for (const f of this.flushes.values()) f.resolve(false)
    this.flushes.clear()
    this.events.failed(message, stack)
  }

  /**
   * Stops every shard's readers, drains the exchanges and (with `snapshot`) collects each
   * shard's state; the shards wait for resume(). Rejects when a shard has failed.
   */
  barrier(epoch: number, snapshot: boolean): Promise<Aligned[]> {
    if (this.failure !== undefined) return Promise.reject(new SluiceError(SqlState.internal_error, this.failure))
    this.aligned = new Array<Aligned | undefined>(this.shards).fill(undefined)
    const done = new Promise<Aligned[]>((resolve, reject) => (this.alignWait = { resolve, reject }))
    for (let s = 0; s < this.shards; s++) {
      // Each shard's share of the budget, as the engine's own operators get theirs at a checkpoint.
      const allowance = this.home === undefined ? undefined : this.home.cache.allowance(this.members[s])
      this.send(s, { t: 'barrier', epoch, snapshot, allowance })
    }
    return done
  }

  resume(): void {
    if (this.failure === undefined) for (let s = 0; s < this.shards; s++) this.send(s, { t: 'resume' })
  }

  durable(): void {
    if (this.failure === undefined) for (let s = 0; s < this.shards; s++) this.send(s, { t: 'durable' })
  }

  /** Every shard's readers (sluice_catalog.sources and .lag). */
  readers(): ReaderStatus[] {
    return this.readerStatus.flat()
  }

  /** Why the view waits for its input (a reader that cannot start yet), if it does. */
  waiting(): string | undefined {
    const r = this.readers().find((x) => x.waiting)
    return r === undefined ? undefined : `source ${r.source}: ${r.error ?? 'not started'}`
  }

  pause(paused: boolean): void {
    if (this.failure === undefined) for (let s = 0; s < this.shards; s++) this.send(s, { t: 'pause', paused })
  }

  tick(now: number): void {
    if (this.failure === undefined) for (let s = 0; s < this.shards; s++) this.send(s, { t: 'tick', now })
  }

  /** FLUSH: every shard's readers reached their input's end as of now (false on timeout). */
  caughtUp(timeoutMs: number): Promise<boolean> {
    if (this.failure !== undefined) return Promise.resolve(true)
    const id = this.nextFlush++
    const done = new Promise<boolean>((resolve) => this.flushes.set(id, { left: this.shards, ok: true, resolve }))
    for (let s = 0; s < this.shards; s++) this.send(s, { t: 'flush', id, timeoutMs })
    return done
  }

  /**
   * Stops the shards (DROP, shutdown): their readers close, then their ports; the threads run on
   * for other views.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all(
        this.placed.map(async (p, s) => {
          const stopped = new Promise<void>((resolve) => {
            p.port.on('message', (m: FromShard) => {
              if (m.t === 'stopped' || m.t === 'failed') resolve()
            })
            // A shard whose thread is gone, or that does not answer, is given up.
            p.port.once('close', () => resolve())
            setTimeout(resolve, 5000).unref()
          })
          try {
            this.send(s, { t: 'stop' })
          } catch {
            // already gone
          }
          await stopped
          p.release()
          p.port.close()
        }),
      )
      for (const link of this.links) link.close()
      for (const member of this.members) this.home?.cache.leave(member)
    })()
    return this.stopping
  }
}
