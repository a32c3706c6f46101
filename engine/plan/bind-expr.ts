/**
 * Expressions: statement-tree expressions → typed bound expressions, including aggregate calls
 * (collected into the SELECT's aggregation), subqueries and their outer references.
 */
import type { Expr } from '../sql/tree.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { Value } from '../types/datatype.ts'
import type { Binder, Ctx, BoundQuery } from './binder.ts'
import { Scope } from './scope.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { T, arrayOf } from '../types/datatype.ts'
import { formatTypeName } from '../types/oid.ts'
import { resolveAggregate } from '../expr/aggregates.ts'
import { OUTER_PARAM_BASE, subqueryCall } from './subquery.ts'
import { bindRegCast, isRegType } from './reg-cast.ts'
import { withTypeMod } from './typmod-cast.ts'
import { AGGREGATES, WINDOW_FNS, astKey, defaultName } from './bind-ast.ts'
import { chain, call } from './bind-call.ts'
import { coerce, unify, commonType, typeOf, constValue, numberLiteral, col, lit } from './bind-types.ts'

export function bindExpr(b: Binder, e: Expr, ctx: Ctx): BoundExpr {
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
        const outer = outerReference(b, e, err)
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
      const declared = b.options.paramTypes[e.index - 1]
      return { kind: 'param', index: e.index - 1, type: declared ?? T.unknown }
    }
    case 'cast': {
      if (isRegType(e.type.name) || (e.expr.kind === 'cast' && isRegType(e.expr.type.name))) {
        return bindRegCast(
          e,
          (x) => bindExpr(b, x, ctx),
          b.options.catalog,
          (x, t, p) => coerce(b, x, t, p, true),
          (n, a, p) => typeOf(n, a, p),
        )
      }
      const target = typeOf(e.type.name, e.type.array, e.type.position)
      if (
        e.type.intervalUnit !== undefined &&
        e.expr.kind === 'string' &&
        /^\s*[+-]?\d+(\.\d+)?\s*$/.test(e.expr.value)
      ) {
        return coerce(
          b,
          { kind: 'literal', value: `${e.expr.value.trim()} ${e.type.intervalUnit}`, type: T.unknown },
          target,
          e.position,
          true,
        )
      }
      return withTypeMod(coerce(b, bindExpr(b, e.expr, ctx), target, e.position, true), e.type)
    }
    case 'op':
      if (e.args.length > 2)
        return chain(
          b,
          e.op,
          e.args.map((a) => bindExpr(b, a, ctx)),
          e.position,
        )
      return call(
        b,
        e.op,
        e.args.map((a) => bindExpr(b, a, ctx)),
        e.position,
        e.args,
      )
    case 'and':
    case 'or':
      return {
        kind: e.kind,
        args: e.args.map((a) => coerce(b, bindExpr(b, a, ctx), T.bool, a.position)),
        type: T.bool,
      }
    case 'not':
      return { kind: 'not', arg: coerce(b, bindExpr(b, e.arg, ctx), T.bool, e.arg.position), type: T.bool }
    case 'is_null':
      return { kind: 'is_null', arg: bindExpr(b, e.arg, ctx), negated: e.negated, type: T.bool }
    case 'is_bool':
      return {
        kind: 'is_bool',
        arg: coerce(b, bindExpr(b, e.arg, ctx), T.bool, e.arg.position),
        value: e.value,
        negated: e.negated,
        type: T.bool,
      }
    case 'is_distinct': {
      const [left, right] = unify(
        b,
        [bindExpr(b, e.left, ctx), bindExpr(b, e.right, ctx)],
        'IS DISTINCT FROM',
        e.position,
      )
      return { kind: 'is_distinct', left, right, negated: e.negated, type: T.bool }
    }
    case 'between': {
      const [arg, low, high] = unify(
        b,
        [bindExpr(b, e.arg, ctx), bindExpr(b, e.low, ctx), bindExpr(b, e.high, ctx)],
        'BETWEEN',
        e.position,
      )
      const range: BoundExpr = {
        kind: 'and',
        args: [call(b, '>=', [arg, low], e.position), call(b, '<=', [arg, high], e.position)],
        type: T.bool,
      }
      return e.negated ? { kind: 'not', arg: range, type: T.bool } : range
    }
    case 'in_list': {
      const all = unify(b, [bindExpr(b, e.arg, ctx), ...e.list.map((x) => bindExpr(b, x, ctx))], 'IN', e.position)
      return { kind: 'in_list', arg: all[0], list: all.slice(1), negated: e.negated, type: T.bool }
    }
    case 'case': {
      const whens = e.whens.map((w) => ({
        when:
          e.operand === undefined
            ? coerce(b, bindExpr(b, w.when, ctx), T.bool, w.when.position)
            : call(b, '=', [bindExpr(b, e.operand, ctx), bindExpr(b, w.when, ctx)], w.when.position),
        then: bindExpr(b, w.then, ctx),
      }))
      const elseExpr = e.else === undefined ? undefined : bindExpr(b, e.else, ctx)
      const results = [...whens.map((w) => w.then), ...(elseExpr === undefined ? [] : [elseExpr])]
      const type = commonType(
        results.map((r) => r.type),
        'CASE',
        e.position,
      )
      return {
        kind: 'case',
        whens: whens.map((w) => ({ when: w.when, then: coerce(b, w.then, type, e.position) })),
        else: elseExpr === undefined ? undefined : coerce(b, elseExpr, type, e.position),
        type,
      }
    }
    case 'coalesce':
    case 'greatest':
    case 'least': {
      const args = unify(
        b,
        e.args.map((a) => bindExpr(b, a, ctx)),
        e.kind.toUpperCase(),
        e.position,
      )
      return { kind: e.kind, args, type: args[0].type }
    }
    case 'nullif': {
      const [left, right] = unify(b, [bindExpr(b, e.left, ctx), bindExpr(b, e.right, ctx)], 'NULLIF', e.position)
      return { kind: 'nullif', left, right, type: left.type }
    }
    case 'func':
      return bindFunc(b, e, ctx)
    case 'subquery':
      return bindSubquery(b, e, ctx)
    case 'array': {
      const items = unify(
        b,
        e.items.map((x) => bindExpr(b, x, ctx)),
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
function bindSubquery(b: Binder, e: Extract<Expr, { kind: 'subquery' }>, ctx: Ctx): BoundExpr {
  const runner = b.options.subqueries
  if (runner === undefined) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      'subqueries in expressions are not supported in views yet (only in queries); join instead',
      { position: e.position },
    )
  }
  const frame = { ctx, outer: [] as BoundExpr[], keys: [] as string[] }
  b.frames.push(frame)
  let inner: BoundQuery
  try {
    inner = b.bindQuery(e.query)
  } finally {
    b.frames.pop()
  }
  if (e.mode !== 'in') return subqueryCall(e.mode, inner, frame.outer, runner, e.position)
  const innerType = inner.plan.columns[0]?.type ?? T.unknown
  const test = bindExpr(b, e.arg!, ctx)
  const type = commonType([test.type, innerType], 'IN', e.position)
  return subqueryCall('in', inner, frame.outer, runner, e.position, coerce(b, test, type, e.position), type)
}

/**
 * A column the current scope lacks, looked up in the queries enclosing the subquery being bound
 * (the innermost first); it becomes a parameter of that subquery. Undefined when not found.
 */
function outerReference(b: Binder, e: Extract<Expr, { kind: 'column' }>, err: unknown): BoundExpr | undefined {
  if (b.frames.length === 0 || !(err instanceof SluiceError)) return undefined
  if (err.code !== SqlState.undefined_column && err.code !== SqlState.undefined_table) return undefined
  const frame = b.frames.pop()!
  try {
    let outer: BoundExpr
    try {
      outer = bindExpr(b, e, frame.ctx)
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
    b.frames.push(frame)
  }
}

function bindFunc(b: Binder, e: Extract<Expr, { kind: 'func' }>, ctx: Ctx): BoundExpr {
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
    const ast = astKey(e)
    const existing = ctx.agg.calls.findIndex((c) => c.ast === ast)
    const keyCount = ctx.agg.keys.length
    if (existing >= 0) return col(keyCount + existing, ctx.agg.calls[existing].spec.returnType)
    const inner: Ctx = { scope: ctx.agg.inputScope, agg: undefined, noAggregates: 'aggregate arguments' }
    let args = e.star ? [] : e.args.map((a) => bindExpr(b, a, inner))
    args = args.map((a) => (a.type.kind === 'unknown' ? coerce(b, a, T.text, e.position) : a))
    if (e.filter !== undefined) args = filterArgs(b, e.name, args, e.filter, ctx.agg.inputScope)
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
    args = args.map((a, i) => coerce(b, a, spec.argTypes[i] ?? a.type, e.position))
    const label = `${e.name}(${e.star ? '*' : (e.distinct ? 'DISTINCT ' : '') + e.args.map(defaultName).join(', ')})${e.filter === undefined ? '' : ' FILTER'}`
    ctx.agg.calls.push({ spec, args, label, ast })
    return col(keyCount + ctx.agg.calls.length - 1, spec.returnType)
  }
  if (e.filter !== undefined)
    throw new SluiceError(SqlState.wrong_object_type, `FILTER specified, but ${e.name} is not an aggregate function`, {
      position: e.position,
    })
  if (e.star)
    throw new SluiceError(SqlState.syntax_error, `${e.name}(*) is only valid for aggregates`, {
      position: e.position,
    })
  if (e.distinct)
    throw new SluiceError(SqlState.syntax_error, `DISTINCT specified, but ${e.name} is not an aggregate function`, {
      position: e.position,
    })
  const args = e.args.map((a) => bindExpr(b, a, ctx))
  return b.options.catalog.catalogFunction?.(e.name, args) ?? call(b, e.name, args, e.position)
}

/** The aggregates that skip NULL inputs (count(*) aside), for which FILTER is a CASE. */
const SKIPS_NULLS = new Set([
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

/**
 * `agg(x) FILTER (WHERE c)` as `agg(CASE WHEN c THEN x END)`: every aggregate here skips NULL
 * inputs, so a row the condition does not pass (false or NULL) is skipped as a NULL would be, and
 * a retraction skips it the same way, with no operator knowing of FILTER. count(*) counts a
 * non-null marker instead; string_agg filters its value, not its delimiter. An aggregate that
 * keeps NULLs (array_agg, json_agg) cannot be rewritten so, and is refused until it has its own.
 */
function filterArgs(b: Binder, name: string, args: BoundExpr[], filter: Expr, scope: Scope): BoundExpr[] {
  if (!SKIPS_NULLS.has(name)) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      `FILTER on ${name}() is not supported yet (it aggregates NULL inputs)`,
      { position: filter.position },
    )
  }
  const raw = bindExpr(b, filter, { scope, agg: undefined, noAggregates: 'FILTER' })
  if (raw.type.kind !== 'bool' && raw.type.kind !== 'unknown') {
    throw new SluiceError(
      SqlState.datatype_mismatch,
      `argument of FILTER must be type boolean, not type ${formatTypeName(raw.type)}`,
      { position: filter.position },
    )
  }
  const when = coerce(b, raw, T.bool, filter.position)
  const only = (x: BoundExpr): BoundExpr => ({
    kind: 'case',
    whens: [{ when, then: x }],
    else: undefined,
    type: x.type,
  })
  if (args.length === 0) return [only({ kind: 'literal', value: true, type: T.bool })]
  if (name === 'string_agg') return [only(args[0]), ...args.slice(1)]
  return args.map(only)
}

export function constInt(b: Binder, e: Expr, what: string): number {
  const v = constValue(b, bindExpr(b, e, { scope: new Scope([]), agg: undefined, noAggregates: what }))
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : v === null ? undefined : Number(String(v))
  if (n === undefined) return Number.MAX_SAFE_INTEGER
  if (!Number.isInteger(n) || n < 0)
    throw new SluiceError(SqlState.invalid_parameter_value, `${what} must not be negative`, { position: e.position })
  return n
}
