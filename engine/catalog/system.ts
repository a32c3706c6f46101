/**
 * The system tables (pg_catalog, information_schema, `sluice_catalog.*`): read-only relations
 * computed from the running engine when a query reads them. They have no change stream; views
 * cannot be built over them. This module is their registry: lookup by name, OIDs, search path.
 */
import { informationSchemaTables } from './information-schema.ts'
import { pgCatalogTables } from './pg-catalog.ts'
import { PG_KEY_TABLES } from './pg-index-rows.ts'
import { SLUICE_CATALOG } from './sluice-catalog.ts'
import type { SystemTable, CatalogListing } from './system-table.ts'

/** pg_class.oid of the system tables that clients name with `'pg_class'::regclass`. */
const WELL_KNOWN_OIDS: Record<string, bigint> = {
  pg_type: 1247n,
  pg_attribute: 1249n,
  pg_proc: 1255n,
  pg_class: 1259n,
  pg_database: 1262n,
  pg_namespace: 2615n,
  pg_description: 2609n,
  pg_constraint: 2606n,
  pg_index: 2610n,
  pg_attrdef: 2604n,
  pg_rewrite: 2618n,
  pg_trigger: 2620n,
}

export function systemTableOid(t: SystemTable): bigint {
  return WELL_KNOWN_OIDS[t.name] ?? 12_000n + BigInt(SYSTEM_TABLES.indexOf(t))
}

/** What pg_class, pg_attribute and information_schema list besides the user's relations. */
const listing: CatalogListing = { tables: catalogTables, oid: systemTableOid }

/** Every system table. The order fixes their OIDs (systemTableOid), which clients may keep. */
const SYSTEM_TABLES: readonly SystemTable[] = [
  ...pgCatalogTables(listing),
  ...PG_KEY_TABLES,
  ...informationSchemaTables(listing),
  ...SLUICE_CATALOG,
]

/**
 * The sluice_catalog relations clients list (`\dt sluice_catalog.*`, information_schema): all but
 * the helpers that rewritten driver queries read (engine/sql/driver-queries.ts) and generate_series.
 */
const INTERNAL_CATALOG_TABLES: ReadonlySet<string> = new Set(['series', 'pg_index_keys', 'pg_constraint_keys'])

function catalogTables(): readonly SystemTable[] {
  return SYSTEM_TABLES.filter((t) => t.schema === 'sluice_catalog' && !INTERNAL_CATALOG_TABLES.has(t.name))
}

/**
 * pg_table_is_visible: a sluice_catalog relation is not on the search path (an unqualified name
 * never finds it), so plain `\dt` lists only the user's relations, as in PostgreSQL.
 */
export function onSearchPath(oid: bigint): boolean {
  return !catalogTables().some((t) => systemTableOid(t) === oid)
}

/** A system table by schema and name; unqualified names find pg_catalog's, as PostgreSQL's search path does. */
export function findSystemTable(schema: string | undefined, name: string): SystemTable | undefined {
  return SYSTEM_TABLES.find((t) => t.name === name && t.schema === (schema ?? 'pg_catalog'))
}
