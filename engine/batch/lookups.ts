/**
 * Point lookups for pull queries: a relation filtered by `column = constant` conjuncts (after
 * predicate pushdown the filter sits right on the scan) is read through its index on those
 * columns (a view's, built on first use; a table's primary key) instead of as a whole; the filter
 * still applies on top.
 */
import type { LogicalPlan, RelationRef } from '../plan/logical.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { Chunk } from '../chunk.ts'
import type { CompileContext } from '../expr/compile.ts'
import type { Value } from '../types/datatype.ts'
import type { RelationInput } from '../runtime/dataflow.ts'
import { emptyColumns } from '../chunk.ts'
import { evalConst } from '../expr/compile.ts'
import { columnsOf } from '../expr/remap.ts'

/** The plan with each `filter(scan)` on `column = constant` reading the scan through a lookup. */
export function withLookups(plan: LogicalPlan, compile: CompileContext): LogicalPlan {
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
    case 'set_op':
      return { ...plan, left: withLookups(plan.left, compile), right: withLookups(plan.right, compile) }
    case 'union':
      return { ...plan, inputs: plan.inputs.map((p) => withLookups(p, compile)) }
    case 'scan':
    case 'values':
      return plan
  }
}

/** The relation read through `lookup` on the predicate's `column = constant` conjuncts, if any. */
function lookupRelation(
  relation: RelationRef,
  width: number,
  predicate: BoundExpr,
  compile: CompileContext,
): RelationRef | undefined {
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
    if (
      column?.kind !== 'column' ||
      columns.includes(column.index) ||
      columnsOf(constant).size > 0 ||
      constant.type.kind !== column.type.kind
    )
      continue
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
  const rows = (): Chunk =>
    none
      ? { columns: emptyColumns(width), ops: new Int8Array(0), length: 0 }
      : (lookup(columns, values) ?? input.snapshot())
  const read: RelationInput = { name: input.name, stream: input.stream, snapshot: rows }
  lookupInputs.add(read)
  return { ...relation, input: read }
}

const lookupInputs = new WeakSet<RelationInput>()

/** Whether a scan reads through an index lookup (for EXPLAIN). */
export function isLookup(input: RelationInput): boolean {
  return lookupInputs.has(input)
}
