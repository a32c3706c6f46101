/**
 * Types in the binder: casts (literals fold at bind time, parameters take the type they are cast
 * to), PostgreSQL's common-type rule, type names, number literals and constant evaluation.
 */
import type { BoundExpr } from '../expr/bound.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { Binder } from './binder.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { T, arrayOf } from '../types/datatype.ts'
import { Decimal } from '../types/decimal.ts'
import { typeFromName, formatTypeName } from '../types/oid.ts'
import { castValue } from '../types/cast.ts'
import { evalConst } from '../expr/compile.ts'

const NUMERIC_RANK: Partial<Record<string, number>> = {
  int2: 1,
  int4: 2,
  int8: 3,
  numeric: 4,
  float4: 5,
  float8: 6,
}

/** Casts `e` to `target`: literals fold at bind time, parameters take the type. */
export function coerce(b: Binder, e: BoundExpr, target: DataType, position: number, explicit = false): BoundExpr {
  if (sameType(e.type, target)) return e
  if (e.kind === 'param' && e.type.kind === 'unknown') {
    b.options.paramTypes[e.index] = target
    return { ...e, type: target }
  }
  if (e.kind === 'literal') {
    try {
      return {
        kind: 'literal',
        value:
          e.value === null
            ? null
            : castValue(e.value, e.type.kind === 'unknown' ? T.text : e.type, target, b.options.compile.timezone),
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

export function unify(b: Binder, args: BoundExpr[], what: string, position: number): BoundExpr[] {
  const type = commonType(
    args.map((a) => a.type),
    what,
    position,
  )
  return args.map((a) => coerce(b, a, type, position))
}

/** PostgreSQL's select_common_type, for the types Sluice has. */
export function commonType(types: readonly DataType[], what: string, position: number): DataType {
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

export function typeOf(name: string, array: boolean, position: number): DataType {
  const t = typeFromName(name)
  if (t === undefined) throw new SluiceError(SqlState.undefined_object, `type "${name}" does not exist`, { position })
  return array ? arrayOf(t) : t
}

export function constValue(b: Binder, e: BoundExpr): Value {
  return evalConst(e, b.options.compile)
}

export function sameType(a: DataType, b: DataType): boolean {
  if (a.kind === 'array' || b.kind === 'array')
    return a.kind === 'array' && b.kind === 'array' && sameType(a.element, b.element)
  return a.kind === b.kind
}

export function numberLiteral(text: string, position: number): { value: Value; type: DataType } {
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

export function col(index: number, type: DataType): BoundExpr {
  return { kind: 'column', index, type }
}

export function lit(v: { value: Value; type: DataType }): BoundExpr {
  return { kind: 'literal', value: v.value, type: v.type }
}
