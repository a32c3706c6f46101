/**
 * EXPLAIN of a pull query: which index each `col = constant` filter on a relation reads (the
 * point-lookup path of engine/batch/pull-query.ts): the table's primary key, a declared index,
 * or a view's index built on first use.
 */
import type { Engine } from '../engine.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { LogicalPlan } from '../plan/logical.ts'
import { columnsOf } from '../expr/remap.ts'

export function explainLookups(engine: Engine, plan: LogicalPlan): string[] {
  const lines: string[] = []
  visit(plan, (filter, scan) => {
    const columns = equalityColumns(filter.predicate)
    if (columns.length === 0) return
    const rel = engine.get(scan.relation.name)
    const names = (cols: readonly number[]): string => cols.map((c) => rel?.columns[c]?.name ?? `#${c}`).join(', ')
    if (rel?.kind === 'table') {
      const pk = rel.primaryKey
      if (pk !== undefined && pk.length === columns.length && pk.every((c) => columns.includes(c))) {
        lines.push(`Index lookup: ${rel.name}_pkey on ${rel.name} (${names(pk)})`)
        return
      }
      const ix = rel.rows.indexFor(columns)
      if (ix !== undefined) lines.push(`Index lookup: ${ix.name} on ${rel.name} (${names(ix.columns)})`)
      return
    }
    if (rel?.kind === 'materialized_view') {
      const declared = rel.materialize.declaredIndexName(columns)
      const ix = declared === undefined ? undefined : engine.indexes.get(declared)
      if (ix !== undefined) lines.push(`Index lookup: ${ix.name} on ${rel.name} (${names(ix.columns)})`)
      else lines.push(`Index lookup: on ${rel.name} (${names([...columns].sort((a, b) => a - b))}), built on first use`)
    }
  })
  return lines
}

type Filter = Extract<LogicalPlan, { kind: 'filter' }>
type Scan = Extract<LogicalPlan, { kind: 'scan' }>

/** Calls `found` for every filter directly over a scan, walking whatever inputs a node has. */
function visit(plan: LogicalPlan, found: (filter: Filter, scan: Scan) => void): void {
  if (plan.kind === 'filter' && plan.input.kind === 'scan') found(plan, plan.input)
  const node = plan as unknown as {
    input?: LogicalPlan
    left?: LogicalPlan
    right?: LogicalPlan
    inputs?: readonly LogicalPlan[]
  }
  for (const child of [node.input, node.left, node.right, ...(node.inputs ?? [])])
    if (child !== undefined) visit(child, found)
}

/** The columns the predicate's `column = constant` conjuncts fix, as the lookup path finds them. */
function equalityColumns(predicate: BoundExpr): number[] {
  const columns: number[] = []
  const conjuncts = (e: BoundExpr): BoundExpr[] => (e.kind === 'and' ? e.args.flatMap(conjuncts) : [e])
  for (const c of conjuncts(predicate)) {
    if (c.kind !== 'call' || c.fn.name !== '=' || c.args.length !== 2) continue
    const [a, b] = c.args
    const column = a.kind === 'column' ? a : b.kind === 'column' ? b : undefined
    const constant = column === a ? b : a
    if (
      column?.kind !== 'column' ||
      columns.includes(column.index) ||
      columnsOf(constant).size > 0 ||
      constant.type.kind !== column.type.kind
    )
      continue
    columns.push(column.index)
  }
  return columns
}
