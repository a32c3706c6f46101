/**
 * UNION ALL: every input's changes pass through unchanged. A watermark on a column moves only
 * when every input has moved past it (the minimum), since any input may still send older rows.
 */
import type { Chunk, Watermark } from '../chunk.ts'
import type { Emitter, Operator } from './operator.ts'

export class UnionAll implements Operator {
  readonly name = 'UnionAll'
  private readonly marks: Map<number, number>[]
  private readonly sent = new Map<number, number>()

  constructor(private readonly inputs: number) {
    this.marks = Array.from({ length: inputs }, () => new Map<number, number>())
  }

  onChunk(chunk: Chunk, _input: number, out: Emitter): void {
    out.chunk(chunk)
  }

  onWatermark(w: Watermark, input: number, out: Emitter): void {
    this.marks[input].set(w.column, w.value)
    let min = Infinity
    for (const m of this.marks) min = Math.min(min, m.get(w.column) ?? -Infinity)
    if (min === -Infinity || (this.sent.get(w.column) ?? -Infinity) >= min) return
    this.sent.set(w.column, min)
    out.watermark({ kind: 'watermark', column: w.column, value: min })
  }

  explain(): string {
    return `${this.inputs} inputs`
  }
}
