/**
 * Cardinality estimates for the batch join planner: how many rows a plan yields, from the row
 * counts relations report (tables and views know theirs without copying), primary keys (a key
 * pinned by `col = const` lets one row through) and fixed selectivities for other predicates, as
 * System R guessed them when it had no statistics (`col = const` 1/10, a range 1/3). They only
 * need to rank join orders, not to be right.
 */
import type { BoundExpr } from '../expr/bound.ts'
import type { LogicalPlan } from './logical.ts'
import { columnsOf } from '../expr/remap.ts'

/** Rows assumed for a relation that cannot count its rows (a system table, a source). */
const UNKNOWN_ROWS = 1000

export function estimateRows(plan: LogicalPlan): number {
  switch (plan.kind) {
    case 'scan':
      return plan.relation.input.rowCount?.() ?? UNKNOWN_ROWS
    case 'values':
      return plan.rows.length
    case 'filter':
      if (plan.input.kind === 'scan' && pinsUniqueKey(plan.predicate, plan.input.relation.input.uniqueKey)) return 1
      return Math.max(1, estimateRows(plan.input) * selectivity(plan.predicate))
    case 'project':
    case 'window':
    case 'rank':
      return estimateRows(plan.input)
    case 'aggregate':
      return plan.keyCount === 0 ? 1 : Math.max(1, estimateRows(plan.input) / 2)
    case 'session_aggregate':
      return Math.max(1, estimateRows(plan.input) / 2)
    case 'join': {
      const l = estimateRows(plan.left)
      const r = estimateRows(plan.right)
      // An equi-join on a key yields about as many rows as its larger input; without keys, all pairs.
      const rows = plan.leftKeys.length > 0 ? Math.max(l, r) : l * r
      return Math.max(1, rows * (plan.residual === undefined ? 1 : selectivity(plan.residual)))
    }
    case 'union':
      return plan.inputs.reduce((n, p) => n + estimateRows(p), 0)
    case 'set_op':
      return estimateRows(plan.left)
  }
}

/** Whether `column = constant` conjuncts fix every column of a unique key (at most one row passes). */
function pinsUniqueKey(predicate: BoundExpr, key: readonly number[] | undefined): boolean {
  if (key === undefined || key.length === 0) return false
  const pinned = new Set<number>()
  const visit = (e: BoundExpr): void => {
    if (e.kind === 'and') return e.args.forEach(visit)
    if (e.kind !== 'call' || e.fn.name !== '=' || e.args.length !== 2) return
    const [a, b] = e.args
    if (a.kind === 'column' && columnsOf(b).size === 0) pinned.add(a.index)
    else if (b.kind === 'column' && columnsOf(a).size === 0) pinned.add(b.index)
  }
  visit(predicate)
  return key.every((c) => pinned.has(c))
}

/** The fraction of rows a predicate keeps (a guess by its shape). */
export function selectivity(e: BoundExpr): number {
  switch (e.kind) {
    case 'and':
      return e.args.reduce((s, a) => s * selectivity(a), 1)
    case 'or':
      return Math.min(
        1,
        e.args.reduce((s, a) => s + selectivity(a), 0),
      )
    case 'not':
      return 1 - selectivity(e.arg)
    case 'is_null':
      return e.negated ? 0.9 : 0.1
    case 'in_list':
      return e.negated ? 0.9 : Math.min(0.5, 0.1 * e.list.length)
    case 'literal':
      return e.value === false || e.value === null ? 0 : 1
    case 'call': {
      if (e.args.length !== 2) return 0.5
      const constant = columnsOf(e.args[0]).size === 0 || columnsOf(e.args[1]).size === 0
      switch (e.fn.name) {
        case '=':
          return constant ? 0.1 : 0.2
        case '<>':
          return 0.9
        case '<':
        case '<=':
        case '>':
        case '>=':
          return 1 / 3
        default:
          return 0.5
      }
    }
    default:
      return 0.5
  }
}
