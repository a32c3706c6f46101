/**
 * EXCEPT / INTERSECT [ALL]: per distinct row (NULLs equal, as DISTINCT compares), how many
 * copies each input holds; the output holds as many copies as the set operation gives for those
 * counts. A change on either side recomputes that row's output multiplicity and emits the
 * difference, so retractions on either input retract (or bring back) output rows naturally.
 *
 *   INTERSECT      l > 0 && r > 0 ? 1 : 0        INTERSECT ALL  min(l, r)
 *   EXCEPT         l > 0 && r == 0 ? 1 : 0       EXCEPT ALL     max(l − r, 0)
 */
import type { Chunk } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { CheckpointWriter, Emitter, Operator, StateEntry } from './operator.ts'
import { ChunkBuilder } from '../chunk.ts'
import { ChangeTracker } from '../state/change-tracker.ts'
import { decodeKey, encodeKey } from '../state/codec.ts'
import { decodeSnapshot, encodeSnapshot } from '../state/snapshot-codec.ts'
import { RowMap } from '../util/row-map.ts'

export type SetOpKind = 'except' | 'intersect'

interface Counts {
  readonly row: Value[]
  left: number
  right: number
}

export function setOpMultiplicity(op: SetOpKind, all: boolean, left: number, right: number): number {
  if (op === 'intersect') return all ? Math.min(left, right) : left > 0 && right > 0 ? 1 : 0
  return all ? Math.max(left - right, 0) : left > 0 && right === 0 ? 1 : 0
}

export class SetOp implements Operator {
  readonly name: string
  private readonly rows: RowMap<Counts>
  private readonly all: number[]
  private readonly changes = new ChangeTracker<Counts>()

  constructor(
    private readonly op: SetOpKind,
    private readonly distinctRows: boolean,
    private readonly types: readonly DataType[],
  ) {
    this.name = op === 'except' ? 'Except' : 'Intersect'
    this.rows = new RowMap(types)
    this.all = types.map((_t, i) => i)
  }

  onChunk(chunk: Chunk, input: number, out: Emitter): void {
    const builder = new ChunkBuilder(this.types.length)
    const cols = chunk.columns
    const all = !this.distinctRows
    for (let i = 0; i < chunk.length; i++) {
      const hash = this.rows.hashAt(cols, this.all, i)
      let entry = this.rows.findAt(cols, this.all, i, hash)
      if (entry === undefined) {
        const row = this.rows.keyAt(cols, this.all, i)
        entry = this.rows.insert(row, hash, { row, left: 0, right: 0 })
      }
      const c = entry.value
      const before = setOpMultiplicity(this.op, all, c.left, c.right)
      if (input === 0) c.left += chunk.ops[i]
      else c.right += chunk.ops[i]
      const after = setOpMultiplicity(this.op, all, c.left, c.right)
      for (let n = before; n < after; n++) builder.push(1, c.row)
      for (let n = after; n < before; n++) builder.push(-1, c.row)
      if (c.left <= 0 && c.right <= 0) this.rows.delete(entry)
      this.changes.note(c)
    }
    const result = builder.take()
    if (result !== undefined) out.chunk(result)
  }

  /** Inserts of every output row (a pull query reads the result once its inputs are done). */
  currentOutput(): Chunk | undefined {
    const builder = new ChunkBuilder(this.types.length)
    for (const piece of this.outputPieces(Infinity))
      for (let i = 0; i < piece.length; i++) builder.pushFrom(1, piece, i)
    return builder.take() ?? { columns: this.types.map(() => []), ops: new Int8Array(0), length: 0 }
  }

  /** The current output in chunks of about `maxRows` rows, built as they are asked for. */
  *outputPieces(maxRows: number): Generator<Chunk> {
    let builder = new ChunkBuilder(this.types.length)
    for (const e of this.rows.entries()) {
      const n = setOpMultiplicity(this.op, !this.distinctRows, e.value.left, e.value.right)
      for (let k = 0; k < n; k++) builder.push(1, e.value.row)
      if (builder.length >= maxRows) {
        yield builder.take()!
        builder = new ChunkBuilder(this.types.length)
      }
    }
    const last = builder.take()
    if (last !== undefined) yield last
  }

  checkpoint(out: CheckpointWriter): void {
    if (!this.changes.tracking) {
      out.clear()
      for (const e of this.rows.entries()) this.write(out, e.value)
      this.changes.start()
      return
    }
    for (const c of this.changes.drain()) this.write(out, c)
  }

  restore(entries: readonly StateEntry[]): void {
    for (const [key, value] of entries) {
      const row = decodeKey(key, this.types)
      const [left, right] = decodeSnapshot(value) as [number, number]
      this.rows.insert(row, this.rows.hashKey(row), { row, left, right })
    }
    this.changes.start()
  }

  private write(out: CheckpointWriter, c: Counts): void {
    const key = encodeKey(c.row, this.types)
    if (c.left <= 0 && c.right <= 0) out.del(key)
    else out.put(key, encodeSnapshot([c.left, c.right]))
  }

  stateSize(): number {
    return this.rows.size
  }

  explain(): string {
    return this.distinctRows ? '' : 'all'
  }
}
