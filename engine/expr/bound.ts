/**
 * Bound (typed, name-resolved) scalar expressions: what the binder produces from the statement
 * tree and what the expression compiler turns into straight-line JS. Column references are
 * positions in the input row of the operator that evaluates the expression.
 */
import type { DataType, Value } from '../types/datatype.ts'
import type { ResolvedFunction } from './functions.ts'

export type BoundExpr =
  | { readonly kind: 'column'; readonly index: number; readonly type: DataType }
  | { readonly kind: 'literal'; readonly value: Value; readonly type: DataType }
  /** $n of a prepared statement; `index` is 0-based. Values are supplied at compile time. */
  | { readonly kind: 'param'; readonly index: number; readonly type: DataType }
  | {
      readonly kind: 'call'
      readonly fn: ResolvedFunction
      readonly args: readonly BoundExpr[]
      readonly type: DataType
    }
  | { readonly kind: 'cast'; readonly expr: BoundExpr; readonly type: DataType }
  | { readonly kind: 'and' | 'or'; readonly args: readonly BoundExpr[]; readonly type: DataType }
  | { readonly kind: 'not'; readonly arg: BoundExpr; readonly type: DataType }
  | { readonly kind: 'is_null'; readonly arg: BoundExpr; readonly negated: boolean; readonly type: DataType }
  /** `a IS [NOT] DISTINCT FROM b` */
  | {
      readonly kind: 'is_distinct'
      readonly left: BoundExpr
      readonly right: BoundExpr
      readonly negated: boolean
      readonly type: DataType
    }
  /** `IS [NOT] TRUE|FALSE` */
  | {
      readonly kind: 'is_bool'
      readonly arg: BoundExpr
      readonly value: boolean
      readonly negated: boolean
      readonly type: DataType
    }
  | {
      readonly kind: 'case'
      /** Searched CASE; a simple CASE is rewritten by the binder into `operand = value` tests. */
      readonly whens: readonly { readonly when: BoundExpr; readonly then: BoundExpr }[]
      readonly else: BoundExpr | undefined
      readonly type: DataType
    }
  /** `x [NOT] IN (a, b, c)` with SQL's null rules; all items already cast to a common type. */
  | {
      readonly kind: 'in_list'
      readonly arg: BoundExpr
      readonly list: readonly BoundExpr[]
      readonly negated: boolean
      readonly type: DataType
    }
  | { readonly kind: 'coalesce'; readonly args: readonly BoundExpr[]; readonly type: DataType }
  | { readonly kind: 'nullif'; readonly left: BoundExpr; readonly right: BoundExpr; readonly type: DataType }
  | { readonly kind: 'greatest' | 'least'; readonly args: readonly BoundExpr[]; readonly type: DataType }
