/**
 * Subqueries in expressions (scalar, EXISTS, IN) for pull queries. The inner query is bound once;
 * its references to columns of enclosing queries become parameters past OUTER_PARAM_BASE, and the
 * subquery itself becomes a call whose arguments are those outer values (so it moves through
 * plans and column remapping like any other call). Each call runs the inner query as a pull query
 * with the outer values bound, remembering the answer per distinct outer values within the
 * statement.
 *
 * This is for the catalog queries psql, JDBC and BI tools send (small relations, few rows), not a
 * decorrelating planner: views refuse subqueries in expressions.
 */
import type { BoundExpr } from '../expr/bound.ts'
import type { ResolvedFunction } from '../expr/registry.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { BoundQuery } from './binder.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { T, arrayOf } from '../types/datatype.ts'
import { castValue } from '../types/cast.ts'
import { valuesEqual } from '../types/compare.ts'

/** Outer references of a subquery are parameters from here on ($1..$65535 are the client's). */
export const OUTER_PARAM_BASE = 65_536

/** Runs a bound query with parameters (the statement's, plus outer values past OUTER_PARAM_BASE). */
export type SubqueryRunner = (query: BoundQuery, outer: readonly Value[]) => Value[][]

export type SubqueryMode = 'scalar' | 'exists' | 'in' | 'array'

/** A memo of inner results by outer values; a string key per row is fine at catalog sizes. */
function memo(run: (outer: readonly Value[]) => Value[][]): (outer: readonly Value[]) => Value[][] {
  const seen = new Map<string, Value[][]>()
  return (outer) => {
    if (outer.length === 0) {
      const hit = seen.get('')
      if (hit !== undefined) return hit
    }
    const key =
      outer.length === 0 ? '' : JSON.stringify(outer, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))
    let rows = seen.get(key)
    if (rows === undefined) {
      rows = run(outer)
      if (seen.size > 10_000) seen.clear()
      seen.set(key, rows)
    }
    return rows
  }
}

/**
 * The call for a subquery: `outer` are the outer expressions the inner query reads (as
 * parameters OUTER_PARAM_BASE + i), `test` the left side of IN (already of type `inType`).
 */
export function subqueryCall(
  mode: SubqueryMode,
  query: BoundQuery,
  outer: readonly BoundExpr[],
  runner: SubqueryRunner,
  position: number,
  test?: BoundExpr,
  inType?: DataType,
): BoundExpr {
  const width = query.plan.columns.length - query.hidden
  if (mode !== 'exists' && width !== 1)
    throw new SluiceError(SqlState.syntax_error, 'subquery must return only one column', { position })
  const innerType = query.plan.columns[0]?.type ?? T.unknown
  const run = memo((values) => runner(query, values))
  const fn = (
    name: string,
    returnType: DataType,
    argTypes: readonly DataType[],
    impl: (...args: Value[]) => Value,
  ): ResolvedFunction => ({ name, argTypes, returnType, strict: false, impl })
  const outerTypes = outer.map((o) => o.type)
  switch (mode) {
    case 'scalar':
      return {
        kind: 'call',
        fn: fn('subquery', innerType, outerTypes, (...values) => {
          const rows = run(values)
          if (rows.length > 1)
            throw new SluiceError(
              SqlState.cardinality_violation,
              'more than one row returned by a subquery used as an expression',
            )
          return rows.length === 0 ? null : rows[0][0]
        }),
        args: outer,
        type: innerType,
      }
    case 'array':
      return {
        kind: 'call',
        fn: fn('array', arrayOf(innerType), outerTypes, (...values) => run(values).map((r) => r[0])),
        args: outer,
        type: arrayOf(innerType),
      }
    case 'exists':
      return {
        kind: 'call',
        fn: fn('exists', T.bool, outerTypes, (...values) => run(values).length > 0),
        args: outer,
        type: T.bool,
      }
    case 'in': {
      const type = inType ?? innerType
      const convert = (v: Value): Value =>
        v === null || innerType.kind === type.kind ? v : castValue(v, innerType, type)
      return {
        kind: 'call',
        fn: fn('in', T.bool, [type, ...outerTypes], (x, ...values) => {
          const rows = run(values)
          if (rows.length === 0) return false
          if (x === null) return null
          let sawNull = false
          for (const r of rows) {
            const v = convert(r[0])
            if (v === null) sawNull = true
            else if (valuesEqual(x, v, type)) return true
          }
          return sawNull ? null : false
        }),
        args: [test!, ...outer],
        type: T.bool,
      }
    }
  }
}
