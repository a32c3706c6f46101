/**
 * Query bodies other than SELECT: VALUES lists and set operations (UNION, INTERSECT, EXCEPT),
 * whose columns take the common type of both sides.
 */
import type { Query } from '../sql/tree.ts'
import type { DataType } from '../types/datatype.ts'
import type { LogicalPlan } from './logical.ts'
import type { Binder, BoundQuery } from './binder.ts'
import { Scope } from './scope.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { bindExpr } from './bind-expr.ts'
import { finishOrder, visible } from './bind-output.ts'
import { coerce, commonType, constValue, sameType, col } from './bind-types.ts'

export function bindValues(b: Binder, q: Extract<Query, { kind: 'values' }>): BoundQuery {
  const rows = q.rows.map((r) =>
    r.map((e) => bindExpr(b, e, { scope: new Scope([]), agg: undefined, noAggregates: 'VALUES' })),
  )
  const width = rows[0]?.length ?? 0
  const types: DataType[] = []
  for (let c = 0; c < width; c++)
    types.push(
      commonType(
        rows.map((r) => r[c].type),
        'VALUES',
        q.rows[0][c].position,
      ),
    )
  const values = rows.map((r) => r.map((e, c) => constValue(b, coerce(b, e, types[c], q.rows[0][c].position))))
  const plan: LogicalPlan = {
    kind: 'values',
    rows: values,
    columns: types.map((t, c) => ({ name: `column${c + 1}`, type: t })),
  }
  return finishOrder(b, plan, q.orderBy, q.limit, q.offset)
}

export function bindSetOp(b: Binder, q: Extract<Query, { kind: 'set_op' }>): BoundQuery {
  const left = b.bindQuery(q.left)
  const right = b.bindQuery(q.right)
  const l = visible(left)
  const r = visible(right)
  const word = q.op.toUpperCase()
  if (l.columns.length !== r.columns.length)
    throw new SluiceError(SqlState.syntax_error, `each ${word} query must have the same number of columns`)
  const types = l.columns.map((c, i) => commonType([c.type, r.columns[i].type], word, 0))
  const cast = (p: LogicalPlan): LogicalPlan =>
    p.columns.every((c, i) => sameType(c.type, types[i]))
      ? p
      : {
          kind: 'project',
          input: p,
          exprs: p.columns.map((c, i) => coerce(b, col(i, c.type), types[i], 0, true)),
          columns: p.columns.map((c, i) => ({ name: c.name, type: types[i] })),
        }
  const columns = l.columns.map((c, i) => ({ name: c.name, type: types[i] }))
  if (q.op !== 'union')
    return finishOrder(
      b,
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
  return finishOrder(b, plan, q.orderBy, q.limit, q.offset)
}
