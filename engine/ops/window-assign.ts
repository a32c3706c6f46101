/**
 * Assigns each row to its event-time windows (TUMBLE: one; HOP: size/slide of them) and appends
 * `window_start` and `window_end` columns, one output row per window the row belongs to.
 *
 * Lateness lives here because this is where a row meets its windows. Watermarks reaching this
 * operator are already the view's (max event time − delay, see watermark-delay.ts). A window
 * [start, end) is closed once the watermark ≥ end; a row is dropped from every window already closed when it arrives, and a row
 * dropped from all its windows is late: dead-lettered with reason `late` and counted. Watermark
 * messages arrive after each batch, so rows within one batch are judged against the watermark as
 * it stood before the batch (SQL.md, "Batches").
 */
import type { Chunk, Column, Watermark } from '../chunk.ts'
import type { Emitter, Operator, OperatorContext } from './operator.ts'
import { describeRow } from './operator.ts'
import type { DataType, Value } from '../types/datatype.ts'
import { rowAt } from '../chunk.ts'

export interface WindowSpec {
  readonly kind: 'tumble' | 'hop'
  /** Input column holding the event time (µs since the epoch). */
  readonly timeColumn: number
  /** Window length, µs. */
  readonly size: number
  /** Distance between window starts, µs (= size for TUMBLE). */
  readonly slide: number
  /** Alignment offset, µs. */
  readonly offset: number
  /**
   * The input columns passed through, in output order (window_start and window_end follow
   * them); undefined: every input column. Lets the planner fold a narrowing projection into
   * this operator (the copies per window are made only of columns read above).
   */
  readonly carry?: readonly number[]
}

export class WindowAssign implements Operator {
  readonly name = 'WindowAssign'
  /** Without any watermark message (no WATERMARK for the view), windows never close. */
  private wm = -Infinity
  /** Input row of each output row, reused across chunks (grown to the largest chunk's need). */
  private scratch = new Int32Array(0)

  constructor(
    private readonly ctx: OperatorContext,
    private readonly spec: WindowSpec,
    /** Number of output columns before window_start and window_end (input columns, or `carry`'s). */
    private width: number,
    /** The input's column types, to show a late row's values as text (dead letters). */
    private readonly inputTypes?: readonly DataType[],
  ) {}

  onChunk(chunk: Chunk, _input: number, out: Emitter): void {
    this.width = this.spec.carry?.length ?? chunk.columns.length
    // Output is cut into pieces of at most MAX_PIECE_ROWS rows: V8 allocates an array of more
    // than ~16k elements outside the young generation, which costs far more per element than
    // the copy itself (a HOP of 5 windows over a 4096-row batch would be 20k rows).
    const per = Math.ceil(this.spec.size / this.spec.slide)
    const step = Math.max(1, Math.floor(MAX_PIECE_ROWS / per))
    for (let lo = 0; lo < chunk.length; lo += step) this.assign(chunk, lo, Math.min(chunk.length, lo + step), out)
  }

  /** Assigns input rows [lo, hi) to their windows and emits them as one chunk. */
  private assign(chunk: Chunk, lo: number, hi: number, out: Emitter): void {
    const { size, slide, offset, timeColumn } = this.spec
    const wm = this.wm
    const { carry } = this.spec
    const width = this.width
    // A row falls in at most ceil(size / slide) windows: the output is sized once for that, each
    // output row noted by its input row, then every column is gathered through that index in
    // one pass (no per-row push, no regrowing).
    const cap = (hi - lo) * Math.ceil(size / slide)
    const from = this.scratch.length >= cap ? this.scratch : (this.scratch = new Int32Array(cap))
    const starts = new Array<Value>(cap)
    const ends = new Array<Value>(cap)
    const times = chunk.columns[timeColumn]
    let n = 0
    let late = 0
    for (let i = lo; i < hi; i++) {
      const t = times[i] as number | null
      if (t === null) continue // a row without event time belongs to no window (PostgreSQL: NULL group would differ; see docs)
      // The last window containing t starts at the greatest aligned start ≤ t.
      const last = Math.floor((t - offset) / slide) * slide + offset
      const before = n
      for (let start = last; start > t - size; start -= slide) {
        const end = start + size
        if (end <= wm) break // this and every earlier window is closed
        from[n] = i
        starts[n] = start
        ends[n] = end
        n++
      }
      if (n === before) {
        late++
        this.ctx.deadLetter({
          reason: 'late',
          detail: `event time is behind the watermark; every window of the row has closed`,
          payload: describeRow(rowAt(chunk, i), this.inputTypes),
        })
      }
    }
    if (late > 0) this.ctx.countLate(late)
    if (n === 0) return
    const columns: Column[] = new Array<Column>(width + 2)
    for (let c = 0; c < width; c++) {
      const src = chunk.columns[carry === undefined ? c : carry[c]]
      const col = new Array<Value>(n)
      for (let j = 0; j < n; j++) col[j] = src[from[j]]
      columns[c] = col
    }
    starts.length = n
    ends.length = n
    columns[width] = starts
    columns[width + 1] = ends
    const ops = new Int8Array(n)
    const inOps = chunk.ops
    for (let j = 0; j < n; j++) ops[j] = inOps[from[j]]
    out.chunk({ columns, ops, length: n })
  }

  onWatermark(w: Watermark, _input: number, out: Emitter): void {
    const carry = this.spec.carry
    if (carry === undefined) out.watermark(w)
    else if (carry.includes(w.column)) out.watermark({ ...w, column: carry.indexOf(w.column) })
    if (w.column !== this.spec.timeColumn || w.value <= this.wm) return
    this.wm = w.value
    // Every window ending at or before the watermark is closed: downstream may finalise it.
    // On window_start the same fact reads "start ≤ watermark − size".
    out.watermark({ kind: 'watermark', column: this.width, value: w.value - this.spec.size })
    out.watermark({ kind: 'watermark', column: this.width + 1, value: w.value })
  }

  explain(): string {
    const { kind, size, slide, timeColumn, carry } = this.spec
    const time = `${carry === undefined ? '' : `columns=[${carry.map((c) => `#${c}`).join(', ')}] `}time=#${timeColumn}`
    return kind === 'tumble'
      ? `tumble ${time} size=${size / 1e6}s`
      : `hop ${time} size=${size / 1e6}s slide=${slide / 1e6}s`
  }
}

/** Largest output chunk, in rows (see onChunk). */
const MAX_PIECE_ROWS = 8192
