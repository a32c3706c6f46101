/**
 * Backpressure on operator state in memory (docs/design/state.md, "Backpressure on new keys").
 *
 * State tables evict only what a durable checkpoint holds, so groups or join rows that arrive
 * between two checkpoints stay in memory whatever the cache's budget. A burst of new keys during
 * a slow checkpoint (at 600k new keys/s and a 6 s checkpoint, 4M groups) would grow the heap
 * past any budget. So before each poll a source asks this gate: while the cache holds more than
 * HIGH_WATER times its budget (and MIN_OVERSHOOT more), polls wait, and a checkpoint is taken at once, whose durable end
 * lets the operators evict down to their allowances. Lag grows instead of memory.
 *
 * A sharded view's shards poll on their own threads against their own share of the budget: a
 * shard over its mark holds its polls, posts `pressure`, and goes on at the next durable
 * checkpoint (engine/shard/shard.ts), which `relieveShard` takes at once.
 */
import type { CheckpointRecord } from './checkpoint.ts'
import type { EngineStateCache } from '../state/cache.ts'

/** Polls wait above this multiple of the cache's budget (the cached bytes are estimates) ... */
const HIGH_WATER = 1.25
/**
 * ... and this many bytes over it: a cache of a few bytes (a test setting where every group is
 * evicted) always holds the groups changed since the last checkpoint, and must not hold every poll.
 */
const MIN_OVERSHOOT = 16 << 20
/** Checkpoints one episode takes at most before it lets polls go on (each evicts what the last made durable). */
const MAX_CHECKPOINTS = 3

/** Whether a cache (the engine's, or a shard's share) is over its high-water mark. */
export function overHighWater(cache: EngineStateCache): boolean {
  const budget = cache.budgetBytes
  return cache.cachedBytes > Math.max(HIGH_WATER * budget, budget + MIN_OVERSHOOT)
}

export interface GateCheckpoints {
  /** Set when checkpoints stopped: nothing can be evicted, so nothing is held. */
  readonly broken: string | undefined
  checkpoint(): Promise<CheckpointRecord | undefined>
}

export class StateGate {
  private waiting: Promise<void> | undefined
  /** The checkpoint a shard's pressure asked for, until it ends. */
  private forShards: Promise<unknown> | undefined
  /** Times polls were held on the main thread, and shards asked (sluice_state_backpressure_holds). */
  episodes = 0
  shardRequests = 0

  constructor(
    private readonly cache: EngineStateCache,
    private readonly checkpoints: GateCheckpoints,
  ) {}

  /** Whether the cache is over its high-water mark. */
  over(): boolean {
    return overHighWater(this.cache)
  }

  /**
   * A shard's cache is over its high-water mark (its polls wait for the next durable checkpoint):
   * a checkpoint now, unless one asked for by a shard is still to run.
   */
  relieveShard(): void {
    this.shardRequests++
    if (this.forShards !== undefined || this.checkpoints.broken !== undefined) return
    this.forShards = this.checkpoints
      .checkpoint()
      .catch(() => undefined)
      .finally(() => (this.forShards = undefined))
  }

  /** Before a source's poll: undefined to go on, or a promise that resolves once checkpoints evicted. */
  beforePoll(): Promise<void> | undefined {
    if (this.waiting !== undefined) return this.waiting
    if (this.checkpoints.broken !== undefined || !this.over()) return undefined
    this.episodes++
    this.waiting = this.relieve().finally(() => (this.waiting = undefined))
    return this.waiting
  }

  private async relieve(): Promise<void> {
    for (let i = 0; i < MAX_CHECKPOINTS && this.over(); i++) {
      const record = await this.checkpoints.checkpoint().catch(() => undefined)
      if (record?.status !== 'completed') return
    }
  }
}
