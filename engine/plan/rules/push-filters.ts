/**
 * Rule: predicate pushdown. A filter moves below a projection (its columns rewritten through the
 * projection's plain column references), into both inputs of a UNION ALL, EXCEPT or INTERSECT, and — conjunct by
 * conjunct — into the side of an inner join whose columns it reads (for a left join, only into
 * the left side). Filters then run before the state that joins and aggregates keep.
 */
import type { BoundExpr } from '../../expr/bound.ts'
import type { LogicalPlan } from '../logical.ts'
import { columnsOf, remapColumns } from '../../expr/remap.ts'

export function pushFilters(plan: LogicalPlan): LogicalPlan {
  switch (plan.kind) {
    case 'scan':
    case 'values':
      return plan
    case 'filter':
      return pushInto(pushFilters(plan.input), plan.predicate)
    case 'project':
    case 'window':
    case 'aggregate':
    case 'rank':
    case 'session_aggregate':
      return { ...plan, input: pushFilters(plan.input) }
    case 'join':
      return { ...plan, left: pushFilters(plan.left), right: pushFilters(plan.right) }
    case 'union':
      return { ...plan, inputs: plan.inputs.map(pushFilters) }
    case 'set_op':
      return { ...plan, left: pushFilters(plan.left), right: pushFilters(plan.right) }
  }
}

function conjuncts(e: BoundExpr): BoundExpr[] {
  return e.kind === 'and' ? e.args.flatMap(conjuncts) : [e]
}

function and(parts: readonly BoundExpr[]): BoundExpr {
  return parts.length === 1 ? parts[0] : { kind: 'and', args: parts, type: { kind: 'bool' } }
}

function filter(input: LogicalPlan, parts: readonly BoundExpr[]): LogicalPlan {
  return parts.length === 0 ? input : { kind: 'filter', input, predicate: and(parts), columns: input.columns }
}

/** Places `predicate` over `plan`, as deep as it can go. */
function pushInto(plan: LogicalPlan, predicate: BoundExpr): LogicalPlan {
  switch (plan.kind) {
    case 'project': {
      // Below a projection only when every column read is a plain column reference there.
      const parts = conjuncts(predicate)
      const movable = parts.filter((p) => [...columnsOf(p)].every((c) => plan.exprs[c].kind === 'column'))
      if (movable.length === 0) return filter(plan, parts)
      const rewritten = movable.map((p) => remapColumns(p, (c) => (plan.exprs[c] as { index: number }).index))
      const stay = parts.filter((p) => !movable.includes(p))
      return filter({ ...plan, input: pushInto(plan.input, and(rewritten)) }, stay)
    }
    case 'filter':
      return pushInto(plan.input, and([...conjuncts(plan.predicate), ...conjuncts(predicate)]))
    case 'union':
      return { ...plan, inputs: plan.inputs.map((input) => pushInto(input, predicate)) }
    case 'set_op':
      // A row-wise predicate commutes with EXCEPT and INTERSECT (with or without ALL).
      return { ...plan, left: pushInto(plan.left, predicate), right: pushInto(plan.right, predicate) }
    case 'join': {
      if (plan.type !== 'inner' && plan.type !== 'left') return filter(plan, conjuncts(predicate))
      const lw = plan.left.columns.length
      const left: BoundExpr[] = []
      const right: BoundExpr[] = []
      const stay: BoundExpr[] = []
      for (const p of conjuncts(predicate)) {
        const cols = [...columnsOf(p)]
        if (cols.length > 0 && cols.every((c) => c < lw)) left.push(p)
        else if (plan.type === 'inner' && !plan.lookup && cols.length > 0 && cols.every((c) => c >= lw))
          right.push(remapColumns(p, (c) => c - lw))
        else stay.push(p)
      }
      const joined: LogicalPlan = {
        ...plan,
        left: left.length === 0 ? plan.left : pushInto(plan.left, and(left)),
        right: right.length === 0 ? plan.right : pushInto(plan.right, and(right)),
      }
      return filter(joined, stay)
    }
    case 'scan':
    case 'values':
    case 'window':
    case 'aggregate':
    case 'rank':
    case 'session_aggregate':
      return filter(plan, conjuncts(predicate))
  }
}
