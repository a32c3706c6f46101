/**
 * The end of a query: the final projection, DISTINCT, ORDER BY (by name, position or expression)
 * and constant LIMIT/OFFSET.
 */
import type { Expr, OrderItem, Query } from '../sql/tree.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { LogicalPlan, PlanColumn } from './logical.ts'
import type { SortKey } from '../batch/pull-query.ts'
import type { Binder, Ctx, BoundQuery } from './binder.ts'
import { Scope } from './scope.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { astKey } from './bind-ast.ts'
import { bindExpr, constInt } from './bind-expr.ts'
import { col } from './bind-types.ts'

/** Final projection, DISTINCT, then ORDER BY / LIMIT bookkeeping. */
export function finishSelect(
  b: Binder,
  input: LogicalPlan,
  targets: { expr: BoundExpr; name: string }[],
  order: { item: OrderItem; target: number | undefined; expr: BoundExpr | undefined }[],
  q: Extract<Query, { kind: 'select' }>,
): BoundQuery {
  const exprs = targets.map((t) => t.expr)
  // A plain column reference keeps its column's modifier (varchar(5), numeric(12,2)); an expression does not, as in PostgreSQL.
  const columns: PlanColumn[] = targets.map((t) => ({
    name: t.name,
    type: t.expr.type,
    typmod: t.expr.kind === 'column' ? input.columns[t.expr.index]?.typmod : undefined,
  }))
  const sort: SortKey[] = []
  let hidden = 0
  for (const o of order) {
    let column = o.target
    if (column === undefined) {
      if (q.distinct)
        throw new SluiceError(
          SqlState.invalid_column_reference,
          'for SELECT DISTINCT, ORDER BY expressions must appear in select list',
          { position: o.item.expr.position },
        )
      exprs.push(o.expr!)
      columns.push({ name: '?sort?', type: o.expr!.type, hidden: true })
      column = exprs.length - 1
      hidden++
    }
    sort.push({ column, descending: o.item.descending, nullsFirst: o.item.nullsFirst ?? o.item.descending })
  }
  let plan: LogicalPlan = { kind: 'project', input, exprs, columns }
  if (q.distinct) {
    plan = { kind: 'aggregate', input: plan, keyCount: columns.length, calls: [], windowKey: undefined, columns }
  }
  const limit = q.limit === undefined ? undefined : constInt(b, q.limit, 'LIMIT')
  const offset = q.offset === undefined ? 0 : constInt(b, q.offset, 'OFFSET')
  return { plan, orderBy: sort, limit, offset, hidden, reads: b.reads }
}

export function finishOrder(
  b: Binder,
  plan: LogicalPlan,
  orderBy: readonly OrderItem[],
  limitExpr: Expr | undefined,
  offsetExpr: Expr | undefined,
): BoundQuery {
  const sort: SortKey[] = orderBy.map((o) => {
    const scope = new Scope(plan.columns)
    const e = o.expr
    let column: number
    if (e.kind === 'number') column = ordinal(e, plan.columns.length)
    else if (e.kind === 'column') column = scope.resolve(e.table, e.name, e.position)
    else
      throw new SluiceError(SqlState.feature_not_supported, 'ORDER BY on VALUES takes column names or positions', {
        position: e.position,
      })
    return { column, descending: o.descending, nullsFirst: o.nullsFirst ?? o.descending }
  })
  const limit = limitExpr === undefined ? undefined : constInt(b, limitExpr, 'LIMIT')
  const offset = offsetExpr === undefined ? 0 : constInt(b, offsetExpr, 'OFFSET')
  return { plan, orderBy: sort, limit, offset, hidden: 0, reads: b.reads }
}

function ordinal(e: Extract<Expr, { kind: 'number' }>, width: number): number {
  const n = Number(e.text)
  if (!Number.isInteger(n) || n < 1 || n > width) {
    throw new SluiceError(SqlState.invalid_column_reference, `position ${e.text} is not in select list`, {
      position: e.position,
    })
  }
  return n - 1
}

export function bindOrderItems(
  b: Binder,
  items: readonly OrderItem[],
  targets: { expr: BoundExpr; name: string; ast: string }[],
  ctx: Ctx,
): { item: OrderItem; target: number | undefined; expr: BoundExpr | undefined }[] {
  return items.map((item) => {
    const e = item.expr
    if (e.kind === 'number') return { item, target: ordinal(e, targets.length), expr: undefined }
    if (e.kind === 'column' && e.table === undefined) {
      const matches = targets.map((t, i) => (t.name === e.name ? i : -1)).filter((i) => i >= 0)
      if (matches.length === 1) return { item, target: matches[0], expr: undefined }
    }
    const key = astKey(e)
    const same = targets.findIndex((t) => t.ast === key)
    if (same >= 0) return { item, target: same, expr: undefined }
    return { item, target: undefined, expr: bindExpr(b, e, ctx) }
  })
}

export function visible(q: BoundQuery): LogicalPlan {
  if (q.hidden === 0) return q.plan
  const width = q.plan.columns.length - q.hidden
  return {
    kind: 'project',
    input: q.plan,
    exprs: q.plan.columns.slice(0, width).map((c, i) => col(i, c.type)),
    columns: q.plan.columns.slice(0, width),
  }
}
