/**
 * Pull queries (SELECT): the bound plan runs once through the same operators a view would use,
 * fed with the current rows of the relations it reads (a batch is a stream with one insert-only
 * chunk and no watermarks), then ORDER BY / LIMIT / OFFSET apply to the collected rows.
 */
import type { LogicalPlan } from '../plan/logical.ts'
import type { CompileContext } from '../expr/compile.ts'
import type { OperatorContext } from '../ops/operator.ts'
import type { DataType, Value } from '../types/datatype.ts'
import { Dataflow } from '../runtime/dataflow.ts'
import { lower } from '../plan/physical.ts'
import { optimize } from '../plan/optimize.ts'
import { compareValues } from '../types/compare.ts'

export interface SortKey {
  /** Output column (may be a hidden trailing column). */
  readonly column: number
  readonly descending: boolean
  /** PostgreSQL default: NULLS LAST for ASC, NULLS FIRST for DESC. */
  readonly nullsFirst: boolean
}

export interface PullQuery {
  readonly plan: LogicalPlan
  readonly orderBy: readonly SortKey[]
  readonly limit: number | undefined
  readonly offset: number
  /** Trailing output columns added only for sorting, dropped from the result. */
  readonly hidden: number
}

export function runPullQuery(query: PullQuery, compile: CompileContext, ops: OperatorContext): Value[][] {
  const physical = lower(optimize(query.plan), { compile, ops, watermarkOverride: undefined, emitOnWindowClose: false, throwOnEvalError: true })
  let rows: Value[][] = []
  const retracted: Value[][] = []
  const width = query.plan.columns.length
  const dataflow = new Dataflow(physical, {
    chunk: (c) => {
      for (let i = 0; i < c.length; i++) {
        const row = new Array<Value>(width)
        for (let k = 0; k < width; k++) row[k] = c.columns[k][i]
        if (c.ops[i] > 0) rows.push(row)
        else retracted.push(row)
      }
    },
    watermark: () => {},
  })
  dataflow.runBatch()
  // Operators may emit an early row and retract it in the same run (e.g. a global aggregate's
  // initial row): cancel such pairs.
  if (retracted.length > 0) rows = cancel(rows, retracted)
  const types = query.plan.columns.map((c) => c.type)
  if (query.orderBy.length > 0) rows.sort((a, b) => compareRows(a, b, query.orderBy, types))
  const end = query.limit === undefined ? rows.length : query.offset + query.limit
  rows = rows.slice(query.offset, end)
  if (query.hidden > 0) rows = rows.map((r) => r.slice(0, width - query.hidden))
  return rows
}

function compareRows(a: readonly Value[], b: readonly Value[], keys: readonly SortKey[], types: readonly DataType[]): number {
  for (const k of keys) {
    const x = a[k.column]
    const y = b[k.column]
    let c: number
    if (x === null || y === null) {
      if (x === y) continue
      c = x === null ? (k.nullsFirst ? -1 : 1) : k.nullsFirst ? 1 : -1
      if (c !== 0) return c
      continue
    }
    c = compareValues(x, y, types[k.column])
    if (c !== 0) return k.descending ? -c : c
  }
  return 0
}

function cancel(rows: Value[][], retracted: Value[][]): Value[][] {
  const pending = new Map<string, number>()
  const key = (r: readonly Value[]): string => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))
  for (const r of retracted) pending.set(key(r), (pending.get(key(r)) ?? 0) + 1)
  return rows.filter((r) => {
    const k = key(r)
    const n = pending.get(k)
    if (n === undefined || n === 0) return true
    pending.set(k, n - 1)
    return false
  })
}
