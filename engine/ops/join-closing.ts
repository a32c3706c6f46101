/**
 * Freeing a join's closed windows (docs/design/window-aggregate.md, "Freeing a join's closed
 * windows"). The planner marks a join key as *closing* when, on both inputs, its watermark is a
 * promise that no change at all (insert or delete) of a row whose value there is at or below it
 * follows: window_start / window_end out of EMIT CHANGES window aggregates, whose late rows of
 * either sign are dropped before they reach a group (engine/plan/closing-columns.ts).
 *
 * A join bucket is read or written only when a row with its join key arrives on one side. Once
 * both inputs' watermarks on the closing key passed a bucket's value there, no such row can come,
 * so the bucket is freed without emitting anything: its output rows stay downstream, and the
 * outer joins' bookkeeping (match counts, NULL-extended rows) lives in the bucket's rows and is
 * never consulted again. Buckets are listed by closing value when they open, so a watermark frees
 * whole buckets without scanning the rest of the state.
 */
import type { Value } from '../types/datatype.ts'
import type { RowMap } from '../util/row-map.ts'
import type { JoinTable, TableBucket, TableRow } from './join-table.ts'

/** What freeing needs of the join: its buckets, how a row leaves the checkpoint, its state table. */
export interface ClosingHost {
  readonly tables: readonly [RowMap<TableBucket>, RowMap<TableBucket>]
  /** A stored row left the state: its checkpoint entry is deleted at the next checkpoint. */
  forget(s: TableRow): void
  readonly table: JoinTable | undefined
}

export class ClosingKeys {
  /** Per input: the watermark on its closing column. */
  private readonly wm = [-Infinity, -Infinity]
  /** Buckets whose closing value is at or below this were freed. */
  private freedTo = -Infinity
  /**
   * Per side: closing value → the join keys of the buckets opened with it (a key repeats when its
   * bucket emptied and opened again, or left memory and came back: freeing looks each key up).
   */
  private readonly open: [Map<number, Value[][]>, Map<number, Value[][]>] = [new Map(), new Map()]

  /**
   * `position`: the key's place among the join keys; `columns`: its column in each input (where
   * that input's watermarks on it arrive).
   */
  constructor(
    readonly position: number,
    private readonly columns: readonly [number, number],
  ) {}

  /** A bucket of `side` opened (a new key, restored, or read back from the cold tier). */
  opened(side: 0 | 1, key: Value[]): void {
    const v = key[this.position]
    if (typeof v !== 'number') return // NULL keys never match and never close
    const open = this.open[side]
    const keys = open.get(v)
    if (keys === undefined) open.set(v, [key])
    else keys.push(key)
  }

  /**
   * A watermark of input `side`: the closing value up to which both inputs are now closed, when
   * that moved (the caller frees those buckets); else undefined.
   */
  advance(side: number, column: number, value: number): number | undefined {
    if (column !== this.columns[side] || value <= this.wm[side]) return undefined
    this.wm[side] = value
    const bound = Math.min(this.wm[0], this.wm[1])
    if (bound <= this.freedTo) return undefined
    this.freedTo = bound
    return bound
  }

  /**
   * Frees both sides' buckets whose closing value is ≤ `bound`, emitting nothing: their rows'
   * entries are deleted at the next checkpoint, and the state table forgets them in both tiers.
   */
  free(bound: number, host: ClosingHost): void {
    for (const side of [0, 1] as const) {
      const table = host.tables[side]
      for (const key of this.take(side, bound)) {
        const entry = table.find(key)
        if (entry === undefined) {
          host.table?.freeCold(side, key) // evicted to the cold tier (or emptied before)
          continue
        }
        const bucket = entry.value
        if (Array.isArray(bucket)) for (const s of bucket) host.forget(s)
        else for (const e of bucket.entries()) host.forget(e.value)
        host.table?.freed(entry)
        table.delete(entry)
      }
    }
  }

  /** Removes and returns the join keys of `side`'s buckets whose closing value is ≤ `bound`. */
  private take(side: 0 | 1, bound: number): Value[][] {
    const out: Value[][] = []
    const open = this.open[side]
    // One entry per open window (a handful), not per bucket or row.
    for (const [v, keys] of open) {
      if (v > bound) continue
      open.delete(v)
      for (const k of keys) out.push(k)
    }
    return out
  }
}
