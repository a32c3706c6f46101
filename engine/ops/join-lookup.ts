/**
 * A lookup join's left side (HashJoin with `lookup`: `FOR SYSTEM_TIME AS OF PROCTIME()`). The
 * right side is a table read as of processing time: a left row joins the right rows present when
 * it arrives, and later right changes do not revisit it. So the join remembers what each left row
 * produced, and a left row's retraction retracts exactly that, not the result of a fresh lookup.
 * That memory is checkpointed, one entry per distinct left row (under PRODUCED_PREFIX), changed
 * ones rewritten at each checkpoint; with a ttl, each also carries when it last changed.
 */
import type { Column } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { CheckpointWriter } from './operator.ts'
import type { PredicateFn } from './filter-project.ts'
import { ChunkBuilder } from '../chunk.ts'
import { ChangeTracker } from '../state/change-tracker.ts'
import { decodeKey, encodeKey } from '../state/codec.ts'
import { decodeSnapshot, encodeSnapshot } from '../state/snapshot-codec.ts'
import { RowMap } from '../util/row-map.ts'

/** Checkpoint key prefix of the lookup results (HashJoin's stored rows are below it). */
export const PRODUCED_PREFIX = new Uint8Array([1])

/** What a left row produced, so its retraction retracts exactly that. */
interface Produced {
  /** The left row. */
  readonly row: Value[]
  count: number
  readonly rows: Value[][]
  touched: number
}

export class LookupResults {
  private readonly produced: RowMap<Produced>
  private readonly changes = new ChangeTracker<Produced>()
  /** Every left column (a left row is looked up whole). */
  private readonly all: readonly number[]

  constructor(
    private readonly leftTypes: readonly DataType[],
    private readonly ttlOn: boolean,
  ) {
    this.produced = new RowMap(leftTypes)
    this.all = leftTypes.map((_t, c) => c)
  }

  /**
   * Left row i of `cols` is retracted: pushes the rows it produced as deletes into `out` (nothing
   * when it produced none, or is unknown).
   */
  retract(cols: readonly Column[], i: number, out: ChunkBuilder): void {
    const entry = this.produced.findAt(cols, this.all, i, this.produced.hashAt(cols, this.all, i))
    if (entry === undefined) return
    for (const r of entry.value.rows) out.push(-1, r)
    if (--entry.value.count === 0) this.produced.delete(entry)
    this.changes.note(entry.value)
  }

  /** Left row i of `cols` (`row`) arrived and produced `outputs`, at `clock`. */
  record(cols: readonly Column[], i: number, row: Value[], outputs: Value[][], clock: number): void {
    const hash = this.produced.hashAt(cols, this.all, i)
    const entry = this.produced.findAt(cols, this.all, i, hash)
    const produced =
      entry === undefined
        ? this.produced.insert(row, hash, { row, count: 1, rows: outputs, touched: clock }).value
        : entry.value
    if (entry !== undefined) produced.count++
    produced.touched = clock
    this.changes.note(produced)
  }

  /** Writes every result (the first checkpoint) and starts tracking changes. */
  writeAll(out: CheckpointWriter): void {
    for (const e of this.produced.entries()) this.write(out, e.value)
    this.changes.start()
  }

  /** Writes the results changed since the last checkpoint (deleted ones as deletes). */
  writeChanged(out: CheckpointWriter): void {
    for (const p of this.changes.drain()) this.write(out, p)
  }

  /** A checkpointed result (its key and value as write() made them). */
  restore(key: Uint8Array, value: Uint8Array): void {
    const row = decodeKey(key, this.leftTypes, PRODUCED_PREFIX.length)
    const [count, rows, touched] = decodeSnapshot(value) as [number, Value[][], number | undefined]
    this.produced.insert(row, this.produced.hashKey(row), { row, count, rows, touched: touched ?? 0 })
  }

  /** The restore is complete: changes are tracked from here. */
  restored(): void {
    this.changes.start()
  }

  /** TTL: forgets the results for which `expired` holds (see HashJoin.onTick). */
  expire(expired: (p: { touched: number }) => boolean): void {
    for (const entry of [...this.produced.entries()]) {
      if (!expired(entry.value)) continue
      this.produced.delete(entry)
      entry.value.count = 0
      this.changes.note(entry.value)
    }
  }

  private write(out: CheckpointWriter, p: Produced): void {
    const key = encodeKey(p.row, this.leftTypes, PRODUCED_PREFIX)
    if (p.count > 0) out.put(key, encodeSnapshot(this.ttlOn ? [p.count, p.rows, p.touched] : [p.count, p.rows]))
    else out.del(key)
  }
}

/**
 * 1 where the residual predicate holds for (row, candidate), per candidate (candidates on the
 * side other than `input`); undefined when there is no residual (all hold).
 */
export function residualMask(
  residual: PredicateFn | undefined,
  width: number,
  input: number,
  row: readonly Value[],
  candidates: readonly { readonly row: readonly Value[] }[],
): Uint8Array | undefined {
  if (residual === undefined) return undefined
  const b = new ChunkBuilder(width)
  for (const o of candidates) b.push(1, input === 0 ? [...row, ...o.row] : [...o.row, ...row])
  const pairs = b.take()
  return pairs === undefined ? new Uint8Array(0) : residual(pairs)
}
