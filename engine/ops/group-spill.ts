/**
 * The bookkeeping of an operator whose state lives in a state table (docs/design/state.md; the
 * aggregate's group-table.ts, the join's join-table.ts): the store, how much is only on disk,
 * cold entries whose delete is not yet durable, and the cache statistics.
 *
 * The invariant everything rests on: an item not in memory has its current value in its cold
 * entry, as of the last durable checkpoint. A cold entry deleted since (its item read back into
 * memory, or rescued from eviction) is remembered (a tombstone) until the checkpoint writing the
 * delete is durable, so neither a cache miss nor a pull query reads it.
 *
 * Beside it, a Bloom filter of the keys written to the cold tier (`mayBeCold`): a key it never saw
 * is not there, so a brand-new key costs no store read. Keys go in when their cold entry is
 * collected (before the batch lands: a false positive meanwhile only costs a read); deleted cold
 * entries stay in it. The filter is not in the checkpoint. After a restore it is incomplete, and
 * every miss reads the store, until a scan of the cold tier from a snapshot has added every key
 * (`rebuildFilter`, or a pull query's whole output scan, which reads the same range). Nothing is
 * missed: a cold entry in the store after the snapshot was either in the snapshot or collected
 * after the restore, and every key collected since the table was made is added at once.
 */
import type { Chunk } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { CacheMember, OperatorStore } from './operator.ts'
import { decodeKey } from '../state/codec.ts'
import { hasPrefix } from '../state/store.ts'
import { decodeSnapshot } from '../state/snapshot-codec.ts'
import { ByteList, ByteSet } from '../util/byte-set.ts'
import { BloomFilter } from '../util/bloom.ts'

/**
 * The filter's first level holds at least this many keys (10 bits each: 1.25 KiB); it is sized
 * from the items in memory at the first eviction, which for a cache of any size is more.
 */
const MIN_FILTER_KEYS = 1024

export class GroupSpill implements CacheMember {
  hits = 0
  misses = 0
  evictions = 0
  /** Items whose only copy is in the store's cold tier. */
  diskOnly = 0
  /** Whether the store may hold groups that are not in memory (lookups on a miss are needed). */
  onDisk = false
  /** Slots written by the collected checkpoint whose batch is not yet durable. */
  inFlight: number[] = []
  /** Deletes of stored groups since the last collected checkpoint (encoded keys). */
  private readonly deletes = new ByteList()
  /** How many deletes were collected into the checkpoint in flight. */
  private deletesInFlight = 0
  /** Tombstones: the keys of both, for lookups (in arenas: no object per key). */
  private readonly deleted = new ByteSet()
  /** Running average of an entry's encoded bytes (key and value). */
  private entryBytes = 64
  /** Checkpoints made durable so far: a scan that began before one may hold stale entries. */
  durableCount = 0
  /** The operator's dataflow was dropped: background work stops. */
  detached = false
  /** Keys written to the cold tier (made at the first eviction, or at a restore that has some). */
  private coldKeys: BloomFilter | undefined
  /** Whether coldKeys has every key of the cold tier (not after a restore until the scan ends). */
  private coldKeysComplete = true
  /** The scan that completes the filter after a restore: to start, running, or none. */
  private rebuild: 'none' | 'pending' | 'running' = 'none'
  /** Misses the filter answered without a store read. */
  filtered = 0
  /** Output scans of the cold tier running (scanStored): they complete the filter too. */
  private outputScans = 0

  /**
   * `baseBytes`: the heap an item costs beyond twice its encoded size (an aggregate's group: its
   * slots, hash table entry and accumulators; a join row: its object, row array, bucket and the
   * join key's map entry).
   */
  constructor(
    readonly store: OperatorStore,
    readonly owner: string,
    private readonly inMemory: () => number,
    private readonly baseBytes = 192,
  ) {}

  /** Estimated heap bytes of one cached item (a group, or a join row). */
  get bytesPerGroup(): number {
    return this.baseBytes + 2 * this.entryBytes
  }

  cachedEntries(): number {
    return this.inMemory()
  }

  /** The cached items' estimate plus the cold tier's filter. */
  cachedBytes(): number {
    return this.inMemory() * this.bytesPerGroup + this.filterBytes
  }

  /** Bytes of the cold tier's filter (counted in cachedBytes). */
  get filterBytes(): number {
    return this.coldKeys?.bytes ?? 0
  }

  /** Items the cache allowance leaves room for, after the filter. */
  allowedItems(): number {
    return Math.floor((this.store.cache.allowance(this) - this.filterBytes) / this.bytesPerGroup)
  }

  /**
   * A cold entry is written (at a collect): its key goes into the filter. The first level is
   * sized from the items in memory, so a cold tier as large as the cache fills one level.
   */
  noteCold(key: Uint8Array): void {
    ;(this.coldKeys ??= new BloomFilter(Math.max(MIN_FILTER_KEYS, this.inMemory()))).add(key)
  }

  /**
   * Whether the cold tier may hold `key`; false only when the filter is complete and never saw
   * it (the store read is skipped).
   */
  mayBeCold(key: Uint8Array): boolean {
    if (!this.coldKeysComplete || this.coldKeys?.has(key) === true) return true
    this.filtered++
    return false
  }

  /**
   * Restored from a checkpoint with `cold` items in the cold tier: the filter does not know their
   * keys, so every miss reads the store until `rebuildFilter` has scanned them in.
   */
  restoredCold(cold: number): void {
    this.coldKeysComplete = false
    this.coldKeys = new BloomFilter(Math.max(MIN_FILTER_KEYS, Math.ceil(1.25 * cold)))
    this.rebuild = 'pending'
  }

  /**
   * After a restore, once (the first durable checkpoint calls it): adds the keys of the cold tier
   * under `prefix` to the filter from a store snapshot, in batches between other work, and marks
   * it complete at the end. If the scan cannot run (a shard's store has no snapshots) or fails,
   * the filter stays incomplete: misses read the store, as without one.
   */
  startFilterRebuild(prefix: Uint8Array): void {
    // While an output scan reads the cold tier (a restart's first query of the whole view), it
    // adds the keys itself: two scans of one range would halve both.
    if (this.rebuild !== 'pending' || this.outputScans > 0) return
    this.rebuild = 'running'
    void this.rebuildFilter(prefix)
  }

  private async rebuildFilter(prefix: Uint8Array): Promise<void> {
    const filter = this.coldKeys
    let snapshot: ReturnType<OperatorStore['snapshot']>
    try {
      if (filter === undefined) throw new Error('no filter')
      snapshot = this.store.snapshot()
    } catch {
      this.rebuild = 'none'
      return
    }
    let next: 'none' | 'pending' = 'none'
    try {
      scan: for await (const batch of snapshot.entries(prefix)) {
        if (this.detached || this.coldKeysComplete) return
        if (this.outputScans > 0) {
          next = 'pending' // started again (from the start) at a checkpoint with no output scan
          return
        }
        for (const [key] of batch) {
          if (!hasPrefix(key, prefix)) break scan
          filter.add(key)
        }
      }
      if (!this.detached) this.coldKeysComplete = true
    } catch {
      // The store closed under the scan (the view dropped, the server stopping): stays incomplete.
    } finally {
      this.rebuild = next
      snapshot.close()
    }
  }

  /** An output scan of the cold tier starts (from a snapshot taken now). */
  beginColdScan(): void {
    this.outputScans++
  }

  /** A key of the cold tier read by an output scan: into the filter while it is incomplete. */
  scannedCold(key: Uint8Array): void {
    if (!this.coldKeysComplete) this.coldKeys?.add(key)
  }

  /**
   * An output scan ended; `whole`: it read every key of the cold tier in its snapshot, taken
   * after the restore, so the filter has them all (the header's argument).
   */
  endColdScan(whole: boolean): void {
    this.outputScans--
    if (whole && this.coldKeys !== undefined) this.coldKeysComplete = true
  }

  /** Whether the filter has every cold key (tests). */
  get filterComplete(): boolean {
    return this.coldKeysComplete
  }

  totalEntries(): number {
    return this.inMemory() + this.diskOnly
  }

  /** A stored group was freed: its entry is deleted at the next checkpoint (`key` is copied). */
  noteDelete(key: Uint8Array): void {
    this.deletes.push(key)
    this.deleted.add(key)
  }

  isDeleted(key: Uint8Array): boolean {
    return this.deleted.has(key)
  }

  /** Keys deleted but not yet durably, for pull queries' overlay (not to be mutated). */
  tombstones(): IterableIterator<Uint8Array> {
    return this.deleted.values()
  }

  /** At a checkpoint: the deletes to write; they are in flight until `durable()`. */
  takeDeletes(): Uint8Array[] {
    const out = this.deletes.take()
    // Added to, not replaced: after a failed checkpoint the coordinator writes its batch again
    // with the next one, so its deletes stay in flight (and in `deleted`) until that lands.
    this.deletesInFlight += out.length
    return out
  }

  noteEntryBytes(n: number): void {
    this.entryBytes += (n - this.entryBytes) / 64
  }

  /** The collected checkpoint is durable: its deletes no longer need tombstones. */
  durable(): void {
    this.durableCount++
    this.inFlight = []
    if (this.deletesInFlight === 0) return
    this.deletesInFlight = 0
    this.deleted.clear()
    for (const k of this.deletes.values()) this.deleted.add(k)
  }
}

/** A chunk handed out in pieces of at most `maxRows` rows. */
export async function* piecesOf(chunk: Chunk | undefined, maxRows: number): AsyncIterable<Chunk> {
  if (chunk === undefined) return
  for (let start = 0; start < chunk.length; start += maxRows) {
    const end = Math.min(chunk.length, start + maxRows)
    yield start === 0 && end === chunk.length
      ? chunk
      : {
          columns: chunk.columns.map((c) => c.slice(start, end)),
          ops: chunk.ops.slice(start, end),
          length: end - start,
        }
  }
}

/**
 * The emitted rows of the groups stored under `prefix` (skipping `shadow`ed keys), then the
 * overlay, in pieces. Every key read goes to `spill`'s cold-tier filter while it is incomplete.
 */
export async function* scanStored(
  spill: GroupSpill,
  snapshot: ReturnType<OperatorStore['snapshot']>,
  prefix: Uint8Array,
  shadow: ByteSet,
  overlay: Chunk | undefined,
  keyTypes: readonly DataType[],
  calls: number,
  maxRows: number,
): AsyncIterable<Chunk> {
  const width = keyTypes.length + calls
  let columns: Value[][] = Array.from({ length: width }, () => [])
  let n = 0
  let whole = false
  spill.beginColdScan()
  try {
    scan: for await (const batch of snapshot.entries(prefix)) {
      for (const [k, v] of batch) {
        if (!hasPrefix(k, prefix)) break scan
        spill.scannedCold(k)
        if (shadow.has(k)) continue
        const entry = decodeSnapshot(v) as unknown[]
        if (entry[1] !== 1) continue
        const key = decodeKey(k, keyTypes, prefix.length)
        for (let c = 0; c < key.length; c++) columns[c].push(key[c])
        for (let a = 0; a < calls; a++) columns[key.length + a].push(entry[2 + a] as Value)
        if (++n === maxRows) {
          yield { columns, ops: new Int8Array(n).fill(1), length: n }
          columns = Array.from({ length: width }, () => [])
          n = 0
        }
      }
    }
    whole = true
  } finally {
    spill.endColdScan(whole)
    snapshot.close()
  }
  if (n > 0) yield { columns, ops: new Int8Array(n).fill(1), length: n }
  if (overlay !== undefined) yield* piecesOf(overlay, maxRows)
}
