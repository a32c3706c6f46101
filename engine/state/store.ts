/**
 * The state store interface: an ordered byte-key/value store with atomic batches. Operators and
 * the catalog never see raw bytes in their logic; they go through typed tables (table.ts,
 * catalog/table-rows.ts, catalog/catalog-store.ts) that encode keys with codec.ts.
 *
 * Key space: every owner (catalog, table, operator state) lives under its own id prefix,
 * `encodeKey([BigInt(id)], [T.int8])`; id 0 is the catalog. Ids must be unique in one store.
 */

/** Ordered scans, of the live store or of a snapshot. */
export interface StoreReader {
  /**
   * Keys starting with `prefix` (and within gte/lt), in byte order, a batch at a time: one await
   * per batch instead of per entry, for loading large ranges.
   */
  scanBatches(prefix: Uint8Array, options?: ScanOptions): AsyncIterable<readonly [Uint8Array, Uint8Array][]>
}

/** A consistent read view (StateStore.snapshot). */
export interface StoreSnapshot extends StoreReader {
  close(): void
}

/** One write of an atomic batch. Writes apply in order: a later write sees the earlier ones. */
export type StateWrite =
  | { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly key: Uint8Array }
  /** Deletes every key k with gte <= k < lt (byte order). */
  | { readonly type: 'delRange'; readonly gte: Uint8Array; readonly lt: Uint8Array }

export interface ScanOptions {
  /** Lower bound (inclusive); clamped to the prefix. */
  readonly gte?: Uint8Array
  /** Upper bound (exclusive); clamped to the end of the prefix. */
  readonly lt?: Uint8Array
  readonly limit?: number
  readonly reverse?: boolean
}

export interface StateStore extends StoreReader {
  get(key: Uint8Array): Promise<Uint8Array | undefined>
  /**
   * The same read, synchronously: an operator's cache miss in the middle of a chunk (state
   * tables, docs/design/state.md). A few µs from LevelDB's block cache; blocks the thread.
   */
  getSync(key: Uint8Array): Uint8Array | undefined
  /**
   * A read view of the store as of this call (taken synchronously), for a pull query that reads
   * an operator's state over many awaits while the dataflow keeps writing. Close it when done.
   */
  snapshot(): StoreSnapshot
  /**
   * Keys starting with `prefix` (and within gte/lt), in byte order (or reversed). The scan sees
   * the store as of its start; writes made while iterating are not guaranteed to show.
   */
  scan(prefix: Uint8Array, options?: ScanOptions): AsyncIterable<[Uint8Array, Uint8Array]>
  /** Applies every write or none (one atomic batch). The store keeps the given arrays: do not reuse them. */
  write(batch: readonly StateWrite[]): Promise<void>
  /**
   * Bytes the keys gte <= k < lt take on disk (LevelDB: in its table files, compressed; what is
   * only in the write-ahead log and memtable yet is not counted). Reads file metadata on a
   * worker thread, not the data: cheap, but not for the per-row path.
   */
  approximateSize(gte: Uint8Array, lt: Uint8Array): Promise<number>
  /**
   * Rewrites the table files holding keys gte <= k < lt, so that deleted and overwritten entries
   * in them stop taking disk space. Runs on a worker thread; writes and reads go on meanwhile.
   */
  compactRange(gte: Uint8Array, lt: Uint8Array): Promise<void>
  close(): Promise<void>
}

/** The smallest key greater than every key starting with `prefix`; undefined if there is none (all 0xff). */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  const end = Uint8Array.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++
      return end.subarray(0, i + 1)
    }
  }
  return undefined
}

/** Byte-wise comparison (memcmp order), as LevelDB orders keys. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i]
    if (d !== 0) return d
  }
  return a.length - b.length
}

/** Whether `key` starts with `prefix`. */
export function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false
  return true
}

/** The effective [gte, lt) of a scan: the prefix range intersected with the options' bounds. */
export function scanBounds(prefix: Uint8Array, options: ScanOptions): { gte: Uint8Array; lt: Uint8Array | undefined } {
  let gte = prefix
  if (options.gte !== undefined && compareBytes(options.gte, gte) > 0) gte = options.gte
  let lt = prefixEnd(prefix)
  if (options.lt !== undefined && (lt === undefined || compareBytes(options.lt, lt) < 0)) lt = options.lt
  return { gte, lt }
}
