/**
 * Rule: projection pruning for joins. A join keeps every row of both inputs as state, so it
 * should keep only the columns something above it reads. For a projection (through filters)
 * over a join, each join input is narrowed to the columns the projection, the filters, the join
 * keys and the residual condition use; the column references above are renumbered.
 */
import type { LogicalPlan } from '../logical.ts'
import { columnsOf, remapColumns } from '../../expr/remap.ts'
import { keepColumns, rebuildAbove, rewriteProjects, underFilters, type Project } from './rewrite-projects.ts'

export function pruneJoinInputs(plan: LogicalPlan): LogicalPlan {
  return rewriteProjects(plan, narrow)
}

/** Narrows the join under `project` (through filters); undefined when nothing can be dropped. */
function narrow(project: Project): LogicalPlan | undefined {
  const { filters, node } = underFilters(project)
  if (node.kind !== 'join' || node.lookup) return undefined
  const join = node
  const lw = join.left.columns.length
  const used = new Set<number>()
  for (const e of [...project.exprs, ...filters, ...(join.residual === undefined ? [] : [join.residual])])
    columnsOf(e, used)
  join.leftKeys.forEach((k) => used.add(k))
  join.rightKeys.forEach((k) => used.add(k + lw))
  if (join.interval !== undefined) {
    used.add(join.interval.leftTime)
    used.add(join.interval.rightTime + lw)
  }
  const keepLeft = [...used].filter((c) => c < lw).sort((a, b) => a - b)
  const keepRight = [...used]
    .filter((c) => c >= lw)
    .map((c) => c - lw)
    .sort((a, b) => a - b)
  if (keepLeft.length === lw && keepRight.length === join.right.columns.length) return undefined
  const map = new Map<number, number>()
  keepLeft.forEach((c, i) => map.set(c, i))
  keepRight.forEach((c, i) => map.set(c + lw, keepLeft.length + i))
  const remap = (i: number): number => map.get(i)!
  const left = keepColumns(join.left, keepLeft)
  const right = keepColumns(join.right, keepRight)
  const narrowed: LogicalPlan = {
    ...join,
    left,
    right,
    leftKeys: join.leftKeys.map((k) => keepLeft.indexOf(k)),
    rightKeys: join.rightKeys.map((k) => keepRight.indexOf(k)),
    residual: join.residual === undefined ? undefined : remapColumns(join.residual, remap),
    interval:
      join.interval === undefined
        ? undefined
        : {
            ...join.interval,
            leftTime: keepLeft.indexOf(join.interval.leftTime),
            rightTime: keepRight.indexOf(join.interval.rightTime),
          },
    columns: [...left.columns, ...right.columns],
  }
  return rebuildAbove(project, filters, narrowed, remap)
}
