/**
 * FROM: tables, views and CTEs by name, derived tables, window relations and joins (equality
 * conjuncts become join keys, the rest the residual).
 */
import type { Relation } from '../sql/tree.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { LogicalPlan, PlanColumn } from './logical.ts'
import type { Binder } from './binder.ts'
import { Scope } from './scope.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { T } from '../types/datatype.ts'
import { columnsOf, remapColumns } from '../expr/remap.ts'
import { intervalBound } from './interval-bound.ts'
import { call } from './bind-call.ts'
import { bindExpr } from './bind-expr.ts'
import { visible } from './bind-output.ts'
import { coerce, commonType, sameType, col } from './bind-types.ts'
import { windowPlan } from './bind-window.ts'

export function bindRelation(b: Binder, r: Relation): LogicalPlan {
  switch (r.kind) {
    case 'table': {
      for (let i = b.ctes.length - 1; i >= 0; i--) {
        const cte = r.schema === undefined ? b.ctes[i].get(r.name) : undefined
        if (cte !== undefined) return realias(cte.plan, r.alias ?? r.name)
      }
      const found = b.options.catalog.relation(r.schema, r.name, r.position)
      if (found.kind === 'view') {
        const inner = b.bindQuery(found.query)
        const plan = found.columnNames === undefined ? inner.plan : renameColumns(inner.plan, found.columnNames)
        return realias(plan, r.alias ?? r.name)
      }
      const ref = found.ref
      if (ref.kind === 'source' && !b.options.allowSources) {
        throw new SluiceError(SqlState.feature_not_supported, `source "${ref.name}" cannot be queried directly`, {
          position: r.position,
          hint: 'A source holds no rows; create a materialized view over it and query the view.',
        })
      }
      if (ref.kind !== 'system') b.reads.add(ref.name)
      const alias = r.alias ?? r.name
      return {
        kind: 'scan',
        relation: ref,
        columns: found.columns.map((c) => ({ name: c.name, type: c.type, table: alias, typmod: c.typmod })),
      }
    }
    case 'subquery': {
      const inner = b.bindQuery(r.query)
      if (inner.limit !== undefined || inner.offset > 0)
        throw new SluiceError(SqlState.feature_not_supported, 'LIMIT/OFFSET in a subquery is not supported yet', {
          position: r.position,
        })
      const plan = visible(inner)
      return realias(r.columnAliases === undefined ? plan : renameColumns(plan, r.columnAliases), r.alias)
    }
    case 'window': {
      const input = bindRelation(b, r.relation)
      const scope = new Scope(input.columns)
      const timeColumn = scope.resolve(undefined, r.timeColumn, r.position)
      const type = input.columns[timeColumn].type
      const window = windowPlan(b, r.fn, timeColumn, type, r.args, r.position)
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
      return bindJoin(b, r)
  }
}

/**
 * Joins: ON is split into conjuncts; each `left expr = right expr` becomes a key pair (computed
 * into an extra column when it is not a plain column, so both sides hash the same type), the
 * rest is the residual predicate. RIGHT joins are lowered as they are (the operator is
 * symmetric).
 */
function bindJoin(b: Binder, r: Extract<Relation, { kind: 'join' }>): LogicalPlan {
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
  let left = bindRelation(b, r.left)
  let right = bindRelation(b, r.right)
  const lw = left.columns.length
  const all = [...left.columns, ...right.columns]
  const scope = new Scope(all)
  const conjuncts: BoundExpr[] = []
  if (r.on !== undefined) {
    const on = coerce(
      b,
      bindExpr(b, r.on, { scope, agg: undefined, noAggregates: 'JOIN conditions' }),
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
    conjuncts.push(call(b, '=', [col(li, left.columns[li].type), col(lw + ri, right.columns[ri].type)], r.position))
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
    const common = commonType([lt, rt], 'JOIN', r.position)
    leftKeyExprs[k] = coerce(b, leftKeyExprs[k], common, r.position, true)
    rightKeyExprs[k] = coerce(b, rightKeyExprs[k], common, r.position, true)
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

function realias(plan: LogicalPlan, alias: string | undefined): LogicalPlan {
  return { ...plan, columns: plan.columns.map((c) => ({ ...c, table: alias })) }
}

function renameColumns(plan: LogicalPlan, names: readonly string[]): LogicalPlan {
  return { ...plan, columns: plan.columns.map((c, i) => ({ ...c, name: names[i] ?? c.name })) }
}
