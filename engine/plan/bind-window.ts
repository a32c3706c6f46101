/**
 * Time windows: TUMBLE, HOP and SESSION (in FROM or GROUP BY), their sizes, and aggregation over
 * a SESSION window, whose bounds come from the sessions themselves.
 */
import type { Expr, OrderItem, Query } from '../sql/tree.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { DataType } from '../types/datatype.ts'
import type { AggregateCallPlan, LogicalPlan, WindowPlan } from './logical.ts'
import type { Binder, AggState, BoundQuery } from './binder.ts'
import { Scope } from './scope.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { T } from '../types/datatype.ts'
import { formatTypeName } from '../types/oid.ts'
import { parseDurationMicros } from '../sql/duration.ts'
import { Interval } from '../types/interval.ts'
import { columnsOf } from '../expr/remap.ts'
import { keyName } from './bind-ast.ts'
import { bindExpr } from './bind-expr.ts'
import { finishSelect } from './bind-output.ts'
import { coerce, constValue, col } from './bind-types.ts'

export function windowPlan(
  b: Binder,
  fn: string,
  timeColumn: number,
  type: DataType,
  args: readonly Expr[],
  position: number,
): WindowPlan {
  if (type.kind !== 'timestamp' && type.kind !== 'timestamptz') {
    throw new SluiceError(
      SqlState.datatype_mismatch,
      `${fn.toUpperCase()} needs a timestamp time column, not ${formatTypeName(type)}`,
      { position },
    )
  }
  const durations = args.map((a) => duration(b, a))
  if (fn === 'session') {
    if (durations.length !== 1)
      throw new SluiceError(SqlState.syntax_error, 'SESSION takes a time column and a gap', { position })
    return { kind: 'session', timeColumn, size: durations[0], slide: durations[0], offset: 0 }
  }
  if (fn === 'tumble') {
    if (durations.length < 1 || durations.length > 2)
      throw new SluiceError(SqlState.syntax_error, 'TUMBLE takes a time column, a size and an optional offset', {
        position,
      })
    return { kind: 'tumble', timeColumn, size: durations[0], slide: durations[0], offset: durations[1] ?? 0 }
  }
  if (durations.length < 2 || durations.length > 3)
    throw new SluiceError(SqlState.syntax_error, 'HOP takes a time column, a slide, a size and an optional offset', {
      position,
    })
  const [slide, size] = durations
  if (size % slide !== 0)
    throw new SluiceError(SqlState.invalid_parameter_value, 'a HOP window size must be a multiple of its slide', {
      position,
    })
  return { kind: 'hop', timeColumn, size, slide, offset: durations[2] ?? 0 }
}

/** A window size: '1m', 30s-style text or an INTERVAL literal; µs, positive. */
function duration(b: Binder, e: Expr): number {
  let micros: number
  if (e.kind === 'string') micros = parseDurationMicros(e.value, e.position)
  else {
    const v = constValue(b, coerce(b, bindExpr(b, e, { scope: new Scope([]), agg: undefined }), T.interval, e.position))
    if (!(v instanceof Interval))
      throw new SluiceError(SqlState.invalid_parameter_value, 'a window size must be a constant interval', {
        position: e.position,
      })
    if (v.months !== 0)
      throw new SluiceError(SqlState.invalid_parameter_value, 'a window size cannot be counted in months or years', {
        position: e.position,
      })
    micros = v.days * 86_400_000_000 + v.micros
  }
  if (!(micros > 0))
    throw new SluiceError(SqlState.invalid_parameter_value, 'a window size must be positive', {
      position: e.position,
    })
  return micros
}

/** A SESSION window at the top of a FROM/WHERE plan, with filters below it moved under it. */
export function sessionWindow(plan: LogicalPlan): { window: WindowPlan; input: LogicalPlan } | undefined {
  if (plan.kind === 'window' && plan.window.kind === 'session') return { window: plan.window, input: plan.input }
  if (plan.kind === 'filter') {
    const inner = sessionWindow(plan.input)
    if (inner === undefined) return undefined
    const width = inner.input.columns.length
    if ([...columnsOf(plan.predicate)].some((c) => c >= width)) {
      throw new SluiceError(
        SqlState.feature_not_supported,
        'WHERE cannot read window_start or window_end of a SESSION window; filter the aggregated rows in HAVING or an outer query',
      )
    }
    return {
      window: inner.window,
      input: { kind: 'filter', input: inner.input, predicate: plan.predicate, columns: inner.input.columns },
    }
  }
  return undefined
}

/**
 * Aggregation over a SESSION window: window_start and window_end come from the sessions, which
 * are built per group of the other keys, so the window and the aggregate are one operator.
 */
export function finishSession(
  b: Binder,
  session: { window: WindowPlan; input: LogicalPlan },
  keys: readonly BoundExpr[],
  agg: AggState,
  targets: { expr: BoundExpr; name: string; ast: string }[],
  having: BoundExpr | undefined,
  order: { item: OrderItem; target: number | undefined; expr: BoundExpr | undefined }[],
  q: Extract<Query, { kind: 'select' }>,
): BoundQuery {
  const width = session.input.columns.length
  const isWindowCol = (e: BoundExpr): boolean => e.kind === 'column' && e.index >= width
  const ws = keys.findIndex((k) => k.kind === 'column' && k.index === width)
  const we = keys.findIndex((k) => k.kind === 'column' && k.index === width + 1)
  if (ws < 0 || we < 0 || keys.length - 2 !== keys.filter((k) => !isWindowCol(k)).length) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      'a SESSION window must be grouped by window_start and window_end',
      { hint: 'GROUP BY window_start, window_end, <keys>' },
    )
  }
  const others = keys.filter((k) => !isWindowCol(k))
  for (const e of [...others, ...agg.calls.flatMap((c) => c.args)]) {
    if ([...columnsOf(e)].some((c) => c >= width))
      throw new SluiceError(
        SqlState.feature_not_supported,
        'window_start and window_end of a SESSION window can only be grouped by',
      )
  }
  // Input [other keys..., ts, args...]; output [window_start, window_end, other keys..., aggs...].
  const preExprs: BoundExpr[] = [
    ...others,
    col(session.window.timeColumn, session.input.columns[session.window.timeColumn].type),
  ]
  const calls: AggregateCallPlan[] = agg.calls.map((c) => {
    const argIdx = c.args.map((a) => {
      preExprs.push(a)
      return preExprs.length - 1
    })
    return { spec: c.spec, arg: argIdx[0] ?? -1, arg2: argIdx[1] ?? -1, label: c.label }
  })
  const inputScope = new Scope(session.input.columns)
  const pre: LogicalPlan = {
    kind: 'project',
    input: session.input,
    exprs: preExprs,
    columns: preExprs.map((e, i) => ({ name: i < others.length ? keyName(e, inputScope) : `arg${i}`, type: e.type })),
  }
  const timeType = session.input.columns[session.window.timeColumn].type
  const sessionPlan: LogicalPlan = {
    kind: 'session_aggregate',
    input: pre,
    partitionCount: others.length,
    gap: session.window.size,
    calls,
    columns: [
      { name: 'window_start', type: timeType },
      { name: 'window_end', type: timeType },
      ...pre.columns.slice(0, others.length),
      ...calls.map((c) => ({ name: c.label, type: c.spec.returnType })),
    ],
  }
  // The binder numbered the outputs as [keys (in GROUP BY order)..., calls...]: map them.
  const position = keys.map((k, i) => (i === ws ? 0 : i === we ? 1 : 2 + others.indexOf(k)))
  const reorder: BoundExpr[] = [
    ...position.map((p) => col(p, sessionPlan.columns[p].type)),
    ...calls.map((c, i) => col(2 + others.length + i, c.spec.returnType)),
  ]
  let plan: LogicalPlan = {
    kind: 'project',
    input: sessionPlan,
    exprs: reorder,
    columns: reorder.map((e) => sessionPlan.columns[(e as { index: number }).index]),
  }
  if (having !== undefined) plan = { kind: 'filter', input: plan, predicate: having, columns: plan.columns }
  return finishSelect(b, plan, targets, order, q)
}

export function findWindowKey(keys: readonly BoundExpr[], scope: Scope): number | undefined {
  let start: number | undefined
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]
    if (key.kind !== 'column') continue
    const name = scope.columns[key.index].name
    if (name === 'window_end' && isWindowColumn(scope, key.index)) return k
    if (name === 'window_start' && isWindowColumn(scope, key.index)) start ??= k
  }
  return start
}

function isWindowColumn(scope: Scope, index: number): boolean {
  return (
    index >= scope.columns.length - 2 &&
    (scope.columns[index].name === 'window_start' || scope.columns[index].name === 'window_end')
  )
}
