/**
 * A hash join's stored rows as a state table with a bounded cache (docs/design/state.md). Two
 * tiers in the store:
 *
 * - **Row entries** hold the rows of buckets never evicted, one entry per stored row by id
 *   (HashJoin's checkpoint, as for every join).
 * - **Cold entries** hold the evicted buckets: one entry per join key and side (all the bucket's
 *   rows with their counts and match counts), keyed by COLD_PREFIX, the side and the encoded join
 *   key, so a miss reads exactly the rows it needs with one synchronous `getSync`.
 *
 * The unit of eviction is a bucket (a join key on one side): a probe or an update of key K on
 * side S needs all of S's rows of K, never a part of them. After every checkpoint each bucket is
 * in exactly one tier. The first time a bucket is evicted (at a checkpoint's collect) its cold
 * entry is written and its rows' entries deleted in the same atomic batch; from then on the
 * bucket is **backed** by its cold entry, as an aggregate's evicted group is (group-table.ts). It
 * leaves memory once that batch is durable, unless input touched it meanwhile (it then stays,
 * still backed). A miss reads a bucket back and it stays backed: a change rewrites its cold entry
 * at the next checkpoint, and evicting it again writes nothing when nothing changed. So a bucket
 * that cycles through the cache costs one read per round, and one put when it changed. A backed
 * bucket that empties has its cold entry deleted at the next checkpoint; until that is durable
 * the key is a tombstone, so a miss never reads it.
 *
 * A restart restores the row entries (buckets never evicted) and none of the cold tier: backed
 * buckets that were in memory start on disk. A join that
 * frees closed windows (join-closing.ts) also keeps a directory entry per cold bucket (its side and
 * join key, no rows), restored with the row entries, so it can still free the cold buckets of
 * windows that close after a restart.
 *
 * A miss consults a Bloom filter over the cold entries' keys (side byte and join key) first
 * (GroupSpill.mayBeCold): a join key never evicted on that side costs no store read. After a
 * restart the filter is rebuilt from a scan of the cold tier that starts at the first durable
 * checkpoint.
 */
import type { Column } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { CheckpointWriter, OperatorStore } from './operator.ts'
import { RowMap, type RowEntry } from '../util/row-map.ts'
import { GroupSpill } from './group-spill.ts'
import { decodeKey, encodeKey } from '../state/codec.ts'
import { decodeSnapshot, encodeSnapshot } from '../state/snapshot-codec.ts'

/** Cold entries' local keys start with this, then the side byte; row entries are below it. */
export const JOIN_COLD_PREFIX = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff])
/** The meta entry's local key (rows in the cold tier, whether it was ever used). */
export const JOIN_META_KEY = new Uint8Array(0)
/**
 * Buckets with more rows than this stay in memory: a hot key's rows would be written and read
 * back whole at every eviction and miss (one entry of megabytes), for little memory saved.
 */
export const MAX_EVICT_ROWS = 10_000

/** A stored row as the table sees it (HashJoin's StoredRow). */
export interface TableRow {
  readonly row: Value[]
  count: number
  matches: number
  readonly side: 0 | 1
  readonly id: number
  touched: number
}

/** The rows of one join key: by whole row, or a plain list for an append-only input. */
export type TableBucket = RowMap<TableRow> | TableRow[]

/** A stored row's entry: ROW_ENTRY, then its id (8 bytes, big-endian). */
export const ROW_ENTRY = 0

/** A cold bucket's directory entry: JOIN_DIR_ENTRY, its side, its encoded join key (no value). */
export const JOIN_DIR_ENTRY = 2
const NO_VALUE = new Uint8Array(0)

/** The directory entry of the cold entry `cold`. */
function dirKey(cold: Uint8Array): Uint8Array {
  const key = new Uint8Array(cold.length - JOIN_COLD_PREFIX.length + 1)
  key[0] = JOIN_DIR_ENTRY
  key.set(cold.subarray(JOIN_COLD_PREFIX.length), 1)
  return key
}

export function rowKey(id: number): Uint8Array {
  const key = new Uint8Array(9)
  key[0] = ROW_ENTRY
  // Big-endian, byte by byte: ids are below 2^53, and a BigInt per row was a tenth of a miss.
  let hi = Math.floor(id / 0x1_0000_0000)
  let lo = id >>> 0
  for (let b = 8; b >= 5; b--, lo >>>= 8) key[b] = lo & 0xff
  for (let b = 4; b >= 1; b--, hi >>>= 8) key[b] = hi & 0xff
  return key
}

/** What the table needs of the join that holds the buckets. */
export interface JoinHost {
  /** Per side: buckets by join key. */
  readonly tables: readonly [RowMap<TableBucket>, RowMap<TableBucket>]
  /** The join key's types (both sides' maps use them). */
  readonly keyTypes: readonly DataType[]
  /** Per side: the row's types, and whether the input never retracts (its buckets are lists). */
  readonly rowTypes: readonly [readonly DataType[], readonly DataType[]]
  readonly appendOnly: readonly [boolean, boolean]
  /** A new row's id (unique per operator). */
  nextId(): number
  /**
   * A bucket read back from the cold tier, or known there from its directory entry at a restart,
   * opened (join-closing.ts lists it by closing value). With it, cold buckets get directory entries.
   */
  opened?(side: 0 | 1, key: Value[]): void
}

const COLD_SIDE = [0, 1].map((s) => {
  const p = new Uint8Array(JOIN_COLD_PREFIX.length + 1)
  p.set(JOIN_COLD_PREFIX)
  p[JOIN_COLD_PREFIX.length] = s
  return p
})

function rowsOf(bucket: TableBucket): TableRow[] {
  if (Array.isArray(bucket)) return bucket
  const out: TableRow[] = []
  for (const e of bucket.entries()) out.push(e.value)
  return out
}

function sizeOf(bucket: TableBucket): number {
  return Array.isArray(bucket) ? bucket.length : bucket.size
}

/** GroupSpill's baseBytes for a join row (see the constructor). */
const JOIN_ROW_BASE_BYTES = 340

export class JoinTable {
  readonly spill: GroupSpill
  /** Stored rows in memory (both sides, NULL-key rows included). */
  rows = 0
  /** Buckets used since the eviction sweep last passed (their second chance). */
  private readonly recent = new Set<RowEntry<TableBucket>>()
  /**
   * Whether uses are recorded in `recent`: only while the rows are near the allowance (above
   * half of it at the last collect), so a join well within the cache pays a branch per row.
   */
  private tracking = true
  /**
   * Buckets chosen at a collect, with their rows, freed by checkpointed() unless touched since:
   * a touched victim stays in memory, backed by the cold entry that collect wrote (rescued).
   */
  private readonly evicting = new Map<RowEntry<TableBucket>, number>()
  /** Buckets in memory whose copy in the store is their cold entry, not row entries, by side. */
  private readonly backed = new Map<RowEntry<TableBucket>, 0 | 1>()
  /** Backed buckets changed since the last collect (their cold entries are rewritten there). */
  private readonly dirty = new Set<RowEntry<TableBucket>>()
  /** Rows of the backed buckets (in the cold tier as of a restart). */
  private backedRows = 0
  /** The eviction sweep's position (over side 0's buckets, then side 1's). */
  private hand: Iterator<readonly [0 | 1, RowEntry<TableBucket>]> | undefined

  constructor(
    private readonly host: JoinHost,
    store: OperatorStore,
  ) {
    // A row held costs about 470 bytes of heap with a one-column key and row (measured: 800k rows
    // of two joined bigint tables, 2026-12-07), where 192 + twice its encoding said 320: the
    // cache let the heap fill before it evicted.
    this.spill = new GroupSpill(store, store.owner, () => this.rows, JOIN_ROW_BASE_BYTES)
    store.cache.join(this.spill)
  }

  /** A directory entry read at recovery: its cold bucket is announced to `opened`. */
  restoreDir(key: Uint8Array): void {
    this.host.opened?.(key[1] as 0 | 1, decodeKey(key, this.host.keyTypes, 2))
  }

  restoreMeta(value: Uint8Array): void {
    const [cold, onDisk] = decodeSnapshot(value) as [number, number]
    this.spill.diskOnly = cold
    this.spill.onDisk = cold > 0 || onDisk === 1
    if (this.spill.onDisk) this.spill.restoredCold(cold)
  }

  detach(): void {
    this.spill.detached = true
    this.spill.store.cache.leave(this.spill)
  }

  /** A bucket found in memory (the per-row path: a set insert, a branch when evicting). */
  hit(entry: RowEntry<TableBucket>): void {
    this.spill.hits++
    if (this.tracking) this.recent.add(entry)
    if (this.evicting.size > 0) this.evicting.delete(entry) // rescued, if it was a victim
  }

  /**
   * Whether a bucket is backed: a change to its rows is then noted with `changed` (its cold entry
   * is rewritten), not per row. One map lookup, none until the first eviction.
   */
  backs(entry: RowEntry<TableBucket>): boolean {
    return this.backed.size > 0 && this.backed.has(entry)
  }

  /**
   * A backed bucket changed, gaining `rows` rows (negative: losing them; the caller counted them
   * in `rows`): its cold entry is rewritten at the next checkpoint.
   */
  changed(entry: RowEntry<TableBucket>, rows: number): void {
    this.dirty.add(entry)
    this.backedRows += rows
  }

  /**
   * An emptied bucket left memory (it was touched first, so it is no victim): a backed one's cold
   * entry is deleted at the next checkpoint.
   */
  dropped(entry: RowEntry<TableBucket>): void {
    this.recent.delete(entry)
    this.unback(entry)
  }

  /** A backed bucket leaves its tier (emptied or freed): its cold entry is deleted. */
  private unback(entry: RowEntry<TableBucket>): void {
    const side = this.backed.get(entry)
    if (side === undefined) return
    this.backed.delete(entry)
    this.dirty.delete(entry)
    this.backedRows -= sizeOf(entry.value)
    this.spill.noteDelete(encodeKey(entry.key, this.host.keyTypes, COLD_SIDE[side]))
  }

  /**
   * A cache miss on side `side` for the join key of row i (key columns `keyIndex`, hash of the
   * key): reads its bucket from the cold tier into memory, backed by that entry; undefined when
   * there is none.
   */
  load(
    side: 0 | 1,
    cols: readonly Column[],
    keyIndex: readonly number[],
    i: number,
    hash: number,
  ): RowEntry<TableBucket> | undefined {
    const { spill, host } = this
    const key = new Array<Value>(keyIndex.length)
    for (let k = 0; k < key.length; k++) key[k] = cols[keyIndex[k]][i]
    const bytes = encodeKey(key, host.keyTypes, COLD_SIDE[side])
    if (spill.isDeleted(bytes) || !spill.mayBeCold(bytes)) return undefined
    const value = spill.store.getSync(bytes)
    spill.misses++
    if (value === undefined) return undefined
    const flat = decodeSnapshot(value) as unknown[]
    const bucket: TableBucket = host.appendOnly[side] ? [] : new RowMap<TableRow>(host.rowTypes[side])
    for (let at = 0; at + 3 <= flat.length; at += 3) {
      const row = flat[at + 2] as Value[]
      const s: TableRow = {
        row,
        count: flat[at] as number,
        matches: flat[at + 1] as number,
        side,
        id: host.nextId(),
        touched: 0,
      }
      if (Array.isArray(bucket)) bucket.push(s)
      else bucket.insert(s.row, bucket.hashKey(s.row), s)
    }
    const n = sizeOf(bucket)
    this.rows += n
    this.backedRows += n
    spill.diskOnly -= n
    const entry = host.tables[side].insert(key, hash, bucket)
    this.backed.set(entry, side)
    if (this.tracking) this.recent.add(entry)
    host.opened?.(side, key)
    return entry
  }

  /**
   * A closed window's bucket in memory is freed (join-closing.ts; the join forgets its rows and
   * removes it): it leaves the count and the sweep, and if it is backed (every victim of the last
   * collect is), its cold entry is deleted at the next checkpoint.
   */
  freed(entry: RowEntry<TableBucket>): void {
    this.recent.delete(entry)
    this.evicting.delete(entry)
    this.unback(entry)
    this.rows -= sizeOf(entry.value)
  }

  /**
   * A closed window's bucket not in memory: its cold entry, if any, is deleted at the next
   * checkpoint. Read first for its row count (the cold tier's count is checkpoint state).
   */
  freeCold(side: 0 | 1, key: readonly Value[]): void {
    const { spill } = this
    if (!spill.onDisk) return
    const bytes = encodeKey(key, this.host.keyTypes, COLD_SIDE[side])
    if (spill.isDeleted(bytes) || !spill.mayBeCold(bytes)) return
    const value = spill.store.getSync(bytes)
    if (value === undefined) return
    spill.diskOnly -= (decodeSnapshot(value) as unknown[]).length / 3
    spill.noteDelete(bytes)
  }

  /**
   * At a checkpoint's collect, after the changed rows are written: writes the pending cold
   * deletes, rewrites the cold entries of the backed buckets that changed, chooses buckets beyond
   * the cache allowance (a clock sweep; a bucket used since the hand last passed gets a second
   * chance; NULL-key and large buckets stay), writes each one not yet backed as a cold entry and
   * deletes its rows' entries, and writes the meta entry.
   */
  collect(out: CheckpointWriter): void {
    const { spill, host } = this
    const directory = host.opened !== undefined
    for (const key of spill.takeDeletes()) {
      out.del(key)
      if (directory) out.del(dirKey(key))
    }
    for (const entry of this.dirty) {
      const side = this.backed.get(entry)
      if (side !== undefined) out.put(encodeKey(entry.key, host.keyTypes, COLD_SIDE[side]), this.coldValue(entry))
    }
    this.dirty.clear()
    const allowed = spill.allowedItems()
    let pending = 0
    for (const rows of this.evicting.values()) pending += rows
    let excess = this.rows - pending - allowed
    if (excess <= 0) this.recent.clear() // nothing to choose: recency restarts from here
    this.tracking = 2 * (this.rows - pending) > allowed
    const buckets = host.tables[0].size + host.tables[1].size
    for (let scanned = 0; excess > 0 && scanned < 2 * buckets + 2; scanned++) {
      const next = (this.hand ??= this.sweep()).next()
      if (next.done === true) {
        this.hand = undefined
        continue
      }
      const [side, entry] = next.value
      if (this.evicting.has(entry)) continue
      if (this.recent.delete(entry)) continue
      const n = sizeOf(entry.value)
      if (n === 0 || n > MAX_EVICT_ROWS || entry.key.some((v) => v === null)) continue
      if (!this.backed.has(entry)) {
        for (const s of rowsOf(entry.value)) out.del(rowKey(s.id))
        const key = encodeKey(entry.key, host.keyTypes, COLD_SIDE[side])
        const value = this.coldValue(entry)
        out.put(key, value)
        spill.noteCold(key)
        if (directory) out.put(dirKey(key), NO_VALUE)
        spill.noteEntryBytes((key.length + value.length) / n)
        this.backed.set(entry, side)
        this.backedRows += n
      }
      this.evicting.set(entry, n)
      pending += n
      excess -= n
    }
    // Backed buckets in memory start on disk after a restart. The flag, not the count, decides
    // whether misses read the store after a restart.
    const cold = spill.diskOnly + this.backedRows
    out.put(JOIN_META_KEY, encodeSnapshot([cold, spill.onDisk || cold > 0 ? 1 : 0]))
  }

  /** A bucket's cold entry: count, match count and row of each of its rows. */
  private coldValue(entry: RowEntry<TableBucket>): Uint8Array {
    const flat: unknown[] = []
    for (const s of rowsOf(entry.value)) flat.push(s.count, s.matches, s.row)
    return encodeSnapshot(flat)
  }

  /** The checkpoint of the last collect is durable: its victims leave memory. */
  checkpointed(): void {
    const { spill, host } = this
    spill.durable()
    spill.startFilterRebuild(JOIN_COLD_PREFIX)
    // Victims touched since their collect were rescued (removed from the map) already. Every
    // victim is backed (collect backs the others): its side is the backed map's.
    for (const [entry, rows] of this.evicting) {
      host.tables[this.backed.get(entry)!].delete(entry)
      this.backed.delete(entry)
      this.recent.delete(entry)
      this.backedRows -= rows
      this.rows -= rows
      spill.diskOnly += rows
      spill.evictions += rows
      spill.onDisk = true
    }
    this.evicting.clear()
  }

  totalRows(): number {
    return this.rows + this.spill.diskOnly
  }

  /** Bucket entries of both sides, for the sweep. */
  private *sweep(): Generator<readonly [0 | 1, RowEntry<TableBucket>]> {
    for (const side of [0, 1] as const) for (const e of this.host.tables[side].entries()) yield [side, e]
  }
}
