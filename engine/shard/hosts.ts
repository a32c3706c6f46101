/**
 * Every sharded view of the engine, as the checkpoint coordinator, FLUSH and the clock see them;
 * and where their shards' state lives in the store (docs/design/shards.md, "State").
 *
 * A shard's operator i writes under shardOperatorPrefix(view, shard, i) with the keys the
 * operator chose, as an unsharded view's operator does under its own prefix; the entry at
 * operator −1 holds the shard's reader positions and how many operators and shards there are.
 */
import type { Recovery } from '../runtime/checkpoint-store.ts'
import type { StateWrite } from '../state/store.ts'
import type { ReaderStatus, ShardRestore } from './protocol.ts'
import type { Aligned, ShardHost } from './host.ts'
import { concat, shardOperatorPrefix } from '../runtime/checkpoint-store.ts'
import { prefixEnd } from '../state/store.ts'
import { ShardThreads } from './pool.ts'

/** The entry at operator −1 of each shard. */
interface ShardMeta {
  readonly shards: number
  readonly operators: number
  readonly offsets: ShardRestore['offsets']
  readonly clocks: ShardRestore['clocks']
}

/** One store write of a sharded view's checkpoint. */
interface ShardStateWrite {
  readonly objectId: number
  readonly write: StateWrite
}

/** A shard's barrier answer as store writes under its prefixes. */
function shardWrites(objectId: number, shard: number, shards: number, a: Aligned, out: ShardStateWrite[]): number {
  let bytes = 0
  const meta: ShardMeta = { shards, operators: a.operators, offsets: a.offsets, clocks: a.clocks }
  const value = new TextEncoder().encode(JSON.stringify(meta))
  out.push({ objectId, write: { type: 'put', key: shardOperatorPrefix(objectId, shard, -1), value } })
  bytes += value.length
  for (const w of a.writes) {
    const prefix = shardOperatorPrefix(objectId, shard, w.op)
    if (w.type === 'put') {
      out.push({ objectId, write: { type: 'put', key: concat(prefix, w.key), value: w.value } })
      bytes += w.key.length + w.value.length
    } else if (w.type === 'del') out.push({ objectId, write: { type: 'del', key: concat(prefix, w.key) } })
    else {
      const lt = prefixEnd(prefix)
      if (lt !== undefined) out.push({ objectId, write: { type: 'delRange', gte: prefix, lt } })
    }
  }
  return bytes
}

/**
 * A sharded view's shards as the checkpoint left them; undefined when it holds none (an
 * unsharded view). Only the positions: each shard reads its operators' state itself, through
 * its state link (state-link.ts), as the main thread's operators read theirs.
 */
export async function loadShardRestores(recovery: Recovery, objectId: number): Promise<ShardRestore[] | undefined> {
  const first = await recovery.entriesUnder(shardOperatorPrefix(objectId, 0, -1))
  if (first.length === 0) return undefined
  const { shards } = JSON.parse(new TextDecoder().decode(first[0][1])) as ShardMeta
  const restores: ShardRestore[] = []
  for (let s = 0; s < shards; s++) {
    const [entry] = await recovery.entriesUnder(shardOperatorPrefix(objectId, s, -1))
    const meta = JSON.parse(new TextDecoder().decode(entry[1])) as ShardMeta
    restores.push({ offsets: meta.offsets, clocks: meta.clocks, restored: meta.operators > 0 })
  }
  return restores
}

export class ShardHosts {
  private readonly hosts = new Map<number, ShardHost>()
  /** Barriers run one at a time (a checkpoint's, a FLUSH's). */
  private lock: Promise<void> = Promise.resolve()
  /** Releases the lock a checkpoint's barrier() holds until resume(). */
  private unlock: (() => void) | undefined
  /** Starts of views restored at startup, run once every view is back (release()). */
  private deferred: (() => Promise<void>)[] | undefined = undefined
  /**
   * Views and sinks that run sharded, from their creation (before their shards run) to DROP: a
   * checkpoint writes their state only when their shards aligned in it (views()).
   */
  private readonly sharded = new Set<number>()
  /** The threads every sharded view's shards run on (pool.ts), from the first need or warm(). */
  private threads: Promise<ShardThreads> | undefined

  /** Boots `size` shard threads now, so a new sharded view need not wait for threads to boot. */
  async warm(size: number): Promise<void> {
    await (this.threads ??= ShardThreads.open(size, true))
  }

  /** The engine's shard threads; the first call fixes their number (`size`) and boots them as shards come. */
  threadsFor(size: number): Promise<ShardThreads> {
    return (this.threads ??= ShardThreads.open(size, false))
  }

  get size(): number {
    return this.hosts.size
  }

  /** A view or sink that runs sharded, from before its shards start. */
  declare(objectId: number): void {
    this.sharded.add(objectId)
  }

  /** Whether the view or sink runs sharded (its state is split between its shards and this thread). */
  isSharded(objectId: number): boolean {
    return this.sharded.has(objectId)
  }

  add(objectId: number, host: ShardHost): void {
    this.hosts.set(objectId, host)
  }

  get(objectId: number): ShardHost | undefined {
    return this.hosts.get(objectId)
  }

  /** Stops a view's shards (DROP) and forgets them. */
  async remove(objectId: number): Promise<void> {
    const host = this.hosts.get(objectId)
    this.hosts.delete(objectId)
    this.sharded.delete(objectId)
    await host?.stop()
  }

  /** While the engine restores: starts wait for release(), as the sources' readers do. */
  hold(): void {
    this.deferred ??= []
  }

  /** Runs `start` now, or at release() while held. */
  async whenReleased(start: () => Promise<void>): Promise<void> {
    if (this.deferred === undefined) await start()
    else this.deferred.push(start)
  }

  async release(): Promise<void> {
    const starts = this.deferred ?? []
    this.deferred = undefined
    for (const start of starts) await start()
  }

  /** Waits for the barriers before; the returned function releases the lock. */
  private async acquire(): Promise<() => void> {
    const previous = this.lock
    let release!: () => void
    this.lock = new Promise((resolve) => (release = resolve))
    await previous
    return release
  }

  /**
   * Checkpoint n: every sharded view's shards stop, drain and hand over their state, as store
   * writes. They wait until resume(). `aligned`: the views whose shards did. A view whose shards
   * failed, have not started yet or were stopped writes nothing, on this thread either (it keeps
   * the state of its last good checkpoint: its rows here and its shards' state from one point).
   */
  async barrier(epoch: number): Promise<{ writes: ShardStateWrite[]; bytes: number; aligned: Set<number> }> {
    const writes: ShardStateWrite[] = []
    const aligned = new Set<number>()
    if (this.hosts.size === 0) return { writes, bytes: 0, aligned }
    this.unlock = await this.acquire()
    let bytes = 0
    await Promise.all(
      [...this.hosts].map(async ([id, host]) => {
        let all: Aligned[]
        try {
          all = await host.barrier(epoch, true)
        } catch {
          return
        }
        all.forEach((a, s) => (bytes += shardWrites(id, s, host.shards, a, writes)))
        aligned.add(id)
      }),
    )
    return { writes, bytes, aligned }
  }

  resume(): void {
    for (const host of this.hosts.values()) host.resume()
    const unlock = this.unlock
    this.unlock = undefined
    unlock?.()
  }

  durable(): void {
    for (const host of this.hosts.values()) host.durable()
  }

  /** Sources paused for the whole engine (a full disk) or not. */
  pause(paused: boolean): void {
    for (const host of this.hosts.values()) host.pause(paused)
  }

  /** The shards' readers of source `name`, over every sharded view. */
  readersOf(name: string): ReaderStatus[] {
    return [...this.hosts.values()].flatMap((h) => h.readers().filter((r) => r.source === name))
  }

  tick(now: number): void {
    for (const host of this.hosts.values()) host.tick(now)
  }

  /**
   * FLUSH: every shard's readers reach what their inputs hold now, then a barrier drains the
   * exchanges, so the views hold every row read. False on timeout.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.hosts.size === 0) return true
    const hosts = [...this.hosts.values()]
    const caught = await Promise.all(hosts.map((h) => h.caughtUp(timeoutMs)))
    if (caught.some((ok) => !ok)) return false
    const release = await this.acquire()
    try {
      await Promise.all(hosts.map((h) => h.barrier(0, false).catch(() => undefined)))
    } finally {
      for (const h of hosts) h.resume()
      release()
    }
    return true
  }

  async stopAll(): Promise<void> {
    const hosts = [...this.hosts.values()]
    this.hosts.clear()
    await Promise.all(hosts.map((h) => h.stop()))
    const threads = this.threads
    this.threads = undefined
    await (await threads)?.close()
  }
}
