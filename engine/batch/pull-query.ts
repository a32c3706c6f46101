/**
 * Pull queries (SELECT): the bound plan runs once through the same operators a view would use,
 * fed with the current rows of the relations it reads (a batch is a stream with one insert-only
 * chunk and no watermarks), then ORDER BY / LIMIT / OFFSET apply to the collected rows.
 *
 * Point lookups: a relation filtered by `column = constant` conjuncts (after predicate pushdown
 * the filter sits right on the scan) is read through its index on those columns (a view's, built
 * on first use; a table's primary key) instead of as a whole; the filter still applies on top.
 */
import type { LogicalPlan, RelationRef } from '../plan/logical.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { Chunk } from '../chunk.ts'
import { emptyColumns } from '../chunk.ts'
import type { CompileContext } from '../expr/compile.ts'
import { evalConst } from '../expr/compile.ts'
import { columnsOf } from '../expr/remap.ts'
import type { OperatorContext } from '../ops/operator.ts'
import type { DataType, Value } from '../types/datatype.ts'
import { Dataflow } from '../runtime/dataflow.ts'
import { lower } from '../plan/physical.ts'
import { optimize } from '../plan/optimize.ts'
import { compareValues } from '../types/compare.ts'
import { SluiceError, SqlState } from '../errors.ts'

/** Per-statement limits: a result's estimated size and the statement timeout / cancel check. */
export interface PullLimits {
  readonly interrupt?: { readonly deadline: number | undefined; check(): void }
  /** Estimated bytes of collected rows beyond which the query fails with 54000 (not OOM). */
  readonly maxResultBytes?: number
}

/** Input rows pushed per piece while a statement timeout is set, so the timeout can stop it. */
const SLICE_ROWS = 16_384
/** Rough per-row and per-cell costs of a collected row (array header, boxed values). */
const ROW_BYTES = 32
const CELL_BYTES = 16

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

export function runPullQuery(query: PullQuery, compile: CompileContext, ops: OperatorContext, limits: PullLimits = {}): Value[][] {
  const physical = lower(withLookups(optimize(query.plan), compile), { compile, ops, watermarkOverride: undefined, emitOnWindowClose: false, throwOnEvalError: true })
  let rows: Value[][] = []
  const retracted: Value[][] = []
  const width = query.plan.columns.length
  const maxBytes = limits.maxResultBytes ?? Infinity
  const varying: number[] = []
  query.plan.columns.forEach((c, k) => {
    if (c.type.kind === 'text' || c.type.kind === 'bytea' || c.type.kind === 'jsonb' || c.type.kind === 'array') varying.push(k)
  })
  let bytes = 0
  const dataflow = new Dataflow(physical, {
    chunk: (c) => {
      bytes += c.length * (ROW_BYTES + CELL_BYTES * width)
      for (const k of varying) {
        const col = c.columns[k]
        for (let i = 0; i < c.length; i++) {
          const v = col[i]
          if (typeof v === 'string' || v instanceof Uint8Array) bytes += v.length
          else if (Array.isArray(v)) bytes += CELL_BYTES * v.length
        }
      }
      if (bytes > maxBytes) {
        throw new SluiceError(SqlState.program_limit_exceeded, `query result too large: more than ${maxBytes} bytes`, {
          hint: 'Add a WHERE or LIMIT, or read the changes with SUBSCRIBE.',
        })
      }
      for (let i = 0; i < c.length; i++) {
        const row = new Array<Value>(width)
        for (let k = 0; k < width; k++) row[k] = c.columns[k][i]
        if (c.ops[i] > 0) rows.push(row)
        else retracted.push(row)
      }
    },
    watermark: () => {},
  })
  const interrupt = limits.interrupt
  if (interrupt?.deadline !== undefined) dataflow.runBatch(SLICE_ROWS, () => interrupt.check())
  else dataflow.runBatch()
  interrupt?.check()
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

/** The plan with each `filter(scan)` on `column = constant` reading the scan through a lookup. */
function withLookups(plan: LogicalPlan, compile: CompileContext): LogicalPlan {
  if (plan.kind === 'filter' && plan.input.kind === 'scan') {
    const relation = lookupRelation(plan.input.relation, plan.input.columns.length, plan.predicate, compile)
    return relation === undefined ? plan : { ...plan, input: { ...plan.input, relation } }
  }
  switch (plan.kind) {
    case 'filter':
    case 'project':
    case 'window':
    case 'aggregate':
    case 'rank':
    case 'session_aggregate':
      return { ...plan, input: withLookups(plan.input, compile) }
    case 'join':
      return { ...plan, left: withLookups(plan.left, compile), right: withLookups(plan.right, compile) }
    case 'union':
      return { ...plan, inputs: plan.inputs.map((p) => withLookups(p, compile)) }
    case 'scan':
    case 'values':
      return plan
  }
}

/** The relation read through `lookup` on the predicate's `column = constant` conjuncts, if any. */
function lookupRelation(relation: RelationRef, width: number, predicate: BoundExpr, compile: CompileContext): RelationRef | undefined {
  const input = relation.input
  const lookup = input.lookup?.bind(input)
  if (lookup === undefined) return undefined
  const columns: number[] = []
  const values: Value[] = []
  const conjuncts = (e: BoundExpr): BoundExpr[] => (e.kind === 'and' ? e.args.flatMap(conjuncts) : [e])
  for (const c of conjuncts(predicate)) {
    if (c.kind !== 'call' || c.fn.name !== '=' || c.args.length !== 2) continue
    const [a, b] = c.args
    const column = a.kind === 'column' ? a : b.kind === 'column' ? b : undefined
    const constant = column === a ? b : a
    if (column?.kind !== 'column' || columns.includes(column.index) || columnsOf(constant).size > 0 || constant.type.kind !== column.type.kind) continue
    let value: Value
    try {
      value = evalConst(constant, compile)
    } catch {
      continue // the filter reports it
    }
    columns.push(column.index)
    values.push(value)
  }
  if (columns.length === 0) return undefined
  // `x = NULL` holds for no row; an index would match NULL keys.
  const none = values.includes(null)
  const rows = (): Chunk => (none ? { columns: emptyColumns(width), ops: new Int8Array(0), length: 0 } : (lookup(columns, values) ?? input.snapshot()))
  return { ...relation, input: { name: input.name, stream: input.stream, snapshot: rows } }
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
