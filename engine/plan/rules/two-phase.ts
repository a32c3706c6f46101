/**
 * Rule (sharded views): two-phase aggregation for a GROUP BY of only a TUMBLE or HOP window.
 * Such an aggregate has no key to split its input by but the window, and routing every row of a
 * window to one shard would put all of a window's work on one thread. Instead each shard
 * aggregates its own rows first (the partial: the same aggregate, `phase: 'partial'`, lowered
 * without an exchange), and a final aggregate over the partials' rows, keyed by the window
 * columns (ordinary columns by then), merges them: counts are summed, sums summed, min of mins,
 * max of maxes. A projection on top casts a merged result back where merging changes its type
 * (sum of int8 counts is numeric), so the plan's output columns keep their names and types.
 *
 * Only aggregates whose every call merges exactly are split; the rest are left alone.
 */
import type { BoundExpr } from '../../expr/bound.ts'
import type { AggregateSpec } from '../../expr/aggregates.ts'
import type { AggregateCallPlan, LogicalPlan, PlanColumn } from '../logical.ts'
import { resolveAggregate } from '../../expr/aggregates.ts'
import { rewriteBottomUp } from './rewrite-projects.ts'
import { DistinctAcc } from '../../expr/accumulators.ts'

type Aggregate = Extract<LogicalPlan, { kind: 'aggregate' }>

export function splitWindowAggregates(plan: LogicalPlan): LogicalPlan {
  return rewriteBottomUp(plan, (p) => (p.kind === 'aggregate' ? split(p) : undefined))
}

/** The partial, final and (when a type changes) casting projection for `agg`; else undefined. */
function split(agg: Aggregate): LogicalPlan | undefined {
  if (agg.windowKey === undefined || agg.phase !== undefined || !windowOnlyKeys(agg)) return undefined
  const merges: AggregateSpec[] = []
  for (const call of agg.calls) {
    const merge = mergeSpec(call, agg.input.columns)
    if (merge === undefined) return undefined
    merges.push(merge)
  }
  const partial: Aggregate = { ...agg, phase: 'partial' }
  const keyCount = agg.keyCount
  const calls: AggregateCallPlan[] = agg.calls.map((c, i) => ({
    spec: merges[i],
    arg: keyCount + i,
    arg2: -1,
    label: c.label,
  }))
  const final: Aggregate = {
    kind: 'aggregate',
    input: partial,
    keyCount,
    calls,
    windowKey: agg.windowKey,
    columns: [
      ...agg.columns.slice(0, keyCount),
      ...calls.map((c, i) => ({ ...agg.columns[keyCount + i], type: c.spec.returnType })),
    ],
  }
  if (final.columns.every((c, i) => c.type.kind === agg.columns[i].type.kind)) return final
  const exprs = agg.columns.map((c, i): BoundExpr => {
    const ref: BoundExpr = { kind: 'column', index: i, type: final.columns[i].type }
    return ref.type.kind === c.type.kind ? ref : { kind: 'cast', expr: ref, type: c.type }
  })
  const columns: PlanColumn[] = [...agg.columns]
  return { kind: 'project', input: final, exprs, columns }
}

/**
 * Whether every group key is window_start or window_end of a TUMBLE or HOP window: the
 * aggregate's input is the binder's pre-projection over the window node (the shape physical.ts's
 * fusedWindow() reads), and each key refers to one of the two columns the window appends.
 */
function windowOnlyKeys(agg: Aggregate): boolean {
  const pre = agg.input
  if (pre.kind !== 'project' || agg.keyCount === 0) return false
  const win = pre.input
  if (win.kind !== 'window' || win.window.kind === 'session') return false
  const width = win.input.columns.length
  for (let k = 0; k < agg.keyCount; k++) {
    const e = pre.exprs[k]
    if (e.kind !== 'column' || e.index < width) return false
  }
  return true
}

/**
 * The aggregate that merges partial results of `call` (over its input columns), or undefined
 * when the call does not merge exactly: avg and the others, DISTINCT (a value counted in two
 * shards would count twice), and float sums — their accumulator sums exactly and rounds once
 * (expr/exact-sum.ts), while a sum of rounded partial sums can differ in the last bit.
 */
function mergeSpec(call: AggregateCallPlan, inputs: readonly PlanColumn[]): AggregateSpec | undefined {
  const spec = call.spec
  if (spec.create() instanceof DistinctAcc) return undefined
  const resolve = (name: string, type: PlanColumn['type']): AggregateSpec | undefined =>
    resolveAggregate(name, [type], false)
  switch (spec.name) {
    case 'count':
      return resolve('sum', spec.returnType)
    case 'sum': {
      const arg = inputs[call.arg]?.type
      if (arg === undefined || arg.kind === 'float4' || arg.kind === 'float8') return undefined
      return resolve('sum', spec.returnType)
    }
    case 'min':
    case 'max':
      return resolve(spec.name, spec.returnType)
    default:
      return undefined
  }
}
