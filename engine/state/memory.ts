/**
 * An in-memory StateStore with LevelDB's semantics: byte-ordered keys, atomic in-order batches,
 * scans that see the store as of their start. Used by tests and by `dataDir: ':memory:'`.
 *
 * Keys are held as latin1 strings (one char per byte), whose JS comparison is byte order, in a
 * sorted array searched by bisection next to a Map of values.
 */
import type { ScanOptions, StateStore, StateWrite, StoreSnapshot } from './store.ts'
import { scanBounds } from './store.ts'

function toKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

function fromKey(key: string): Uint8Array {
  return new Uint8Array(Buffer.from(key, 'latin1'))
}

export class MemoryStore implements StateStore {
  private readonly values = new Map<string, Uint8Array>()
  /** Every key of `values`, sorted. */
  private readonly keys: string[] = []

  get size(): number {
    return this.keys.length
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.values.get(toKey(key))
  }

  getSync(key: Uint8Array): Uint8Array | undefined {
    return this.values.get(toKey(key))
  }

  /** A copy of the whole store (tests and `:memory:` engines only: O(size), fine at their sizes). */
  snapshot(): StoreSnapshot {
    const copy = new MemoryStore()
    for (const k of this.keys) copy.keys.push(k)
    for (const [k, v] of this.values) copy.values.set(k, v)
    return { scanBatches: (prefix, options) => copy.scanBatches(prefix, options), close: () => {} }
  }

  async *scan(prefix: Uint8Array, options: ScanOptions = {}): AsyncIterable<[Uint8Array, Uint8Array]> {
    for await (const batch of this.scanBatches(prefix, options)) yield* batch
  }

  async *scanBatches(
    prefix: Uint8Array,
    options: ScanOptions = {},
  ): AsyncIterable<readonly [Uint8Array, Uint8Array][]> {
    const { gte, lt } = scanBounds(prefix, options)
    const from = this.lowerBound(toKey(gte))
    const to = lt === undefined ? this.keys.length : this.lowerBound(toKey(lt))
    // Snapshot the range now, as a LevelDB iterator would.
    let slice = this.keys.slice(from, Math.max(from, to))
    if (options.reverse === true) slice.reverse()
    if (options.limit !== undefined && options.limit >= 0) slice = slice.slice(0, options.limit)
    const entries = slice.map((k): [Uint8Array, Uint8Array] => [fromKey(k), this.values.get(k)!])
    if (entries.length > 0) yield entries
  }

  async write(batch: readonly StateWrite[]): Promise<void> {
    // Validate everything first, so a bad batch applies nothing (as LevelDB's batch does).
    for (const w of batch) {
      const ok =
        w.type === 'delRange'
          ? w.gte instanceof Uint8Array && w.lt instanceof Uint8Array
          : w.key instanceof Uint8Array && (w.type === 'del' || w.value instanceof Uint8Array)
      if (!ok) throw new TypeError(`invalid ${String(w.type)} in a state batch: keys and values must be Uint8Array`)
    }
    for (const w of batch) {
      switch (w.type) {
        case 'put': {
          const k = toKey(w.key)
          if (!this.values.has(k)) this.keys.splice(this.lowerBound(k), 0, k)
          this.values.set(k, w.value)
          break
        }
        case 'del': {
          const k = toKey(w.key)
          if (this.values.delete(k)) this.keys.splice(this.lowerBound(k), 1)
          break
        }
        case 'delRange': {
          const from = this.lowerBound(toKey(w.gte))
          const to = this.lowerBound(toKey(w.lt))
          if (to > from) for (const k of this.keys.splice(from, to - from)) this.values.delete(k)
          break
        }
      }
    }
  }

  /** The bytes of the keys and values in the range (nothing is compressed or left behind here). */
  async approximateSize(gte: Uint8Array, lt: Uint8Array): Promise<number> {
    const from = this.lowerBound(toKey(gte))
    const to = this.lowerBound(toKey(lt))
    let bytes = 0
    for (let i = from; i < to; i++) bytes += this.keys[i].length + this.values.get(this.keys[i])!.length
    return bytes
  }

  /** Nothing to reclaim: a delete frees its entry at once. */
  async compactRange(): Promise<void> {}

  async close(): Promise<void> {}

  /** Index of the first key >= k. */
  private lowerBound(k: string): number {
    let lo = 0
    let hi = this.keys.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.keys[mid] < k) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
