/**
 * Function and operator calls: overload resolution with the argument casts it asks for, array
 * comparison and concatenation, and n-ary operator chains.
 */
import type { Expr } from '../sql/tree.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { Binder } from './binder.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { T } from '../types/datatype.ts'
import { formatTypeName } from '../types/oid.ts'
import { valuesEqual } from '../types/compare.ts'
import { resolveFunction } from '../expr/functions.ts'
import { coerce, unify } from './bind-types.ts'

/** Chains longer than this of one associative operation are nested as a balanced tree (chain). */
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

/**
 * `a + b + c + ...` (the converter's n-ary chain), applied left to right as PostgreSQL does.
 * A long chain of one exactly associative operation over one type (integer and numeric `+`
 * and `*`, text `||`) is nested as a balanced tree instead: the same value with depth log n, so
 * the recursive passes over bound expressions and the code they compile to stay shallow for
 * thousands of terms. The one difference: an integer chain whose running total overflows
 * part-way but not at the end may succeed here where PostgreSQL reports 22003.
 */
export function chain(b: Binder, op: string, args: BoundExpr[], position: number): BoundExpr {
  const target = args.length > BALANCED_CHAIN ? associativeType(op, args) : undefined
  if (target !== undefined) {
    // Every term in the type the left-to-right chain would end in (a wider integer type or
    // numeric appears at most earlier than it would have).
    let level = args.map((a) => (a.type.kind === target.kind ? a : coerce(b, a, target, position)))
    while (level.length > 1) {
      const next: BoundExpr[] = []
      for (let i = 0; i + 1 < level.length; i += 2) next.push(call(b, op, [level[i], level[i + 1]], position))
      if (level.length % 2 === 1) next.push(level[level.length - 1])
      level = next
    }
    return level[0]
  }
  let acc = args[0]
  for (let i = 1; i < args.length; i++) acc = call(b, op, [acc, args[i]], position)
  return acc
}

/** Resolves a function or operator and inserts the argument casts it asks for. */
export function call(b: Binder, name: string, args: BoundExpr[], position: number, _asts?: readonly Expr[]): BoundExpr {
  if ((name === '=' || name === '<>') && args.length === 2 && args.some((a) => a.type.kind === 'array')) {
    // Arrays compare element by element (`polroles = '{0}'`); no overload in the registry covers them.
    const [left, right] = unify(b, args, `operator ${name}`, position)
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
    const [left, right] = unify(b, args, 'operator ||', position)
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
    args = args.map((a) => (a.type.kind === 'unknown' ? coerce(b, a, T.text, position) : a))
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
  const cast = args.map((a, i) => coerce(b, a, resolved.argTypes[i] ?? a.type, position))
  return { kind: 'call', fn: resolved.fn, args: cast, type: resolved.fn.returnType }
}
