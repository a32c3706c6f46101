/**
 * pg_namespace, pg_class, pg_attribute and pg_type: the relations, columns and types that
 * clients introspect, for the user's objects, the system tables and Sluice's types.
 */
import type { ColumnSchema } from '../connector.ts'
import type { Engine } from '../engine.ts'
import type { Value } from '../types/datatype.ts'
import { SQL_KINDS, T, arrayOf } from '../types/datatype.ts'
import { pgTypeName, typeLength, typeOid } from '../types/oid.ts'
import { pgTypeOid, pgTypmod } from '../types/typmod.ts'
import type { CatalogObject } from './objects.ts'
import { indexEntries } from './indexes.ts'
import type { SystemTable, CatalogListing } from './system-table.ts'
import { NAMESPACE, objectOid, table } from './system-table.ts'
import { categoryOf } from '../expr/functions.ts'

const RELKIND = { source: 'r', table: 'r', materialized_view: 'm', view: 'v', sink: 'r' } as const

/** pg_am.oid of btree, the access method every index reports. */
export const BTREE = 403n

export function hasIndex(engine: Engine, o: CatalogObject): boolean {
  if (o.kind === 'table' && o.primaryKey !== undefined && o.primaryKey.length > 0) return true
  for (const ix of engine.indexes.values()) if (ix.relation === o.name) return true
  return false
}

const PG_CLASS =
  'oid int8, relname text, relnamespace int8, reltype int8, reloftype int8, relowner int8, relam int8, relfilenode int8, reltablespace int8, relpages int4, reltuples float4, relallvisible int4, reltoastrelid int8, relhasindex bool, relisshared bool, relpersistence text, relkind text, relnatts int2, relchecks int2, relhasrules bool, relhastriggers bool, relhassubclass bool, relrowsecurity bool, relforcerowsecurity bool, relispopulated bool, relreplident text, relispartition bool, relrewrite int8, relfrozenxid int8, relminmxid int8, relacl text[], reloptions text[], relpartbound text'

const PG_ATTRIBUTE =
  'attrelid int8, attname text, atttypid int8, attstattarget int4, attlen int2, attnum int2, attndims int4, attcacheoff int4, atttypmod int4, attbyval bool, attalign text, attstorage text, attcompression text, attnotnull bool, atthasdef bool, atthasmissing bool, attidentity text, attgenerated text, attisdropped bool, attislocal bool, attinhcount int4, attcollation int8, attacl text[], attoptions text[], attfdwoptions text[], attmissingval text'

const PG_TYPE =
  'oid int8, typname text, typnamespace int8, typowner int8, typlen int2, typbyval bool, typtype text, typcategory text, typispreferred bool, typisdefined bool, typdelim text, typrelid int8, typsubscript int8, typelem int8, typarray int8, typinput int8, typoutput int8, typreceive int8, typsend int8, typmodin int8, typmodout int8, typanalyze int8, typalign text, typstorage text, typnotnull bool, typbasetype int8, typtypmod int4, typndims int4, typcollation int8, typdefaultbin text, typdefault text, typacl text[]'

/** The types clients look up besides Sluice's own: PostgreSQL's spellings that map onto them. */
const ALIAS_TYPES: readonly Record<string, Value>[] = [
  { oid: 26n, typname: 'oid', typlen: 4, typcategory: 'N', typarray: 1028n },
  { oid: 19n, typname: 'name', typlen: 64, typcategory: 'S', typarray: 1003n },
  { oid: 1043n, typname: 'varchar', typlen: -1, typcategory: 'S', typarray: 1015n },
  { oid: 1042n, typname: 'bpchar', typlen: -1, typcategory: 'S', typarray: 1014n },
  { oid: 18n, typname: 'char', typlen: 1, typcategory: 'S', typarray: 1002n },
  { oid: 114n, typname: 'json', typlen: -1, typcategory: 'U', typarray: 199n },
]

/** pg_namespace, pg_class, pg_attribute, pg_type; pg_class and pg_attribute list the tables of `listing` too. */
export function pgRelationTables(listing: CatalogListing): SystemTable[] {
  return [
    table('pg_namespace', 'oid int8, nspname text, nspowner int8, nspacl text[]', () =>
      Object.entries(NAMESPACE).map(([name, oid]) => ({ oid, nspname: name, nspowner: 10n })),
    ),
    table('pg_class', PG_CLASS, (engine) =>
      [...engine.objects.values()]
        .filter((o) => o.kind !== 'sink')
        .map((o): Record<string, Value> => ({
          oid: objectOid(o.id),
          relname: o.name,
          relnamespace: NAMESPACE.public,
          relowner: 10n,
          relam: o.kind === 'table' || o.kind === 'source' ? 2n : 0n,
          reltuples: o.kind === 'table' ? o.rows.size : o.kind === 'materialized_view' ? o.materialize.rowCount : -1,
          relpersistence: 'p',
          relkind: RELKIND[o.kind],
          relnatts: o.columns.length,
          relhasindex: hasIndex(engine, o),
          relhasrules: o.kind === 'view',
          relispopulated: true,
          relreplident: 'd',
        }))
        .concat(
          indexEntries(engine, objectOid).map((ix) => ({
            oid: ix.oid,
            relname: ix.name,
            relnamespace: NAMESPACE.public,
            relowner: 10n,
            relam: BTREE,
            reltuples: -1,
            relpersistence: 'p',
            relkind: 'i',
            relnatts: ix.columns.length,
            relispopulated: true,
            relreplident: 'n',
          })),
        )
        .concat(listing.tables().map((t) => catalogClassRow(t, listing.oid(t)))),
    ),
    table('pg_attribute', PG_ATTRIBUTE, (engine): Record<string, Value>[] =>
      [...engine.objects.values()]
        .filter((o) => o.kind !== 'sink')
        .map(
          (
            o,
          ): {
            oid: bigint
            o: { readonly columns: readonly ColumnSchema[] } & CatalogObject
            columns: readonly number[]
          } => ({ oid: objectOid(o.id), o, columns: o.columns.map((_c, i) => i) }),
        )
        .concat(indexEntries(engine, objectOid).map((ix) => ({ oid: ix.oid, o: ix.relation, columns: ix.columns })))
        .flatMap(({ oid, o, columns }) =>
          columns
            .map((i, k) => ({ c: o.columns[i], i, k, o, oid }))
            .map(({ c, i, k, o, oid }) =>
              attributeRow(oid, c, k, o.kind === 'table' && (o.primaryKey ?? []).includes(i)),
            ),
        )
        .concat(listing.tables().flatMap((t) => catalogAttributeRows(t, listing.oid(t)))),
    ),
    table('pg_type', PG_TYPE, () => [
      ...SQL_KINDS.flatMap((k) => {
        const t = T[k]
        const arr = arrayOf(t)
        return [
          {
            ...PG_TYPE_BASE,
            oid: BigInt(typeOid(t)),
            typname: pgTypeName(t),
            typlen: typeLength(t),
            typbyval: typeLength(t) > 0 && typeLength(t) <= 8,
            typcategory: categoryOf(k) ?? 'X',
            typarray: BigInt(typeOid(arr)),
          },
          {
            ...PG_TYPE_BASE,
            oid: BigInt(typeOid(arr)),
            typname: pgTypeName(arr),
            typlen: -1,
            typcategory: 'A',
            typelem: BigInt(typeOid(t)),
            typsubscript: 1n,
            typstorage: 'x',
            typinput: 750n,
          },
        ]
      }),
      ...ALIAS_TYPES.map((a) => ({ ...PG_TYPE_BASE, ...a })),
    ]),
  ]
}

/** The pg_type columns every built-in base type shares. */
const PG_TYPE_BASE = {
  typnamespace: NAMESPACE.pg_catalog,
  typowner: 10n,
  typisdefined: true,
  typdelim: ',',
  typtype: 'b',
  typalign: 'i',
  typstorage: 'p',
  typtypmod: -1,
}

/** A sluice_catalog relation in pg_class: a read-only table of the sluice_catalog namespace. */
function catalogClassRow(t: SystemTable, oid: bigint): Record<string, Value> {
  return {
    oid,
    relname: t.name,
    relnamespace: NAMESPACE.sluice_catalog,
    relowner: 10n,
    relam: 2n,
    reltuples: -1,
    relpersistence: 'p',
    relkind: 'r',
    relnatts: t.columns.length,
    relhasindex: false,
    relhasrules: false,
    relispopulated: true,
    relreplident: 'n',
  }
}

function catalogAttributeRows(t: SystemTable, oid: bigint): Record<string, Value>[] {
  return t.columns.map((c, k) => attributeRow(oid, c, k, false))
}

/** One pg_attribute row: column `c` at position `k` (0-based) of relation `oid`. */
function attributeRow(oid: bigint, c: ColumnSchema, k: number, notNull: boolean): Record<string, Value> {
  return {
    attrelid: oid,
    attname: c.name,
    atttypid: BigInt(pgTypeOid(c.type, c.typmod)),
    attstattarget: -1,
    attlen: typeLength(c.type),
    attnum: k + 1,
    attndims: c.type.kind === 'array' ? 1 : 0,
    attcacheoff: -1,
    atttypmod: pgTypmod(c.typmod),
    attbyval: typeLength(c.type) > 0 && typeLength(c.type) <= 8,
    attalign: 'd',
    attstorage: 'x',
    attcompression: '',
    attnotnull: notNull,
    attidentity: '',
    attgenerated: '',
    attislocal: true,
  }
}
