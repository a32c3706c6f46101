/**
 * Grouped aggregation with retractions. Input rows are laid out as [group keys..., aggregate
 * arguments...] by the pre-projection. Each chunk updates the accumulators of its groups and
 * marks them dirty; at the end of the chunk every dirty group emits its change: a delete of the
 * row it emitted before and an insert of its new row (nothing when the row did not change).
 *
 * Windowed aggregation (EMIT CHANGES): a watermark on the window_end key closes windows; their
 * groups' state is freed, their result rows stay downstream. EMIT ON WINDOW CLOSE: a group emits
 * nothing until its window closes, then its final row once (append-only output).
 *
 * A global aggregate (no GROUP BY) always holds exactly one row, as the batch query does.
 */
import type { Chunk, Watermark } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { Accumulator } from '../expr/aggregates.ts'
import type { Emitter, Operator } from './operator.ts'
import { ChunkBuilder } from '../chunk.ts'
import { RowMap, type RowEntry } from '../util/row-map.ts'
import { valuesEqual } from '../types/compare.ts'

export interface AggregateCall {
  /** Display name for EXPLAIN, e.g. `count(*)`. */
  readonly label: string
  /** Input column of the argument, or -1 for count(*). */
  readonly arg: number
  /** Second argument column (string_agg's delimiter), or -1. */
  readonly arg2: number
  readonly returnType: DataType
  create(): Accumulator
}

export interface HashAggregateSpec {
  readonly keyTypes: readonly DataType[]
  readonly calls: readonly AggregateCall[]
  /**
   * Position among the keys of the window column (window_end, else window_start) for windowed
   * aggregation: a watermark value v on it closes every group whose key is ≤ v.
   */
  readonly windowKey?: number
  readonly emitOnWindowClose: boolean
}

interface Group {
  readonly accs: Accumulator[]
  rows: number
  /** The row this group last emitted downstream, if any. */
  emitted: Value[] | undefined
  dirty: boolean
}

const COUNT_STAR_MARKER = true

export class HashAggregate implements Operator {
  readonly name = 'HashAggregate'
  private readonly groups: RowMap<Group>
  private readonly keyIndex: number[]
  private readonly dirty: RowEntry<Group>[] = []
  /** window key → groups of that window, so closing a window touches only its groups. */
  private readonly byWindow = new Map<number, RowEntry<Group>[]>()
  private watermark = -Infinity
  private readonly width: number

  constructor(private readonly spec: HashAggregateSpec) {
    this.groups = new RowMap<Group>(spec.keyTypes)
    this.keyIndex = spec.keyTypes.map((_t, i) => i)
    this.width = spec.keyTypes.length + spec.calls.length
  }

  onStart(out: Emitter): void {
    if (this.spec.keyTypes.length > 0) return
    const entry = this.groups.insert([], this.groups.hashKey([]), this.newGroup())
    entry.value.dirty = true
    this.dirty.push(entry)
    this.flush(out)
  }

  onChunk(chunk: Chunk, _input: number, out: Emitter): void {
    const { calls, windowKey } = this.spec
    const cols = chunk.columns
    const keyIndex = this.keyIndex
    for (let i = 0; i < chunk.length; i++) {
      const hash = this.groups.hashAt(cols, keyIndex, i)
      let entry = this.groups.findAt(cols, keyIndex, i, hash)
      if (entry === undefined) {
        entry = this.groups.insert(this.groups.keyAt(cols, keyIndex, i), hash, this.newGroup())
        if (windowKey !== undefined) this.trackWindow(entry, windowKey)
      }
      const group = entry.value
      const op = chunk.ops[i] as 1 | -1
      group.rows += op
      for (let a = 0; a < calls.length; a++) {
        const call = calls[a]
        const arg = call.arg
        if (call.arg2 >= 0) group.accs[a].add([cols[arg][i], cols[call.arg2][i]], op)
        else group.accs[a].add(arg < 0 ? COUNT_STAR_MARKER : cols[arg][i], op)
      }
      if (!group.dirty) {
        group.dirty = true
        this.dirty.push(entry)
      }
    }
    if (!this.spec.emitOnWindowClose) this.flush(out)
  }

  onWatermark(w: Watermark, _input: number, out: Emitter): void {
    const { windowKey } = this.spec
    if (w.column < this.spec.keyTypes.length) out.watermark(w) // keys are the first output columns
    if (windowKey === undefined || w.column !== windowKey || w.value <= this.watermark) return
    this.watermark = w.value
    const builder = new ChunkBuilder(this.width)
    for (const [end, entries] of this.byWindow) {
      if (end > w.value) continue
      this.byWindow.delete(end)
      for (const entry of entries) {
        if (this.spec.emitOnWindowClose && entry.value.rows > 0) builder.push(1, this.resultRow(entry))
        entry.value.dirty = false
        this.groups.delete(entry)
      }
    }
    if (this.spec.emitOnWindowClose) this.dirty.length = 0
    else this.flush(out) // groups closed mid-chunk were already flushed; this is a no-op guard
    const chunk = builder.take()
    if (chunk !== undefined) out.chunk(chunk)
  }

  stateSize(): number {
    return this.groups.size
  }

  explain(): string {
    const keys = this.spec.keyTypes.map((_t, i) => `#${i}`).join(', ')
    const emit = this.spec.emitOnWindowClose ? ' emit=on_window_close' : ''
    return `keys=[${keys}] aggs=[${this.spec.calls.map((c) => c.label).join(', ')}]${emit}`
  }

  private newGroup(): Group {
    return { accs: this.spec.calls.map((c) => c.create()), rows: 0, emitted: undefined, dirty: false }
  }

  private trackWindow(entry: RowEntry<Group>, windowKey: number): void {
    const end = entry.key[windowKey] as number
    const list = this.byWindow.get(end)
    if (list === undefined) this.byWindow.set(end, [entry])
    else list.push(entry)
  }

  private resultRow(entry: RowEntry<Group>): Value[] {
    const row = entry.key.slice()
    for (const acc of entry.value.accs) row.push(acc.result())
    return row
  }

  /** Emits the change of every dirty group and forgets groups that became empty. */
  private flush(out: Emitter): void {
    if (this.dirty.length === 0) return
    const builder = new ChunkBuilder(this.width)
    const global = this.spec.keyTypes.length === 0
    for (const entry of this.dirty) {
      const group = entry.value
      group.dirty = false
      const next = group.rows > 0 || global ? this.resultRow(entry) : undefined
      const prev = group.emitted
      if (prev !== undefined && next !== undefined && sameRow(prev, next, this.spec)) continue
      if (prev !== undefined) builder.push(-1, prev)
      if (next !== undefined) builder.push(1, next)
      group.emitted = next
      if (next === undefined) this.forget(entry)
    }
    this.dirty.length = 0
    const chunk = builder.take()
    if (chunk !== undefined) out.chunk(chunk)
  }

  private forget(entry: RowEntry<Group>): void {
    this.groups.delete(entry)
    const { windowKey } = this.spec
    if (windowKey === undefined) return
    const list = this.byWindow.get(entry.key[windowKey] as number)
    if (list === undefined) return
    const at = list.indexOf(entry)
    if (at >= 0) list.splice(at, 1)
  }
}

function sameRow(a: readonly Value[], b: readonly Value[], spec: HashAggregateSpec): boolean {
  const keys = spec.keyTypes.length
  for (let c = keys; c < a.length; c++) {
    const x = a[c]
    const y = b[c]
    if (x === y) continue
    if (x === null || y === null) return false
    if (!valuesEqual(x, y, spec.calls[c - keys].returnType)) return false
  }
  return true
}
