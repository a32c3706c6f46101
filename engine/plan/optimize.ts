/** The optimizer: rewrite rules applied to a bound logical plan, in order. */
import type { LogicalPlan } from './logical.ts'
import { pushTopNLimit } from './rules/top-n-limit.ts'

export function optimize(plan: LogicalPlan): LogicalPlan {
  return pushTopNLimit(plan)
}
