/**
 * The walk shared by the projection-pruning rules (prune-join-inputs.ts, prune-window-inputs.ts):
 * bottom up through the whole plan, each projection handed, with its input already rewritten, to
 * `narrow`, which returns its replacement or undefined to keep it.
 */
import type { LogicalPlan } from '../logical.ts'

export type Project = Extract<LogicalPlan, { kind: 'project' }>

export function rewriteProjects(plan: LogicalPlan, narrow: (project: Project) => LogicalPlan | undefined): LogicalPlan {
  const walk = (p: LogicalPlan): LogicalPlan => {
    switch (p.kind) {
      case 'scan':
      case 'values':
        return p
      case 'project': {
        const rewritten = { ...p, input: walk(p.input) }
        return narrow(rewritten) ?? rewritten
      }
      case 'filter':
      case 'window':
      case 'aggregate':
      case 'rank':
      case 'session_aggregate':
        return { ...p, input: walk(p.input) }
      case 'join':
      case 'set_op':
        return { ...p, left: walk(p.left), right: walk(p.right) }
      case 'union':
        return { ...p, inputs: p.inputs.map(walk) }
    }
  }
  return walk(plan)
}
