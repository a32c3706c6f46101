/**
 * The end of a materialized view's dataflow: holds the view's current rows as a multiset (row →
 * multiplicity) so SELECT can read them at any moment, and forwards every change downstream to
 * views over this view and to subscribers.
 *
 * A delete of a row the view does not hold means an upstream operator emitted an unbalanced
 * retraction, which is a bug: it is counted (`inconsistencies`) rather than crashing the view.
 */
import type { Chunk, Column, Watermark } from '../chunk.ts'
import { rowAt } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { CheckpointWriter, Emitter, Operator, StateEntry } from './operator.ts'
import { RowMap, type RowEntry } from '../util/row-map.ts'
import { DerivedRows, type DerivedSpec } from './derived-rows.ts'
import { decodeKey, encodeKey } from '../state/codec.ts'
import { Decimal } from '../types/decimal.ts'

/**
 * What a view's checkpoint holds of its rows: every change ('changes'), only the rows its
 * upstream operator retired ('retired': the rest is rebuilt from that operator's restored state,
 * see Operator.currentOutput), or nothing ('none': not checkpointed). 'derived': the view holds
 * no rows at all and reads them from the upstream operator's state (derived-rows.ts); its
 * checkpoint holds at most its row count (when a filter keeps the upstream's count from being it).
 */
export type MaterializeCheckpoint = 'changes' | 'retired' | 'none' | 'derived'

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
  /** Names of the CREATE INDEX declarations this index serves (empty: built by a lookup). */
  readonly declared: string[]
}

/** Indexes a view keeps at most (each costs memory and a little work per changed row). */
const MAX_INDEXES = 4

/** The key of a derived view's one checkpoint entry: its row count. */
const COUNT_KEY = Uint8Array.of(0xff)

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
  private readonly tracksChanges: boolean

  /** Mode 'derived': where the rows are read (no row is held here). */
  readonly derived: DerivedRows | undefined
  /** Derived with a filter: the rows forwarded so far, net (checkpointed when changed). */
  private counted = 0
  private countChanged = true
  /** False after a restore whose checkpoint held no count (then the upstream's count is used). */
  private countKnown = true
  /** Derived: CREATE INDEX declarations, by name (nothing is built: see declareIndex). */
  private readonly declarations: { readonly name: string; readonly columns: readonly number[] }[] = []

  constructor(
    readonly types: readonly DataType[],
    private readonly mode: MaterializeCheckpoint = 'none',
    /**
     * numeric(p,s) columns as [column, s]. A key decoded from a checkpoint loses a numeric's
     * display scale (12.50 reads back as 12.5), so restored rows, and rows an upstream operator
     * rebuilt from its own restored keys, get the declared scale back here.
     */
    private readonly scales: readonly (readonly [number, number])[] = [],
    /** Mode 'derived': the upstream operator and the chain to the view. */
    derived?: DerivedSpec,
  ) {
    this.tracksChanges = mode === 'changes'
    this.rows = new RowMap<Held>(types)
    this.allColumns = types.map((_t, i) => i)
    if (mode === 'derived' && derived === undefined) throw new Error("Materialize: mode 'derived' needs its source")
    this.derived =
      mode === 'derived' && derived !== undefined
        ? new DerivedRows(derived, types.length, (c) => (scales.length > 0 ? withScales(c, scales) : c))
        : undefined
  }

  onChunk(input: Chunk, _input: number, out: Emitter): void {
    const chunk = this.scales.length > 0 ? withScales(input, this.scales) : input
    if (this.derived !== undefined) {
      // The upstream state is the view's: the change only goes on to views over this one and subscribers.
      if (this.derived.spec.filtered) {
        let n = 0
        for (let i = 0; i < chunk.length; i++) n += chunk.ops[i]
        if (n !== 0) {
          this.counted += n
          this.countChanged = true
        }
      }
      out.chunk(chunk)
      return
    }
    const cols = chunk.columns
    for (let i = 0; i < chunk.length; i++) {
      const hash = this.rows.hashAt(cols, this.allColumns, i)
      const entry = this.rows.findAt(cols, this.allColumns, i, hash)
      if (chunk.ops[i] > 0) {
        if (entry === undefined) {
          const held: Held = { n: 1, retired: 0, stored: false, unsaved: this.tracksChanges }
          const added = this.rows.insert(this.rows.keyAt(cols, this.allColumns, i), hash, held)
          if (this.tracksChanges) this.unsaved.push(added)
          if (this.indexes.length > 0) this.indexAdd(added)
        } else {
          const held = entry.value
          held.n++
          if (!held.unsaved && this.tracksChanges) {
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
        if (!held.unsaved && this.tracksChanges) {
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
    if (this.derived !== undefined) {
      if (this.derived.spec.filtered && this.countChanged && this.countKnown)
        out.put(COUNT_KEY, encodeCount(this.counted))
      this.countChanged = false
      return
    }
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
    if (this.derived !== undefined) {
      const count = entries.find(([k]) => k.length === 1 && k[0] === COUNT_KEY[0])
      // A checkpoint from before the view counted: the upstream's count (an upper bound) from now
      // on, since the base the changes would count from is not known.
      this.countKnown = count !== undefined
      this.counted = count === undefined ? 0 : readCount(count[1])
      this.countChanged = false
      return
    }
    for (const [k, v] of entries) {
      const row = decodeKey(k, this.types)
      for (const [c, s] of this.scales) row[c] = rescaled(row[c], s)
      const n = readCount(v)
      this.rows.insert(row, this.rows.hashKey(row), {
        n,
        retired: this.mode === 'retired' ? n : 0,
        stored: true,
        unsaved: false,
      })
      this.total += n
    }
  }

  /**
   * The rows whose `columns` equal `values` (a pull query's `WHERE a = 1 AND b = 'x'`), through
   * an index on those columns, built on first use. Undefined when no index can be had (too many).
   */
  lookup(columns: readonly number[], values: readonly Value[]): Value[][] | undefined {
    if (this.derived !== undefined) {
      const found = this.derived.lookup(columns, values)
      return found === undefined ? undefined : rowsOf(found)
    }
    const order = columns.map((_c, i) => i).sort((a, b) => columns[a] - columns[b])
    const cols = order.map((i) => columns[i])
    const key = order.map((i) => values[i])
    let index = this.findIndex(cols) ?? this.declaredIndexFor(cols)
    if (index === undefined) {
      if (this.indexes.filter((x) => x.declared.length === 0).length >= MAX_INDEXES) return undefined
      index = this.buildIndex(cols)
    }
    const out: Value[][] = []
    // A declared index on some of the columns finds a superset; the caller applies the whole filter.
    const bucket = index.map.find(
      index.columns.length === cols.length ? key : index.columns.map((c) => key[cols.indexOf(c)]),
    )
    if (bucket !== undefined)
      for (const entry of bucket.value) for (let k = 0; k < entry.value.n; k++) out.push(entry.key)
    return out
  }

  /** CREATE INDEX on the view: the index on `columns` is built now (if no lookup built it yet) and kept until undeclared. */
  declareIndex(name: string, columns: readonly number[]): void {
    const cols = [...columns].sort((a, b) => a - b)
    if (this.derived !== undefined) {
      // A derived view holds no rows to index. On the group keys the upstream state table's key
      // serves the lookups; on other columns the declaration is kept (DROP INDEX, restart) and
      // queries scan: the same answers, without an index that would hold every row again.
      this.declarations.push({ name, columns: cols })
      return
    }
    const index = this.findIndex(cols) ?? this.buildIndex(cols)
    index.declared.push(name)
  }

  /** DROP INDEX: the index goes when no declaration and no lookup needs it any more. */
  undeclareIndex(name: string): void {
    if (this.derived !== undefined) {
      const i = this.declarations.findIndex((d) => d.name === name)
      if (i >= 0) this.declarations.splice(i, 1)
      return
    }
    const at = this.indexes.findIndex((x) => x.declared.includes(name))
    if (at < 0) return
    const index = this.indexes[at]
    index.declared.splice(index.declared.indexOf(name), 1)
    if (index.declared.length === 0) this.indexes.splice(at, 1)
  }

  /** The name of the declared index a lookup on `columns` reads, if any. */
  declaredIndexName(columns: readonly number[]): string | undefined {
    const cols = [...columns].sort((a, b) => a - b)
    if (this.derived !== undefined) {
      let best: { readonly name: string; readonly columns: readonly number[] } | undefined
      for (const d of this.declarations)
        if (
          this.derived.servesLookup(d.columns) &&
          d.columns.every((c) => cols.includes(c)) &&
          (best === undefined || d.columns.length > best.columns.length)
        )
          best = d
      return best?.name
    }
    const exact = this.findIndex(cols)
    return (exact !== undefined && exact.declared.length > 0 ? exact : this.declaredIndexFor(cols))?.declared[0]
  }

  /** Whether a lookup by these columns is served (a derived view: only by its group keys). */
  servesLookup(columns: readonly number[]): boolean {
    return this.derived === undefined || this.derived.servesLookup(columns)
  }

  private findIndex(cols: readonly number[]): Index | undefined {
    return this.indexes.find((x) => x.columns.length === cols.length && x.columns.every((c, i) => c === cols[i]))
  }

  /** The declared index with the most columns, all among `cols`. */
  private declaredIndexFor(cols: readonly number[]): Index | undefined {
    let best: Index | undefined
    for (const x of this.indexes) {
      if (
        x.declared.length > 0 &&
        x.columns.every((c) => cols.includes(c)) &&
        (best === undefined || x.columns.length > best.columns.length)
      )
        best = x
    }
    return best
  }

  private buildIndex(cols: readonly number[]): Index {
    const index: Index = { columns: cols, map: new RowMap(cols.map((c) => this.types[c])), declared: [] }
    this.indexes.push(index)
    for (const entry of this.rows.entries()) this.indexInsert(index, entry)
    return index
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
    if (this.derived === undefined) return this.total
    return this.derived.spec.filtered && this.countKnown ? this.counted : this.derived.sourceRowCount()
  }

  stateSize(): number {
    return this.rows.size
  }

  /** The current rows, duplicates repeated (a copy: safe to hold across later changes). Derived: only while all are in memory. */
  snapshot(): Value[][] {
    if (this.derived !== undefined) return rowsOf(this.derived.current())
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

function rowsOf(chunk: Chunk): Value[][] {
  const out: Value[][] = []
  for (let i = 0; i < chunk.length; i++) out.push(rowAt(chunk, i))
  return out
}

function rescaled(v: Value, scale: number): Value {
  return v instanceof Decimal && v.scale !== scale ? v.round(scale) : v
}

/** The chunk with its numeric columns at their declared scales (the same chunk when they are). */
function withScales(chunk: Chunk, scales: readonly (readonly [number, number])[]): Chunk {
  let columns: Column[] | undefined
  for (const [c, s] of scales) {
    const col = chunk.columns[c]
    let i = 0
    while (i < chunk.length && rescaled(col[i], s) === col[i]) i++
    if (i === chunk.length) continue
    const fixed = col.slice()
    for (; i < chunk.length; i++) fixed[i] = rescaled(col[i], s)
    columns ??= chunk.columns.slice()
    columns[c] = fixed
  }
  return columns === undefined ? chunk : { ...chunk, columns }
}
