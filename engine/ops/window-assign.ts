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
import type { DataType } from '../types/datatype.ts'
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
}

export class WindowAssign implements Operator {
  readonly name = 'WindowAssign'
  /** Without any watermark message (no WATERMARK for the view), windows never close. */
  private wm = -Infinity

  constructor(
    private readonly ctx: OperatorContext,
    private readonly spec: WindowSpec,
    /** Number of input columns; window_start and window_end are appended after them. */
    private width: number,
    /** The input's column types, to show a late row's values as text (dead letters). */
    private readonly inputTypes?: readonly DataType[],
  ) {}

  onChunk(chunk: Chunk, _input: number, out: Emitter): void {
    const { size, slide, offset, timeColumn } = this.spec
    const wm = this.wm
    const width = chunk.columns.length
    this.width = width
    const columns: Column[] = []
    for (let c = 0; c < width + 2; c++) columns.push([])
    const starts = columns[width]
    const ends = columns[width + 1]
    const ops: number[] = []
    const times = chunk.columns[timeColumn]
    let late = 0
    for (let i = 0; i < chunk.length; i++) {
      const t = times[i] as number | null
      if (t === null) continue // a row without event time belongs to no window (PostgreSQL: NULL group would differ; see docs)
      // The last window containing t starts at the greatest aligned start ≤ t.
      const last = Math.floor((t - offset) / slide) * slide + offset
      let assigned = 0
      for (let start = last; start > t - size; start -= slide) {
        const end = start + size
        if (end <= wm) break // this and every earlier window is closed
        for (let c = 0; c < width; c++) columns[c].push(chunk.columns[c][i])
        starts.push(start)
        ends.push(end)
        ops.push(chunk.ops[i])
        assigned++
      }
      if (assigned === 0) {
        late++
        this.ctx.deadLetter({
          reason: 'late',
          detail: `event time is behind the watermark; every window of the row has closed`,
          payload: describeRow(rowAt(chunk, i), this.inputTypes),
        })
      }
    }
    if (late > 0) this.ctx.countLate(late)
    if (ops.length > 0) out.chunk({ columns, ops: Int8Array.from(ops), length: ops.length })
  }

  onWatermark(w: Watermark, _input: number, out: Emitter): void {
    out.watermark(w)
    if (w.column !== this.spec.timeColumn || w.value <= this.wm) return
    this.wm = w.value
    // Every window ending at or before the watermark is closed: downstream may finalise it.
    // On window_start the same fact reads "start ≤ watermark − size".
    out.watermark({ kind: 'watermark', column: this.width, value: w.value - this.spec.size })
    out.watermark({ kind: 'watermark', column: this.width + 1, value: w.value })
  }

  explain(): string {
    const { kind, size, slide, timeColumn } = this.spec
    const time = `time=#${timeColumn}`
    return kind === 'tumble'
      ? `tumble ${time} size=${size / 1e6}s`
      : `hop ${time} size=${size / 1e6}s slide=${slide / 1e6}s`
  }
}
