/**
 * What an interval join (right.t − left.t ∈ [lo, hi]) may forget: a stored row no future row
 * of the other side can match once that side's watermark has passed it. Each side's rows wait
 * in a TimeHeap by event time, so a watermark step costs the rows it frees, not a scan of the
 * state; rows arriving in time order (the usual case) take its O(1) FIFO path, not the heap.
 */
import type { TableRow } from './join-table.ts'
import { TimeHeap } from './time-heap.ts'

interface IntervalBounds {
  readonly leftTime: number
  readonly rightTime: number
  readonly lo: number
  readonly hi: number
}

export class IntervalExpiry {
  private readonly heaps: [TimeHeap<TableRow>, TimeHeap<TableRow>] = [new TimeHeap(), new TimeHeap()]

  /** `remove`: takes a row still stored (count > 0) out of its side, without output. */
  constructor(
    private readonly bounds: IntervalBounds,
    private readonly remove: (side: 0 | 1, row: TableRow) => void,
  ) {}

  /** A row newly stored on `side` (a row without event time is never freed, as before). */
  stored(side: 0 | 1, s: TableRow): void {
    const t = s.row[side === 0 ? this.bounds.leftTime : this.bounds.rightTime]
    if (typeof t === 'number') this.heaps[side].push(t, s)
  }

  /** Input `input`'s watermark moved to `w`: frees the other side's rows it leaves unmatchable. */
  watermark(input: 0 | 1, w: number): void {
    const { lo, hi } = this.bounds
    if (input === 1 && hi !== Infinity) this.free(0, (t) => t + hi < w)
    if (input === 0 && lo !== -Infinity) this.free(1, (t) => t - lo < w)
  }

  private free(side: 0 | 1, dead: (t: number) => boolean): void {
    const heap = this.heaps[side]
    while (heap.size > 0 && dead(heap.peek())) {
      const s = heap.pop()!
      // Retracted since (count 0): already gone.
      if (s.count > 0) this.remove(side, s)
    }
  }
}
