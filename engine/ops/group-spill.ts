/**
 * The bookkeeping of an operator whose state lives in a state table (docs/design/state.md; the
 * aggregate's group-table.ts, the join's join-table.ts): the store, how much is only on disk,
 * cold entries whose delete is not yet durable, and the cache statistics.
 *
 * The invariant everything rests on: an item not in memory has its current value in its cold
 * entry, as of the last durable checkpoint. A cold entry deleted since (its item read back into
 * memory, or rescued from eviction) is remembered (a tombstone) until the checkpoint writing the
 * delete is durable, so neither a cache miss nor a pull query reads it.
 */
import type { Chunk } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { CacheMember, OperatorStore } from './operator.ts'
import { decodeKey } from '../state/codec.ts'
import { hasPrefix } from '../state/store.ts'
import { decodeSnapshot } from '../state/snapshot-codec.ts'
import { ByteList, ByteSet } from '../util/byte-set.ts'

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

  constructor(
    readonly store: OperatorStore,
    readonly owner: string,
    private readonly inMemory: () => number,
  ) {}

  /** Estimated heap bytes of one cached group: slots, hash table, accumulators, values. */
  get bytesPerGroup(): number {
    return 192 + 2 * this.entryBytes
  }

  cachedEntries(): number {
    return this.inMemory()
  }

  cachedBytes(): number {
    return this.inMemory() * this.bytesPerGroup
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
 * overlay, in pieces.
 */
export async function* scanStored(
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
  try {
    scan: for await (const batch of snapshot.entries(prefix)) {
      for (const [k, v] of batch) {
        if (!hasPrefix(k, prefix)) break scan
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
  } finally {
    snapshot.close()
  }
  if (n > 0) yield { columns, ops: new Int8Array(n).fill(1), length: n }
  if (overlay !== undefined) yield* piecesOf(overlay, maxRows)
}
