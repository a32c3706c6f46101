/**
 * Indexes in the catalog: each table's primary-key index (`<table>_pkey`, kept by TableRows) and
 * the secondary indexes declared with CREATE INDEX on tables and materialized views.
 *
 * A declared index lives with its relation's rows (TableRows.addIndex, Materialize.declareIndex):
 * built when declared, maintained with every change, read by pull queries' `col = const`
 * lookups. Like every object, it persists as its defining SQL and is rebuilt by replaying it at
 * startup (after its relation, which has a lower id). The system tables (pg_class relkind 'i',
 * pg_index, pg_indexes, pg_constraint) list both kinds from here.
 */
import type { Engine } from '../engine.ts'
import type { MaterializedViewObject, TableObject } from './objects.ts'

/** A declared (CREATE INDEX) index. */
export interface IndexObject {
  readonly id: number
  readonly name: string
  /** The CREATE INDEX statement (replayed at startup). */
  readonly sql: string
  /** The table or materialized view it indexes. */
  readonly relation: string
  /** Indexed columns of the relation, in declared order. */
  readonly columns: readonly number[]
}

/** An index as the system tables show it. */
export interface IndexEntry {
  readonly oid: bigint
  readonly name: string
  readonly relation: TableObject | MaterializedViewObject
  readonly columns: readonly number[]
  /** The primary key's index (unique, backs the `<table>_pkey` constraint). */
  readonly primary: boolean
}

/**
 * OIDs of the primary-key index and constraint of the table with OID `tableOid`: disjoint from
 * object OIDs (16384 + id) while ids stay below 2^28, and below 2^32 as OIDs must be.
 */
export function pkIndexOid(tableOid: bigint): bigint {
  return 0x4000_0000n + tableOid
}
export function pkConstraintOid(tableOid: bigint): bigint {
  return 0x8000_0000n + tableOid
}

/** Every index: primary keys first (by table id), then declared indexes (by id). */
export function indexEntries(engine: Engine, objectOid: (id: number) => bigint): IndexEntry[] {
  const out: IndexEntry[] = []
  const relations = [...engine.objects.values()].sort((a, b) => a.id - b.id)
  for (const o of relations) {
    if (o.kind === 'table' && o.primaryKey !== undefined && o.primaryKey.length > 0) {
      out.push({
        oid: pkIndexOid(objectOid(o.id)),
        name: `${o.name}_pkey`,
        relation: o,
        columns: o.primaryKey,
        primary: true,
      })
    }
  }
  for (const ix of [...engine.indexes.values()].sort((a, b) => a.id - b.id)) {
    const rel = engine.get(ix.relation)
    if (rel?.kind !== 'table' && rel?.kind !== 'materialized_view') continue
    out.push({ oid: objectOid(ix.id), name: ix.name, relation: rel, columns: ix.columns, primary: false })
  }
  return out
}

/** pg_get_indexdef's text: `CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)`. */
export function indexDefinition(e: IndexEntry): string {
  const cols = e.columns.map((c) => quoteIdent(e.relation.columns[c].name)).join(', ')
  return `CREATE ${e.primary ? 'UNIQUE ' : ''}INDEX ${quoteIdent(e.name)} ON public.${quoteIdent(e.relation.name)} USING btree (${cols})`
}

/** pg_get_constraintdef's text of a primary key: `PRIMARY KEY (id)`. */
export function primaryKeyDefinition(e: IndexEntry): string {
  return `PRIMARY KEY (${e.columns.map((c) => quoteIdent(e.relation.columns[c].name)).join(', ')})`
}

/** An identifier as PostgreSQL prints it: bare when lower-case and simple, else double-quoted. */
export function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`
}
