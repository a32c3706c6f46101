/**
 * What the binder reads off statement-tree expressions before binding them: structural keys (to
 * match GROUP BY and ORDER BY expressions), aggregate and window-function calls, and PostgreSQL's
 * default output column names.
 */
import type { Expr } from '../sql/tree.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { Scope } from './scope.ts'

export const AGGREGATES = new Set([
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
export const WINDOW_FNS = new Set(['tumble', 'hop', 'session'])

/** A structural key of an AST expression, ignoring positions (to match GROUP BY expressions). */
export function astKey(e: Expr): string {
  return JSON.stringify(e, (k, v: unknown) => (k === 'position' ? undefined : v))
}

/** The window-function calls (with OVER) in an expression. */
export function windowCallsIn(e: Expr): Extract<Expr, { kind: 'func' }>[] {
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

export function containsAggregate(e: Expr): boolean {
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

export function keyName(key: BoundExpr, scope: Scope): string {
  return key.kind === 'column' ? scope.columns[key.index].name : '?column?'
}
