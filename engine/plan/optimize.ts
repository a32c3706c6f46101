/** The optimizer: rewrite rules applied to a bound logical plan, in order. */
import type { LogicalPlan } from './logical.ts'
import { pruneJoinInputs } from './rules/prune-join-inputs.ts'
import { pushFilters } from './rules/push-filters.ts'
import { pushTopNLimit } from './rules/top-n-limit.ts'

export function optimize(plan: LogicalPlan): LogicalPlan {
  // Top-N limits are read off `rn <= N` filters, so they run before the filters move; pruning
  // comes last, once the filters sit where they will run.
  return pruneJoinInputs(pushFilters(pushTopNLimit(plan)))
}
