/** Rewrites the column references of a bound expression (when a plan's inputs are re-laid out). */
import type { BoundExpr } from './bound.ts'

export function remapColumns(e: BoundExpr, map: (index: number) => number): BoundExpr {
  const r = (x: BoundExpr): BoundExpr => remapColumns(x, map)
  switch (e.kind) {
    case 'column':
      return { ...e, index: map(e.index) }
    case 'literal':
    case 'param':
      return e
    case 'call':
      return { ...e, args: e.args.map(r) }
    case 'cast':
      return { ...e, expr: r(e.expr) }
    case 'and':
    case 'or':
    case 'coalesce':
    case 'greatest':
    case 'least':
      return { ...e, args: e.args.map(r) }
    case 'not':
    case 'is_null':
    case 'is_bool':
      return { ...e, arg: r(e.arg) }
    case 'is_distinct':
    case 'nullif':
      return { ...e, left: r(e.left), right: r(e.right) }
    case 'case':
      return {
        ...e,
        whens: e.whens.map((w) => ({ when: r(w.when), then: r(w.then) })),
        else: e.else === undefined ? undefined : r(e.else),
      }
    case 'in_list':
      return { ...e, arg: r(e.arg), list: e.list.map(r) }
  }
}

/** Column indexes an expression reads. */
export function columnsOf(e: BoundExpr, out = new Set<number>()): Set<number> {
  remapColumns(e, (i) => {
    out.add(i)
    return i
  })
  return out
}
