/**
 * The walk shared by the plan rewrites: the projection-pruning rules (prune-join-inputs.ts,
 * prune-window-inputs.ts) hand each projection, with its input already rewritten, to `narrow`,
 * which returns its replacement or undefined to keep it.
 */
import type { BoundExpr } from '../../expr/bound.ts'
import type { LogicalPlan } from '../logical.ts'
import { remapColumns } from '../../expr/remap.ts'

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

/** The filters right under a projection (top first) and the node below them. */
export function underFilters(project: Project): { readonly filters: BoundExpr[]; readonly node: LogicalPlan } {
  const filters: BoundExpr[] = []
  let node = project.input
  while (node.kind === 'filter') {
    filters.push(node.predicate)
    node = node.input
  }
  return { filters, node }
}

/** `project` and its filters (as underFilters found them) back over `node`, columns renumbered by `remap`. */
export function rebuildAbove(
  project: Project,
  filters: readonly BoundExpr[],
  node: LogicalPlan,
  remap: (column: number) => number,
): LogicalPlan {
  let rebuilt = node
  for (let i = filters.length - 1; i >= 0; i--)
    rebuilt = { kind: 'filter', input: rebuilt, predicate: remapColumns(filters[i], remap), columns: rebuilt.columns }
  return { ...project, input: rebuilt, exprs: project.exprs.map((e) => remapColumns(e, remap)) }
}

/** Columns `keep` of `plan`, in that order, as a projection (the plan itself when that is all of them). */
export function keepColumns(plan: LogicalPlan, keep: readonly number[]): LogicalPlan {
  if (keep.length === plan.columns.length && keep.every((c, i) => c === i)) return plan
  return {
    kind: 'project',
    input: plan,
    exprs: keep.map((c) => ({ kind: 'column', index: c, type: plan.columns[c].type })),
    columns: keep.map((c) => plan.columns[c]),
  }
}
