/**
 * Closing columns: output columns of a plan whose watermark is a promise that no change at all
 * (insert or delete) of a row whose value there is at or below it follows. A join whose key is
 * closing on both inputs frees that key's closed buckets (engine/ops/join-closing.ts).
 *
 * Most watermarks promise less: a source's watermark on its event time is a judgement (rows behind
 * it still flow; windows and interval joins call them late), so a plain time column is never
 * closing. What makes one:
 *
 * - TUMBLE / HOP window_start and window_end: window assignment drops a row, of either sign,
 *   from every window already closed by the watermark on its time column, and only then emits
 *   the closing watermarks on those columns (WindowAssign, WindowAggregate).
 * - Kept through filters, column references in projections, and group keys of an aggregate that
 *   emits its changes with each chunk: a group changes only when input rows of its key arrive.
 *   Not through an aggregate that emits on window close (its final rows follow the watermark), nor
 *   one with a ttl (it retracts groups on the processing clock).
 * - Nothing else (joins forward each input's watermark, not their minimum; views read by scans
 *   are not traced).
 */
import type { LogicalPlan } from './logical.ts'

export interface ClosingOptions {
  readonly emitOnWindowClose: boolean
  readonly ttlMs?: number
}

/** The closing output columns of `plan`. */
export function closingColumns(plan: LogicalPlan, options: ClosingOptions): ReadonlySet<number> {
  switch (plan.kind) {
    case 'window': {
      if (plan.window.kind === 'session') return new Set()
      const width = plan.input.columns.length
      return new Set([...closingColumns(plan.input, options), width, width + 1])
    }
    case 'filter':
      return closingColumns(plan.input, options)
    case 'project': {
      const input = closingColumns(plan.input, options)
      const out = new Set<number>()
      plan.exprs.forEach((e, i) => {
        if (e.kind === 'column' && input.has(e.index)) out.add(i)
      })
      return out
    }
    case 'aggregate': {
      const windowed = plan.windowKey !== undefined
      if ((windowed && options.emitOnWindowClose) || (!windowed && options.ttlMs !== undefined)) return new Set()
      const input = closingColumns(plan.input, options)
      const out = new Set<number>()
      for (let k = 0; k < plan.keyCount; k++) if (input.has(k)) out.add(k)
      return out
    }
    default:
      return new Set()
  }
}

/**
 * The first join key closing on both inputs (its place among the keys), or undefined. One is
 * enough: window_start and window_end close the same windows.
 */
export function closingJoinKey(
  plan: Extract<LogicalPlan, { kind: 'join' }>,
  options: ClosingOptions,
): number | undefined {
  if (plan.lookup || plan.interval !== undefined || plan.leftKeys.length === 0) return undefined
  const left = closingColumns(plan.left, options)
  if (left.size === 0) return undefined
  const right = closingColumns(plan.right, options)
  const at = plan.leftKeys.findIndex((l, i) => left.has(l) && right.has(plan.rightKeys[i]))
  return at < 0 ? undefined : at
}
