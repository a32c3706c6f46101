/**
 * Rule: projection pruning for window assignment. A HOP window copies each input row once per
 * window it falls in (size / slide times), so every input column nothing above reads is copied
 * that many times for nothing (Nexmark q5 keeps 2 of bid's 9 columns). For a projection (through
 * filters) over a window, the window's input is narrowed to the columns the projection and the
 * filters read plus the time column; the column references above are renumbered.
 */
import type { LogicalPlan } from '../logical.ts'
import { columnsOf } from '../../expr/remap.ts'
import { keepColumns, rebuildAbove, rewriteProjects, underFilters, type Project } from './rewrite-projects.ts'

export function pruneWindowInputs(plan: LogicalPlan): LogicalPlan {
  return rewriteProjects(plan, narrow)
}

/** Narrows the window under `project` (through filters); undefined when nothing can be dropped. */
function narrow(project: Project): LogicalPlan | undefined {
  const { filters, node } = underFilters(project)
  // A session window is planned as its aggregate; only TUMBLE and HOP assign rows here.
  if (node.kind !== 'window' || node.window.kind === 'session') return undefined
  const window = node
  const width = window.input.columns.length
  const used = new Set<number>([window.window.timeColumn])
  for (const e of [...project.exprs, ...filters]) columnsOf(e, used)
  const keep = [...used].filter((c) => c < width).sort((a, b) => a - b)
  if (keep.length === width) return undefined
  const input = keepColumns(window.input, keep)
  // window_start and window_end follow the input columns, wherever those now end.
  const remap = (i: number): number => (i < width ? keep.indexOf(i) : keep.length + (i - width))
  const rebuilt: LogicalPlan = {
    ...window,
    input,
    window: { ...window.window, timeColumn: keep.indexOf(window.window.timeColumn) },
    columns: [...keep.map((c) => window.columns[c]), ...window.columns.slice(width)],
  }
  return rebuildAbove(project, filters, rebuilt, remap)
}
