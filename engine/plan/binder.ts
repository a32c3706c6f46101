/**
 * The binder: statement-tree queries → typed logical plans. Resolves names against the catalog
 * and scopes, types every expression (PostgreSQL's rules via the function registry), extracts
 * aggregates and windows, and refuses what Sluice cannot run with a SQLSTATE and a position.
 */
import type { Cte, Expr, OrderItem, Query, Relation, SelectTarget } from '../sql/tree.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { CompileContext } from '../expr/compile.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { AggregateCallPlan, LogicalPlan, PlanColumn, RelationRef, WindowPlan } from './logical.ts'
import type { SortKey } from '../batch/pull-query.ts'
import { Scope } from './scope.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { T, arrayOf } from '../types/datatype.ts'
import { Decimal } from '../types/decimal.ts'
import { typeFromName, formatTypeName } from '../types/oid.ts'
import { castValue } from '../types/cast.ts'
import { valuesEqual } from '../types/compare.ts'
import { resolveFunction } from '../expr/functions.ts'
import { resolveAggregate } from '../expr/aggregates.ts'
import { evalConst } from '../expr/compile.ts'
import { parseDurationMicros } from '../sql/duration.ts'
import { Interval } from '../types/interval.ts'
import { columnsOf, remapColumns } from '../expr/remap.ts'
import type { SubqueryRunner } from './subquery.ts'
import { OUTER_PARAM_BASE, subqueryCall } from './subquery.ts'
import { bindRegCast, isRegType } from './reg-cast.ts'
import { withTypeMod } from './typmod-cast.ts'
import type { TypeMod } from '../types/typmod.ts'
import { intervalBound } from './interval-bound.ts'

/** What the binder needs from the catalog. */
export interface BinderCatalog {
  /** A relation by (optional schema and) name, or a plain view's query to inline. 42P01 if missing. */
  relation(
    schema: string | undefined,
    name: string,
    position: number,
  ):
    | { kind: 'relation'; ref: RelationRef; columns: readonly { name: string; type: DataType; typmod?: TypeMod }[] }
    | { kind: 'view'; query: Query; columnNames: readonly string[] | undefined; name: string }
  /** pg_class.oid of a relation (for `'name'::regclass`); undefined when there is none. */
  relationOid?(schema: string | undefined, name: string): bigint | undefined
  /** The relation name of a pg_class.oid (for `oid::regclass::text`). */
  relationName?(oid: bigint): string | undefined
  /** Functions that read the catalog itself (`pg_get_viewdef(oid)`), bound over these arguments. */
  catalogFunction?(name: string, args: readonly BoundExpr[]): BoundExpr | undefined
}

export interface BindOptions {
  readonly catalog: BinderCatalog
  readonly compile: CompileContext
  /** Declared or inferred types of $1..$n; the binder fills in unknown entries it can infer. */
  readonly paramTypes: (DataType | undefined)[]
  /** Sources may be read (views over them) — false for pull queries, which cannot read a stream. */
  readonly allowSources: boolean
  /** Runs subqueries in expressions (pull queries only); without it they are refused (0A000). */
  readonly subqueries?: SubqueryRunner
}

export interface BoundQuery {
  readonly plan: LogicalPlan
  readonly orderBy: readonly SortKey[]
  readonly limit: number | undefined
  readonly offset: number
  readonly hidden: number
  /** Relations read (for dependencies). */
  readonly reads: ReadonlySet<string>
}

const AGGREGATES = new Set([
  'count',
  'sum',
  'min',
  'max',
  'avg',
  'string_agg',
  'bool_and',
  'bool_or',
  'every',
  'approx_count_distinct',
])
const WINDOW_FNS = new Set(['tumble', 'hop', 'session'])
/** Chains longer than this of one associative operation are nested as a balanced tree (Binder.chain). */
const BALANCED_CHAIN = 32

/**
 * The one type in which a chain of `op` over `args` is exactly associative: text for `||` over
 * text and untyped literals; the widest of integer and numeric terms for `+` and `*`. Undefined
 * for anything else (floats round differently when regrouped).
 */
function associativeType(op: string, args: readonly BoundExpr[]): DataType | undefined {
  if (op === '||') return args.every((a) => a.type.kind === 'text' || a.type.kind === 'unknown') ? T.text : undefined
  if (op !== '+' && op !== '*') return undefined
  let widest: DataType | undefined
  for (const a of args) {
    const rank = INTEGRAL_RANK[a.type.kind]
    if (rank === undefined) return undefined
    if (widest === undefined || rank > (INTEGRAL_RANK[widest.kind] ?? 0)) widest = a.type
  }
  return widest
}

const INTEGRAL_RANK: Partial<Record<string, number>> = { int2: 1, int4: 2, int8: 3, numeric: 4 }
const NUMERIC_RANK: Partial<Record<string, number>> = { int2: 1, int4: 2, int8: 3, numeric: 4, float4: 5, float8: 6 }

/** Aggregation in progress: group keys and the aggregate calls found so far. */
interface AggState {
  readonly keyAsts: readonly string[]
  readonly keys: readonly BoundExpr[]
  readonly inputScope: Scope
  readonly calls: { spec: AggregateCallPlan['spec']; args: BoundExpr[]; label: string; ast: string }[]
}

interface Ctx {
  readonly scope: Scope
  readonly agg: AggState | undefined
  /** The ROW_NUMBER() call of this SELECT and the column holding its value. */
  readonly window?: { readonly ast: string; readonly index: number }
  /** Where aggregates are not allowed, the clause name for the error. */
  readonly noAggregates?: string
}

export class Binder {
  readonly reads = new Set<string>()
  private readonly ctes: Map<string, { plan: LogicalPlan }>[] = []
  /** Subqueries being bound, innermost last: the enclosing context and the outer values read. */
  private readonly frames: { ctx: Ctx; outer: BoundExpr[]; keys: string[] }[] = []

  constructor(private readonly options: BindOptions) {}

  bindQuery(q: Query): BoundQuery {
    this.ctes.push(new Map())
    try {
      for (const cte of q.with) this.bindCte(cte)
      return this.bindQueryBody(q)
    } finally {
      this.ctes.pop()
    }
  }

  private bindCte(cte: Cte): void {
    const bound = this.bindQuery(cte.query)
    this.ctes[this.ctes.length - 1].set(cte.name, { plan: bound.plan })
  }

  private bindQueryBody(q: Query): BoundQuery {
    switch (q.kind) {
      case 'select':
        return this.bindSelect(q)
      case 'values': {
        const rows = q.rows.map((r) =>
          r.map((e) => this.bindExpr(e, { scope: new Scope([]), agg: undefined, noAggregates: 'VALUES' })),
        )
        const width = rows[0]?.length ?? 0
        const types: DataType[] = []
        for (let c = 0; c < width; c++)
          types.push(
            this.commonType(
              rows.map((r) => r[c].type),
              'VALUES',
              q.rows[0][c].position,
            ),
          )
        const values = rows.map((r) =>
          r.map((e, c) => this.constValue(this.coerce(e, types[c], q.rows[0][c].position))),
        )
        const plan: LogicalPlan = {
          kind: 'values',
          rows: values,
          columns: types.map((t, c) => ({ name: `column${c + 1}`, type: t })),
        }
        return this.finishOrder(plan, q.orderBy, q.limit, q.offset)
      }
      case 'set_op': {
        const left = this.bindQuery(q.left)
        const right = this.bindQuery(q.right)
        const l = visible(left)
        const r = visible(right)
        const word = q.op.toUpperCase()
        if (l.columns.length !== r.columns.length)
          throw new SluiceError(SqlState.syntax_error, `each ${word} query must have the same number of columns`)
        const types = l.columns.map((c, i) => this.commonType([c.type, r.columns[i].type], word, 0))
        const cast = (p: LogicalPlan): LogicalPlan =>
          p.columns.every((c, i) => sameType(c.type, types[i]))
            ? p
            : {
                kind: 'project',
                input: p,
                exprs: p.columns.map((c, i) => this.coerce(col(i, c.type), types[i], 0, true)),
                columns: p.columns.map((c, i) => ({ name: c.name, type: types[i] })),
              }
        const columns = l.columns.map((c, i) => ({ name: c.name, type: types[i] }))
        if (q.op !== 'union')
          return this.finishOrder(
            { kind: 'set_op', op: q.op, all: q.all, left: cast(l), right: cast(r), columns },
            q.orderBy,
            q.limit,
            q.offset,
          )
        let plan: LogicalPlan = { kind: 'union', inputs: [cast(l), cast(r)], columns }
        // UNION without ALL: the rows of both, each once (a grouping on every column).
        if (!q.all)
          plan = {
            kind: 'aggregate',
            input: plan,
            keyCount: plan.columns.length,
            calls: [],
            windowKey: undefined,
            columns: plan.columns,
          }
        return this.finishOrder(plan, q.orderBy, q.limit, q.offset)
      }
    }
  }

  private bindSelect(q: Extract<Query, { kind: 'select' }>): BoundQuery {
    // FROM
    let plan: LogicalPlan
    const where = q.where
    if (q.from.length === 0) plan = { kind: 'values', rows: [[]], columns: [] }
    else if (q.from.length === 1) plan = this.bindRelation(q.from[0])
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
      plan = this.bindRelation(rel)
    }
    let scope = new Scope(plan.columns)

    // WHERE
    if (where !== undefined) {
      const predicate = this.coerce(
        this.bindExpr(where, { scope, agg: undefined, noAggregates: 'WHERE' }),
        T.bool,
        where.position,
      )
      plan = { kind: 'filter', input: plan, predicate, columns: plan.columns }
    }

    // GROUP BY windows (short form): TUMBLE(ts, size) / HOP(ts, slide, size)
    const groupExprs = q.groupBy.map((g) => this.resolveGroupAlias(g, q.targets))
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
        const window = this.windowPlan(g.name, timeColumn, plan.columns[timeColumn].type, g.args.slice(1), g.position)
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
          throw new SluiceError(
            SqlState.feature_not_supported,
            'only one window specification per SELECT is supported',
            { position: w.position },
          )
      }
      const over = first.over!
      const ctx: Ctx = { scope, agg: undefined, noAggregates: 'window definitions' }
      const exprs: BoundExpr[] = plan.columns.map((c, i) => col(i, c.type))
      const place = (e: BoundExpr): number => {
        if (e.kind === 'column') return e.index
        exprs.push(e)
        return exprs.length - 1
      }
      const partition = over.partitionBy.map((p) => place(this.bindExpr(p, ctx)))
      const order = over.orderBy.map((o) => ({
        column: place(this.bindExpr(o.expr, ctx)),
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
      const targets = this.expandTargets(q.targets, windowCtx)
      const orderItems = this.bindOrderItems(q.orderBy, targets, windowCtx)
      return this.finishSelect(plan, targets, orderItems, q)
    }

    const hasAggregates =
      q.targets.some((t) => containsAggregate(t.expr)) ||
      (q.having !== undefined && containsAggregate(q.having)) ||
      q.orderBy.some((o) => containsAggregate(o.expr))
    let outScopeCtx: Ctx = { scope, agg: undefined }
    if (groupExprs.length > 0 || hasAggregates) {
      const keys = [
        ...windowKeys,
        ...plainGroups.map((g) => this.bindExpr(g, { scope, agg: undefined, noAggregates: 'GROUP BY' })),
      ]
      const keyAsts = [...windowKeyAsts, ...plainGroups.map(astKey)]
      const agg: AggState = { keyAsts, keys, inputScope: scope, calls: [] }
      outScopeCtx = { scope, agg }
      // Bind everything that reads the aggregate's output first, so all calls are known.
      const targets = this.expandTargets(q.targets, outScopeCtx)
      const having =
        q.having === undefined
          ? undefined
          : this.coerce(this.bindExpr(q.having, outScopeCtx), T.bool, q.having.position)
      const order = this.bindOrderItems(q.orderBy, targets, outScopeCtx)
      const session = sessionWindow(plan)
      if (session !== undefined) return this.finishSession(session, keys, agg, targets, having, order, q)
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
      const windowKey = this.findWindowKey(keys, scope)
      const aggColumns: PlanColumn[] = [
        ...preColumns.slice(0, keys.length),
        ...calls.map((c) => ({ name: c.label, type: c.spec.returnType })),
      ]
      plan = { kind: 'aggregate', input: plan, keyCount: keys.length, calls, windowKey, columns: aggColumns }
      if (having !== undefined) plan = { kind: 'filter', input: plan, predicate: having, columns: plan.columns }
      return this.finishSelect(plan, targets, order, q)
    }
    const targets = this.expandTargets(q.targets, outScopeCtx)
    const order = this.bindOrderItems(q.orderBy, targets, outScopeCtx)
    return this.finishSelect(plan, targets, order, q)
  }

  /**
   * Aggregation over a SESSION window: window_start and window_end come from the sessions, which
   * are built per group of the other keys, so the window and the aggregate are one operator.
   */
  private finishSession(
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
    return this.finishSelect(plan, targets, order, q)
  }

  /** Final projection, DISTINCT, then ORDER BY / LIMIT bookkeeping. */
  private finishSelect(
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
    const limit = q.limit === undefined ? undefined : this.constInt(q.limit, 'LIMIT')
    const offset = q.offset === undefined ? 0 : this.constInt(q.offset, 'OFFSET')
    return { plan, orderBy: sort, limit, offset, hidden, reads: this.reads }
  }

  private finishOrder(
    plan: LogicalPlan,
    orderBy: readonly OrderItem[],
    limitExpr: Expr | undefined,
    offsetExpr: Expr | undefined,
  ): BoundQuery {
    const sort: SortKey[] = orderBy.map((o) => {
      const scope = new Scope(plan.columns)
      const e = o.expr
      let column: number
      if (e.kind === 'number') column = this.ordinal(e, plan.columns.length)
      else if (e.kind === 'column') column = scope.resolve(e.table, e.name, e.position)
      else
        throw new SluiceError(SqlState.feature_not_supported, 'ORDER BY on VALUES takes column names or positions', {
          position: e.position,
        })
      return { column, descending: o.descending, nullsFirst: o.nullsFirst ?? o.descending }
    })
    const limit = limitExpr === undefined ? undefined : this.constInt(limitExpr, 'LIMIT')
    const offset = offsetExpr === undefined ? 0 : this.constInt(offsetExpr, 'OFFSET')
    return { plan, orderBy: sort, limit, offset, hidden: 0, reads: this.reads }
  }

  private ordinal(e: Extract<Expr, { kind: 'number' }>, width: number): number {
    const n = Number(e.text)
    if (!Number.isInteger(n) || n < 1 || n > width) {
      throw new SluiceError(SqlState.invalid_column_reference, `position ${e.text} is not in select list`, {
        position: e.position,
      })
    }
    return n - 1
  }

  private bindOrderItems(
    items: readonly OrderItem[],
    targets: { expr: BoundExpr; name: string; ast: string }[],
    ctx: Ctx,
  ): { item: OrderItem; target: number | undefined; expr: BoundExpr | undefined }[] {
    return items.map((item) => {
      const e = item.expr
      if (e.kind === 'number') return { item, target: this.ordinal(e, targets.length), expr: undefined }
      if (e.kind === 'column' && e.table === undefined) {
        const matches = targets.map((t, i) => (t.name === e.name ? i : -1)).filter((i) => i >= 0)
        if (matches.length === 1) return { item, target: matches[0], expr: undefined }
      }
      const key = astKey(e)
      const same = targets.findIndex((t) => t.ast === key)
      if (same >= 0) return { item, target: same, expr: undefined }
      return { item, target: undefined, expr: this.bindExpr(e, ctx) }
    })
  }

  private resolveGroupAlias(g: Expr, targets: readonly SelectTarget[]): Expr {
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

  private findWindowKey(keys: readonly BoundExpr[], scope: Scope): number | undefined {
    let start: number | undefined
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]
      if (key.kind !== 'column') continue
      const name = scope.columns[key.index].name
      if (name === 'window_end' && this.isWindowColumn(scope, key.index)) return k
      if (name === 'window_start' && this.isWindowColumn(scope, key.index)) start ??= k
    }
    return start
  }

  private isWindowColumn(scope: Scope, index: number): boolean {
    return (
      index >= scope.columns.length - 2 &&
      (scope.columns[index].name === 'window_start' || scope.columns[index].name === 'window_end')
    )
  }

  private expandTargets(targets: readonly SelectTarget[], ctx: Ctx): { expr: BoundExpr; name: string; ast: string }[] {
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
      out.push({ expr: this.bindExpr(t.expr, ctx), name: t.alias ?? defaultName(t.expr), ast: astKey(t.expr) })
    }
    const seen = new Set<string>()
    for (const o of out) {
      if (o.expr.type.kind === 'unknown') o.expr = this.coerce(o.expr, T.text, 0)
      seen.add(o.name)
    }
    return out
  }

  // ---- relations ----

  private bindRelation(r: Relation): LogicalPlan {
    switch (r.kind) {
      case 'table': {
        for (let i = this.ctes.length - 1; i >= 0; i--) {
          const cte = r.schema === undefined ? this.ctes[i].get(r.name) : undefined
          if (cte !== undefined) return realias(cte.plan, r.alias ?? r.name)
        }
        const found = this.options.catalog.relation(r.schema, r.name, r.position)
        if (found.kind === 'view') {
          const inner = this.bindQuery(found.query)
          const plan = found.columnNames === undefined ? inner.plan : renameColumns(inner.plan, found.columnNames)
          return realias(plan, r.alias ?? r.name)
        }
        const ref = found.ref
        if (ref.kind === 'source' && !this.options.allowSources) {
          throw new SluiceError(SqlState.feature_not_supported, `source "${ref.name}" cannot be queried directly`, {
            position: r.position,
            hint: 'A source holds no rows; create a materialized view over it and query the view.',
          })
        }
        if (ref.kind !== 'system') this.reads.add(ref.name)
        const alias = r.alias ?? r.name
        return {
          kind: 'scan',
          relation: ref,
          columns: found.columns.map((c) => ({ name: c.name, type: c.type, table: alias, typmod: c.typmod })),
        }
      }
      case 'subquery': {
        const inner = this.bindQuery(r.query)
        if (inner.limit !== undefined || inner.offset > 0)
          throw new SluiceError(SqlState.feature_not_supported, 'LIMIT/OFFSET in a subquery is not supported yet', {
            position: r.position,
          })
        const plan = visible(inner)
        return realias(r.columnAliases === undefined ? plan : renameColumns(plan, r.columnAliases), r.alias)
      }
      case 'window': {
        const input = this.bindRelation(r.relation)
        const scope = new Scope(input.columns)
        const timeColumn = scope.resolve(undefined, r.timeColumn, r.position)
        const type = input.columns[timeColumn].type
        const window = this.windowPlan(r.fn, timeColumn, type, r.args, r.position)
        const alias = r.alias ?? (r.relation.kind === 'table' ? (r.relation.alias ?? r.relation.name) : undefined)
        return {
          kind: 'window',
          input,
          window,
          columns: [
            ...input.columns.map((c) => ({ ...c, table: alias })),
            { name: 'window_start', type, table: alias },
            { name: 'window_end', type, table: alias },
          ],
        }
      }
      case 'join':
        return this.bindJoin(r)
    }
  }

  /**
   * Joins: ON is split into conjuncts; each `left expr = right expr` becomes a key pair (computed
   * into an extra column when it is not a plain column, so both sides hash the same type), the
   * rest is the residual predicate. RIGHT joins are lowered as they are (the operator is
   * symmetric).
   */
  private bindJoin(r: Extract<Relation, { kind: 'join' }>): LogicalPlan {
    if (r.using !== undefined && (r.type === 'right' || r.type === 'full'))
      throw new SluiceError(
        SqlState.feature_not_supported,
        'RIGHT and FULL JOIN ... USING are not supported yet; write ON',
        { position: r.position },
      )
    if (r.left.kind === 'table' && r.left.lookup === true) {
      throw new SluiceError(
        SqlState.feature_not_supported,
        'FOR SYSTEM_TIME AS OF PROCTIME() goes on the table joined to the stream (the right side)',
        { position: r.left.position },
      )
    }
    const lookup = r.right.kind === 'table' && r.right.lookup === true
    if (lookup && r.type !== 'inner' && r.type !== 'left') {
      throw new SluiceError(
        SqlState.feature_not_supported,
        'a lookup join (FOR SYSTEM_TIME AS OF PROCTIME()) must be an inner or left join',
        { position: r.position },
      )
    }
    let left = this.bindRelation(r.left)
    let right = this.bindRelation(r.right)
    const lw = left.columns.length
    const all = [...left.columns, ...right.columns]
    const scope = new Scope(all)
    const conjuncts: BoundExpr[] = []
    if (r.on !== undefined) {
      const on = this.coerce(
        this.bindExpr(r.on, { scope, agg: undefined, noAggregates: 'JOIN conditions' }),
        T.bool,
        r.on.position,
      )
      const split = (e: BoundExpr): void => {
        if (e.kind === 'and') e.args.forEach(split)
        else conjuncts.push(e)
      }
      split(on)
    }
    // USING (a, b): left.a = right.a AND ...; the right side's copies are then hidden, so `a`
    // names the left one (the same value in an inner join, the one PostgreSQL keeps in a left join).
    const usingRight = new Set<number>()
    for (const name of r.using ?? []) {
      const li = new Scope(left.columns).resolve(undefined, name, r.position)
      const ri = new Scope(right.columns).resolve(undefined, name, r.position)
      usingRight.add(lw + ri)
      conjuncts.push(this.call('=', [col(li, left.columns[li].type), col(lw + ri, right.columns[ri].type)], r.position))
    }
    const leftKeyExprs: BoundExpr[] = []
    const rightKeyExprs: BoundExpr[] = []
    const residual: BoundExpr[] = []
    for (const c of conjuncts) {
      if (c.kind === 'call' && c.fn.name === '=' && c.args.length === 2) {
        const a = columnsOf(c.args[0])
        const b = columnsOf(c.args[1])
        const onlyLeft = (s: Set<number>): boolean => s.size > 0 && [...s].every((i) => i < lw)
        const onlyRight = (s: Set<number>): boolean => s.size > 0 && [...s].every((i) => i >= lw)
        if (onlyLeft(a) && onlyRight(b)) {
          leftKeyExprs.push(c.args[0])
          rightKeyExprs.push(remapColumns(c.args[1], (i) => i - lw))
          continue
        }
        if (onlyRight(a) && onlyLeft(b)) {
          leftKeyExprs.push(c.args[1])
          rightKeyExprs.push(remapColumns(c.args[0], (i) => i - lw))
          continue
        }
      }
      residual.push(c)
    }
    // Both sides of a key must hash alike: bring mixed types (int4 = int8) to their common type.
    for (let k = 0; k < leftKeyExprs.length; k++) {
      const lt = leftKeyExprs[k].type
      const rt = rightKeyExprs[k].type
      if (sameType(lt, rt)) continue
      const common = this.commonType([lt, rt], 'JOIN', r.position)
      leftKeyExprs[k] = this.coerce(leftKeyExprs[k], common, r.position, true)
      rightKeyExprs[k] = this.coerce(rightKeyExprs[k], common, r.position, true)
    }
    // Key expressions that are not plain columns become extra trailing columns of their side.
    const extend = (side: LogicalPlan, keys: BoundExpr[]): { plan: LogicalPlan; keys: number[] } => {
      const extra = keys.filter((k) => k.kind !== 'column')
      if (extra.length === 0) return { plan: side, keys: keys.map((k) => (k as { index: number }).index) }
      const exprs: BoundExpr[] = side.columns.map((c, i) => col(i, c.type))
      const out: number[] = keys.map((k) => {
        if (k.kind === 'column') return k.index
        exprs.push(k)
        return exprs.length - 1
      })
      const columns = [
        ...side.columns,
        ...exprs.slice(side.columns.length).map((e) => ({ name: '?key?', type: e.type, hidden: true })),
      ]
      return { plan: { kind: 'project', input: side, exprs, columns }, keys: out }
    }
    const l = extend(left, leftKeyExprs)
    const rr = extend(right, rightKeyExprs)
    left = l.plan
    right = rr.plan
    const lx = left.columns.length - lw
    const remap = (i: number): number => (i < lw ? i : i + lx)
    const residualExpr =
      residual.length === 0
        ? undefined
        : residual.length === 1
          ? remapColumns(residual[0], remap)
          : remapColumns({ kind: 'and', args: residual, type: T.bool }, remap)
    const type = r.type === 'cross' ? 'inner' : r.type
    const nullable = (cols: readonly PlanColumn[]): PlanColumn[] => cols.map((c) => ({ ...c }))
    if (usingRight.size > 0) {
      const hide = (cols: readonly PlanColumn[], offset: number): PlanColumn[] =>
        cols.map((c, i) => (usingRight.has(offset + i) ? { ...c, name: `?using:${c.name}?`, hidden: true } : c))
      right = { ...right, columns: hide(right.columns, lw) }
      all.splice(lw, all.length - lw, ...hide(all.slice(lw), lw))
    }
    const joined: LogicalPlan = {
      kind: 'join',
      type,
      left,
      right,
      leftKeys: l.keys,
      rightKeys: rr.keys,
      residual: residualExpr,
      lookup,
      interval: type === 'inner' && !lookup ? intervalBound(residual, lw, all) : undefined,
      columns: [...nullable(left.columns), ...nullable(right.columns)],
    }
    if (lx === 0 && right.columns.length === all.length - lw) return joined
    // Drop the key helper columns again.
    const keep = [...all.keys()].map(remap)
    return { kind: 'project', input: joined, exprs: keep.map((i) => col(i, joined.columns[i].type)), columns: all }
  }

  private windowPlan(
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
    const durations = args.map((a) => this.duration(a))
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
  private duration(e: Expr): number {
    let micros: number
    if (e.kind === 'string') micros = parseDurationMicros(e.value, e.position)
    else {
      const v = this.constValue(
        this.coerce(this.bindExpr(e, { scope: new Scope([]), agg: undefined }), T.interval, e.position),
      )
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

  // ---- expressions ----

  bindExpr(e: Expr, ctx: Ctx): BoundExpr {
    if (ctx.agg !== undefined) {
      const k = ctx.agg.keyAsts.indexOf(astKey(e))
      if (k >= 0) return col(k, ctx.agg.keys[k].type)
    }
    switch (e.kind) {
      case 'column': {
        let index: number
        try {
          index = ctx.scope.resolve(e.table, e.name, e.position)
        } catch (err) {
          const outer = this.outerReference(e, err)
          if (outer === undefined) throw err
          return outer
        }
        if (ctx.agg === undefined) return col(index, ctx.scope.columns[index].type)
        const k = ctx.agg.keys.findIndex((key) => key.kind === 'column' && key.index === index)
        if (k >= 0) return col(k, ctx.agg.keys[k].type)
        throw new SluiceError(
          SqlState.grouping_error,
          `column "${e.table === undefined ? '' : e.table + '.'}${e.name}" must appear in the GROUP BY clause or be used in an aggregate function`,
          { position: e.position },
        )
      }
      case 'star':
        throw new SluiceError(SqlState.syntax_error, '* is only allowed in a select list or count(*)', {
          position: e.position,
        })
      case 'number':
        return lit(numberLiteral(e.text, e.position))
      case 'string':
        return { kind: 'literal', value: e.value, type: T.unknown }
      case 'bool':
        return { kind: 'literal', value: e.value, type: T.bool }
      case 'null':
        return { kind: 'literal', value: null, type: T.unknown }
      case 'param': {
        const declared = this.options.paramTypes[e.index - 1]
        return { kind: 'param', index: e.index - 1, type: declared ?? T.unknown }
      }
      case 'cast': {
        if (isRegType(e.type.name) || (e.expr.kind === 'cast' && isRegType(e.expr.type.name))) {
          return bindRegCast(
            e,
            (x) => this.bindExpr(x, ctx),
            this.options.catalog,
            (x, t, p) => this.coerce(x, t, p, true),
            (n, a, p) => this.typeOf(n, a, p),
          )
        }
        const target = this.typeOf(e.type.name, e.type.array, e.type.position)
        if (
          e.type.intervalUnit !== undefined &&
          e.expr.kind === 'string' &&
          /^\s*[+-]?\d+(\.\d+)?\s*$/.test(e.expr.value)
        ) {
          return this.coerce(
            { kind: 'literal', value: `${e.expr.value.trim()} ${e.type.intervalUnit}`, type: T.unknown },
            target,
            e.position,
            true,
          )
        }
        return withTypeMod(this.coerce(this.bindExpr(e.expr, ctx), target, e.position, true), e.type)
      }
      case 'op':
        if (e.args.length > 2)
          return this.chain(
            e.op,
            e.args.map((a) => this.bindExpr(a, ctx)),
            e.position,
          )
        return this.call(
          e.op,
          e.args.map((a) => this.bindExpr(a, ctx)),
          e.position,
          e.args,
        )
      case 'and':
      case 'or':
        return {
          kind: e.kind,
          args: e.args.map((a) => this.coerce(this.bindExpr(a, ctx), T.bool, a.position)),
          type: T.bool,
        }
      case 'not':
        return { kind: 'not', arg: this.coerce(this.bindExpr(e.arg, ctx), T.bool, e.arg.position), type: T.bool }
      case 'is_null':
        return { kind: 'is_null', arg: this.bindExpr(e.arg, ctx), negated: e.negated, type: T.bool }
      case 'is_bool':
        return {
          kind: 'is_bool',
          arg: this.coerce(this.bindExpr(e.arg, ctx), T.bool, e.arg.position),
          value: e.value,
          negated: e.negated,
          type: T.bool,
        }
      case 'is_distinct': {
        const [left, right] = this.unify(
          [this.bindExpr(e.left, ctx), this.bindExpr(e.right, ctx)],
          'IS DISTINCT FROM',
          e.position,
        )
        return { kind: 'is_distinct', left, right, negated: e.negated, type: T.bool }
      }
      case 'between': {
        const [arg, low, high] = this.unify(
          [this.bindExpr(e.arg, ctx), this.bindExpr(e.low, ctx), this.bindExpr(e.high, ctx)],
          'BETWEEN',
          e.position,
        )
        const range: BoundExpr = {
          kind: 'and',
          args: [this.call('>=', [arg, low], e.position), this.call('<=', [arg, high], e.position)],
          type: T.bool,
        }
        return e.negated ? { kind: 'not', arg: range, type: T.bool } : range
      }
      case 'in_list': {
        const all = this.unify(
          [this.bindExpr(e.arg, ctx), ...e.list.map((x) => this.bindExpr(x, ctx))],
          'IN',
          e.position,
        )
        return { kind: 'in_list', arg: all[0], list: all.slice(1), negated: e.negated, type: T.bool }
      }
      case 'case': {
        const whens = e.whens.map((w) => ({
          when:
            e.operand === undefined
              ? this.coerce(this.bindExpr(w.when, ctx), T.bool, w.when.position)
              : this.call('=', [this.bindExpr(e.operand, ctx), this.bindExpr(w.when, ctx)], w.when.position),
          then: this.bindExpr(w.then, ctx),
        }))
        const elseExpr = e.else === undefined ? undefined : this.bindExpr(e.else, ctx)
        const results = [...whens.map((w) => w.then), ...(elseExpr === undefined ? [] : [elseExpr])]
        const type = this.commonType(
          results.map((r) => r.type),
          'CASE',
          e.position,
        )
        return {
          kind: 'case',
          whens: whens.map((w) => ({ when: w.when, then: this.coerce(w.then, type, e.position) })),
          else: elseExpr === undefined ? undefined : this.coerce(elseExpr, type, e.position),
          type,
        }
      }
      case 'coalesce':
      case 'greatest':
      case 'least': {
        const args = this.unify(
          e.args.map((a) => this.bindExpr(a, ctx)),
          e.kind.toUpperCase(),
          e.position,
        )
        return { kind: e.kind, args, type: args[0].type }
      }
      case 'nullif': {
        const [left, right] = this.unify(
          [this.bindExpr(e.left, ctx), this.bindExpr(e.right, ctx)],
          'NULLIF',
          e.position,
        )
        return { kind: 'nullif', left, right, type: left.type }
      }
      case 'func':
        return this.bindFunc(e, ctx)
      case 'subquery':
        return this.bindSubquery(e, ctx)
      case 'array': {
        const items = this.unify(
          e.items.map((x) => this.bindExpr(x, ctx)),
          'ARRAY',
          e.position,
        )
        const element = items[0]?.type ?? T.text
        if (items.every((i) => i.kind === 'literal'))
          return { kind: 'literal', value: items.map((i) => (i as { value: Value }).value), type: arrayOf(element) }
        throw new SluiceError(
          SqlState.feature_not_supported,
          'ARRAY[...] with non-constant elements is not supported yet',
          { position: e.position },
        )
      }
    }
  }

  /** A subquery in an expression: bound with outer references as parameters, run per outer row. */
  private bindSubquery(e: Extract<Expr, { kind: 'subquery' }>, ctx: Ctx): BoundExpr {
    const runner = this.options.subqueries
    if (runner === undefined) {
      throw new SluiceError(
        SqlState.feature_not_supported,
        'subqueries in expressions are not supported in views yet (only in queries); join instead',
        { position: e.position },
      )
    }
    const frame = { ctx, outer: [] as BoundExpr[], keys: [] as string[] }
    this.frames.push(frame)
    let inner: BoundQuery
    try {
      inner = this.bindQuery(e.query)
    } finally {
      this.frames.pop()
    }
    if (e.mode !== 'in') return subqueryCall(e.mode, inner, frame.outer, runner, e.position)
    const innerType = inner.plan.columns[0]?.type ?? T.unknown
    const test = this.bindExpr(e.arg!, ctx)
    const type = this.commonType([test.type, innerType], 'IN', e.position)
    return subqueryCall('in', inner, frame.outer, runner, e.position, this.coerce(test, type, e.position), type)
  }

  /**
   * A column the current scope lacks, looked up in the queries enclosing the subquery being bound
   * (the innermost first); it becomes a parameter of that subquery. Undefined when not found.
   */
  private outerReference(e: Extract<Expr, { kind: 'column' }>, err: unknown): BoundExpr | undefined {
    if (this.frames.length === 0 || !(err instanceof SluiceError)) return undefined
    if (err.code !== SqlState.undefined_column && err.code !== SqlState.undefined_table) return undefined
    const frame = this.frames.pop()!
    try {
      let outer: BoundExpr
      try {
        outer = this.bindExpr(e, frame.ctx)
      } catch {
        return undefined
      }
      const key = outer.kind === 'column' || outer.kind === 'param' ? `${outer.kind}:${outer.index}` : JSON.stringify(e)
      let k = frame.keys.indexOf(key)
      if (k < 0) {
        frame.keys.push(key)
        frame.outer.push(outer)
        k = frame.outer.length - 1
      }
      return { kind: 'param', index: OUTER_PARAM_BASE + k, type: outer.type }
    } finally {
      this.frames.push(frame)
    }
  }

  private bindFunc(e: Extract<Expr, { kind: 'func' }>, ctx: Ctx): BoundExpr {
    if (e.over !== undefined && ctx.window !== undefined && astKey(e) === ctx.window.ast)
      return col(ctx.window.index, T.int8)
    if (e.over !== undefined)
      throw new SluiceError(SqlState.feature_not_supported, `window function ${e.name}() is not supported yet`, {
        position: e.position,
      })
    if (WINDOW_FNS.has(e.name))
      throw new SluiceError(SqlState.syntax_error, `${e.name.toUpperCase()} belongs in GROUP BY or FROM`, {
        position: e.position,
      })
    if (AGGREGATES.has(e.name) && (e.schema === undefined || e.schema === 'pg_catalog')) {
      if (ctx.agg === undefined) {
        throw new SluiceError(
          SqlState.grouping_error,
          `aggregate functions are not allowed in ${ctx.noAggregates ?? 'this context'}`,
          { position: e.position },
        )
      }
      if (e.filter !== undefined)
        throw new SluiceError(SqlState.feature_not_supported, 'FILTER on aggregates is not supported yet', {
          position: e.position,
        })
      const ast = astKey(e)
      const existing = ctx.agg.calls.findIndex((c) => c.ast === ast)
      const keyCount = ctx.agg.keys.length
      if (existing >= 0) return col(keyCount + existing, ctx.agg.calls[existing].spec.returnType)
      const inner: Ctx = { scope: ctx.agg.inputScope, agg: undefined, noAggregates: 'aggregate arguments' }
      let args = e.star ? [] : e.args.map((a) => this.bindExpr(a, inner))
      args = args.map((a) => (a.type.kind === 'unknown' ? this.coerce(a, T.text, e.position) : a))
      const name = e.name === 'every' ? 'bool_and' : e.name
      const spec = resolveAggregate(
        name,
        args.map((a) => a.type),
        e.distinct,
      )
      if (spec === undefined) {
        throw new SluiceError(
          SqlState.undefined_function,
          `function ${e.name}(${args.map((a) => formatTypeName(a.type)).join(', ')}) does not exist`,
          { position: e.position },
        )
      }
      args = args.map((a, i) => this.coerce(a, spec.argTypes[i] ?? a.type, e.position))
      const label = `${e.name}(${e.star ? '*' : (e.distinct ? 'DISTINCT ' : '') + e.args.map(defaultName).join(', ')})`
      ctx.agg.calls.push({ spec, args, label, ast })
      return col(keyCount + ctx.agg.calls.length - 1, spec.returnType)
    }
    if (e.star)
      throw new SluiceError(SqlState.syntax_error, `${e.name}(*) is only valid for aggregates`, {
        position: e.position,
      })
    if (e.distinct)
      throw new SluiceError(SqlState.syntax_error, `DISTINCT specified, but ${e.name} is not an aggregate function`, {
        position: e.position,
      })
    const args = e.args.map((a) => this.bindExpr(a, ctx))
    return this.options.catalog.catalogFunction?.(e.name, args) ?? this.call(e.name, args, e.position)
  }

  /** Resolves a function or operator and inserts the argument casts it asks for. */
  /**
   * `a + b + c + ...` (the converter's n-ary chain), applied left to right as PostgreSQL does.
   * A long chain of one exactly associative operation over one type (integer and numeric `+`
   * and `*`, text `||`) is nested as a balanced tree instead: the same value with depth log n, so
   * the recursive passes over bound expressions and the code they compile to stay shallow for
   * thousands of terms. The one difference: an integer chain whose running total overflows
   * part-way but not at the end may succeed here where PostgreSQL reports 22003.
   */
  private chain(op: string, args: BoundExpr[], position: number): BoundExpr {
    const target = args.length > BALANCED_CHAIN ? associativeType(op, args) : undefined
    if (target !== undefined) {
      // Every term in the type the left-to-right chain would end in (a wider integer type or
      // numeric appears at most earlier than it would have).
      let level = args.map((a) => (a.type.kind === target.kind ? a : this.coerce(a, target, position)))
      while (level.length > 1) {
        const next: BoundExpr[] = []
        for (let i = 0; i + 1 < level.length; i += 2) next.push(this.call(op, [level[i], level[i + 1]], position))
        if (level.length % 2 === 1) next.push(level[level.length - 1])
        level = next
      }
      return level[0]
    }
    let acc = args[0]
    for (let i = 1; i < args.length; i++) acc = this.call(op, [acc, args[i]], position)
    return acc
  }

  private call(name: string, args: BoundExpr[], position: number, _asts?: readonly Expr[]): BoundExpr {
    if ((name === '=' || name === '<>') && args.length === 2 && args.some((a) => a.type.kind === 'array')) {
      // Arrays compare element by element (`polroles = '{0}'`); no overload in the registry covers them.
      const [left, right] = this.unify(args, `operator ${name}`, position)
      const type = left.type
      const negate = name === '<>'
      return {
        kind: 'call',
        fn: {
          name,
          argTypes: [type, type],
          returnType: T.bool,
          strict: true,
          impl: (a: Value, b: Value) => valuesEqual(a, b, type) !== negate,
        },
        args: [left, right],
        type: T.bool,
      }
    }
    if (name === '||' && args.length === 2 && args.every((a) => a.type.kind === 'array')) {
      const [left, right] = this.unify(args, 'operator ||', position)
      const type = left.type
      // PostgreSQL's array_cat: a NULL array is taken as empty, both NULL give NULL.
      const cat = (a: Value, b: Value): Value =>
        a === null ? b : b === null ? a : [...(a as Value[]), ...(b as Value[])]
      return {
        kind: 'call',
        fn: { name, argTypes: [type, type], returnType: type, strict: false, impl: cat },
        args: [left, right],
        type,
      }
    }
    let resolved = resolveFunction(
      name,
      args.map((a) => a.type),
    )
    if (resolved === undefined && args.some((a) => a.type.kind === 'unknown')) {
      // Untyped literals default to text, as PostgreSQL does when nothing else decides.
      args = args.map((a) => (a.type.kind === 'unknown' ? this.coerce(a, T.text, position) : a))
      resolved = resolveFunction(
        name,
        args.map((a) => a.type),
      )
    }
    if (resolved === undefined) {
      const types = args.map((a) => formatTypeName(a.type))
      const isOp = !/^[a-z_][a-z0-9_]*$/.test(name)
      const message = isOp
        ? `operator does not exist: ${types.length === 1 ? `${name} ${types[0]}` : `${types[0]} ${name} ${types[1]}`}`
        : `function ${name}(${types.join(', ')}) does not exist`
      throw new SluiceError(SqlState.undefined_function, message, {
        position,
        hint: 'No function matches the given name and argument types. You might need to add explicit type casts.',
      })
    }
    const cast = args.map((a, i) => this.coerce(a, resolved.argTypes[i] ?? a.type, position))
    return { kind: 'call', fn: resolved.fn, args: cast, type: resolved.fn.returnType }
  }

  /** Casts `e` to `target`: literals fold at bind time, parameters take the type. */
  coerce(e: BoundExpr, target: DataType, position: number, explicit = false): BoundExpr {
    if (sameType(e.type, target)) return e
    if (e.kind === 'param' && e.type.kind === 'unknown') {
      this.options.paramTypes[e.index] = target
      return { ...e, type: target }
    }
    if (e.kind === 'literal') {
      try {
        return {
          kind: 'literal',
          value:
            e.value === null
              ? null
              : castValue(e.value, e.type.kind === 'unknown' ? T.text : e.type, target, this.options.compile.timezone),
          type: target,
        }
      } catch (err) {
        if (err instanceof SluiceError && err.position === undefined) err.position = position
        throw err
      }
    }
    if (!explicit && target.kind === 'bool' && e.type.kind !== 'unknown') {
      throw new SluiceError(
        SqlState.datatype_mismatch,
        `argument must be type boolean, not type ${formatTypeName(e.type)}`,
        { position },
      )
    }
    return { kind: 'cast', expr: e, type: target }
  }

  private unify(args: BoundExpr[], what: string, position: number): BoundExpr[] {
    const type = this.commonType(
      args.map((a) => a.type),
      what,
      position,
    )
    return args.map((a) => this.coerce(a, type, position))
  }

  /** PostgreSQL's select_common_type, for the types Sluice has. */
  private commonType(types: readonly DataType[], what: string, position: number): DataType {
    const known = types.filter((t) => t.kind !== 'unknown')
    if (known.length === 0) return T.text
    let best = known[0]
    for (const t of known.slice(1)) {
      if (sameType(t, best)) continue
      const a = NUMERIC_RANK[best.kind]
      const b = NUMERIC_RANK[t.kind]
      if (a !== undefined && b !== undefined) {
        if (b > a) best = t
        continue
      }
      const pair = new Set([best.kind, t.kind])
      if (pair.has('timestamptz') && (pair.has('timestamp') || pair.has('date'))) best = T.timestamptz
      else if (pair.has('timestamp') && pair.has('date')) best = T.timestamp
      else
        throw new SluiceError(
          SqlState.datatype_mismatch,
          `${what} types ${formatTypeName(best)} and ${formatTypeName(t)} cannot be matched`,
          { position },
        )
    }
    return best
  }

  private typeOf(name: string, array: boolean, position: number): DataType {
    const t = typeFromName(name)
    if (t === undefined) throw new SluiceError(SqlState.undefined_object, `type "${name}" does not exist`, { position })
    return array ? arrayOf(t) : t
  }

  private constValue(e: BoundExpr): Value {
    return evalConst(e, this.options.compile)
  }

  private constInt(e: Expr, what: string): number {
    const v = this.constValue(this.bindExpr(e, { scope: new Scope([]), agg: undefined, noAggregates: what }))
    const n = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : v === null ? undefined : Number(String(v))
    if (n === undefined) return Number.MAX_SAFE_INTEGER
    if (!Number.isInteger(n) || n < 0)
      throw new SluiceError(SqlState.invalid_parameter_value, `${what} must not be negative`, { position: e.position })
    return n
  }
}

function visible(q: BoundQuery): LogicalPlan {
  if (q.hidden === 0) return q.plan
  const width = q.plan.columns.length - q.hidden
  return {
    kind: 'project',
    input: q.plan,
    exprs: q.plan.columns.slice(0, width).map((c, i) => col(i, c.type)),
    columns: q.plan.columns.slice(0, width),
  }
}

/** A SESSION window at the top of a FROM/WHERE plan, with filters below it moved under it. */
function sessionWindow(plan: LogicalPlan): { window: WindowPlan; input: LogicalPlan } | undefined {
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

function col(index: number, type: DataType): BoundExpr {
  return { kind: 'column', index, type }
}

function lit(v: { value: Value; type: DataType }): BoundExpr {
  return { kind: 'literal', value: v.value, type: v.type }
}

function numberLiteral(text: string, position: number): { value: Value; type: DataType } {
  // PostgreSQL folds a leading minus into integer constants (-7 is an integer, not numeric).
  if (/^-?\d+$/.test(text)) {
    const n = BigInt(text)
    if (n >= -2147483648n && n <= 2147483647n) return { value: Number(n), type: T.int4 }
    if (n >= -9223372036854775808n && n <= 9223372036854775807n) return { value: n, type: T.int8 }
  }
  try {
    return { value: Decimal.fromString(text), type: T.numeric }
  } catch (e) {
    if (e instanceof SluiceError) e.position = position
    throw e
  }
}

function sameType(a: DataType, b: DataType): boolean {
  if (a.kind === 'array' || b.kind === 'array')
    return a.kind === 'array' && b.kind === 'array' && sameType(a.element, b.element)
  return a.kind === b.kind
}

/** A structural key of an AST expression, ignoring positions (to match GROUP BY expressions). */
export function astKey(e: Expr): string {
  return JSON.stringify(e, (k, v: unknown) => (k === 'position' ? undefined : v))
}

/** The window-function calls (with OVER) in an expression. */
function windowCallsIn(e: Expr): Extract<Expr, { kind: 'func' }>[] {
  const out: Extract<Expr, { kind: 'func' }>[] = []
  const walk = (x: unknown): void => {
    if (x === null || typeof x !== 'object') return
    if (Array.isArray(x)) {
      x.forEach(walk)
      return
    }
    const node = x as { kind?: string; over?: unknown }
    if (node.kind === 'subquery') return
    if (node.kind === 'func' && node.over !== undefined) out.push(node as Extract<Expr, { kind: 'func' }>)
    for (const v of Object.values(node)) walk(v)
  }
  walk(e)
  return out
}

function containsAggregate(e: Expr): boolean {
  if (e.kind === 'func' && AGGREGATES.has(e.name) && e.over === undefined) return true
  if (e.kind === 'subquery') return false
  for (const v of Object.values(e)) {
    if (Array.isArray(v)) {
      for (const x of v)
        if (x !== null && typeof x === 'object' && 'kind' in x && containsAggregate(x as Expr)) return true
      for (const x of v)
        if (
          x !== null &&
          typeof x === 'object' &&
          'when' in x &&
          (containsAggregate((x as { when: Expr }).when) || containsAggregate((x as { then: Expr }).then))
        )
          return true
    } else if (v !== null && typeof v === 'object' && 'kind' in v && containsAggregate(v as Expr)) return true
  }
  return false
}

/** PostgreSQL's default output column name for an expression. */
export function defaultName(e: Expr): string {
  switch (e.kind) {
    case 'column':
      return e.name
    case 'func':
      return e.name === 'now' ? 'now' : e.name
    case 'cast':
      return e.expr.kind === 'column' || e.expr.kind === 'func' || e.expr.kind === 'cast'
        ? defaultName(e.expr)
        : e.type.name === 'int4'
          ? 'int4'
          : e.type.name
    case 'case':
      return 'case'
    case 'coalesce':
    case 'greatest':
    case 'least':
    case 'nullif':
      return e.kind
    case 'subquery':
      return e.mode === 'exists' || e.mode === 'array' ? e.mode : '?column?'
    case 'array':
      return 'array'
    default:
      return '?column?'
  }
}

function keyName(key: BoundExpr, scope: Scope): string {
  return key.kind === 'column' ? scope.columns[key.index].name : '?column?'
}

function realias(plan: LogicalPlan, alias: string | undefined): LogicalPlan {
  return { ...plan, columns: plan.columns.map((c) => ({ ...c, table: alias })) }
}

function renameColumns(plan: LogicalPlan, names: readonly string[]): LogicalPlan {
  return { ...plan, columns: plan.columns.map((c, i) => ({ ...c, name: names[i] ?? c.name })) }
}
