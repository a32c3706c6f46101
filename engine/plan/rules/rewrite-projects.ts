/**
 * The walk shared by the plan rewrites: the projection-pruning rules (prune-join-inputs.ts,
 * prune-window-inputs.ts) hand each projection, with its input already rewritten, to `narrow`,
 * which returns its replacement or undefined to keep it.
 */
import type { LogicalPlan } from '../logical.ts'

export type Project = Extract<LogicalPlan, { kind: 'project' }>

export function rewriteProjects(plan: LogicalPlan, narrow: (project: Project) => LogicalPlan | undefined): LogicalPlan {
  return rewriteBottomUp(plan, (p) => (p.kind === 'project' ? narrow(p) : undefined))
}

/**
 * Every node of the plan, bottom up, handed (its inputs already rewritten) to `replace`, which
 * returns its replacement or undefined to keep it (rules/two-phase.ts uses it too).
 */
export function rewriteBottomUp(
  plan: LogicalPlan,
  replace: (node: LogicalPlan) => LogicalPlan | undefined,
): LogicalPlan {
  const walk = (p: LogicalPlan): LogicalPlan => {
    let rewritten: LogicalPlan
    switch (p.kind) {
      case 'scan':
      case 'values':
        rewritten = p
        break
      case 'project':
      case 'filter':
      case 'window':
      case 'aggregate':
      case 'rank':
      case 'session_aggregate':
        rewritten = { ...p, input: walk(p.input) }
        break
      case 'join':
      case 'set_op':
        rewritten = { ...p, left: walk(p.left), right: walk(p.right) }
        break
      case 'union':
        rewritten = { ...p, inputs: p.inputs.map(walk) }
        break
    }
    return replace(rewritten) ?? rewritten
  }
  return walk(plan)
}
