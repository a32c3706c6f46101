/**
 * Window assignment fused into grouped aggregation (`GROUP BY window_start, ...` over TUMBLE or
 * HOP). Instead of a WindowAssign that copies every row once per window (5 times for Nexmark
 * q5's HOP of 10 s sliding by 2 s) and an aggregate that reads the copies, this operator reads
 * the rows as they come and adds each to its groups once per window directly: for window number
 * j of the rows (j = 0 the latest), the chunk is seen through the aggregate's input columns with
 * window_start / window_end read from one scratch column. The chunk's groups then emit their
 * changes once, as the aggregate did after the WindowAssign's one chunk.
 *
 * For count(*) over HOP windows, rows of a chunk that fall in the same groups (equal keys other
 * than the window, same slide, same op) are first merged into one row applied with their count
 * (merged()), so a group is looked up once per window for all of them rather than once per row.
 *
 * Everything else is HashAggregate's (groups, closing windows, checkpoints): the groups and their
 * state are the same as the two-operator plan's. Lateness is judged here as WindowAssign judges
 * it: a row is dropped from each window already closed by the watermark on its time column when
 * it arrives; a row dropped from all of them is late (dead letter `late`, counted).
 */
import type { Chunk, Column, Watermark } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { Emitter, OperatorContext } from './operator.ts'
import type { HashAggregateSpec } from './hash-aggregate.ts'
import type { WindowSpec } from './window-assign.ts'
import { HashAggregate } from './hash-aggregate.ts'
import { describeRow } from './operator.ts'
import { rowAt } from '../chunk.ts'
import { KeySlots } from '../util/key-slots.ts'
import { T } from '../types/datatype.ts'

/** An aggregate input column that is the row's window_start / window_end. */
export const WINDOW_START = -1
export const WINDOW_END = -2

export interface WindowInput {
  /** The windows; `timeColumn` is an input column of this operator (`carry` is not used). */
  readonly window: WindowSpec
  /**
   * For each input column of the aggregate (keys, then arguments): the column of this
   * operator's input it reads, or WINDOW_START / WINDOW_END.
   */
  readonly columns: readonly number[]
  /** This operator's input column types, to show a late row's values as text (dead letters). */
  readonly inputTypes: readonly DataType[]
}

export class WindowAggregate extends HashAggregate {
  override readonly name: string = 'WindowAggregate'
  /** The watermark on the time column (windows ending at or before it are closed). */
  private wm = -Infinity
  /** Per input row: the start of its latest window (NaN: no event time, no window). */
  private last = new Float64Array(0)
  /**
   * window_start and window_end of each row's window number j, reused from chunk to chunk (the
   * groups copy their keys); only numbers are stored, so V8 keeps them unboxed. `missing[i]` = 1:
   * row i has no window number j.
   */
  private starts: number[] = []
  private ends: number[] = []
  private missing = new Uint8Array(0)
  /**
   * Merging equal rows (see merged()): which input columns are group keys other than the window
   * (the merge key, with the row's latest window start and its op), and which the merged rows
   * carry; undefined when rows cannot be merged.
   */
  private readonly merge:
    | { readonly plain: readonly number[]; readonly types: readonly DataType[]; readonly carried: readonly number[] }
    | undefined
  /** Chunks to apply unmerged: merging last found few equal rows (it then costs more than it saves). */
  private unmergedFor = 0
  /** Per input row: the latest window start and the op, as number columns for the merge key. */
  private panes: number[] = []
  private signs: number[] = []

  /** A group key read from an input column (not a window bound) is that output column. */
  override carries(_input: number, column: number): number | undefined {
    const at = this.input.columns.indexOf(column)
    return at >= 0 && at < this.aggSpec.keyTypes.length ? at : undefined
  }

  constructor(
    private readonly aggSpec: HashAggregateSpec,
    private readonly ctx: OperatorContext,
    private readonly input: WindowInput,
  ) {
    super(aggSpec)
    // Rows are merged only when that changes no result: every call is count(*) (no argument
    // value could tell merged rows apart), the aggregate reads only its keys, and windows are a
    // whole number of slides long (then a row's windows depend on its latest window start alone,
    // not on its exact time). And only where it can pay: a row in one window (TUMBLE) is looked
    // up once either way.
    const { window, columns } = input
    const mergeable =
      aggSpec.calls.every((c) => c.arg < 0 && c.arg2 < 0) &&
      columns.length === aggSpec.keyTypes.length &&
      window.size % window.slide === 0 &&
      window.size / window.slide >= 2
    if (mergeable) {
      const plain = columns.filter((c) => c >= 0)
      const types = columns.flatMap((c, x) => (c >= 0 ? [aggSpec.keyTypes[x]] : []))
      this.merge = { plain, types: [...types, T.float8, T.int2], carried: [...new Set([...plain, window.timeColumn])] }
    }
  }

  override onChunk(chunk: Chunk, _input: number, out: Emitter): void {
    const { size, slide, offset, timeColumn } = this.input.window
    const n = chunk.length
    if (this.last.length < n) this.last = new Float64Array(n)
    const last = this.last
    const times = chunk.columns[timeColumn]
    const wm = this.wm
    let late = 0
    for (let i = 0; i < n; i++) {
      const t = times[i] as number | null
      if (t === null) {
        last[i] = NaN // a row without event time belongs to no window, as in WindowAssign
        continue
      }
      // The latest window containing t starts at the greatest aligned start ≤ t; it also ends
      // last, so the row has an open window exactly when that one is.
      const start = Math.floor((t - offset) / slide) * slide + offset
      last[i] = start
      if (start <= t - size || start + size <= wm) {
        late++
        this.ctx.deadLetter({
          reason: 'late',
          detail: `event time is behind the watermark; every window of the row has closed`,
          payload: describeRow(rowAt(chunk, i), this.input.inputTypes),
        })
      }
    }
    if (late > 0) this.ctx.countLate(late)
    let merged: { chunk: Chunk; times: Int32Array } | undefined
    if (this.merge !== undefined && this.unmergedFor > 0) this.unmergedFor--
    else if (this.merge !== undefined) {
      merged = this.merged(chunk)
      // Fewer than two rows per merged row: the next chunks are likely alike, skip merging a while.
      if (merged.chunk.length * 2 > chunk.length) this.unmergedFor = UNMERGED_CHUNKS
    }
    const windows = Math.ceil(size / slide)
    for (let j = 0; j < windows; j++) {
      const rows = this.windowRows(merged?.chunk ?? chunk, j, merged?.times)
      if (rows !== undefined) this.accumulate(rows.chunk, rows.times)
    }
    if (!this.aggSpec.emitOnWindowClose) this.flush(out)
  }

  override onWatermark(w: Watermark, input: number, out: Emitter): void {
    // As WindowAssign then the projection did: the watermark on its own column, then, when the
    // time column's moved, the same fact on window_start ("start ≤ watermark − size") and
    // window_end, each on the first aggregate input column that reads it.
    this.pass(w.column, w.value, input, out)
    if (w.column !== this.input.window.timeColumn || w.value <= this.wm) return
    this.wm = w.value
    this.pass(WINDOW_START, w.value - this.input.window.size, input, out)
    this.pass(WINDOW_END, w.value, input, out)
  }

  override explain(): string {
    const { kind, size, slide, timeColumn } = this.input.window
    const window =
      kind === 'tumble'
        ? `tumble time=#${timeColumn} size=${size / 1e6}s`
        : `hop time=#${timeColumn} size=${size / 1e6}s slide=${slide / 1e6}s`
    const columns = this.input.columns.map((c) =>
      c === WINDOW_START ? 'window_start' : c === WINDOW_END ? 'window_end' : `#${c}`,
    )
    return `${window} input=[${columns.join(', ')}] ${super.explain()}`
  }

  private pass(column: number, value: number, input: number, out: Emitter): void {
    const at = this.input.columns.indexOf(column)
    if (at >= 0) super.onWatermark({ kind: 'watermark', column: at, value }, input, out)
  }

  /**
   * The chunk's rows with equal group keys (other than the window), equal latest window start
   * and equal op merged into one, as a chunk of the first of each (only the columns the windows
   * and the keys read are filled) and how many rows each stands for. Such rows fall in the same
   * groups and change them alike, so applying one `times` times looks a group up once per window
   * instead of once per row and window: in Nexmark q5 about 8 bids of a 4096-row batch share an
   * auction and a 2 s slide. Also compacts `last` to the merged rows.
   */
  private merged(chunk: Chunk): { chunk: Chunk; times: Int32Array } {
    const { plain, types, carried } = this.merge!
    const n = chunk.length
    const last = this.last
    if (this.panes.length < n) {
      this.panes = doubles(n)
      this.signs = doubles(n)
    }
    const panes = this.panes
    const signs = this.signs
    for (let i = 0; i < n; i++) {
      panes[i] = last[i]
      signs[i] = chunk.ops[i]
    }
    const keyColumns: Column[] = plain.map((c) => chunk.columns[c])
    keyColumns.push(panes, signs)
    const keyIndex = keyColumns.map((_c, k) => k)
    // A fresh table per chunk: its slots are then numbered 0, 1, ... in order of first row.
    const slots = new KeySlots(types)
    slots.reserve(Math.min(n, 1024))
    const first = new Int32Array(n)
    const times = new Int32Array(n)
    let m = 0
    for (let i = 0; i < n; i++) {
      if (last[i] !== last[i]) continue // no event time: in no window
      const hash = slots.hashAt(keyColumns, keyIndex, i)
      let s = slots.findAt(keyColumns, keyIndex, i, hash)
      if (s < 0) {
        s = slots.insertAt(keyColumns, keyIndex, i, hash)
        first[s] = i
        m++
      }
      times[s]++
    }
    const columns: Column[] = chunk.columns.map(() => [])
    for (const c of carried) {
      const src = chunk.columns[c]
      const col = new Array<Value>(m)
      for (let k = 0; k < m; k++) col[k] = src[first[k]]
      columns[c] = col
    }
    const ops = new Int8Array(m)
    for (let k = 0; k < m; k++) {
      ops[k] = chunk.ops[first[k]]
      last[k] = last[first[k]] // first[k] ≥ k: read before it is overwritten
    }
    return { chunk: { columns, ops, length: m }, times }
  }

  /**
   * The chunk's rows in their window number j, laid out as the aggregate's input; undefined when
   * no row has one. Without a row missing it (the common case), the chunk's own columns are used
   * as they are; otherwise the rows that have it are copied (with their `times`, when merged).
   */
  private windowRows(
    chunk: Chunk,
    j: number,
    times: Int32Array | undefined,
  ): { chunk: Chunk; times: Int32Array | undefined } | undefined {
    const { size, slide, timeColumn } = this.input.window
    const n = chunk.length
    const last = this.last
    const time = chunk.columns[timeColumn]
    const wm = this.wm
    if (this.missing.length < n) {
      this.missing = new Uint8Array(n)
      this.starts = doubles(n)
      this.ends = doubles(n)
    }
    const starts = this.starts
    const ends = this.ends
    const gone = this.missing
    let missing = 0
    for (let i = 0; i < n; i++) {
      const start = last[i] - j * slide
      starts[i] = start
      ends[i] = start + size
      // NaN (no event time) fails both tests.
      if (start > (time[i] as number) - size && start + size > wm) gone[i] = 0
      else {
        gone[i] = 1
        missing++
      }
    }
    if (missing === n) return undefined
    const columns = this.input.columns.map((c): Column =>
      c === WINDOW_START ? starts : c === WINDOW_END ? ends : chunk.columns[c],
    )
    if (missing === 0) return { chunk: { columns, ops: chunk.ops, length: n }, times }
    const m = n - missing
    const kept = columns.map(() => new Array<Value>(m))
    const ops = new Int8Array(m)
    const keptTimes = times === undefined ? undefined : new Int32Array(m)
    let k = 0
    for (let i = 0; i < n; i++) {
      if (gone[i] === 1) continue
      for (let c = 0; c < columns.length; c++) kept[c][k] = columns[c][i]
      if (keptTimes !== undefined) keptTimes[k] = times![i]
      ops[k++] = chunk.ops[i]
    }
    return { chunk: { columns: kept, ops, length: m }, times: keptTimes }
  }
}

/** Chunks applied unmerged after a merge that found few equal rows, before merging is tried again. */
const UNMERGED_CHUNKS = 16

/**
 * An array of `n` numbers that V8 holds as unboxed doubles: filled with a double at once rather
 * than grown by appends, after which (seen in V8 12) it may hold a heap number per element.
 */
function doubles(n: number): number[] {
  return new Array<number>(n).fill(0.5)
}
