/** Constant rows (VALUES, or SELECT without FROM): emitted once when the dataflow starts. */
import type { Chunk } from '../chunk.ts'
import type { Value } from '../types/datatype.ts'
import type { Emitter, Operator } from './operator.ts'
import { chunkFromRows } from '../chunk.ts'

export class Values implements Operator {
  readonly name = 'Values'

  constructor(
    private readonly width: number,
    private readonly rows: readonly (readonly Value[])[],
  ) {}

  onStart(out: Emitter): void {
    if (this.rows.length > 0) out.chunk(chunkFromRows(this.width, this.rows))
  }

  onChunk(_chunk: Chunk, _input: number, _out: Emitter): void {}

  explain(): string {
    return `${this.rows.length} row(s)`
  }
}
