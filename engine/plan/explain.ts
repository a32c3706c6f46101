/**
 * EXPLAIN text for plans: numbered, indented lines so the shape is visible, e.g.
 *   1 Project [auction, n]
 *   2   Aggregate keys=[#0, #1] aggs=[count(*)]
 *   3     Window tumble(#5, 60s)
 *   4       Scan bids (source)
 */
import type { BoundExpr } from '../expr/bound.ts'
import type { LogicalPlan, PlanColumn, ScanLookup } from './logical.ts'
import { inputsOf } from './logical.ts'
import type { PhysicalNode } from '../runtime/dataflow.ts'
import { isRelationInput } from '../runtime/dataflow.ts'
import { formatTypeName } from '../types/oid.ts'

/** The plan tree, one node a line; `annotate` adds a suffix per node (types, stream properties). */
export function explainLogical(plan: LogicalPlan, annotate?: (p: LogicalPlan) => string): string[] {
  const lines: string[] = []
  const walk = (p: LogicalPlan, depth: number): void => {
    const suffix = annotate === undefined ? '' : `  [${annotate(p)}]`
    lines.push(`${'  '.repeat(depth)}${describe(p)}${suffix}`)
    for (const input of inputsOf(p)) walk(input, depth + 1)
  }
  walk(plan, 0)
  return number(lines)
}

/** A node's output columns with their types, e.g. `id bigint, name text` (EXPLAIN BOUND). */
export function columnTypes(p: LogicalPlan): string {
  return p.columns.map((c) => `${c.name} ${formatTypeName(c.type)}`).join(', ')
}

/** The operator graph; `above` are the operators a statement puts over it (a view's Materialize), outermost first. */
export function explainPhysical(root: PhysicalNode, above: readonly string[] = []): string[] {
  const lines = above.map((line, depth) => `${'  '.repeat(depth)}${line}`)
  // A shared subplan (LowerOptions.shared) is printed once; its second reader points at it.
  const printed = new Map<PhysicalNode, number>()
  const walk = (n: PhysicalNode, depth: number): void => {
    const at = printed.get(n)
    if (at !== undefined) {
      lines.push(`${'  '.repeat(depth)}${n.op.name} (shared: line ${at})`)
      return
    }
    printed.set(n, lines.length + 1)
    const detail = n.op.explain?.() ?? ''
    lines.push(`${'  '.repeat(depth)}${n.op.name}${detail === '' ? '' : ' ' + detail}`)
    for (const input of n.inputs) {
      if (isRelationInput(input)) lines.push(`${'  '.repeat(depth + 1)}Stream ${input.name} (shared reader)`)
      else walk(input, depth + 1)
    }
  }
  walk(root, above.length)
  return number(lines)
}

function number(lines: string[]): string[] {
  return lines.map((l, i) => `${String(i + 1).padStart(2)} ${l}`)
}

function describe(p: LogicalPlan): string {
  switch (p.kind) {
    case 'scan':
      return `Scan ${p.relation.name} (${p.relation.kind.replace('_', ' ')}${p.lookup === undefined ? '' : `, ${lookupText(p.lookup, p.columns)}`})`
    case 'values':
      return `Values ${p.rows.length} row(s)`
    case 'filter':
      return `Filter ${exprText(p.predicate)}`
    case 'project':
      return `Project ${p.exprs.map((e, i) => `${exprText(e)} AS ${p.columns[i].name}`).join(', ')}`
    case 'window': {
      const w = p.window
      const size = `${w.size / 1e6}s`
      return w.kind === 'hop'
        ? `Window hop(#${w.timeColumn}, slide ${w.slide / 1e6}s, size ${size})`
        : `Window ${w.kind}(#${w.timeColumn}, ${size})`
    }
    case 'aggregate': {
      const keys = Array.from({ length: p.keyCount }, (_x, i) => `#${i}`).join(', ')
      return `Aggregate keys=[${keys}] aggs=[${p.calls.map((c) => c.label).join(', ')}]`
    }
    case 'join':
      return `Join ${p.lookup ? 'lookup ' : ''}${p.type} on ${joinCondition(p.leftKeys, p.rightKeys, p.left.columns.length)}${p.residual === undefined ? '' : ` and ${exprText(p.residual)}`}`
    case 'union':
      return `Union all (${p.inputs.length} inputs)`
    case 'set_op':
      return `${p.op === 'except' ? 'Except' : 'Intersect'}${p.all ? ' all' : ''}`
    case 'session_aggregate':
      return `SessionAggregate gap=${p.gap / 1e6}s keys=[${Array.from({ length: p.partitionCount }, (_x, i) => `#${i}`).join(', ')}] time=#${p.partitionCount} aggs=[${p.calls.map((c) => c.label).join(', ')}]`
    case 'rank':
      return `RowNumber partition=[${p.partition.map((c) => `#${c}`).join(', ')}] order=[${p.order.map((o) => `#${o.column}${o.descending ? ' desc' : ''}`).join(', ')}]${p.limit === Infinity ? '' : ` limit=${p.limit}`}`
  }
}

/** How a scan's index lookup reads, e.g. `lookup via ix_city on city`. */
export function lookupText(lookup: ScanLookup, columns: readonly PlanColumn[]): string {
  const on = lookup.index.columns.map((c) => columns[c]?.name ?? `#${c}`).join(', ')
  return lookup.index.name === undefined
    ? `lookup via an index on ${on} built on first use`
    : `lookup via ${lookup.index.name} on ${on}`
}

export function joinCondition(leftKeys: readonly number[], rightKeys: readonly number[], leftWidth: number): string {
  if (leftKeys.length === 0) return 'true'
  return leftKeys.map((l, i) => `#${l} = #${rightKeys[i] + leftWidth}`).join(' and ')
}

/** A compact rendering of a bound expression (column refs as #n). */
export function exprText(e: BoundExpr): string {
  switch (e.kind) {
    case 'column':
      return `#${e.index}`
    case 'literal':
      return e.value === null ? 'NULL' : typeof e.value === 'string' ? `'${e.value}'` : String(e.value)
    case 'param':
      return `$${e.index + 1}`
    case 'call':
      return /^[a-z_0-9]+$/i.test(e.fn.name)
        ? `${e.fn.name}(${e.args.map(exprText).join(', ')})`
        : e.args.length === 1
          ? `${e.fn.name === 'neg' ? '-' : e.fn.name}${exprText(e.args[0])}`
          : `(${exprText(e.args[0])} ${e.fn.name} ${exprText(e.args[1])})`
    case 'cast':
      return `${exprText(e.expr)}::${formatTypeName(e.type)}`
    case 'and':
    case 'or':
      return `(${e.args.map(exprText).join(` ${e.kind.toUpperCase()} `)})`
    case 'not':
      return `NOT ${exprText(e.arg)}`
    case 'is_null':
      return `${exprText(e.arg)} IS ${e.negated ? 'NOT ' : ''}NULL`
    case 'is_distinct':
      return `${exprText(e.left)} IS ${e.negated ? 'NOT ' : ''}DISTINCT FROM ${exprText(e.right)}`
    case 'is_bool':
      return `${exprText(e.arg)} IS ${e.negated ? 'NOT ' : ''}${e.value ? 'TRUE' : 'FALSE'}`
    case 'case':
      return `CASE ${e.whens.map((w) => `WHEN ${exprText(w.when)} THEN ${exprText(w.then)}`).join(' ')}${e.else ? ` ELSE ${exprText(e.else)}` : ''} END`
    case 'in_list':
      return `${exprText(e.arg)} ${e.negated ? 'NOT ' : ''}IN (${e.list.map(exprText).join(', ')})`
    case 'coalesce':
    case 'greatest':
    case 'least':
      return `${e.kind}(${e.args.map(exprText).join(', ')})`
    case 'nullif':
      return `nullif(${exprText(e.left)}, ${exprText(e.right)})`
  }
}
