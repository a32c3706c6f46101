/**
 * Rule (pull queries only): a relation filtered by `column = constant` conjuncts is read through
 * an index on those columns — a table's primary key or declared index, a view's declared index or
 * one built on first use — instead of as a whole. Predicate pushdown has put the filter right on
 * the scan; the filter stays above it (a declared index on some of the columns finds a superset).
 *
 * A constant of another type than its column still keys the lookup when equality means the same
 * in both types: `bigint_col = 1` (an int4 literal, compared across int4/int8 exactly) and
 * `smallint_col = 2` (bound as `smallint_col::integer = 2`: the cast is one to one). The constant
 * is converted to the column's type when the query runs (engine/batch/lookups.ts); one with no
 * exact value there (`smallint_col = 70000`, `bigint_col = 2.5`) matches no row.
 */
import type { BoundExpr } from '../../expr/bound.ts'
import type { LogicalPlan, RelationRef, ScanLookup } from '../logical.ts'
import { columnsOf } from '../../expr/remap.ts'

export function useIndexLookups(plan: LogicalPlan): LogicalPlan {
  if (plan.kind === 'filter' && plan.input.kind === 'scan' && plan.input.lookup === undefined) {
    const lookup = scanLookup(plan.input.relation, plan.predicate)
    return lookup === undefined ? plan : { ...plan, input: { ...plan.input, lookup } }
  }
  switch (plan.kind) {
    case 'filter':
    case 'project':
    case 'window':
    case 'aggregate':
    case 'rank':
    case 'session_aggregate':
      return { ...plan, input: useIndexLookups(plan.input) }
    case 'join':
    case 'set_op':
      return { ...plan, left: useIndexLookups(plan.left), right: useIndexLookups(plan.right) }
    case 'union':
      return { ...plan, inputs: plan.inputs.map(useIndexLookups) }
    case 'scan':
    case 'values':
      return plan
  }
}

const INTEGERS: readonly string[] = ['int2', 'int4', 'int8']

/** Kinds a column's values convert into one to one, so `cast(col) = c` holds exactly when `col = c` does. */
const WIDENS: Readonly<Record<string, readonly string[] | undefined>> = {
  int2: ['int4', 'int8', 'numeric'],
  int4: ['int8', 'numeric'],
  int8: ['numeric'],
}

/** The column one side of `=` keys: the column itself, or a one-to-one cast of it. */
function keyColumn(e: BoundExpr, constant: BoundExpr): number | undefined {
  if (e.kind === 'column') {
    const a = e.type.kind
    const b = constant.type.kind
    // Same type, or int4 against int8: the mixed comparison is exact over the integers.
    return a === b || (INTEGERS.includes(a) && INTEGERS.includes(b)) ? e.index : undefined
  }
  if (e.kind === 'cast' && e.expr.kind === 'column' && e.type.kind === constant.type.kind)
    return WIDENS[e.expr.type.kind]?.includes(e.type.kind) === true ? e.expr.index : undefined
  return undefined
}

/** The lookup the predicate's `column = constant` conjuncts allow on the relation, if an index serves. */
function scanLookup(relation: RelationRef, predicate: BoundExpr): ScanLookup | undefined {
  if (relation.lookupIndex === undefined) return undefined
  const constants = new Map<number, BoundExpr>()
  const conjuncts = (e: BoundExpr): BoundExpr[] => (e.kind === 'and' ? e.args.flatMap(conjuncts) : [e])
  for (const c of conjuncts(predicate)) {
    if (c.kind !== 'call' || c.fn.name !== '=' || c.args.length !== 2) continue
    const [a, b] = c.args
    for (const [side, constant] of [
      [a, b],
      [b, a],
    ] as const) {
      if (columnsOf(constant).size > 0) continue
      const column = keyColumn(side, constant)
      if (column !== undefined && !constants.has(column)) constants.set(column, constant)
    }
  }
  if (constants.size === 0) return undefined
  const index = relation.lookupIndex([...constants.keys()].sort((x, y) => x - y))
  if (index === undefined || !index.columns.every((c) => constants.has(c))) return undefined
  return { index, values: index.columns.map((c) => constants.get(c)!) }
}
