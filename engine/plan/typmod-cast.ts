/**
 * Explicit casts to a type with a modifier (`'abc'::varchar(2)`, `x::numeric(12,2)`): the cast to
 * the engine type, then the modifier applied as PostgreSQL's explicit length coercion does
 * (strings cut without error, numerics rounded).
 */
import type { BoundExpr } from '../expr/bound.ts'
import type { TypeName } from '../sql/tree.ts'
import type { Value } from '../types/datatype.ts'
import { SluiceError } from '../errors.ts'
import { applyTypeMod, enforces, typeModOf } from '../types/typmod.ts'

export function withTypeMod(e: BoundExpr, t: TypeName): BoundExpr {
  const mod = typeModOf(t.name, t.mods ?? [], t.position)
  if (mod === undefined || !enforces(e.type, mod)) return e
  const type = e.type
  if (e.kind === 'literal') {
    try {
      return { ...e, value: applyTypeMod(e.value, type, mod, true) }
    } catch (err) {
      if (err instanceof SluiceError && err.position === undefined) err.position = t.position
      throw err
    }
  }
  const impl = (v: Value): Value => applyTypeMod(v, type, mod, true)
  return { kind: 'call', fn: { name: t.name, argTypes: [type], returnType: type, strict: true, impl }, args: [e], type }
}
