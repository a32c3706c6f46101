/**
 * Sluice's own system tables (`sluice_catalog.*`): read-only relations computed from the running
 * engine when a query reads them. They have no change stream; views cannot be built over them.
 */
import type { ColumnSchema } from '../connector.ts'
import type { Engine } from '../engine.ts'
import type { Value } from '../types/datatype.ts'
import { SQL_KINDS, T, arrayOf } from '../types/datatype.ts'
import { pgTypeName, typeLength, typeOid } from '../types/oid.ts'
import { columnTypeInfo, pgTypeOid, pgTypmod } from '../types/typmod.ts'
import type { CatalogObject } from './objects.ts'
import { indexDefinition, indexEntries, pkConstraintOid } from './indexes.ts'
import { pgRolesRows, pgUserRows, secretRows } from './access-rows.ts'
import { redactSql, redactText } from './redact.ts'

export interface SystemTable {
  readonly schema: string
  readonly name: string
  readonly columns: readonly ColumnSchema[]
  rows(engine: Engine): Value[][]
}

const col = (name: string, type: ColumnSchema['type']): ColumnSchema => ({ name, type })

/** Every relation a client can read, for information_schema. */
function relations(
  engine: Engine,
): { name: string; type: string; columns: readonly ColumnSchema[]; primaryKey: readonly number[] }[] {
  return [...engine.objects.values()]
    .sort((a, b) => a.id - b.id)
    .map((o) => ({
      name: o.name,
      type: o.kind === 'source' || o.kind === 'table' ? 'BASE TABLE' : 'VIEW',
      columns: o.columns,
      primaryKey: o.kind === 'table' ? (o.primaryKey ?? []) : [],
    }))
}

/** OIDs: user objects after PostgreSQL's first normal OID, namespaces as in PostgreSQL. */
export const NAMESPACE = { pg_catalog: 11n, public: 2200n, information_schema: 13000n, sluice_catalog: 13001n } as const
export function objectOid(id: number): bigint {
  return 16384n + BigInt(id)
}

const RELKIND = { source: 'r', table: 'r', materialized_view: 'm', view: 'v', sink: 'r' } as const

const PG_INDEX =
  'indexrelid int8, indrelid int8, indnatts int2, indnkeyatts int2, indisunique bool, indnullsnotdistinct bool, indisprimary bool, indisexclusion bool, indimmediate bool, indisclustered bool, indisvalid bool, indcheckxmin bool, indisready bool, indislive bool, indisreplident bool, indkey int2[], indcollation int8[], indclass int8[], indoption int2[], indexprs text, indpred text'

function pgIndexRecords(engine: Engine): Record<string, Value>[] {
  return indexEntries(engine, objectOid).map((ix) => ({
    indexrelid: ix.oid,
    indrelid: objectOid(ix.relation.id),
    indnatts: ix.columns.length,
    indnkeyatts: ix.columns.length,
    indisunique: ix.primary,
    indisprimary: ix.primary,
    indimmediate: true,
    indisvalid: true,
    indisready: true,
    indislive: true,
    indkey: ix.columns.map((c) => c + 1),
    indcollation: ix.columns.map((c) => (ix.relation.columns[c].type.kind === 'text' ? 100n : 0n)),
    indclass: ix.columns.map(() => 0n),
    indoption: ix.columns.map(() => 0),
  }))
}

const PG_CONSTRAINT =
  'oid int8, conname text, connamespace int8, contype text, condeferrable bool, condeferred bool, convalidated bool, conrelid int8, contypid int8, conindid int8, conparentid int8, confrelid int8, confupdtype text, confdeltype text, confmatchtype text, conislocal bool, coninhcount int4, connoinherit bool, conkey int2[], confkey int2[], conpfeqop int8[], conppeqop int8[], conffeqop int8[], confdelsetcols int2[], conexclop int8[], conbin text'

/** Primary keys, Sluice's only constraints: `<table>_pkey`, backed by the primary-key index. */
function pgConstraintRecords(engine: Engine): Record<string, Value>[] {
  return indexEntries(engine, objectOid)
    .filter((ix) => ix.primary)
    .map((ix) => ({
      oid: pkConstraintOid(objectOid(ix.relation.id)),
      conname: ix.name,
      connamespace: NAMESPACE.public,
      contype: 'p',
      convalidated: true,
      conrelid: objectOid(ix.relation.id),
      conindid: ix.oid,
      confupdtype: ' ',
      confdeltype: ' ',
      confmatchtype: ' ',
      conislocal: true,
      connoinherit: true,
      conkey: ix.columns.map((c) => c + 1),
    }))
}

/** The rows of a catalog table with one row per element of `keys` (key_x: the element, key_n: its position). */
function expandKeys(rows: readonly Record<string, Value>[], keys: string): Record<string, Value>[] {
  return rows.flatMap((r) => (r[keys] as number[]).map((x, n) => ({ ...r, key_x: x, key_n: n + 1 })))
}

/** pg_am.oid of btree, the access method every index reports. */
const BTREE = 403n

function hasIndex(engine: Engine, o: CatalogObject): boolean {
  if (o.kind === 'table' && o.primaryKey !== undefined && o.primaryKey.length > 0) return true
  for (const ix of engine.indexes.values()) if (ix.relation === o.name) return true
  return false
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

function table(
  name: string,
  spec: string,
  rows: (engine: Engine) => readonly Record<string, Value>[] = () => [],
): SystemTable {
  const columns = cols(spec)
  return { schema: 'pg_catalog', name, columns, rows: (engine) => records(columns, rows(engine)) }
}

/** The SELECT of a view's CREATE statement, as pg_get_viewdef shows it. */
/** Why a view waits for its input: the last error of a source it reads that could not start yet. */
function waitingInput(engine: Engine, dependsOn: readonly string[], seen = new Set<string>()): string | undefined {
  for (const name of dependsOn) {
    if (seen.has(name)) continue
    seen.add(name)
    const o = engine.get(name)
    if (o?.kind === 'source' && o.driver.waiting) return `source ${name}: ${o.driver.lastError ?? 'not started'}`
    if (o?.kind === 'materialized_view' || o?.kind === 'view') {
      const up = waitingInput(engine, o.dependsOn, seen)
      if (up !== undefined) return up
    }
  }
  return undefined
}

export function viewDefinition(sql: string): string {
  const m =
    /^\s*create\s+(?:or\s+replace\s+)?(?:materialized\s+)?view\s+(?:if\s+not\s+exists\s+)?(?:"[^"]*"|[\w.]+)\s*(?:\([^)]*\))?\s*(?:with\s*\([^)]*\)\s*)?as\s+([\s\S]*)$/i.exec(
      sql,
    )
  const body = (m?.[1] ?? sql).trim().replace(/;+\s*$/, '')
  return ` ${body};`
}

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

const PG_CLASS =
  'oid int8, relname text, relnamespace int8, reltype int8, reloftype int8, relowner int8, relam int8, relfilenode int8, reltablespace int8, relpages int4, reltuples float4, relallvisible int4, reltoastrelid int8, relhasindex bool, relisshared bool, relpersistence text, relkind text, relnatts int2, relchecks int2, relhasrules bool, relhastriggers bool, relhassubclass bool, relrowsecurity bool, relforcerowsecurity bool, relispopulated bool, relreplident text, relispartition bool, relrewrite int8, relfrozenxid int8, relminmxid int8, relacl text[], reloptions text[], relpartbound text'
const PG_ATTRIBUTE =
  'attrelid int8, attname text, atttypid int8, attstattarget int4, attlen int2, attnum int2, attndims int4, attcacheoff int4, atttypmod int4, attbyval bool, attalign text, attstorage text, attcompression text, attnotnull bool, atthasdef bool, atthasmissing bool, attidentity text, attgenerated text, attisdropped bool, attislocal bool, attinhcount int4, attcollation int8, attacl text[], attoptions text[], attfdwoptions text[], attmissingval text'
const PG_TYPE =
  'oid int8, typname text, typnamespace int8, typowner int8, typlen int2, typbyval bool, typtype text, typcategory text, typispreferred bool, typisdefined bool, typdelim text, typrelid int8, typsubscript int8, typelem int8, typarray int8, typinput int8, typoutput int8, typreceive int8, typsend int8, typmodin int8, typmodout int8, typanalyze int8, typalign text, typstorage text, typnotnull bool, typbasetype int8, typtypmod int4, typndims int4, typcollation int8, typdefaultbin text, typdefault text, typacl text[]'

const CATEGORY: Record<string, string> = {
  bool: 'B',
  int2: 'N',
  int4: 'N',
  int8: 'N',
  float4: 'N',
  float8: 'N',
  numeric: 'N',
  text: 'S',
  bytea: 'U',
  date: 'D',
  time: 'D',
  timestamp: 'D',
  timestamptz: 'D',
  interval: 'T',
  jsonb: 'U',
}

/** The types clients look up besides Sluice's own: PostgreSQL's spellings that map onto them. */
const ALIAS_TYPES: readonly Record<string, Value>[] = [
  { oid: 26n, typname: 'oid', typlen: 4, typcategory: 'N', typarray: 1028n },
  { oid: 19n, typname: 'name', typlen: 64, typcategory: 'S', typarray: 1003n },
  { oid: 1043n, typname: 'varchar', typlen: -1, typcategory: 'S', typarray: 1015n },
  { oid: 1042n, typname: 'bpchar', typlen: -1, typcategory: 'S', typarray: 1014n },
  { oid: 18n, typname: 'char', typlen: 1, typcategory: 'S', typarray: 1002n },
  { oid: 114n, typname: 'json', typlen: -1, typcategory: 'U', typarray: 199n },
]

const PG_CATALOG: readonly SystemTable[] = [
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
      .concat(catalogTables().map(catalogClassRow)),
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
          .map(({ c, i, k, o, oid }): Record<string, Value> => ({
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
            attnotnull: o.kind === 'table' && (o.primaryKey ?? []).includes(i),
            attidentity: '',
            attgenerated: '',
            attislocal: true,
          })),
      )
      .concat(catalogTables().flatMap(catalogAttributeRows)),
  ),
  table('pg_type', PG_TYPE, () => [
    ...SQL_KINDS.flatMap((k) => {
      const t = T[k]
      const arr = arrayOf(t)
      const base = {
        typnamespace: NAMESPACE.pg_catalog,
        typowner: 10n,
        typisdefined: true,
        typdelim: ',',
        typtype: 'b',
        typalign: 'i',
        typstorage: 'p',
        typtypmod: -1,
      }
      return [
        {
          ...base,
          oid: BigInt(typeOid(t)),
          typname: pgTypeName(t),
          typlen: typeLength(t),
          typbyval: typeLength(t) > 0 && typeLength(t) <= 8,
          typcategory: CATEGORY[k],
          typarray: BigInt(typeOid(arr)),
        },
        {
          ...base,
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
    ...ALIAS_TYPES.map((a) => ({
      typnamespace: NAMESPACE.pg_catalog,
      typowner: 10n,
      typisdefined: true,
      typdelim: ',',
      typtype: 'b',
      typalign: 'i',
      typstorage: 'p',
      typtypmod: -1,
      ...a,
    })),
  ]),
  table(
    'pg_database',
    'oid int8, datname text, datdba int8, encoding int4, datlocprovider text, datistemplate bool, datallowconn bool, datconnlimit int4, datfrozenxid int8, datminmxid int8, dattablespace int8, datcollate text, datctype text, daticulocale text, daticurules text, datcollversion text, datacl text[]',
    () => [
      {
        oid: 16383n,
        datname: 'sluice',
        datdba: 10n,
        encoding: 6,
        datlocprovider: 'c',
        datallowconn: true,
        datconnlimit: -1,
        dattablespace: 1663n,
        datcollate: 'C',
        datctype: 'C',
      },
    ],
  ),
  table('pg_am', 'oid int8, amname text, amhandler int8, amtype text', () => [
    { oid: 2n, amname: 'heap', amtype: 't' },
    { oid: BTREE, amname: 'btree', amtype: 'i' },
  ]),
  table(
    'pg_roles',
    'oid int8, rolname text, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, rolcanlogin bool, rolreplication bool, rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz, rolbypassrls bool, rolconfig text[]',
    (engine) => [
      {
        oid: 10n,
        rolname: 'sluice',
        rolsuper: true,
        rolinherit: true,
        rolcreaterole: true,
        rolcreatedb: true,
        rolcanlogin: true,
        rolconnlimit: -1,
        rolpassword: '********',
      },
      ...pgRolesRows(engine),
    ],
  ),
  table(
    'pg_user',
    'usename text, usesysid int8, usecreatedb bool, usesuper bool, userepl bool, usebypassrls bool, passwd text, valuntil timestamptz, useconfig text[]',
    (engine) => [
      { usename: 'sluice', usesysid: 10n, usecreatedb: true, usesuper: true, passwd: '********' },
      ...pgUserRows(engine),
    ],
  ),
  table(
    'pg_settings',
    'name text, setting text, unit text, category text, short_desc text, extra_desc text, context text, vartype text, source text, min_val text, max_val text, enumvals text[], boot_val text, reset_val text, sourcefile text, sourceline int4, pending_restart bool',
    () => [
      {
        name: 'server_version',
        setting: '16.0',
        category: 'Preset Options',
        short_desc: 'Shows the server version.',
        context: 'internal',
        vartype: 'string',
        source: 'default',
      },
      {
        name: 'server_encoding',
        setting: 'UTF8',
        category: 'Preset Options',
        short_desc: 'Shows the server (database) character set encoding.',
        context: 'internal',
        vartype: 'string',
        source: 'default',
      },
      {
        name: 'max_connections',
        setting: '1000',
        category: 'Connections and Authentication',
        short_desc: 'Sets the maximum number of concurrent connections.',
        context: 'postmaster',
        vartype: 'integer',
        source: 'default',
      },
      {
        name: 'max_index_keys',
        setting: '32',
        category: 'Preset Options',
        short_desc: 'Shows the maximum number of index keys.',
        context: 'internal',
        vartype: 'integer',
        source: 'default',
      },
      {
        name: 'max_identifier_length',
        setting: '63',
        category: 'Preset Options',
        short_desc: 'Shows the maximum identifier length.',
        context: 'internal',
        vartype: 'integer',
        source: 'default',
      },
      {
        name: 'block_size',
        setting: '8192',
        category: 'Preset Options',
        short_desc: 'Shows the size of a disk block.',
        context: 'internal',
        vartype: 'integer',
        source: 'default',
      },
    ],
  ),
  table('pg_description', 'objoid int8, classoid int8, objsubid int4, description text'),
  table('pg_shdescription', 'objoid int8, classoid int8, description text'),
  table('pg_attrdef', 'oid int8, adrelid int8, adnum int2, adbin text'),
  table('pg_index', PG_INDEX, pgIndexRecords),
  table('pg_constraint', PG_CONSTRAINT, pgConstraintRecords),
  table('pg_inherits', 'inhrelid int8, inhparent int8, inhseqno int4, inhdetachpending bool'),
  table(
    'pg_trigger',
    'oid int8, tgrelid int8, tgparentid int8, tgname text, tgfoid int8, tgtype int2, tgenabled text, tgisinternal bool, tgconstrrelid int8, tgconstrindid int8, tgconstraint int8, tgdeferrable bool, tginitdeferred bool, tgnargs int2, tgattr int2[], tgargs bytea, tgqual text, tgoldtable text, tgnewtable text',
  ),
  table(
    'pg_policy',
    'oid int8, polname text, polrelid int8, polcmd text, polpermissive bool, polroles int8[], polqual text, polwithcheck text',
  ),
  table(
    'pg_rewrite',
    'oid int8, rulename text, ev_class int8, ev_type text, ev_enabled text, is_instead bool, ev_qual text, ev_action text',
  ),
  table(
    'pg_statistic_ext',
    'oid int8, stxrelid int8, stxname text, stxnamespace int8, stxowner int8, stxstattarget int4, stxkeys int2[], stxkind text[], stxexprs text',
  ),
  table(
    'pg_publication',
    'oid int8, pubname text, pubowner int8, puballtables bool, pubinsert bool, pubupdate bool, pubdelete bool, pubtruncate bool, pubviaroot bool',
  ),
  table('pg_publication_rel', 'oid int8, prpubid int8, prrelid int8, prqual text, prattrs int2[]'),
  table('pg_publication_namespace', 'oid int8, pnpubid int8, pnnspid int8'),
  table('pg_foreign_table', 'ftrelid int8, ftserver int8, ftoptions text[]'),
  table(
    'pg_foreign_server',
    'oid int8, srvname text, srvowner int8, srvfdw int8, srvtype text, srvversion text, srvacl text[], srvoptions text[]',
  ),
  table(
    'pg_proc',
    'oid int8, proname text, pronamespace int8, proowner int8, prolang int8, procost float4, prorows float4, provariadic int8, prosupport int8, prokind text, prosecdef bool, proleakproof bool, proisstrict bool, proretset bool, provolatile text, proparallel text, pronargs int2, pronargdefaults int2, prorettype int8, proargtypes int8[], proallargtypes int8[], proargmodes text[], proargnames text[], proargdefaults text, protrftypes int8[], prosrc text, probin text, prosqlbody text, proconfig text[], proacl text[]',
  ),
  table(
    'pg_collation',
    'oid int8, collname text, collnamespace int8, collowner int8, collprovider text, collisdeterministic bool, collencoding int4, collcollate text, collctype text, colliculocale text, collicurules text, collversion text',
    () => [
      {
        oid: 100n,
        collname: 'default',
        collnamespace: NAMESPACE.pg_catalog,
        collowner: 10n,
        collprovider: 'd',
        collisdeterministic: true,
        collencoding: -1,
        collcollate: null,
        collctype: null,
      },
      {
        oid: 950n,
        collname: 'C',
        collnamespace: NAMESPACE.pg_catalog,
        collowner: 10n,
        collprovider: 'c',
        collisdeterministic: true,
        collencoding: -1,
        collcollate: 'C',
        collctype: 'C',
      },
    ],
  ),
  table('pg_tablespace', 'oid int8, spcname text, spcowner int8, spcacl text[], spcoptions text[]', () => [
    { oid: 1663n, spcname: 'pg_default', spcowner: 10n },
  ]),
  table(
    'pg_sequence',
    'seqrelid int8, seqtypid int8, seqstart int8, seqincrement int8, seqmax int8, seqmin int8, seqcache int8, seqcycle bool',
  ),
  table(
    'pg_extension',
    'oid int8, extname text, extowner int8, extnamespace int8, extrelocatable bool, extversion text, extconfig int8[], extcondition text[]',
  ),
  table('pg_enum', 'oid int8, enumtypid int8, enumsortorder float4, enumlabel text'),
  table(
    'pg_range',
    'rngtypid int8, rngsubtype int8, rngmultitypid int8, rngcollation int8, rngsubopc int8, rngcanonical int8, rngsubdiff int8',
  ),
  table(
    'pg_operator',
    'oid int8, oprname text, oprnamespace int8, oprowner int8, oprkind text, oprcanmerge bool, oprcanhash bool, oprleft int8, oprright int8, oprresult int8, oprcom int8, oprnegate int8, oprcode int8, oprrest int8, oprjoin int8',
  ),
  table(
    'pg_event_trigger',
    'oid int8, evtname text, evtevent text, evtowner int8, evtfoid int8, evtenabled text, evttags text[]',
  ),
  table(
    'pg_auth_members',
    'oid int8, roleid int8, member int8, grantor int8, admin_option bool, inherit_option bool, set_option bool',
  ),
  table(
    'pg_depend',
    'classid int8, objid int8, objsubid int4, refclassid int8, refobjid int8, refobjsubid int4, deptype text',
  ),
  table(
    'pg_tables',
    'schemaname text, tablename text, tableowner text, tablespace text, hasindexes bool, hasrules bool, hastriggers bool, rowsecurity bool',
    (engine) =>
      [...engine.objects.values()]
        .filter((o) => o.kind === 'table' || o.kind === 'source')
        .map((o) => ({
          schemaname: 'public',
          tablename: o.name,
          tableowner: 'sluice',
          hasindexes: hasIndex(engine, o),
        })),
  ),
  table('pg_indexes', 'schemaname text, tablename text, indexname text, tablespace text, indexdef text', (engine) =>
    indexEntries(engine, objectOid).map((ix) => ({
      schemaname: 'public',
      tablename: ix.relation.name,
      indexname: ix.name,
      indexdef: indexDefinition(ix),
    })),
  ),
  table('pg_views', 'schemaname text, viewname text, viewowner text, definition text', (engine) =>
    [...engine.objects.values()]
      .filter((o) => o.kind === 'view')
      .map((o) => ({ schemaname: 'public', viewname: o.name, viewowner: 'sluice', definition: viewDefinition(o.sql) })),
  ),
  table(
    'pg_matviews',
    'schemaname text, matviewname text, matviewowner text, tablespace text, hasindexes bool, ispopulated bool, definition text',
    (engine) =>
      [...engine.objects.values()]
        .filter((o) => o.kind === 'materialized_view')
        .map((o) => ({
          schemaname: 'public',
          matviewname: o.name,
          matviewowner: 'sluice',
          ispopulated: true,
          definition: viewDefinition(o.sql),
        })),
  ),
]

/** The range of generate_series in FROM: attribute numbers and array subscripts, with room. */
export const SERIES_MIN = -1
export const SERIES_MAX = 10_000
const SERIES: Value[][] = Array.from({ length: SERIES_MAX - SERIES_MIN + 1 }, (_, i) => [SERIES_MIN + i])

export const SYSTEM_TABLES: readonly SystemTable[] = [
  ...PG_CATALOG,
  // pg_index with one row per key column (key_x: the column's number, key_n: its position), which
  // the rewritten driver queries of engine/sql/driver-queries.ts read instead of expanding indkey.
  {
    ...table('pg_index_keys', `${PG_INDEX}, key_x int2, key_n int4`, (engine) =>
      expandKeys(pgIndexRecords(engine), 'indkey'),
    ),
    schema: 'sluice_catalog',
  },
  {
    ...table('pg_constraint_keys', `${PG_CONSTRAINT}, key_x int2, key_n int4`, (engine) =>
      expandKeys(pgConstraintRecords(engine), 'conkey'),
    ),
    schema: 'sluice_catalog',
  },
  {
    schema: 'information_schema',
    name: 'tables',
    columns: [
      col('table_catalog', T.text),
      col('table_schema', T.text),
      col('table_name', T.text),
      col('table_type', T.text),
    ],
    rows: (engine) => [
      ...relations(engine).map((r) => ['sluice', 'public', r.name, r.type]),
      ...catalogTables().map((t) => ['sluice', t.schema, t.name, 'BASE TABLE']),
    ],
  },
  {
    schema: 'information_schema',
    name: 'columns',
    columns: [
      col('table_catalog', T.text),
      col('table_schema', T.text),
      col('table_name', T.text),
      col('column_name', T.text),
      col('ordinal_position', T.int4),
      col('column_default', T.text),
      col('is_nullable', T.text),
      col('data_type', T.text),
      col('character_maximum_length', T.int4),
      col('character_octet_length', T.int4),
      col('numeric_precision', T.int4),
      col('numeric_precision_radix', T.int4),
      col('numeric_scale', T.int4),
      col('datetime_precision', T.int4),
      col('udt_catalog', T.text),
      col('udt_schema', T.text),
      col('udt_name', T.text),
      col('is_updatable', T.text),
    ],
    rows: (engine) =>
      [
        ...relations(engine).map((r) => ({ ...r, schema: 'public' })),
        ...catalogTables().map((t) => ({ ...t, type: 'SYSTEM', primaryKey: [] as readonly number[] })),
      ].flatMap((r) =>
        r.columns.map((c, i) => {
          const t = columnTypeInfo(c.type, c.typmod)
          const nullable = r.primaryKey.includes(i) ? 'NO' : 'YES'
          return [
            'sluice',
            r.schema,
            r.name,
            c.name,
            i + 1,
            null,
            nullable,
            t.dataType,
            t.characterMaximumLength,
            t.characterOctetLength,
            t.numericPrecision,
            t.numericPrecisionRadix,
            t.numericScale,
            t.datetimePrecision,
            'sluice',
            'pg_catalog',
            t.udtName,
            r.type === 'BASE TABLE' ? 'YES' : 'NO',
          ]
        }),
      ),
  },
  {
    schema: 'information_schema',
    name: 'schemata',
    columns: [col('catalog_name', T.text), col('schema_name', T.text), col('schema_owner', T.text)],
    rows: () => [
      ['sluice', 'public', 'sluice'],
      ['sluice', 'sluice_catalog', 'sluice'],
      ['sluice', 'information_schema', 'sluice'],
      ['sluice', 'pg_catalog', 'sluice'],
    ],
  },
  {
    schema: 'sluice_catalog',
    name: 'series',
    // The integers generate_series(...) in FROM draws from (see engine/sql/convert.ts).
    columns: [col('n', T.int4)],
    rows: () => SERIES,
  },
  {
    schema: 'sluice_catalog',
    name: 'dead_letters',
    columns: [
      col('object', T.text),
      col('reason', T.text),
      col('detail', T.text),
      col('payload', T.text),
      col('received_at', T.timestamptz),
      col('origin', T.text),
    ],
    rows: (engine) =>
      engine.deadLetters.list().map((l) => [l.object, l.reason, l.detail, l.payload, l.receivedAt, l.origin ?? null]),
  },
  {
    schema: 'sluice_catalog',
    name: 'sources',
    columns: [
      col('name', T.text),
      col('connector', T.text),
      col('running', T.bool),
      col('last_error', T.text),
      col('definition', T.text),
    ],
    rows: (engine) =>
      engine
        .sources()
        .map((s) => [
          s.name,
          s.connector,
          s.driver.started,
          s.driver.lastError === undefined ? null : redactText(s.driver.lastError),
          redactSql(s.sql),
        ]),
  },
  {
    schema: 'sluice_catalog',
    name: 'views',
    columns: [
      col('name', T.text),
      col('rows', T.int8),
      col('state_entries', T.int8),
      col('status', T.text),
      col('error', T.text),
      col('definition', T.text),
    ],
    rows: (engine) =>
      engine.materializedViews().map((v) => {
        let state = 0
        for (const op of v.dataflow.operators()) state += op.stateSize?.() ?? 0
        const waiting = v.failure === undefined ? waitingInput(engine, v.dependsOn) : undefined
        const status = v.failure !== undefined ? 'failed' : waiting !== undefined ? 'waiting' : 'running'
        return [v.name, BigInt(v.materialize.rowCount), BigInt(state), status, v.failure ?? waiting ?? null, v.sql]
      }),
  },
  {
    schema: 'sluice_catalog',
    name: 'tables',
    columns: [col('name', T.text), col('rows', T.int8), col('append_only', T.bool), col('definition', T.text)],
    rows: (engine) =>
      [...engine.objects.values()].flatMap((o) =>
        o.kind === 'table' ? [[o.name, BigInt(o.rows.size), o.appendOnly, redactSql(o.sql)]] : [],
      ),
  },
  {
    schema: 'sluice_catalog',
    name: 'lag',
    // One row per partition of each running source: next offset to read, the partition's end as
    // last seen, and their difference (readers without partitions show their positions only).
    columns: [
      col('source', T.text),
      col('topic', T.text),
      col('partition', T.int4),
      col('offset', T.int8),
      col('high_watermark', T.int8),
      col('lag', T.int8),
      col('paused', T.bool),
    ],
    rows: (engine) =>
      engine.sources().flatMap((s): Value[][] => {
        if (!s.driver.started) return []
        const reader = s.driver.reader
        if (reader.lag !== undefined)
          return reader.lag().map((p) => [s.name, p.topic, p.partition, p.offset, p.end, p.end - p.offset, p.paused])
        return Object.entries(reader.offsets()).map(([k, v]) => [
          s.name,
          k,
          null,
          /^\d+$/.test(v) ? BigInt(v) : null,
          null,
          null,
          false,
        ])
      }),
  },
  {
    schema: 'sluice_catalog',
    name: 'sinks',
    // status: running, or unhealthy while its writer keeps failing (commits retried each checkpoint).
    columns: [
      col('name', T.text),
      col('connector', T.text),
      col('status', T.text),
      col('last_error', T.text),
      col('committed_epoch', T.int8),
      col('pending_epochs', T.int4),
      col('definition', T.text),
    ],
    rows: (engine) =>
      [...engine.objects.values()].flatMap((o) =>
        o.kind === 'sink'
          ? [
              [
                o.name,
                o.connector,
                o.lastError === undefined ? 'running' : 'unhealthy',
                o.lastError === undefined ? null : redactText(o.lastError),
                BigInt(o.committedEpoch),
                engine.checkpoints.pendingEpochs(o.id),
                redactSql(o.sql),
              ],
            ]
          : [],
      ),
  },
  {
    schema: 'sluice_catalog',
    name: 'secrets',
    // Names only, and only for superusers (engine/exec/privileges.ts): values never leave the catalog.
    columns: [col('name', T.text)],
    rows: secretRows,
  },
  {
    schema: 'sluice_catalog',
    name: 'checkpoints',
    // The last 100 checkpoints this process took, oldest first.
    columns: [
      col('epoch', T.int8),
      col('started_at', T.timestamptz),
      col('duration_ms', T.float8),
      col('size_bytes', T.int8),
      col('status', T.text),
      col('error', T.text),
    ],
    rows: (engine) =>
      engine.checkpoints.history.map((c) => [
        BigInt(c.epoch),
        c.startedAt * 1000,
        c.durationMs,
        BigInt(c.sizeBytes),
        c.status,
        c.error ?? null,
      ]),
  },
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

/** A sluice_catalog relation in pg_class: a read-only table of the sluice_catalog namespace. */
function catalogClassRow(t: SystemTable): Record<string, Value> {
  return {
    oid: systemTableOid(t),
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

function catalogAttributeRows(t: SystemTable): Record<string, Value>[] {
  return t.columns.map((c, k) => ({
    attrelid: systemTableOid(t),
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
    attnotnull: false,
    attidentity: '',
    attgenerated: '',
    attislocal: true,
  }))
}

/** A system table by schema and name; unqualified names find pg_catalog's, as PostgreSQL's search path does. */
export function findSystemTable(schema: string | undefined, name: string): SystemTable | undefined {
  return SYSTEM_TABLES.find((t) => t.name === name && t.schema === (schema ?? 'pg_catalog'))
}
