/**
 * A relation's change stream: the fan-out point of a source, a table or a materialized view.
 * Every view reading the relation subscribes its first operator here, so many views share one
 * reader (ARCHITECTURE.md invariant 5). Delivery is synchronous, in subscription order.
 *
 * A subscriber that throws (a bug in one view's operators) is cut off and reported, so one
 * broken view cannot stop the relation or its other views.
 */
import type { Chunk, Watermark } from '../chunk.ts'

export interface Subscriber {
  chunk(chunk: Chunk): void
  watermark(w: Watermark): void
  /** Called when delivery to this subscriber failed; it has been unsubscribed. */
  failed(error: unknown): void
}

export class Stream {
  private readonly subscribers = new Set<Subscriber>()
  /** Highest value seen per column (max event time), replayed to late subscribers. */
  readonly maxEventTime = new Map<number, number>()

  constructor(readonly name: string) {}

  get subscriberCount(): number {
    return this.subscribers.size
  }

  subscribe(s: Subscriber): void {
    this.subscribers.add(s)
  }

  unsubscribe(s: Subscriber): void {
    this.subscribers.delete(s)
  }

  push(chunk: Chunk): void {
    if (chunk.length === 0) return
    for (const s of this.subscribers) {
      try {
        s.chunk(chunk)
      } catch (e) {
        this.subscribers.delete(s)
        s.failed(e)
      }
    }
  }

  pushWatermark(w: Watermark): void {
    const prev = this.maxEventTime.get(w.column)
    if (prev !== undefined && prev >= w.value) return
    this.maxEventTime.set(w.column, w.value)
    for (const s of this.subscribers) {
      try {
        s.watermark(w)
      } catch (e) {
        this.subscribers.delete(s)
        s.failed(e)
      }
    }
  }

  /**
   * After a batch: the max of each event-time column over the batch's inserted rows becomes a
   * watermark message (the batch rule of SQL.md: rows of a batch are judged before it moves).
   */
  pushBatchWatermarks(chunk: Chunk, timeColumns: readonly number[]): void {
    for (const c of timeColumns) {
      const col = chunk.columns[c]
      let max = -Infinity
      for (let i = 0; i < chunk.length; i++) {
        const v = col[i]
        if (chunk.ops[i] > 0 && typeof v === 'number' && v > max) max = v
      }
      if (max > -Infinity) this.pushWatermark({ kind: 'watermark', column: c, value: max })
    }
  }
}
