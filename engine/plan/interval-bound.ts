/**
 * Interval conditions between event times: finds `right.t − left.t ∈ [lo, hi]` among a join's
 * conjuncts, so the join can free rows no future row can match (the binder for ON, the join
 * planner for conditions it moves out of WHERE).
 */
import type { BoundExpr } from '../expr/bound.ts'
import type { IntervalBound, PlanColumn } from './logical.ts'
import { Interval } from '../types/interval.ts'

/**
 * Finds `right.t − left.t ∈ [lo, hi]` in the residual conjuncts of a join (over [left..., right...]
 * columns): comparisons between a left and a right timestamp column, each optionally plus or
 * minus a constant interval, as `b.ts BETWEEN a.ts AND a.ts + INTERVAL '1 hour'` binds to.
 */
export function intervalBound(
  conjuncts: readonly BoundExpr[],
  lw: number,
  columns: readonly PlanColumn[],
): IntervalBound | undefined {
  const term = (e: BoundExpr): { col: number; offset: number } | undefined => {
    if (e.kind === 'column') return { col: e.index, offset: 0 }
    if (e.kind === 'call' && (e.fn.name === '+' || e.fn.name === '-') && e.args.length === 2) {
      const [a, b] = e.args
      if (a.kind === 'column' && b.kind === 'literal' && b.value instanceof Interval && b.value.months === 0) {
        const us = b.value.days * 86_400_000_000 + b.value.micros
        return { col: a.index, offset: e.fn.name === '+' ? us : -us }
      }
    }
    return undefined
  }
  const isTime = (c: number): boolean => columns[c].type.kind === 'timestamp' || columns[c].type.kind === 'timestamptz'
  let leftTime: number | undefined
  let rightTime: number | undefined
  let lo = -Infinity
  let hi = Infinity
  const flat: BoundExpr[] = []
  const split = (e: BoundExpr): void => {
    if (e.kind === 'and') e.args.forEach(split)
    else flat.push(e)
  }
  conjuncts.forEach(split)
  for (const c of flat) {
    if (c.kind !== 'call' || c.args.length !== 2 || !['<', '<=', '>', '>='].includes(c.fn.name)) continue
    const [x, y] = c.fn.name.startsWith('<') ? c.args : [c.args[1], c.args[0]]
    const a = term(x) // a <= b
    const b = term(y)
    if (a === undefined || b === undefined || !isTime(a.col) || !isTime(b.col)) continue
    const aLeft = a.col < lw
    const bLeft = b.col < lw
    if (aLeft === bLeft) continue
    const l = aLeft ? a.col : b.col
    const r = (aLeft ? b.col : a.col) - lw
    if ((leftTime !== undefined && leftTime !== l) || (rightTime !== undefined && rightTime !== r)) continue
    leftTime = l
    rightTime = r
    if (aLeft)
      lo = Math.max(lo, a.offset - b.offset) // L + oa <= R + ob
    else hi = Math.min(hi, b.offset - a.offset) // R + oa <= L + ob
  }
  if (leftTime === undefined || rightTime === undefined || (lo === -Infinity && hi === Infinity)) return undefined
  return { leftTime, rightTime, lo, hi }
}
