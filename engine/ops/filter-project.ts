/**
 * Filter and projection in one pass: evaluates the predicate into a mask, keeps the passing
 * rows, then computes each output column with a compiled expression. An update (delete + insert
 * pair) needs no special casing: each half is filtered on its own values, so an update that flips
 * the predicate becomes a lone delete or a lone insert, which is exactly the change of the result.
 *
 * Rows whose predicate or projection fails to evaluate (division by zero, bad cast) are removed
 * from the output and sent to dead letters with reason `eval_error`; the view goes on.
 */
import type { Chunk, Column, Watermark } from '../chunk.ts'
import type { SluiceError } from '../errors.ts'
import type { DataType } from '../types/datatype.ts'
import type { Emitter, Operator, OperatorContext } from './operator.ts'
import { describeRow } from './operator.ts'
import { rowAt } from '../chunk.ts'

export type ColumnFn = (chunk: Chunk, errors?: { rows: number[]; errors: SluiceError[] }) => Column
export type PredicateFn = (chunk: Chunk, errors?: { rows: number[]; errors: SluiceError[] }) => Uint8Array

export interface ProjectionSpec {
  /** Input column index when the output is a plain column reference (no evaluation needed). */
  readonly input?: number
  readonly fn?: ColumnFn
}

export class FilterProject implements Operator {
  readonly name = 'FilterProject'
  /** Input column → output column, for forwarding watermarks through the projection. */
  private readonly watermarkMap = new Map<number, number>()
  /** While replaying rows already seen (`replay`): failing rows are dropped without a dead letter. */
  private quiet = false

  constructor(
    private readonly ctx: OperatorContext,
    private readonly predicate: PredicateFn | undefined,
    private readonly projections: readonly ProjectionSpec[] | undefined,
    private readonly detail = '',
    /** Pull queries fail on the first row that cannot be evaluated, as PostgreSQL does; views dead-letter it. */
    private readonly throwOnError = false,
    /** The input's column types, to show a rejected row's values as text (dead letters). */
    private readonly inputTypes?: readonly DataType[],
  ) {
    if (projections === undefined) return
    projections.forEach((p, out) => {
      if (p.input !== undefined && !this.watermarkMap.has(p.input)) this.watermarkMap.set(p.input, out)
    })
  }

  /** Whether rows can be dropped here by the predicate (a view after it cannot count its rows upstream). */
  get filters(): boolean {
    return this.predicate !== undefined
  }

  /**
   * The input column output column `column` copies unchanged (a plain column reference), if any:
   * a view after an aggregate looks a group up by the columns that are its keys.
   */
  inputColumn(column: number): number | undefined {
    return this.projections === undefined ? column : this.projections[column]?.input
  }

  carries(_input: number, column: number): number | undefined {
    if (this.projections === undefined) return column
    const at = this.projections.findIndex((p) => p.input === column)
    return at < 0 ? undefined : at
  }

  onChunk(chunk: Chunk, _input: number, out: Emitter): void {
    let rows = chunk
    if (this.predicate !== undefined) {
      const errors = this.throwOnError ? undefined : { rows: [] as number[], errors: [] as SluiceError[] }
      const mask = this.predicate(chunk, errors)
      if (errors !== undefined && errors.rows.length > 0) this.reject(chunk, errors)
      rows = select(chunk, mask)
      if (rows.length === 0) return
    }
    if (this.projections === undefined) {
      out.chunk(rows)
      return
    }
    const errors = this.throwOnError ? undefined : { rows: [] as number[], errors: [] as SluiceError[] }
    const columns: Column[] = new Array<Column>(this.projections.length)
    for (let c = 0; c < this.projections.length; c++) {
      const p = this.projections[c]
      columns[c] = p.input !== undefined ? rows.columns[p.input] : p.fn!(rows, errors)
    }
    let result: Chunk = { columns, ops: rows.ops, length: rows.length }
    if (errors !== undefined && errors.rows.length > 0) {
      this.reject(rows, errors)
      const keep = new Uint8Array(rows.length).fill(1)
      for (const r of errors.rows) keep[r] = 0
      result = select(result, keep)
    }
    if (result.length > 0) out.chunk(result)
  }

  /**
   * The output for rows this operator already saw: a view's rows rebuilt from an aggregate's
   * restored state, or rows the aggregate retired. A row that fails here failed when it was
   * first seen and was dead-lettered then; telling again would record the reject twice.
   */
  replay(chunk: Chunk, out: Emitter): void {
    this.quiet = true
    try {
      this.onChunk(chunk, 0, out)
    } finally {
      this.quiet = false
    }
  }

  onWatermark(w: Watermark, _input: number, out: Emitter): void {
    if (this.projections === undefined) {
      out.watermark(w)
      return
    }
    const column = this.watermarkMap.get(w.column)
    if (column !== undefined) out.watermark({ kind: 'watermark', column, value: w.value })
  }

  explain(): string {
    return this.detail
  }

  private reject(chunk: Chunk, errors: { rows: number[]; errors: SluiceError[] }): void {
    if (this.quiet) return
    const seen = new Set<number>()
    for (let k = 0; k < errors.rows.length; k++) {
      const r = errors.rows[k]
      if (seen.has(r)) continue
      seen.add(r)
      this.ctx.deadLetter({
        reason: 'eval_error',
        detail: errors.errors[k].message,
        payload: describeRow(rowAt(chunk, r), this.inputTypes),
      })
    }
    this.ctx.countEvalErrors(seen.size)
  }
}

/** The rows of `chunk` where `mask` is 1 (the chunk itself when all pass). */
export function select(chunk: Chunk, mask: Uint8Array): Chunk {
  let n = 0
  for (let i = 0; i < chunk.length; i++) n += mask[i]
  if (n === chunk.length) return chunk
  const ops = new Int8Array(n)
  const columns: Column[] = chunk.columns.map(() => new Array(n))
  let j = 0
  for (let i = 0; i < chunk.length; i++) {
    if (mask[i] === 0) continue
    ops[j] = chunk.ops[i]
    for (let c = 0; c < columns.length; c++) columns[c][j] = chunk.columns[c][i]
    j++
  }
  return { columns, ops, length: n }
}
