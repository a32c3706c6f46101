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
import type { Emitter, Operator } from './operator.ts'
import { RowMap } from '../util/row-map.ts'

export class Materialize implements Operator {
  readonly name = 'Materialize'
  private readonly rows: RowMap<number>
  private readonly allColumns: number[]
  private total = 0
  inconsistencies = 0
  /** The latest watermark per output column, for views created later over this one. */
  readonly watermarks = new Map<number, number>()

  constructor(readonly types: readonly DataType[]) {
    this.rows = new RowMap<number>(types)
    this.allColumns = types.map((_t, i) => i)
  }

  onChunk(chunk: Chunk, _input: number, out: Emitter): void {
    const cols = chunk.columns
    for (let i = 0; i < chunk.length; i++) {
      const hash = this.rows.hashAt(cols, this.allColumns, i)
      const entry = this.rows.findAt(cols, this.allColumns, i, hash)
      if (chunk.ops[i] > 0) {
        if (entry === undefined) this.rows.insert(this.rows.keyAt(cols, this.allColumns, i), hash, 1)
        else entry.value++
        this.total++
      } else if (entry === undefined) {
        this.inconsistencies++
      } else {
        this.total--
        if (--entry.value === 0) this.rows.delete(entry)
      }
    }
    out.chunk(chunk)
  }

  onWatermark(w: Watermark, _input: number, out: Emitter): void {
    this.watermarks.set(w.column, w.value)
    out.watermark(w)
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
      for (let k = 0; k < entry.value; k++) out.push(entry.key)
    }
    return out
  }
}
