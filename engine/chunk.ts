/**
 * The unit of data on every dataflow edge: a batch of rows in columns, each row with an op
 * (+1 insert, -1 delete; an update is a delete followed by an insert).
 *
 * Columns are plain JS arrays of engine values (see types/datatype.ts), with `null` for SQL NULL.
 * V8 keeps arrays of small integers and doubles unboxed, so numeric columns stay dense; see
 * docs/design/chunks.md for why we did not start with typed arrays plus validity bitmaps.
 */
import type { Value } from './types/datatype.ts'

export type Op = 1 | -1

export type Column = Value[]

export interface Chunk {
  readonly ops: Int8Array
  readonly columns: readonly Column[]
  readonly length: number
}

export interface Watermark {
  readonly kind: 'watermark'
  /** Column index (in the emitting operator's output schema) that the watermark is about. */
  readonly column: number
  /**
   * The maximum event time (µs since the epoch) seen so far on that column, before any delay.
   * Each windowed operator subtracts its own delay (the view's WATERMARK, or the source's).
   */
  readonly value: number
}

export interface Barrier {
  readonly kind: 'barrier'
  readonly epoch: number
  readonly checkpoint: boolean
}

export type Message = { readonly kind: 'chunk'; readonly chunk: Chunk } | Watermark | Barrier

export function makeChunk(columns: readonly Column[], ops?: Int8Array): Chunk {
  const length = columns.length > 0 ? columns[0].length : (ops?.length ?? 0)
  return { columns, ops: ops ?? new Int8Array(length).fill(1), length }
}

export function emptyColumns(width: number): Column[] {
  const cols: Column[] = []
  for (let c = 0; c < width; c++) cols.push([])
  return cols
}

/**
 * Accumulates rows column-wise and cuts them into chunks. Operators that emit a data-dependent
 * number of rows (aggregates, joins) push into a builder and flush once per input chunk.
 */
export class ChunkBuilder {
  private columns: Column[]
  private ops: number[] = []

  constructor(private readonly width: number) {
    this.columns = emptyColumns(width)
  }

  get length(): number {
    return this.ops.length
  }

  push(op: Op, row: readonly Value[]): void {
    const cols = this.columns
    for (let c = 0; c < this.width; c++) cols[c].push(row[c])
    this.ops.push(op)
  }

  /** Appends the concatenation of two rows (a join's output) without building it first. */
  pushPair(op: Op, left: readonly Value[], right: readonly Value[]): void {
    const cols = this.columns
    const lw = left.length
    for (let c = 0; c < lw; c++) cols[c].push(left[c])
    for (let c = 0; c < right.length; c++) cols[lw + c].push(right[c])
    this.ops.push(op)
  }

  /** Appends row `i` of `chunk`, projected through `map` (input column index per output column). */
  pushFrom(op: Op, chunk: Chunk, i: number, map?: readonly number[]): void {
    const cols = this.columns
    if (map === undefined) {
      for (let c = 0; c < this.width; c++) cols[c].push(chunk.columns[c][i])
    } else {
      for (let c = 0; c < this.width; c++) cols[c].push(chunk.columns[map[c]][i])
    }
    this.ops.push(op)
  }

  /** The rows collected so far as a chunk (undefined if none), and a fresh builder state. */
  take(): Chunk | undefined {
    if (this.ops.length === 0) return undefined
    const chunk: Chunk = { columns: this.columns, ops: Int8Array.from(this.ops), length: this.ops.length }
    this.columns = emptyColumns(this.width)
    this.ops = []
    return chunk
  }
}

/** Row `i` of a chunk as an array (for the cold paths: results, state, tests). */
export function rowAt(chunk: Chunk, i: number): Value[] {
  const row: Value[] = new Array<Value>(chunk.columns.length)
  for (let c = 0; c < chunk.columns.length; c++) row[c] = chunk.columns[c][i]
  return row
}

/** Builds a chunk from rows (cold paths and tests). */
export function chunkFromRows(width: number, rows: readonly (readonly Value[])[], op: Op = 1): Chunk {
  const b = new ChunkBuilder(width)
  for (const r of rows) b.push(op, r)
  return b.take() ?? { columns: emptyColumns(width), ops: new Int8Array(0), length: 0 }
}
