/**
 * SELECT: FROM and WHERE, GROUP BY (with TUMBLE/HOP short forms), aggregates and HAVING,
 * ROW_NUMBER() windows, and the select list.
 */
import type { Expr, Query, Relation, SelectTarget } from '../sql/tree.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { AggregateCallPlan, LogicalPlan, PlanColumn } from './logical.ts'
import type { Binder, Ctx, AggState, BoundQuery } from './binder.ts'
import { Scope } from './scope.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { T } from '../types/datatype.ts'
import { WINDOW_FNS, astKey, windowCallsIn, containsAggregate, defaultName, keyName } from './bind-ast.ts'
import { bindExpr } from './bind-expr.ts'
import { bindRelation } from './bind-from.ts'
import { finishSelect, bindOrderItems } from './bind-output.ts'
import { coerce, col } from './bind-types.ts'
import { windowPlan, sessionWindow, finishSession, findWindowKey } from './bind-window.ts'

export function bindSelect(b: Binder, q: Extract<Query, { kind: 'select' }>): BoundQuery {
  // FROM
  let plan: LogicalPlan
  const where = q.where
  if (q.from.length === 0) plan = { kind: 'values', rows: [[]], columns: [] }
  else if (q.from.length === 1) plan = bindRelation(b, q.from[0])
  else {
    // FROM a, b, c WHERE ...: cross joins under the WHERE filter; the join planner
    // (rules/join-order.ts) turns WHERE's equalities into join keys and picks the order.
    let rel: Relation = q.from[0]
    for (let i = 1; i < q.from.length; i++) {
      rel = {
        kind: 'join',
        type: 'cross',
        left: rel,
        right: q.from[i],
        on: undefined,
        using: undefined,
        position: q.from[i].position,
      }
    }
    plan = bindRelation(b, rel)
  }
  let scope = new Scope(plan.columns)

  // WHERE
  if (where !== undefined) {
    const predicate = coerce(
      b,
      bindExpr(b, where, { scope, agg: undefined, noAggregates: 'WHERE' }),
      T.bool,
      where.position,
    )
    plan = { kind: 'filter', input: plan, predicate, columns: plan.columns }
  }

  // GROUP BY windows (short form): TUMBLE(ts, size) / HOP(ts, slide, size)
  const groupExprs = q.groupBy.map((g) => resolveGroupAlias(g, q.targets))
  let windowKeys: BoundExpr[] = []
  let windowKeyAsts: string[] = []
  const plainGroups: Expr[] = []
  for (const g of groupExprs) {
    if (g.kind === 'func' && WINDOW_FNS.has(g.name)) {
      if (windowKeys.length > 0)
        throw new SluiceError(SqlState.feature_not_supported, 'only one window per GROUP BY', {
          position: g.position,
        })
      const time = g.args[0]
      if (time === undefined || time.kind !== 'column')
        throw new SluiceError(
          SqlState.syntax_error,
          `${g.name.toUpperCase()} needs a time column as its first argument`,
          { position: g.position },
        )
      const timeColumn = scope.resolve(time.table, time.name, time.position)
      const window = windowPlan(b, g.name, timeColumn, plan.columns[timeColumn].type, g.args.slice(1), g.position)
      plan = {
        kind: 'window',
        input: plan,
        window,
        columns: [
          ...plan.columns,
          { name: 'window_start', type: plan.columns[timeColumn].type, hidden: true },
          { name: 'window_end', type: plan.columns[timeColumn].type, hidden: true },
        ],
      }
      scope = new Scope(plan.columns)
      const ws = plan.columns.length - 2
      windowKeys = [col(ws, plan.columns[ws].type), col(ws + 1, plan.columns[ws + 1].type)]
      windowKeyAsts = [
        astKey({ kind: 'column', table: undefined, name: 'window_start', position: 0 }),
        astKey({ kind: 'column', table: undefined, name: 'window_end', position: 0 }),
      ]
    } else plainGroups.push(g)
  }

  const windowCalls = q.targets.flatMap((t) => windowCallsIn(t.expr))
  if (windowCalls.length > 0) {
    if (groupExprs.length > 0 || q.targets.some((t) => containsAggregate(t.expr)) || q.having !== undefined) {
      throw new SluiceError(
        SqlState.feature_not_supported,
        'window functions together with GROUP BY or aggregates are not supported yet; aggregate in a subquery first',
        { position: windowCalls[0].position },
      )
    }
    const first = windowCalls[0]
    const key = astKey(first)
    for (const w of windowCalls) {
      if (w.name !== 'row_number')
        throw new SluiceError(
          SqlState.feature_not_supported,
          `window function ${w.name}() is not supported yet (ROW_NUMBER() is)`,
          { position: w.position },
        )
      if (astKey(w) !== key)
        throw new SluiceError(SqlState.feature_not_supported, 'only one window specification per SELECT is supported', {
          position: w.position,
        })
    }
    const over = first.over!
    const ctx: Ctx = { scope, agg: undefined, noAggregates: 'window definitions' }
    const exprs: BoundExpr[] = plan.columns.map((c, i) => col(i, c.type))
    const place = (e: BoundExpr): number => {
      if (e.kind === 'column') return e.index
      exprs.push(e)
      return exprs.length - 1
    }
    const partition = over.partitionBy.map((p) => place(bindExpr(b, p, ctx)))
    const order = over.orderBy.map((o) => ({
      column: place(bindExpr(b, o.expr, ctx)),
      descending: o.descending,
      nullsFirst: o.nullsFirst ?? o.descending,
    }))
    if (exprs.length > plan.columns.length) {
      plan = {
        kind: 'project',
        input: plan,
        exprs,
        columns: exprs.map((e, i) => plan.columns[i] ?? { name: '?expr?', type: e.type, hidden: true }),
      }
    }
    const rankColumns: PlanColumn[] = [...plan.columns, { name: '?row_number?', type: T.int8, hidden: true }]
    plan = { kind: 'rank', input: plan, partition, order, limit: Infinity, columns: rankColumns }
    scope = new Scope(rankColumns)
    const windowCtx: Ctx = { scope, agg: undefined, window: { ast: key, index: rankColumns.length - 1 } }
    const targets = expandTargets(b, q.targets, windowCtx)
    const orderItems = bindOrderItems(b, q.orderBy, targets, windowCtx)
    return finishSelect(b, plan, targets, orderItems, q)
  }

  const hasAggregates =
    q.targets.some((t) => containsAggregate(t.expr)) ||
    (q.having !== undefined && containsAggregate(q.having)) ||
    q.orderBy.some((o) => containsAggregate(o.expr))
  let outScopeCtx: Ctx = { scope, agg: undefined }
  if (groupExprs.length > 0 || hasAggregates) {
    const keys = [
      ...windowKeys,
      ...plainGroups.map((g) => bindExpr(b, g, { scope, agg: undefined, noAggregates: 'GROUP BY' })),
    ]
    const keyAsts = [...windowKeyAsts, ...plainGroups.map(astKey)]
    const agg: AggState = { keyAsts, keys, inputScope: scope, calls: [] }
    outScopeCtx = { scope, agg }
    // Bind everything that reads the aggregate's output first, so all calls are known.
    const targets = expandTargets(b, q.targets, outScopeCtx)
    const having =
      q.having === undefined ? undefined : coerce(b, bindExpr(b, q.having, outScopeCtx), T.bool, q.having.position)
    const order = bindOrderItems(b, q.orderBy, targets, outScopeCtx)
    const session = sessionWindow(plan)
    if (session !== undefined) return finishSession(b, session, keys, agg, targets, having, order, q)
    // Pre-projection: [keys..., call args...]
    const preExprs: BoundExpr[] = [...keys]
    const calls: AggregateCallPlan[] = agg.calls.map((c) => {
      const argIdx = c.args.map((a) => {
        preExprs.push(a)
        return preExprs.length - 1
      })
      return { spec: c.spec, arg: argIdx[0] ?? -1, arg2: argIdx[1] ?? -1, label: c.label }
    })
    const preColumns: PlanColumn[] = preExprs.map((e, i) => ({
      name: i < keys.length ? keyName(keys[i], scope) : `arg${i}`,
      type: e.type,
      typmod: i < keys.length && e.kind === 'column' ? plan.columns[e.index]?.typmod : undefined,
    }))
    plan = { kind: 'project', input: plan, exprs: preExprs, columns: preColumns }
    const windowKey = findWindowKey(keys, scope)
    const aggColumns: PlanColumn[] = [
      ...preColumns.slice(0, keys.length),
      ...calls.map((c) => ({ name: c.label, type: c.spec.returnType })),
    ]
    plan = { kind: 'aggregate', input: plan, keyCount: keys.length, calls, windowKey, columns: aggColumns }
    if (having !== undefined) plan = { kind: 'filter', input: plan, predicate: having, columns: plan.columns }
    return finishSelect(b, plan, targets, order, q)
  }
  const targets = expandTargets(b, q.targets, outScopeCtx)
  const order = bindOrderItems(b, q.orderBy, targets, outScopeCtx)
  return finishSelect(b, plan, targets, order, q)
}

function resolveGroupAlias(g: Expr, targets: readonly SelectTarget[]): Expr {
  if (g.kind === 'number') {
    const n = Number(g.text)
    if (!Number.isInteger(n) || n < 1 || n > targets.length)
      throw new SluiceError(SqlState.invalid_column_reference, `GROUP BY position ${g.text} is not in select list`, {
        position: g.position,
      })
    return targets[n - 1].expr
  }
  return g
}

function expandTargets(
  b: Binder,
  targets: readonly SelectTarget[],
  ctx: Ctx,
): { expr: BoundExpr; name: string; ast: string }[] {
  const out: { expr: BoundExpr; name: string; ast: string }[] = []
  for (const t of targets) {
    if (t.expr.kind === 'star') {
      if (ctx.agg !== undefined) {
        throw new SluiceError(SqlState.grouping_error, 'SELECT * is not allowed with GROUP BY; list the columns', {
          position: t.expr.position,
        })
      }
      for (const i of ctx.scope.star(t.expr.table, t.expr.position)) {
        const c = ctx.scope.columns[i]
        out.push({
          expr: col(i, c.type),
          name: c.name,
          ast: astKey({ kind: 'column', table: undefined, name: c.name, position: 0 }),
        })
      }
      continue
    }
    out.push({ expr: bindExpr(b, t.expr, ctx), name: t.alias ?? defaultName(t.expr), ast: astKey(t.expr) })
  }
  const seen = new Set<string>()
  for (const o of out) {
    if (o.expr.type.kind === 'unknown') o.expr = coerce(b, o.expr, T.text, 0)
    seen.add(o.name)
  }
  return out
}
