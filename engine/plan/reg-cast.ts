/**
 * The object-identifier casts catalog queries use: `'users'::regclass` (a relation's oid),
 * `attrelid::regclass::text` (its name), `atttypid::regtype::text` (a type's name),
 * `nspoid::regnamespace::text`. Sluice has no reg* types: a reg* value is its oid (bigint, as
 * `oid` is), and the cast of one to text looks the name up, which is all clients do with them.
 */
import type { Expr, TypeName } from '../sql/tree.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { BinderCatalog } from './binder.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { T } from '../types/datatype.ts'
import { formatTypeName, typeFromName, typeFromOid, typeOid } from '../types/oid.ts'
import { NAMESPACE } from '../catalog/system-table.ts'

const REG_TYPES = new Set([
  'regclass',
  'regtype',
  'regnamespace',
  'regproc',
  'regprocedure',
  'regrole',
  'regoper',
  'regoperator',
  'regconfig',
  'regdictionary',
  'regcollation',
])

export function isRegType(name: string): boolean {
  return REG_TYPES.has(name)
}

type Cast = Extract<Expr, { kind: 'cast' }>

/** `x::regfoo` or `(x::regfoo)::target`. */
export function bindRegCast(
  e: Cast,
  bind: (x: Expr) => BoundExpr,
  catalog: BinderCatalog,
  coerce: (x: BoundExpr, t: DataType, position: number) => BoundExpr,
  typeOf: (name: string, array: boolean, position: number) => DataType,
): BoundExpr {
  if (isRegType(e.type.name)) return toOid(e.expr, e.type, bind, catalog, coerce)
  const inner = e.expr as Cast
  const oid = toOid(inner.expr, inner.type, bind, catalog, coerce)
  const target = typeOf(e.type.name, e.type.array, e.type.position)
  if (target.kind !== 'text') return coerce(oid, target, e.position)
  const nameOf = namer(inner.type.name, catalog)
  return {
    kind: 'call',
    fn: {
      name: `${inner.type.name}out`,
      argTypes: [T.int8],
      returnType: T.text,
      strict: true,
      impl: (v: Value) => nameOf(BigInt(v as bigint | number)),
    },
    args: [oid],
    type: T.text,
  }
}

function toOid(
  x: Expr,
  reg: TypeName,
  bind: (x: Expr) => BoundExpr,
  catalog: BinderCatalog,
  coerce: (x: BoundExpr, t: DataType, position: number) => BoundExpr,
): BoundExpr {
  if (x.kind === 'string') {
    const oid = lookup(reg.name, x.value, catalog)
    if (oid === undefined) {
      const what =
        reg.name === 'regclass'
          ? 'relation'
          : reg.name === 'regtype'
            ? 'type'
            : reg.name === 'regnamespace'
              ? 'schema'
              : 'object'
      throw new SluiceError(
        reg.name === 'regclass' ? SqlState.undefined_table : SqlState.undefined_object,
        `${what} "${x.value}" does not exist`,
        { position: x.position },
      )
    }
    return { kind: 'literal', value: oid, type: T.int8 }
  }
  const bound = bind(x)
  if (bound.type.kind === 'text' || bound.type.kind === 'unknown') {
    const arg = { ...bound, type: T.text }
    const find = (v: Value): Value => {
      const oid = lookup(reg.name, v as string, catalog)
      if (oid === undefined)
        throw new SluiceError(
          SqlState.undefined_object,
          `${reg.name === 'regclass' ? 'relation' : 'object'} "${String(v)}" does not exist`,
        )
      return oid
    }
    return {
      kind: 'call',
      fn: { name: `${reg.name}in`, argTypes: [T.text], returnType: T.int8, strict: true, impl: find },
      args: [arg],
      type: T.int8,
    }
  }
  return coerce(bound, T.int8, reg.position)
}

/** Splits `schema.name` and strips double quotes. */
function qualified(text: string): { schema: string | undefined; name: string } {
  const parts = text.match(/"(?:[^"]|"")*"|[^.]+/g) ?? [text]
  const clean = parts.map((p) => (p.startsWith('"') ? p.slice(1, -1).replace(/""/g, '"') : p.trim().toLowerCase()))
  return clean.length > 1
    ? { schema: clean[clean.length - 2], name: clean[clean.length - 1] }
    : { schema: undefined, name: clean[0] }
}

function lookup(reg: string, text: string, catalog: BinderCatalog): bigint | undefined {
  if (/^\s*\d+\s*$/.test(text)) return BigInt(text.trim())
  const { schema, name } = qualified(text)
  switch (reg) {
    case 'regclass':
      return catalog.relationOid?.(schema, name)
    case 'regtype': {
      const t = typeFromName(
        text
          .trim()
          .toLowerCase()
          .replace(/^pg_catalog\./, ''),
      )
      return t === undefined ? undefined : BigInt(typeOid(t))
    }
    case 'regnamespace':
      return (NAMESPACE as Record<string, bigint>)[name]
    case 'regrole':
      return name === 'sluice' ? 10n : undefined
    case 'regproc':
    case 'regprocedure':
      return PROCS[name]
    default:
      return undefined
  }
}

/** Input functions clients compare pg_type.typinput with (pgJDBC: `'pg_catalog.array_in'::regproc`). */
export const PROCS: Record<string, bigint> = { array_in: 750n, record_in: 2290n }

function namer(reg: string, catalog: BinderCatalog): (oid: bigint) => string {
  switch (reg) {
    case 'regclass':
      return (oid) => catalog.relationName?.(oid) ?? String(oid)
    case 'regtype':
      return (oid) => {
        const t = typeFromOid(Number(oid))
        return t === undefined ? String(oid) : formatTypeName(t)
      }
    case 'regnamespace':
      return (oid) => Object.entries(NAMESPACE).find(([, v]) => v === oid)?.[0] ?? String(oid)
    case 'regrole':
      return (oid) => (oid === 10n ? 'sluice' : String(oid))
    case 'regproc':
    case 'regprocedure':
      return (oid) => Object.entries(PROCS).find(([, v]) => v === oid)?.[0] ?? (oid === 0n ? '-' : String(oid))
    default:
      return (oid) => (oid === 0n ? '-' : String(oid))
  }
}
