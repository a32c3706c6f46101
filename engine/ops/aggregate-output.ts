/**
 * The aggregate's output chunks, built straight into columns (see Output).
 */
import type { Chunk, Column } from '../chunk.ts'
import type { Value } from '../types/datatype.ts'
import type { KeySlots } from '../util/key-slots.ts'

/**
 * Output rows built straight into columns: keys read from the group table, aggregates from a
 * row or from columns. Columns are sized up front for the expected row count (one insert per
 * dirty group is the common case), so they are not regrown while filling.
 */
export class Output {
  private columns: Column[] | undefined
  private ops: Int8Array | undefined
  private n = 0

  constructor(
    private readonly width: number,
    private readonly expected: number,
  ) {}

  push(op: 1 | -1, keys: KeySlots, slot: number, aggs: readonly Value[]): void {
    const cols = this.columns ?? this.open()
    const k = keys.keys.length
    const n = this.n
    keys.copyKeys(cols, n, slot)
    for (let a = 0; a < aggs.length; a++) cols[k + a][n] = aggs[a]
    this.pushOp(op)
  }

  pushEmitted(op: 1 | -1, keys: KeySlots, slot: number, emitted: readonly Value[][]): void {
    const cols = this.columns ?? this.open()
    const k = keys.keys.length
    const n = this.n
    keys.copyKeys(cols, n, slot)
    for (let a = 0; a < emitted.length; a++) cols[k + a][n] = emitted[a][slot]
    this.pushOp(op)
  }

  take(): Chunk | undefined {
    const { columns, ops, n } = this
    if (columns === undefined || ops === undefined || n === 0) return undefined
    for (const col of columns) if (col.length > n) col.length = n
    return { columns, ops: ops.length === n ? ops : ops.slice(0, n), length: n }
  }

  private open(): Column[] {
    const size = Math.max(this.expected, 16)
    const cols: Column[] = []
    // Unfilled, so each column takes the element kind of its values (doubles stay unboxed).
    for (let c = 0; c < this.width; c++) cols.push(new Array<Value>(size))
    this.columns = cols
    this.ops = new Int8Array(size)
    return cols
  }

  private pushOp(op: 1 | -1): void {
    let ops = this.ops!
    if (this.n === ops.length) {
      const grown = new Int8Array(ops.length * 2)
      grown.set(ops)
      this.ops = ops = grown
    }
    ops[this.n++] = op
  }
}
