/**
 * Session windows with aggregation (SESSION(t, ts, gap) grouped by window_start, window_end and
 * the other keys). Per group, the open rows are kept sorted by event time; each row opens
 * [ts, ts + gap), and windows that overlap or touch merge, so a session ends `gap` after its last
 * row. A change re-clusters its group's open rows and emits the difference of the session rows
 * (a row can merge two sessions or, retracted, split one).
 *
 * Lateness (SQL.md): a row whose own window [ts, ts + gap) is closed (watermark ≥ ts + gap) is
 * late. A session closes when the watermark reaches its end; it is then final: its rows leave
 * state, so a later row cannot extend it. EMIT ON WINDOW CLOSE emits each session once, then.
 *
 * Input layout: [partition keys..., ts, aggregate arguments...]; output: [window_start,
 * window_end, partition keys..., aggregates...].
 */
import type { Chunk, Watermark } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { CheckpointWriter, Emitter, Operator, OperatorContext, StateEntry } from './operator.ts'
import type { AggregateCall } from './hash-aggregate.ts'
import { ChunkBuilder, rowAt } from '../chunk.ts'
import { RowMap, type RowEntry } from '../util/row-map.ts'
import { ChangeTracker } from '../state/change-tracker.ts'
import { decodeKey, encodeKey } from '../state/codec.ts'
import { decodeSnapshot, encodeSnapshot } from '../state/snapshot-codec.ts'
import { valuesEqual } from '../types/compare.ts'
import { describeRow } from './operator.ts'

export interface SessionAggregateSpec {
  /** Types of the input columns: [partition keys..., ts, arguments...]. */
  readonly inputTypes: readonly DataType[]
  readonly partitionTypes: readonly DataType[]
  /** Session gap, µs. */
  readonly gap: number
  readonly calls: readonly AggregateCall[]
  readonly emitOnWindowClose: boolean
}

interface OpenRow {
  readonly ts: number
  readonly row: Value[]
  count: number
}

interface Group {
  /** Open rows sorted by event time. */
  readonly rows: OpenRow[]
  /** Session start → the row emitted for it. */
  emitted: Map<number, Value[]>
  dirty: boolean
}

export class SessionAggregate implements Operator {
  readonly name = 'SessionAggregate'
  private readonly groups: RowMap<Group>
  private readonly keyIndex: number[]
  private readonly tsColumn: number
  private readonly dirty: Group[] = []
  private readonly groupKeys = new Map<Group, Value[]>()
  private wm = -Infinity
  private readonly width: number
  /** Groups changed since the last checkpoint (each is rewritten whole: its open rows and emitted sessions). */
  private readonly changes = new ChangeTracker<RowEntry<Group>>()

  constructor(
    private readonly ctx: OperatorContext,
    private readonly spec: SessionAggregateSpec,
  ) {
    this.groups = new RowMap(spec.partitionTypes)
    this.keyIndex = spec.partitionTypes.map((_t, i) => i)
    this.tsColumn = spec.partitionTypes.length
    this.width = 2 + spec.partitionTypes.length + spec.calls.length
  }

  onChunk(chunk: Chunk, _input: number, out: Emitter): void {
    const cols = chunk.columns
    let late = 0
    for (let i = 0; i < chunk.length; i++) {
      const ts = cols[this.tsColumn][i] as number | null
      if (ts === null) continue
      if (ts + this.spec.gap <= this.wm) {
        late++
        this.ctx.deadLetter({
          reason: 'late',
          detail: "the row's session window [ts, ts + gap) has closed",
          payload: describeRow(rowAt(chunk, i), this.spec.inputTypes),
        })
        continue
      }
      const hash = this.groups.hashAt(cols, this.keyIndex, i)
      let entry = this.groups.findAt(cols, this.keyIndex, i, hash)
      if (entry === undefined) {
        entry = this.groups.insert(this.groups.keyAt(cols, this.keyIndex, i), hash, {
          rows: [],
          emitted: new Map(),
          dirty: false,
        })
        this.groupKeys.set(entry.value, entry.key)
      }
      const group = entry.value
      const row = rowAt(chunk, i)
      const at = this.find(group.rows, ts, row)
      if (chunk.ops[i] > 0) {
        if (at.found) group.rows[at.index].count++
        else group.rows.splice(at.index, 0, { ts, row, count: 1 })
      } else if (at.found && --group.rows[at.index].count === 0) group.rows.splice(at.index, 1)
      this.changes.note(entry)
      // EMIT ON WINDOW CLOSE emits from onWatermark only: nothing to flush per chunk.
      if (!group.dirty && !this.spec.emitOnWindowClose) {
        group.dirty = true
        this.dirty.push(group)
      }
    }
    if (late > 0) this.ctx.countLate(late)
    if (!this.spec.emitOnWindowClose) this.flush(out)
  }

  onWatermark(w: Watermark, _input: number, out: Emitter): void {
    if (w.column !== this.tsColumn || w.value <= this.wm) return
    this.wm = w.value
    const builder = new ChunkBuilder(this.width)
    for (const entry of [...this.groups.entries()]) {
      const group = entry.value
      const sessions = this.sessions(group.rows)
      for (const s of sessions) {
        if (s.end > this.wm) continue
        // Closed: final. EMIT ON WINDOW CLOSE emits it now; EMIT CHANGES already has.
        if (this.spec.emitOnWindowClose)
          builder.push(1, this.resultRow(entry.key, s.start, s.end, group.rows.slice(s.from, s.to)))
        group.emitted.delete(s.start)
      }
      const open = sessions.filter((s) => s.end > this.wm)
      if (open.length !== sessions.length) {
        const keep = open.flatMap((s) => group.rows.slice(s.from, s.to))
        group.rows.length = 0
        group.rows.push(...keep)
        this.changes.note(entry)
      }
      if (group.rows.length === 0 && group.emitted.size === 0 && !group.dirty) {
        this.groups.delete(entry)
        this.groupKeys.delete(group)
      }
    }
    const chunk = builder.take()
    if (chunk !== undefined) out.chunk(chunk)
  }

  /** Checkpoint: each changed group → its open rows and emitted sessions, or a delete once empty. */
  checkpoint(out: CheckpointWriter): void {
    if (!this.changes.tracking) {
      out.clear()
      for (const entry of this.groups.entries()) this.write(out, entry)
      this.changes.start()
      return
    }
    for (const entry of this.changes.drain()) this.write(out, entry)
  }

  restore(entries: readonly StateEntry[]): void {
    for (const [k, v] of entries) {
      const key = decodeKey(k, this.spec.partitionTypes)
      const [rows, emitted] = decodeSnapshot(v) as [[number, number, Value[]][], [number, Value[]][]]
      const group: Group = {
        rows: rows.map(([ts, count, row]) => ({ ts, count, row })),
        emitted: new Map(emitted),
        dirty: false,
      }
      this.groups.insert(key, this.groups.hashKey(key), group)
      this.groupKeys.set(group, key)
    }
    this.changes.start()
  }

  private write(out: CheckpointWriter, entry: RowEntry<Group>): void {
    const key = encodeKey(entry.key, this.spec.partitionTypes)
    const group = entry.value
    if (group.rows.length === 0 && group.emitted.size === 0) out.del(key)
    else out.put(key, encodeSnapshot([group.rows.map((r) => [r.ts, r.count, r.row]), [...group.emitted]]))
  }

  stateSize(): number {
    let n = 0
    for (const e of this.groups.entries()) n += e.value.rows.length
    return n
  }

  explain(): string {
    return `gap=${this.spec.gap / 1e6}s keys=${this.spec.partitionTypes.length} aggs=[${this.spec.calls.map((c) => c.label).join(', ')}]${this.spec.emitOnWindowClose ? ' emit=on_window_close' : ''}`
  }

  private flush(out: Emitter): void {
    if (this.dirty.length === 0) return
    const builder = new ChunkBuilder(this.width)
    for (const group of this.dirty) {
      group.dirty = false
      const key = this.groupKeys.get(group) ?? []
      const next = new Map<number, Value[]>()
      for (const s of this.sessions(group.rows))
        next.set(s.start, this.resultRow(key, s.start, s.end, group.rows.slice(s.from, s.to)))
      for (const [start, row] of group.emitted) {
        const replacement = next.get(start)
        if (replacement === undefined || !this.sameRow(row, replacement)) builder.push(-1, row)
      }
      for (const [start, row] of next) {
        const previous = group.emitted.get(start)
        if (previous === undefined || !this.sameRow(previous, row)) builder.push(1, row)
      }
      group.emitted = next
    }
    this.dirty.length = 0
    const chunk = builder.take()
    if (chunk !== undefined) out.chunk(chunk)
  }

  /** Clusters sorted rows into sessions: a row within `gap` of the previous one joins its session. */
  private sessions(rows: readonly OpenRow[]): { start: number; end: number; from: number; to: number }[] {
    const out: { start: number; end: number; from: number; to: number }[] = []
    let i = 0
    while (i < rows.length) {
      const start = rows[i].ts
      let end = start + this.spec.gap
      let j = i + 1
      while (j < rows.length && rows[j].ts <= end) {
        end = Math.max(end, rows[j].ts + this.spec.gap)
        j++
      }
      out.push({ start, end, from: i, to: j })
      i = j
    }
    return out
  }

  private resultRow(key: readonly Value[], start: number, end: number, rows: readonly OpenRow[]): Value[] {
    const accs = this.spec.calls.map((c) => c.create())
    for (const r of rows) {
      for (let a = 0; a < this.spec.calls.length; a++) {
        const call = this.spec.calls[a]
        const v = call.arg2 >= 0 ? [r.row[call.arg], r.row[call.arg2]] : call.arg < 0 ? true : r.row[call.arg]
        for (let n = 0; n < r.count; n++) accs[a].add(v, 1)
      }
    }
    return [start, end, ...key, ...accs.map((acc) => acc.result())]
  }

  private find(rows: readonly OpenRow[], ts: number, row: readonly Value[]): { index: number; found: boolean } {
    let lo = 0
    let hi = rows.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (rows[mid].ts < ts) lo = mid + 1
      else hi = mid
    }
    for (let k = lo; k < rows.length && rows[k].ts === ts; k++) {
      const stored = rows[k].row
      let same = true
      for (let c = 0; c < stored.length && same; c++) {
        const x = stored[c]
        const y = row[c]
        same = x === y || (x !== null && y !== null && valuesEqual(x, y, this.spec.inputTypes[c]))
      }
      if (same) return { index: k, found: true }
    }
    return { index: lo, found: false }
  }

  private sameRow(a: readonly Value[], b: readonly Value[]): boolean {
    for (let c = 0; c < a.length; c++) {
      const x = a[c]
      const y = b[c]
      if (x === y) continue
      if (x === null || y === null) return false
      const t =
        c < 2
          ? { kind: 'timestamp' as const }
          : c < 2 + this.spec.partitionTypes.length
            ? this.spec.partitionTypes[c - 2]
            : this.spec.calls[c - 2 - this.spec.partitionTypes.length].returnType
      if (!valuesEqual(x, y, t)) return false
    }
    return true
  }
}
