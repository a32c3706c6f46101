/**
 * The shape of a system table (read-only rows computed from the running engine when a query
 * reads it), the short forms its definitions are written in, and the OIDs of namespaces and
 * user objects that every catalog shares.
 */
import type { ColumnSchema } from '../connector.ts'
import type { Engine } from '../engine.ts'
import type { Value } from '../types/datatype.ts'
import { T, arrayOf } from '../types/datatype.ts'

export interface SystemTable {
  readonly schema: string
  readonly name: string
  readonly columns: readonly ColumnSchema[]
  rows(engine: Engine): Value[][]
}

/**
 * The system tables that pg_class, pg_attribute and information_schema list, and their OIDs:
 * the registry (system.ts) passes them in, as it is built from the very lists that show them.
 */
export interface CatalogListing {
  tables(): readonly SystemTable[]
  oid(t: SystemTable): bigint
}

export const col = (name: string, type: ColumnSchema['type']): ColumnSchema => ({ name, type })

/** OIDs: user objects after PostgreSQL's first normal OID, namespaces as in PostgreSQL. */
export const NAMESPACE = { pg_catalog: 11n, public: 2200n, information_schema: 13000n, sluice_catalog: 13001n } as const

export function objectOid(id: number): bigint {
  return 16384n + BigInt(id)
}

/**
 * A column list in short form, `'oid int8, relname text, relacl text[]'` (oid, regproc and
 * name columns are bigint and text here, as Sluice spells those types).
 */
function cols(spec: string): ColumnSchema[] {
  return spec.split(',').map((part) => {
    const [name, type] = part.trim().split(/\s+/)
    const array = type.endsWith('[]')
    const base = T[(array ? type.slice(0, -2) : type) as keyof typeof T]
    return col(name, array ? arrayOf(base) : base)
  })
}

/** Rows from records: columns a record leaves out are 0, false or NULL by type. */
function records(columns: readonly ColumnSchema[], list: readonly Record<string, Value>[]): Value[][] {
  return list.map((r) =>
    columns.map((c) => {
      const v = r[c.name]
      if (v !== undefined) return v
      switch (c.type.kind) {
        case 'int8':
          return 0n
        case 'int2':
        case 'int4':
        case 'float4':
        case 'float8':
          return 0
        case 'bool':
          return false
        default:
          return null
      }
    }),
  )
}

export function table(
  name: string,
  spec: string,
  rows: (engine: Engine) => readonly Record<string, Value>[] = () => [],
): SystemTable {
  const columns = cols(spec)
  return { schema: 'pg_catalog', name, columns, rows: (engine) => records(columns, rows(engine)) }
}

/** The SELECT of a view's CREATE statement, as pg_get_viewdef shows it. */
export function viewDefinition(sql: string): string {
  const m =
    /^\s*create\s+(?:or\s+replace\s+)?(?:materialized\s+)?view\s+(?:if\s+not\s+exists\s+)?(?:"[^"]*"|[\w.]+)\s*(?:\([^)]*\))?\s*(?:with\s*\([^)]*\)\s*)?as\s+([\s\S]*)$/i.exec(
      sql,
    )
  const body = (m?.[1] ?? sql).trim().replace(/;+\s*$/, '')
  return ` ${body};`
}
