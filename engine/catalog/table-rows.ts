/**
 * The rows of a TABLE, in memory for reads and in the state store for durability.
 *
 * Every row gets a sequence number (its storage key). Tables with a PRIMARY KEY also index rows by
 * key, for 23505 checks, ON CONFLICT, UPDATE and DELETE. Writes of one statement are applied in
 * memory only after the whole statement validated (a failing INSERT applies nothing) and are
 * persisted as one atomic batch before the statement returns.
 *
 * Each write batch also appends an entry to the table's change log (same atomic batch): the rows
 * it deleted and inserted, under a log sequence number. A checkpoint records the last entry its
 * views had applied; recovery undoes the later entries to get the table as of the checkpoint,
 * then replays them into the restored views (docs/design/checkpoints.md). Checkpoints trim the log.
 */
import type { Chunk } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { StateStore, StateWrite } from '../state/store.ts'
import { ChunkBuilder, emptyColumns } from '../chunk.ts'
import { RowMap } from '../util/row-map.ts'
import { decodeKey, decodeRow, encodeKey, encodeRow } from '../state/codec.ts'
import { T } from '../types/datatype.ts'
import { decodeSnapshot, encodeSnapshot } from '../state/snapshot-codec.ts'

/** Key prefix of every table's change log: (-2, table id, log seq). */
export const TABLE_LOG = -2n

/** One change-log entry: the rows a write batch deleted and inserted, with their row seqs. */
export interface TableLogEntry {
  readonly seq: number
  /** Position among the writes of every table (WriteClock), so recovery replays tables interleaved as written. */
  readonly clock: number
  readonly deletes: readonly (readonly [number, Value[]])[]
  readonly inserts: readonly (readonly [number, Value[]])[]
}

/** Rows loaded between two yields to the event loop (a power of two, less one). */
const LOAD_SLICE_MASK = 1023

/**
 * Orders write batches across tables. Recovery replays the change-log entries of all tables in
 * this order: a view reading two tables (a join, a lookup join, an interval join) then sees the
 * writes interleaved as they happened, not one table's writes after the other's.
 */
export class WriteClock {
  private last = 0
  next(): number {
    return ++this.last
  }
  /** Recovery: entries up to `clock` exist; later writes must order after them. */
  observe(clock: number): void {
    if (clock > this.last) this.last = clock
  }
}

/** A declared (CREATE INDEX) index of a table: the indexed columns' values → row seqs. */
/** The rows one `apply` removed and added (by sequence number), for `revert`. */
export interface AppliedRows {
  readonly deleted: [number, Value[]][]
  readonly inserted: [number, Value[]][]
}

interface SecondaryIndex {
  readonly name: string
  readonly columns: readonly number[]
  readonly map: RowMap<Set<number>>
}

export class TableRows {
  private readonly rows = new Map<number, Value[]>()
  /** Primary key → row seq, built on first use (see `byKey`). */
  private keyIndex: RowMap<number> | undefined
  /** Declared indexes: built at CREATE INDEX, then kept with every change. */
  private readonly secondary: SecondaryIndex[] = []
  private nextSeq = 1
  private readonly prefix: Uint8Array
  /** The last change-log entry written. */
  logSeq = 0
  /** The last change-log entry whose changes reached the views (set after the push). */
  pushedSeq = 0
  /** Log entries up to here are trimmed (deleted with a checkpoint). */
  trimmedSeq = 0
  /** Whether write batches append to the change log (only when checkpoints are on). */
  logChanges = false

  constructor(
    readonly id: number,
    readonly types: readonly DataType[],
    readonly primaryKey: readonly number[] | undefined,
    private readonly clock: WriteClock = new WriteClock(),
  ) {
    this.prefix = encodeKey([BigInt(id)], [T.int8])
  }

  get size(): number {
    return this.rows.size
  }

  /**
   * The primary-key index, built from the rows on first use. A restart loads a table's rows
   * without it, so a recovering server answers reads sooner; the first write or key lookup pays
   * for building it (one pass over the rows).
   */
  private get byKey(): RowMap<number> | undefined {
    const pk = this.primaryKey
    if (pk === undefined) return undefined
    if (this.keyIndex === undefined) {
      const index = new RowMap<number>(pk.map((c) => this.types[c]))
      for (const [seq, row] of this.rows) {
        const k = this.keyOf(row)
        index.insert(k, index.hashKey(k), seq)
      }
      this.keyIndex = index
    }
    return this.keyIndex
  }

  /** Loads the rows persisted for this table. */
  async load(store: StateStore): Promise<void> {
    const at = this.prefix.length
    for await (const batch of store.scanBatches(this.prefix)) {
      for (let i = 0; i < batch.length; i++) {
        const [key, value] = batch[i]
        const seq = decodeSeq(key, at)
        this.rows.set(seq, decodeRow(value, this.types))
        if (seq >= this.nextSeq) this.nextSeq = seq + 1
        // A batch holds up to 10,000 rows: queries running beside a restart's load (they yield
        // every few ms) get the thread between slices, not once per batch.
        if ((i & LOAD_SLICE_MASK) === LOAD_SLICE_MASK) await new Promise<void>((resolve) => setImmediate(resolve))
      }
    }
    this.keyIndex = undefined
  }

  /**
   * Recovery: reads the change log after `checkpointSeq` (the entry the checkpoint's views had
   * applied), undoes those entries in memory so the rows are as of the checkpoint, and returns
   * them oldest first for replay (redo).
   */
  async rewindTo(store: StateStore, checkpointSeq: number): Promise<TableLogEntry[]> {
    const entries = await this.logAfter(store, checkpointSeq)
    this.rewind(entries, checkpointSeq)
    return entries
  }

  /** The change-log entries after `checkpointSeq`, oldest first (no change to the rows). */
  async logAfter(store: StateStore, checkpointSeq: number): Promise<TableLogEntry[]> {
    const entries: TableLogEntry[] = []
    const prefix = encodeKey([TABLE_LOG, BigInt(this.id)], [T.int8, T.int8])
    const gte = encodeKey([TABLE_LOG, BigInt(this.id), BigInt(checkpointSeq + 1)], [T.int8, T.int8, T.int8])
    for await (const [key, value] of store.scan(prefix, { gte })) {
      const seq = Number(decodeKey(key, [T.int8, T.int8, T.int8])[2])
      const [dels, ins, clock] = decodeSnapshot(value) as [[number, Uint8Array][], [number, Uint8Array][], number]
      this.clock.observe(clock)
      entries.push({
        seq,
        clock,
        deletes: dels.map(([s, r]) => [s, decodeRow(r, this.types)] as const),
        inserts: ins.map(([s, r]) => [s, decodeRow(r, this.types)] as const),
      })
    }
    return entries
  }

  /** Undoes `entries` (logAfter's) in the loaded rows: they are then as of the checkpoint. */
  rewind(entries: readonly TableLogEntry[], checkpointSeq: number): void {
    for (let e = entries.length - 1; e >= 0; e--) {
      for (const [seq, row] of entries[e].inserts) this.remove(seq, row)
      for (const [seq, row] of entries[e].deletes) this.add(seq, row)
    }
    this.pushedSeq = this.trimmedSeq = checkpointSeq
    this.logSeq = entries.length > 0 ? entries[entries.length - 1].seq : checkpointSeq
  }

  /** Re-applies a log entry undone by rewindTo (recovery); returns its change chunk. */
  redo(entry: TableLogEntry): Chunk | undefined {
    const builder = new ChunkBuilder(this.types.length)
    for (const [seq, row] of entry.deletes) {
      this.remove(seq, row)
      builder.push(-1, row)
    }
    for (const [seq, row] of entry.inserts) {
      this.add(seq, row)
      builder.push(1, row)
    }
    this.pushedSeq = entry.seq
    return builder.take()
  }

  /** The write that trims log entries up to `pushedSeq` (every view has them), if any. */
  trimWrite(): StateWrite | undefined {
    if (this.pushedSeq <= this.trimmedSeq) return undefined
    const gte = encodeKey([TABLE_LOG, BigInt(this.id), BigInt(this.trimmedSeq + 1)], [T.int8, T.int8, T.int8])
    const lt = encodeKey([TABLE_LOG, BigInt(this.id), BigInt(this.pushedSeq + 1)], [T.int8, T.int8, T.int8])
    this.trimmedSeq = this.pushedSeq
    return { type: 'delRange', gte, lt }
  }

  /** The write that removes the whole change log (DROP TABLE). */
  dropLogWrite(): StateWrite {
    return {
      type: 'delRange',
      gte: encodeKey([TABLE_LOG, BigInt(this.id)], [T.int8, T.int8]),
      lt: encodeKey([TABLE_LOG, BigInt(this.id + 1)], [T.int8, T.int8]),
    }
  }

  /** Builds the declared index `name` on `columns` from the current rows (CREATE INDEX). */
  addIndex(name: string, columns: readonly number[]): void {
    const index: SecondaryIndex = { name, columns, map: new RowMap(columns.map((c) => this.types[c])) }
    for (const [seq, row] of this.rows) indexInsert(index, seq, row)
    this.secondary.push(index)
  }

  dropIndex(name: string): void {
    const at = this.secondary.findIndex((x) => x.name === name)
    if (at >= 0) this.secondary.splice(at, 1)
  }

  /** The declared index a lookup on `columns` reads: the one with the most columns, all among `columns`. */
  indexFor(columns: readonly number[]): { readonly name: string; readonly columns: readonly number[] } | undefined {
    let best: SecondaryIndex | undefined
    for (const x of this.secondary) {
      if (x.columns.every((c) => columns.includes(c)) && (best === undefined || x.columns.length > best.columns.length))
        best = x
    }
    return best
  }

  private add(seq: number, row: Value[]): void {
    this.rows.set(seq, row)
    for (const x of this.secondary) indexInsert(x, seq, row)
    if (this.byKey !== undefined) {
      const key = this.keyOf(row)
      this.byKey.insert(key, this.byKey.hashKey(key), seq)
    }
    if (seq >= this.nextSeq) this.nextSeq = seq + 1
  }

  private remove(seq: number, row: readonly Value[]): void {
    if (!this.rows.delete(seq)) return
    for (const x of this.secondary) indexDelete(x, seq, row)
    if (this.byKey !== undefined) {
      const entry = this.byKey.find(this.keyOf(row))
      if (entry !== undefined && entry.value === seq) this.byKey.delete(entry)
    }
  }

  /**
   * The rows whose `columns` equal `values` when those columns are the primary key (any order);
   * otherwise the rows a declared index on some of those columns finds (the caller still applies
   * the whole filter); undefined when neither serves.
   */
  lookup(columns: readonly number[], values: readonly Value[]): Value[][] | undefined {
    const pk = this.primaryKey
    if (pk === undefined || pk.length !== columns.length || !pk.every((c) => columns.includes(c)))
      return this.secondaryLookup(columns, values)
    if (this.byKey === undefined) return undefined
    const key: Value[] = []
    for (const c of pk) {
      const at = columns.indexOf(c)
      if (at < 0) return undefined
      key.push(values[at])
    }
    const seq = this.byKey.find(key)?.value
    const row = seq === undefined ? undefined : this.rows.get(seq)
    return row === undefined ? [] : [row]
  }

  private secondaryLookup(columns: readonly number[], values: readonly Value[]): Value[][] | undefined {
    const found = this.indexFor(columns)
    if (found === undefined) return undefined
    const index = found as SecondaryIndex
    const bucket = index.map.find(index.columns.map((c) => values[columns.indexOf(c)]))
    const out: Value[][] = []
    if (bucket !== undefined) for (const seq of bucket.value) out.push(this.rows.get(seq)!)
    return out
  }

  /** The sequence number of the row with this primary key, if present. */
  findByKey(key: readonly Value[]): number | undefined {
    return this.byKey?.find(key)?.value
  }

  keyOf(row: readonly Value[]): Value[] {
    return this.primaryKey === undefined ? [] : this.primaryKey.map((c) => row[c])
  }

  get(seq: number): Value[] | undefined {
    return this.rows.get(seq)
  }

  entries(): IterableIterator<[number, Value[]]> {
    return this.rows.entries()
  }

  /**
   * Applies inserts and deletes; returns the storage writes, the change chunk, and what `revert`
   * needs should the writes fail.
   */
  apply(
    inserts: readonly Value[][],
    deletes: readonly number[],
  ): { writes: StateWrite[]; chunk: Chunk | undefined; logSeq: number; applied: AppliedRows } {
    const applied: AppliedRows = { deleted: [], inserted: [] }
    const writes: StateWrite[] = []
    const builder = new ChunkBuilder(this.types.length)
    const logDeletes: [number, Uint8Array][] = []
    const logInserts: [number, Uint8Array][] = []
    for (const seq of deletes) {
      const row = this.rows.get(seq)
      if (row === undefined) continue
      this.rows.delete(seq)
      if (this.byKey !== undefined) {
        const entry = this.byKey.find(this.keyOf(row))
        if (entry !== undefined) this.byKey.delete(entry)
      }
      for (const x of this.secondary) indexDelete(x, seq, row)
      applied.deleted.push([seq, row])
      writes.push({ type: 'del', key: this.storageKey(seq) })
      logDeletes.push([seq, encodeRow(row, this.types)])
      builder.push(-1, row)
    }
    for (const row of inserts) {
      const seq = this.nextSeq++
      this.rows.set(seq, row)
      for (const x of this.secondary) indexInsert(x, seq, row)
      if (this.byKey !== undefined) {
        const key = this.keyOf(row)
        this.byKey.insert(key, this.byKey.hashKey(key), seq)
      }
      applied.inserted.push([seq, row])
      const encoded = encodeRow(row, this.types)
      writes.push({ type: 'put', key: this.storageKey(seq), value: encoded })
      logInserts.push([seq, encoded])
      builder.push(1, row)
    }
    if (writes.length === 0 || !this.logChanges) return { writes, chunk: builder.take(), logSeq: this.logSeq, applied }
    const logSeq = ++this.logSeq
    writes.push({
      type: 'put',
      key: encodeKey([TABLE_LOG, BigInt(this.id), BigInt(logSeq)], [T.int8, T.int8, T.int8]),
      value: encodeSnapshot([logDeletes, logInserts, this.clock.next()]),
    })
    return { writes, chunk: builder.take(), logSeq, applied }
  }

  /**
   * Undoes an `apply` whose writes failed (a full disk): the statement fails, so its rows must not
   * stay visible. Its log position stays used: a gap in the change log is harmless.
   */
  revert(applied: AppliedRows): void {
    for (let i = applied.inserted.length - 1; i >= 0; i--) this.remove(...applied.inserted[i])
    for (let i = applied.deleted.length - 1; i >= 0; i--) this.add(...applied.deleted[i])
  }

  /** Every row as one insert chunk. */
  snapshot(): Chunk {
    const builder = new ChunkBuilder(this.types.length)
    for (const row of this.rows.values()) builder.push(1, row)
    return builder.take() ?? { columns: emptyColumns(this.types.length), ops: new Int8Array(0), length: 0 }
  }

  /** Storage writes that remove every row (DROP TABLE). */
  dropWrites(): StateWrite[] {
    const writes: StateWrite[] = [...this.rows.keys()].map((seq) => ({
      type: 'del' as const,
      key: this.storageKey(seq),
    }))
    writes.push(this.dropLogWrite())
    return writes
  }

  private storageKey(seq: number): Uint8Array {
    return encodeKey([BigInt(this.id), BigInt(seq)], [T.int8, T.int8])
  }
}

/**
 * The row seq of a storage key: the int8 at `at` as codec.ts writes it (a tag byte, then 8 bytes
 * big-endian with the sign bit flipped), read without building a bigint. Seqs are positive and
 * below 2^53.
 */
function decodeSeq(key: Uint8Array, at: number): number {
  const hi = ((key[at + 1] << 24) | (key[at + 2] << 16) | (key[at + 3] << 8) | key[at + 4]) ^ 0x80000000
  const lo = ((key[at + 5] << 24) | (key[at + 6] << 16) | (key[at + 7] << 8) | key[at + 8]) >>> 0
  return hi * 2 ** 32 + lo
}

function indexInsert(index: SecondaryIndex, seq: number, row: readonly Value[]): void {
  const key = index.columns.map((c) => row[c])
  const hash = index.map.hashKey(key)
  const bucket = index.map.find(key, hash)
  if (bucket === undefined) index.map.insert(key, hash, new Set([seq]))
  else bucket.value.add(seq)
}

function indexDelete(index: SecondaryIndex, seq: number, row: readonly Value[]): void {
  const bucket = index.map.find(index.columns.map((c) => row[c]))
  if (bucket === undefined) return
  bucket.value.delete(seq)
  if (bucket.value.size === 0) index.map.delete(bucket)
}
