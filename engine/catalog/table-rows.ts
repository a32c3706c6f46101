/**
 * The rows of a TABLE, in memory for reads and in the state store for durability.
 *
 * Every row gets a sequence number (its storage key). Tables with a PRIMARY KEY also index rows by
 * key, for 23505 checks, ON CONFLICT, UPDATE and DELETE. Writes of one statement are applied in
 * memory only after the whole statement validated (a failing INSERT applies nothing) and are
 * persisted as one atomic batch before the statement returns.
 */
import type { Chunk } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { StateStore, StateWrite } from '../state/store.ts'
import { ChunkBuilder, emptyColumns } from '../chunk.ts'
import { RowMap } from '../util/row-map.ts'
import { decodeKey, decodeRow, encodeKey, encodeRow } from '../state/codec.ts'
import { T } from '../types/datatype.ts'

export class TableRows {
  private readonly rows = new Map<number, Value[]>()
  private readonly byKey: RowMap<number> | undefined
  private nextSeq = 1
  private readonly prefix: Uint8Array

  constructor(
    readonly id: number,
    readonly types: readonly DataType[],
    readonly primaryKey: readonly number[] | undefined,
  ) {
    this.byKey = primaryKey === undefined ? undefined : new RowMap<number>(primaryKey.map((c) => types[c]))
    this.prefix = encodeKey([BigInt(id)], [T.int8])
  }

  get size(): number {
    return this.rows.size
  }

  /** Loads the rows persisted for this table. */
  async load(store: StateStore): Promise<void> {
    for await (const [key, value] of store.scan(this.prefix)) {
      const seq = Number(decodeKey(key, [T.int8, T.int8])[1])
      const row = decodeRow(value, this.types)
      this.rows.set(seq, row)
      this.byKey?.insert(this.keyOf(row), this.byKey.hashKey(this.keyOf(row)), seq)
      if (seq >= this.nextSeq) this.nextSeq = seq + 1
    }
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

  /** Applies inserts and deletes; returns the storage writes and the change chunk. */
  apply(inserts: readonly Value[][], deletes: readonly number[]): { writes: StateWrite[]; chunk: Chunk | undefined } {
    const writes: StateWrite[] = []
    const builder = new ChunkBuilder(this.types.length)
    for (const seq of deletes) {
      const row = this.rows.get(seq)
      if (row === undefined) continue
      this.rows.delete(seq)
      if (this.byKey !== undefined) {
        const entry = this.byKey.find(this.keyOf(row))
        if (entry !== undefined) this.byKey.delete(entry)
      }
      writes.push({ type: 'del', key: this.storageKey(seq) })
      builder.push(-1, row)
    }
    for (const row of inserts) {
      const seq = this.nextSeq++
      this.rows.set(seq, row)
      if (this.byKey !== undefined) {
        const key = this.keyOf(row)
        this.byKey.insert(key, this.byKey.hashKey(key), seq)
      }
      writes.push({ type: 'put', key: this.storageKey(seq), value: encodeRow(row, this.types) })
      builder.push(1, row)
    }
    return { writes, chunk: builder.take() }
  }

  /** Every row as one insert chunk. */
  snapshot(): Chunk {
    const builder = new ChunkBuilder(this.types.length)
    for (const row of this.rows.values()) builder.push(1, row)
    return builder.take() ?? { columns: emptyColumns(this.types.length), ops: new Int8Array(0), length: 0 }
  }

  /** Storage writes that remove every row (DROP TABLE). */
  dropWrites(): StateWrite[] {
    return [...this.rows.keys()].map((seq) => ({ type: 'del' as const, key: this.storageKey(seq) }))
  }

  private storageKey(seq: number): Uint8Array {
    return encodeKey([BigInt(this.id), BigInt(seq)], [T.int8, T.int8])
  }
}
