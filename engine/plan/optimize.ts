/** The optimizer: rewrite rules applied to a bound logical plan, in order. */
import type { LogicalPlan } from './logical.ts'
import { estimateRows } from './estimate.ts'
import { planJoins } from './rules/join-order.ts'
import { pruneJoinInputs } from './rules/prune-join-inputs.ts'
import { pruneWindowInputs } from './rules/prune-window-inputs.ts'
import { pushFilters } from './rules/push-filters.ts'
import { pushTopNLimit } from './rules/top-n-limit.ts'
import { useIndexLookups } from './rules/index-lookup.ts'

export interface OptimizeOptions {
  /**
   * A pull query: join order follows cardinality estimates of the relations as they are now.
   * A view keeps its written join order (its inputs have no size yet when it is created).
   * Pull queries also read `col = constant` filtered relations through indexes.
   */
  readonly batch?: boolean
}

export function optimize(plan: LogicalPlan, options: OptimizeOptions = {}): LogicalPlan {
  // Top-N limits are read off `rn <= N` filters, so they run before the filters move; joins are
  // planned before filters are pushed (the planner places WHERE's conditions itself); pruning
  // comes last, once the filters sit where they will run.
  const joins = planJoins(pushTopNLimit(plan), options.batch === true ? { estimate: estimateRows } : {})
  const pruned = pruneWindowInputs(pruneJoinInputs(pushFilters(joins)))
  // A pull query reads `col = constant` filtered relations through an index; a view reads streams.
  return options.batch === true ? useIndexLookups(pruned) : pruned
}
