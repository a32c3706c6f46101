/**
 * The first operator of a view reading a source or table: turns the input's "max event time seen"
 * per column into the view's watermark by subtracting the view's delay (the trailing
 * `WATERMARK 30s` of the view, else the `WATERMARK FOR` delay of the source or table). Columns
 * without a delay carry no watermark in this view. Downstream operators see real watermarks only.
 */
import type { Chunk, Watermark } from '../chunk.ts'
import type { Emitter, Operator } from './operator.ts'

export class WatermarkDelay implements Operator {
  readonly name = 'Watermark'

  /** `delays`: input column → delay in µs; undefined forwards every watermark (a view over a view inherits). */
  constructor(private readonly delays: ReadonlyMap<number, number> | undefined) {}

  carries(_input: number, column: number): number {
    return column
  }

  onChunk(chunk: Chunk, _input: number, out: Emitter): void {
    out.chunk(chunk)
  }

  onWatermark(w: Watermark, _input: number, out: Emitter): void {
    if (this.delays === undefined) {
      out.watermark(w)
      return
    }
    const delay = this.delays.get(w.column)
    if (delay !== undefined) out.watermark({ kind: 'watermark', column: w.column, value: w.value - delay })
  }

  explain(): string {
    if (this.delays === undefined) return 'inherit'
    if (this.delays.size === 0) return 'none'
    return [...this.delays].map(([c, d]) => `#${c} - ${d / 1e6}s`).join(', ')
  }
}
