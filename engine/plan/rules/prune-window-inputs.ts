/**
 * Rule: projection pruning for window assignment. A HOP window copies each input row once per
 * window it falls in (size / slide times), so every input column nothing above reads is copied
 * that many times for nothing (Nexmark q5 keeps 2 of bid's 9 columns). For a projection (through
 * filters) over a window, the window's input is narrowed to the columns the projection and the
 * filters read plus the time column; the column references above are renumbered.
 */
import type { BoundExpr } from '../../expr/bound.ts'
import type { LogicalPlan } from '../logical.ts'
import { columnsOf, remapColumns } from '../../expr/remap.ts'
import { rewriteProjects, type Project } from './rewrite-projects.ts'

export function pruneWindowInputs(plan: LogicalPlan): LogicalPlan {
  return rewriteProjects(plan, narrow)
}

/** Narrows the window under `project` (through filters); undefined when nothing can be dropped. */
function narrow(project: Project): LogicalPlan | undefined {
  const filters: BoundExpr[] = []
  let node = project.input
  while (node.kind === 'filter') {
    filters.push(node.predicate)
    node = node.input
  }
  // A session window is planned as its aggregate; only TUMBLE and HOP assign rows here.
  if (node.kind !== 'window' || node.window.kind === 'session') return undefined
  const window = node
  const width = window.input.columns.length
  const used = new Set<number>([window.window.timeColumn])
  for (const e of [...project.exprs, ...filters]) columnsOf(e, used)
  const keep = [...used].filter((c) => c < width).sort((a, b) => a - b)
  if (keep.length === width) return undefined
  const input: LogicalPlan = {
    kind: 'project',
    input: window.input,
    exprs: keep.map((c) => ({ kind: 'column', index: c, type: window.input.columns[c].type })),
    columns: keep.map((c) => window.input.columns[c]),
  }
  // window_start and window_end follow the input columns, wherever those now end.
  const remap = (i: number): number => (i < width ? keep.indexOf(i) : keep.length + (i - width))
  let rebuilt: LogicalPlan = {
    ...window,
    input,
    window: { ...window.window, timeColumn: keep.indexOf(window.window.timeColumn) },
    columns: [...keep.map((c) => window.columns[c]), ...window.columns.slice(width)],
  }
  for (const f of filters.reverse())
    rebuilt = { kind: 'filter', input: rebuilt, predicate: remapColumns(f, remap), columns: rebuilt.columns }
  return { ...project, input: rebuilt, exprs: project.exprs.map((e) => remapColumns(e, remap)) }
}
