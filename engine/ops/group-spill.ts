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

/** FNV-1a over the bytes (a prefilter, not an identity). */
function bytesHash(bytes: Uint8Array): number {
  let h = 0x811c9dc5
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193)
  return h
}

export function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

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
  private deletes: Uint8Array[] = []
  /** Deletes collected into the checkpoint in flight. */
  private deletesInFlight: Uint8Array[] = []
  /** Tombstones: keys of both delete lists, for lookups. */
  private readonly deleted = new Set<string>()
  /**
   * The tombstones' hashes: a miss checks this first and builds the key's string only on a hash
   * match (most misses are for keys that were not deleted).
   */
  private readonly deletedHashes = new Set<number>()
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

  /** A stored group was freed: its entry is deleted at the next checkpoint. */
  noteDelete(key: Uint8Array): void {
    this.deletes.push(key)
    this.deleted.add(latin1(key))
    this.deletedHashes.add(bytesHash(key))
  }

  isDeleted(key: Uint8Array): boolean {
    return this.deleted.size > 0 && this.deletedHashes.has(bytesHash(key)) && this.deleted.has(latin1(key))
  }

  /** Keys deleted but not yet durably (latin1), for pull queries' overlay. */
  tombstones(): IterableIterator<string> {
    return this.deleted.values()
  }

  /** At a checkpoint: the deletes to write; they are in flight until `durable()`. */
  takeDeletes(): Uint8Array[] {
    const out = this.deletes
    // Appended, not replaced: after a failed checkpoint the coordinator writes its batch again
    // with the next one, so its deletes stay in flight until that lands.
    for (const k of out) this.deletesInFlight.push(k)
    this.deletes = []
    return out
  }

  noteEntryBytes(n: number): void {
    this.entryBytes += (n - this.entryBytes) / 64
  }

  /** The collected checkpoint is durable: its deletes no longer need tombstones. */
  durable(): void {
    this.durableCount++
    this.inFlight = []
    if (this.deletesInFlight.length === 0) return
    this.deletesInFlight = []
    this.deleted.clear()
    this.deletedHashes.clear()
    for (const k of this.deletes) {
      this.deleted.add(latin1(k))
      this.deletedHashes.add(bytesHash(k))
    }
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
  shadow: ReadonlySet<string>,
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
        if (shadow.size > 0 && shadow.has(latin1(k))) continue
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
