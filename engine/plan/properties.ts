/**
 * Derived stream properties of a logical plan node, as a streaming planner sees them (RisingWave's
 * stream plan nodes carry the same): whether it only appends or also retracts, the columns that
 * identify a row of its output (stream key, the upsert key of a sink), and the columns a
 * watermark travels on. EXPLAIN STREAM prints them per node; sinks take their upsert key here.
 */
import type { LogicalPlan, RelationRef } from './logical.ts'
import { isAppendOnly } from './logical.ts'

/** The key of a relation a plan scans (a table's primary key, a view's own stream key). */
export type RelationKey = (relation: RelationRef) => readonly number[] | undefined

/**
 * The columns that identify a row of the output: group keys of an aggregate, the partition and
 * row number of a top-N, a table's primary key, carried through filters and through projections
 * that keep every key column. Undefined when no key is known.
 */
export function streamKey(plan: LogicalPlan, relationKey: RelationKey): number[] | undefined {
  switch (plan.kind) {
    case 'aggregate':
      return Array.from({ length: plan.keyCount }, (_v, i) => i)
    case 'session_aggregate':
      return Array.from({ length: plan.partitionCount + 2 }, (_v, i) => i)
    case 'rank':
      return [...plan.partition, plan.input.columns.length]
    case 'filter':
      return streamKey(plan.input, relationKey)
    case 'project': {
      const inner = streamKey(plan.input, relationKey)
      if (inner === undefined) return undefined
      const out: number[] = []
      for (const k of inner) {
        const at = plan.exprs.findIndex((e) => e.kind === 'column' && e.index === k)
        if (at < 0) return undefined
        out.push(at)
      }
      return out
    }
    case 'scan': {
      const key = relationKey(plan.relation)
      return key === undefined || key.length === 0 ? undefined : [...key]
    }
    case 'join': {
      if (plan.lookup) return undefined
      const left = streamKey(plan.left, relationKey)
      const right = streamKey(plan.right, relationKey)
      if (left === undefined || right === undefined) return undefined
      return [...left, ...right.map((k) => k + plan.left.columns.length)]
    }
    case 'window':
    case 'union':
    case 'values':
      return undefined
    case 'set_op':
      // Each distinct row is its own key unless ALL repeats it.
      return plan.all ? undefined : plan.columns.map((_c, i) => i)
  }
}

/** The output columns that carry a watermark (event-time columns whose progress is tracked). */
export function watermarkColumns(plan: LogicalPlan): number[] {
  switch (plan.kind) {
    case 'scan':
      return [...plan.relation.watermarkDelays.keys()].sort((a, b) => a - b)
    case 'values':
      return []
    case 'filter':
    case 'rank':
      return watermarkColumns(plan.input)
    case 'project': {
      const inner = new Set(watermarkColumns(plan.input))
      const out: number[] = []
      plan.exprs.forEach((e, i) => {
        if (e.kind === 'column' && inner.has(e.index)) out.push(i)
      })
      return out
    }
    case 'window': {
      const inner = watermarkColumns(plan.input)
      const width = plan.input.columns.length
      return inner.includes(plan.window.timeColumn) ? [...inner, width, width + 1] : inner
    }
    case 'aggregate': {
      if (plan.windowKey === undefined) return []
      const inner = new Set(watermarkColumns(plan.input))
      // Only window keys keep a watermark through grouping; keys are the first input columns.
      return Array.from({ length: plan.keyCount }, (_v, i) => i).filter(
        (i) => inner.has(i) && (i === plan.windowKey || plan.input.columns[i].name === 'window_start'),
      )
    }
    case 'session_aggregate':
      return watermarkColumns(plan.input).includes(plan.partitionCount) ? [0, 1] : []
    case 'join':
      return [...watermarkColumns(plan.left), ...watermarkColumns(plan.right).map((c) => c + plan.left.columns.length)]
    case 'union': {
      const [first, ...rest] = plan.inputs.map(watermarkColumns)
      return first.filter((c) => rest.every((r) => r.includes(c)))
    }
    case 'set_op':
      return []
  }
}

/** One line of properties for EXPLAIN STREAM, e.g. `append-only key=[#0] watermark=[#3]`. */
export function describeProperties(plan: LogicalPlan, relationKey: RelationKey): string {
  const parts = [isAppendOnly(plan) ? 'append-only' : 'retracting']
  const key = streamKey(plan, relationKey)
  if (key !== undefined) parts.push(`key=[${key.map((k) => `#${k}`).join(', ')}]`)
  const wm = watermarkColumns(plan)
  if (wm.length > 0) parts.push(`watermark=[${wm.map((c) => `#${c}`).join(', ')}]`)
  return parts.join(' ')
}
