/**
 * The end of a materialized view's dataflow: holds the view's current rows as a multiset (row →
 * multiplicity) so SELECT can read them at any moment, and forwards every change downstream to
 * views over this view and to subscribers.
 *
 * A delete of a row the view does not hold means an upstream operator emitted an unbalanced
 * retraction, which is a bug: it is counted (`inconsistencies`) rather than crashing the view.
 */
import type { Chunk, Watermark } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { CheckpointWriter, Emitter, Operator, StateEntry } from './operator.ts'
import { RowMap, type RowEntry } from '../util/row-map.ts'
import { decodeKey, encodeKey } from '../state/codec.ts'

/**
 * What a view's checkpoint holds of its rows: every change ('changes'), only the rows its
 * upstream operator retired ('retired': the rest is rebuilt from that operator's restored state,
 * see Operator.currentOutput), or nothing ('none': not checkpointed).
 */
export type MaterializeCheckpoint = 'changes' | 'retired' | 'none'

/** A distinct row's multiplicity, with its checkpoint bookkeeping. */
interface Held {
  n: number
  /** Of n, copies retired upstream (checkpointed in 'retired' mode). */
  retired: number
  /** The last checkpoint holds this row. */
  stored: boolean
  /** Changed since the last checkpoint (listed in `unsaved`). */
  unsaved: boolean
}

/** Rows by the values of some columns, for point lookups of pull queries. */
interface Index {
  /** Column positions, ascending. */
  readonly columns: readonly number[]
  readonly map: RowMap<Set<RowEntry<Held>>>
}

/** Indexes a view keeps at most (each costs memory and a little work per changed row). */
const MAX_INDEXES = 4

export class Materialize implements Operator {
  readonly name = 'Materialize'
  private readonly rows: RowMap<Held>
  /** Rows whose multiplicity changed since the last checkpoint, in order of first change. */
  private unsaved: RowEntry<Held>[] = []
  private readonly allColumns: number[]
  private total = 0
  inconsistencies = 0
  /** The latest watermark per output column, for views created later over this one. */
  readonly watermarks = new Map<number, number>()
  /** Built on a pull query's first lookup by those columns, then maintained with every change. */
  private readonly indexes: Index[] = []

  /** Whether changes are tracked for checkpoints (mode 'changes'). */
  private readonly checkpointed: boolean

  constructor(
    readonly types: readonly DataType[],
    private readonly mode: MaterializeCheckpoint = 'none',
  ) {
    this.checkpointed = mode === 'changes'
    this.rows = new RowMap<Held>(types)
    this.allColumns = types.map((_t, i) => i)
  }

  onChunk(chunk: Chunk, _input: number, out: Emitter): void {
    const cols = chunk.columns
    for (let i = 0; i < chunk.length; i++) {
      const hash = this.rows.hashAt(cols, this.allColumns, i)
      const entry = this.rows.findAt(cols, this.allColumns, i, hash)
      if (chunk.ops[i] > 0) {
        if (entry === undefined) {
          const held: Held = { n: 1, retired: 0, stored: false, unsaved: this.checkpointed }
          const added = this.rows.insert(this.rows.keyAt(cols, this.allColumns, i), hash, held)
          if (this.checkpointed) this.unsaved.push(added)
          if (this.indexes.length > 0) this.indexAdd(added)
        } else {
          const held = entry.value
          held.n++
          if (!held.unsaved && this.checkpointed) {
            held.unsaved = true
            this.unsaved.push(entry)
          }
        }
        this.total++
      } else if (entry === undefined) {
        this.inconsistencies++
      } else {
        this.total--
        const held = entry.value
        if (--held.n === 0) {
          this.rows.delete(entry)
          if (this.indexes.length > 0) this.indexRemove(entry)
        }
        if (!held.unsaved && this.checkpointed) {
          held.unsaved = true
          this.unsaved.push(entry)
        }
      }
    }
    out.chunk(chunk)
  }

  onWatermark(w: Watermark, _input: number, out: Emitter): void {
    this.watermarks.set(w.column, w.value)
    out.watermark(w)
  }

  /**
   * Rows the upstream operator forgot without retracting them (a closed window's groups): in
   * 'retired' mode the checkpoint keeps these, since the upstream state no longer can.
   */
  retire(chunk: Chunk): void {
    if (this.mode !== 'retired') return
    const cols = chunk.columns
    for (let i = 0; i < chunk.length; i++) {
      const entry = this.rows.findAt(cols, this.allColumns, i, this.rows.hashAt(cols, this.allColumns, i))
      if (entry === undefined) continue
      entry.value.retired++
      if (!entry.value.unsaved) {
        entry.value.unsaved = true
        this.unsaved.push(entry)
      }
    }
  }

  /**
   * Checkpoint: each changed distinct row → its multiplicity ('retired' mode: its retired
   * copies), or a delete once it is gone. The list is in order of first change, so a row deleted
   * and inserted again writes del then put.
   */
  checkpoint(out: CheckpointWriter): void {
    for (const entry of this.unsaved) {
      const held = entry.value
      held.unsaved = false
      const n = this.mode === 'retired' ? held.retired : held.n
      if (n > 0) {
        out.put(encodeKey(entry.key, this.types), countBytes(n))
        held.stored = true
      } else if (held.stored) {
        out.del(encodeKey(entry.key, this.types))
        held.stored = false
      }
    }
    this.unsaved = []
  }

  restore(entries: readonly StateEntry[]): void {
    for (const [k, v] of entries) {
      const row = decodeKey(k, this.types)
      const n = readCount(v)
      this.rows.insert(row, this.rows.hashKey(row), { n, retired: this.mode === 'retired' ? n : 0, stored: true, unsaved: false })
      this.total += n
    }
  }

  /**
   * The rows whose `columns` equal `values` (a pull query's `WHERE a = 1 AND b = 'x'`), through
   * an index on those columns, built on first use. Undefined when no index can be had (too many).
   */
  lookup(columns: readonly number[], values: readonly Value[]): Value[][] | undefined {
    const order = columns.map((_c, i) => i).sort((a, b) => columns[a] - columns[b])
    const cols = order.map((i) => columns[i])
    const key = order.map((i) => values[i])
    let index = this.indexes.find((x) => x.columns.length === cols.length && x.columns.every((c, i) => c === cols[i]))
    if (index === undefined) {
      if (this.indexes.length >= MAX_INDEXES) return undefined
      index = { columns: cols, map: new RowMap(cols.map((c) => this.types[c])) }
      this.indexes.push(index)
      for (const entry of this.rows.entries()) this.indexInsert(index, entry)
    }
    const out: Value[][] = []
    const bucket = index.map.find(key)
    if (bucket !== undefined) for (const entry of bucket.value) for (let k = 0; k < entry.value.n; k++) out.push(entry.key)
    return out
  }

  private indexAdd(entry: RowEntry<Held>): void {
    for (const index of this.indexes) this.indexInsert(index, entry)
  }

  private indexInsert(index: Index, entry: RowEntry<Held>): void {
    const key = index.columns.map((c) => entry.key[c])
    const hash = index.map.hashKey(key)
    const bucket = index.map.find(key, hash)
    if (bucket === undefined) index.map.insert(key, hash, new Set([entry]))
    else bucket.value.add(entry)
  }

  private indexRemove(entry: RowEntry<Held>): void {
    for (const index of this.indexes) {
      const bucket = index.map.find(index.columns.map((c) => entry.key[c]))
      if (bucket === undefined) continue
      bucket.value.delete(entry)
      if (bucket.value.size === 0) index.map.delete(bucket)
    }
  }

  /** Number of rows (counting duplicates). */
  get rowCount(): number {
    return this.total
  }

  stateSize(): number {
    return this.rows.size
  }

  /** The current rows, duplicates repeated (a copy: safe to hold across later changes). */
  snapshot(): Value[][] {
    const out: Value[][] = []
    for (const entry of this.rows.entries()) {
      for (let k = 0; k < entry.value.n; k++) out.push(entry.key)
    }
    return out
  }
}

/** Encoded counts 1..255, shared (the store copies values): most rows are held once. */
const SMALL_COUNTS = Array.from({ length: 256 }, (_v, n) => encodeCount(n))

function countBytes(n: number): Uint8Array {
  return n < SMALL_COUNTS.length ? SMALL_COUNTS[n] : encodeCount(n)
}

function encodeCount(n: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n, true)
  return b
}

function readCount(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true)
}
