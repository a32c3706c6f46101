/**
 * Shared subplans (docs/design/pipeline.md, "Shared subplans"): a dataflow computes a stateful
 * subplan that occurs twice in its query once, and feeds both readers from it. Nexmark q5 groups
 * the same HOP window by the same keys on both sides of its join: one WindowAggregate instead of
 * two halves the state and the work of that part.
 *
 * Two subplans are the same when they would lower to operators that emit the same changes: the
 * same node kinds, inputs, expressions, keys and aggregate calls; output column names (aliases)
 * do not matter. The comparison errs towards "different": functions are compared by identity, and
 * aggregate calls by their text too.
 */
import type { AggregateCallPlan, LogicalPlan, PlanColumn, RelationRef } from './logical.ts'
import { inputsOf } from './logical.ts'

/** Plan kinds worth sharing: those with state. Sharing a projection would only add a fan-out. */
export function shareable(plan: LogicalPlan): boolean {
  return plan.kind === 'aggregate' || plan.kind === 'join'
}

/** Whether the plan holds a stateful subplan twice (lowering would share it). */
export function repeatsSubplan(plan: LogicalPlan): boolean {
  const seen: LogicalPlan[] = []
  let found = false
  const walk = (p: LogicalPlan): void => {
    if (found) return
    if (shareable(p)) {
      if (seen.some((s) => sameSubplan(s, p))) {
        found = true
        return
      }
      seen.push(p)
    }
    for (const input of inputsOf(p)) walk(input)
  }
  walk(plan)
  return found
}

/** Whether two subplans compute the same rows, change for change. */
export function sameSubplan(a: LogicalPlan, b: LogicalPlan): boolean {
  return a === b || same(a, b)
}

function same(a: unknown, b: unknown, key?: string): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  switch (key) {
    case 'columns':
      return sameColumns(a as readonly PlanColumn[], b as readonly PlanColumn[])
    case 'relation': {
      const x = a as RelationRef
      const y = b as RelationRef
      return x.input === y.input && x.kind === y.kind && x.name === y.name
    }
    case 'calls':
      return sameCalls(a as readonly AggregateCallPlan[], b as readonly AggregateCallPlan[])
    default:
      break
  }
  if (Array.isArray(a) !== Array.isArray(b) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  if (a instanceof Map) {
    const m = b as Map<unknown, unknown>
    if (a.size !== m.size) return false
    for (const [k, v] of a) if (!m.has(k) || !same(v, m.get(k))) return false
    return true
  }
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false
    if (!same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], k)) return false
  }
  return true
}

/** Output columns: their types only (names and qualifiers are how the query refers to them). */
function sameColumns(a: readonly PlanColumn[], b: readonly PlanColumn[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (!same(a[i].type, b[i].type) || !same(a[i].typmod, b[i].typmod)) return false
  return true
}

/**
 * Aggregate calls: the function, its arguments and its label (the call's text: it says DISTINCT,
 * which the spec keeps only in its accumulator's factory).
 */
function sameCalls(a: readonly AggregateCallPlan[], b: readonly AggregateCallPlan[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i]
    const y = b[i]
    if (x.arg !== y.arg || x.arg2 !== y.arg2 || x.spec.name !== y.spec.name || x.label !== y.label) return false
    if (!same(x.spec.argTypes, y.spec.argTypes) || !same(x.spec.returnType, y.spec.returnType)) return false
  }
  return true
}
