/**
 * Rule: a filter `rn <= N` (or `rn < N`, `rn = N`) over a ROW_NUMBER() column tells the numbering
 * that only the first N rows of each partition matter, so it numbers and emits only those (top-N
 * per group; dedup for N = 1). The filter stays: the rule only saves work.
 */
import type { BoundExpr } from '../../expr/bound.ts'
import type { LogicalPlan } from '../logical.ts'

export function pushTopNLimit(plan: LogicalPlan): LogicalPlan {
  switch (plan.kind) {
    case 'scan':
    case 'values':
      return plan
    case 'filter': {
      const input = pushTopNLimit(plan.input)
      const limit = bound(plan.predicate, input)
      return { ...plan, input: limit === undefined ? input : withLimit(input, limit.column, limit.n) }
    }
    case 'project':
    case 'window':
    case 'aggregate':
    case 'rank':
    case 'session_aggregate':
      return { ...plan, input: pushTopNLimit(plan.input) }
    case 'join':
      return { ...plan, left: pushTopNLimit(plan.left), right: pushTopNLimit(plan.right) }
    case 'union':
      return { ...plan, inputs: plan.inputs.map(pushTopNLimit) }
    case 'set_op':
      return { ...plan, left: pushTopNLimit(plan.left), right: pushTopNLimit(plan.right) }
  }
}

/** `column <= n`-style conjunct of the predicate: the largest number it lets through. */
function bound(e: BoundExpr, input: LogicalPlan): { column: number; n: number } | undefined {
  if (e.kind === 'and') {
    for (const a of e.args) {
      const b = bound(a, input)
      if (b !== undefined) return b
    }
    return undefined
  }
  if (e.kind !== 'call' || e.args.length !== 2) return undefined
  const [a, b] = e.args
  if (a.kind !== 'column' || b.kind !== 'literal' || b.value === null) return undefined
  const n = Number(b.value)
  if (!Number.isFinite(n)) return undefined
  if (e.fn.name === '<=' || e.fn.name === '=') return { column: a.index, n: Math.floor(n) }
  if (e.fn.name === '<') return { column: a.index, n: Math.ceil(n) - 1 }
  return undefined
}

/** Sets the limit on the rank node whose number `column` is, looking through plain projections. */
function withLimit(plan: LogicalPlan, column: number, n: number): LogicalPlan {
  if (plan.kind === 'rank' && column === plan.columns.length - 1)
    return { ...plan, limit: Math.min(plan.limit, Math.max(0, n)) }
  if (plan.kind === 'project') {
    const e = plan.exprs[column]
    if (e?.kind === 'column') return { ...plan, input: withLimit(plan.input, e.index, n) }
  }
  if (plan.kind === 'filter') return { ...plan, input: withLimit(plan.input, column, n) }
  return plan
}
