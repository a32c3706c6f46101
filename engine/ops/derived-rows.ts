/**
 * The rows of a materialized view that keeps no copy of them (Materialize in 'derived' mode): a
 * GROUP BY view's rows are its aggregate's groups, which live in the aggregate's state table (a
 * bounded cache in memory, the rest in the store), seen through the stateless filters and
 * projections between the aggregate and the view. Reads go to that state: the whole output while
 * it is all in memory, else an asynchronous scan; a point lookup by the group keys reads one group.
 */
import type { Chunk } from '../chunk.ts'
import type { Value } from '../types/datatype.ts'
import type { Operator, StateBackedOutput } from './operator.ts'
import { chunkFromRows, emptyColumns } from '../chunk.ts'
import { SluiceError, SqlState } from '../errors.ts'

/** How a derived view reads its rows from the operator before it. */
export interface DerivedSpec {
  /** The operator before the chain; currentOutput() is its whole output while fullyInMemory(). */
  readonly source: StateBackedOutput & Pick<Operator, 'currentOutput'>
  /**
   * The filter/projection chain between the source and the view, applied to rows the chain saw
   * before (their evaluation errors were dead-lettered then, so this reports none).
   */
  readonly through: (rows: Chunk) => Chunk
  /** For each view column, the source output column it copies unchanged (a plain column reference), if any. */
  readonly sourceColumns: readonly (number | undefined)[]
  /**
   * The chain has a predicate (HAVING, a WHERE over the grouped rows): the source's row count is
   * then only an upper bound, so the view counts the rows it forwards.
   */
  readonly filtered: boolean
}

/**
 * The operator as a StateBackedOutput, when its output lives in its state table (a windowed
 * aggregate retires rows the view must keep, a ttl or global one keeps its groups in memory:
 * their `stateBacked` is false).
 */
export function stateBackedOutput(op: Operator): (Operator & StateBackedOutput) | undefined {
  if (!('openOutputScan' in op)) return undefined
  return (op as Operator & StateBackedOutput).stateBacked ? (op as Operator & StateBackedOutput) : undefined
}

export class DerivedRows {
  /** keyOf[view column] = the group key it copies, or -1. */
  private readonly keyOf: number[]

  constructor(
    readonly spec: DerivedSpec,
    private readonly width: number,
    /** Applied after the chain: numeric columns back at their declared scales (see Materialize). */
    private readonly finish: (rows: Chunk) => Chunk,
  ) {
    const keys = spec.source.keyCount
    this.keyOf = spec.sourceColumns.map((c) => (c !== undefined && c < keys ? c : -1))
  }

  /** Whether every row is in memory: then `current()` answers synchronously. */
  inMemory(): boolean {
    return this.spec.source.fullyInMemory()
  }

  /** Rows of the source's output, in memory and on disk (the view's rows when nothing filters). */
  sourceRowCount(): number {
    return this.spec.source.outputRowCount()
  }

  /** The view's rows, when all are in memory (callers check `inMemory()` and scan otherwise). */
  current(): Chunk {
    if (!this.inMemory())
      throw new SluiceError(SqlState.internal_error, 'the rows of a view are partly on disk: read them with a scan', {
        domain: 'internal',
      })
    const rows = this.spec.source.currentOutput?.()
    return rows === undefined || rows.length === 0 ? this.empty() : this.finish(this.spec.through(rows))
  }

  /**
   * The view's rows as of this call (the source's scan is opened now, so later changes do not
   * show), in pieces of about `maxRows` read over later awaits. Stopping early (`return()`)
   * closes the source's scan.
   */
  openScan(maxRows: number): AsyncIterable<Chunk> {
    const source = this.spec.source.openOutputScan(maxRows)[Symbol.asyncIterator]()
    // The first read starts at once: a generator's cleanup (closing the store snapshot) runs on
    // return() only once it has started, and a reader may stop before it reads (a failed backfill).
    let first: Promise<IteratorResult<Chunk>> | undefined = source.next()
    first.catch(() => {})
    const through = this.spec.through
    const finish = this.finish
    let done = false
    const iterator: AsyncIterator<Chunk> = {
      next: async (): Promise<IteratorResult<Chunk>> => {
        while (!done) {
          const read = first ?? source.next()
          first = undefined
          const r = await read
          if (r.done === true) {
            done = true
            break
          }
          if (r.value.length === 0) continue
          const rows = finish(through(r.value))
          if (rows.length > 0) return { done: false, value: rows }
        }
        return { done: true, value: undefined }
      },
      return: async (): Promise<IteratorResult<Chunk>> => {
        if (!done) {
          done = true
          await first?.catch(() => {})
          first = undefined
          await source.return?.()
        }
        return { done: true, value: undefined }
      },
    }
    let taken = false
    return {
      [Symbol.asyncIterator]: () => {
        // One reader: the scan holds a store snapshot, released once it ends or is returned.
        if (taken) throw new Error('a derived view scan is read once')
        taken = true
        return iterator
      },
    }
  }

  /** Whether a lookup by these view columns can be served: they include a copy of every group key. */
  servesLookup(columns: readonly number[]): boolean {
    const keys = this.spec.source.keyCount
    if (keys === 0) return false
    const found = new Uint8Array(keys)
    let n = 0
    for (const c of columns) {
      const k = this.keyOf[c] ?? -1
      if (k >= 0 && found[k] === 0) {
        found[k] = 1
        n++
      }
    }
    return n === keys
  }

  /**
   * The rows whose `columns` equal `values`, when the columns include every group key: the one
   * group those keys name, read from the source's state (memory, then store). The rows may
   * disagree on the other columns: the caller applies the whole filter, as with any index.
   * Undefined when the columns do not name a group (the query scans).
   */
  lookup(columns: readonly number[], values: readonly Value[]): Chunk | undefined {
    if (!this.servesLookup(columns)) return undefined
    const key = new Array<Value>(this.spec.source.keyCount)
    for (let i = 0; i < columns.length; i++) {
      const k = this.keyOf[columns[i]] ?? -1
      if (k >= 0) key[k] = values[i]
    }
    const row = this.spec.source.outputRowOf(key)
    if (row === undefined) return this.empty()
    return this.finish(this.spec.through(chunkFromRows(row.length, [row])))
  }

  private empty(): Chunk {
    return { columns: emptyColumns(this.width), ops: new Int8Array(0), length: 0 }
  }
}
