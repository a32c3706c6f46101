/**
 * The process-wide budget for operator state kept in memory (docs/design/state.md). Operators
 * whose state lives in state tables join it; after each durable checkpoint each evicts clean
 * entries down to its allowance. The budget bounds what is cached, not what changes between two
 * checkpoints: entries changed since the last durable checkpoint stay in memory until it lands
 * (the checkpoint interval bounds them).
 */
import { getHeapStatistics } from 'node:v8'
import type { CacheMember, StateCache } from '../ops/operator.ts'

/**
 * The default budget: a quarter of the heap this process may grow to. The cached bytes are
 * estimates of the entries' heap; what a cached group really costs the process is about twice
 * that once its slot arrays outside the heap, the garbage of misses and the store's buffers are
 * counted (50M keys in a 2 GB heap: RSS 3.1-3.3 GB with half the heap as budget;
 * docs/design/state.md, "The default budget"). SLUICE_STATE_CACHE_BYTES overrides it, e.g. to
 * run a test suite with a cache so small that almost every access goes to the store.
 */
export function defaultStateCacheBytes(): number {
  const fromEnv = Number(process.env.SLUICE_STATE_CACHE_BYTES)
  if (Number.isFinite(fromEnv) && fromEnv > 0) return fromEnv
  return Math.floor(getHeapStatistics().heap_size_limit / 4)
}

/**
 * Above this share of the heap limit in use, allowances shrink in proportion: the per-entry
 * sizes are estimates, and a process that nears its limit dies (a full heap ends it) while one
 * that evicts more only reads more from disk.
 */
const HEAP_PRESSURE = 0.55

/** One view's state in the cache, summed over its operators. */
export interface OwnerState {
  cachedEntries: number
  cachedBytes: number
  totalEntries: number
  hits: number
  misses: number
  evictions: number
}

export class EngineStateCache implements StateCache {
  private readonly members = new Set<CacheMember>()

  constructor(private budget: number) {}

  get budgetBytes(): number {
    return this.budget
  }

  /** A shard's cache: its share of the engine's budget, as the main thread sets it at each barrier. */
  resize(bytes: number): void {
    this.budget = bytes
  }

  /** Every member's figures summed (a shard reports its whole cache to the main thread). */
  total(): OwnerState {
    const s = emptyState()
    for (const m of this.members) addMember(s, m)
    return s
  }

  join(member: CacheMember): void {
    this.members.add(member)
  }

  leave(member: CacheMember): void {
    this.members.delete(member)
  }

  allowance(member: CacheMember): number {
    let others = 0
    for (const m of this.members) if (m !== member) others += m.cachedBytes()
    const share = this.budgetBytes / Math.max(1, this.members.size)
    const allowance = Math.max(share, this.budgetBytes - others)
    const heap = getHeapStatistics()
    const pressure = heap.used_heap_size / heap.heap_size_limit
    return pressure > HEAP_PRESSURE ? (allowance * HEAP_PRESSURE) / pressure : allowance
  }

  /** Members, for tests. */
  all(): readonly CacheMember[] {
    return [...this.members]
  }

  /** What each view (or sink) holds, summed over its operators: /metrics and sluice_catalog.state. */
  byOwner(): Map<string, OwnerState> {
    const out = new Map<string, OwnerState>()
    for (const m of this.members) {
      let s = out.get(m.owner)
      if (s === undefined) {
        s = emptyState()
        out.set(m.owner, s)
      }
      addMember(s, m)
    }
    return out
  }

  get cachedBytes(): number {
    let n = 0
    for (const m of this.members) n += m.cachedBytes()
    return n
  }
}

/** An owner with nothing cached, counted or evicted yet. */
export function emptyState(): OwnerState {
  return { cachedEntries: 0, cachedBytes: 0, totalEntries: 0, hits: 0, misses: 0, evictions: 0 }
}

function addMember(s: OwnerState, m: CacheMember): void {
  s.cachedEntries += m.cachedEntries()
  s.cachedBytes += m.cachedBytes()
  s.totalEntries += m.totalEntries()
  s.hits += m.hits
  s.misses += m.misses
  s.evictions += m.evictions
}
