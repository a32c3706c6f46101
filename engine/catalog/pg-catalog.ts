/**
 * pg_catalog: the PostgreSQL system tables and views that drivers, psql and BI tools read,
 * filled from Sluice's objects (or empty where Sluice has no such thing).
 */
import { indexDefinition, indexEntries } from './indexes.ts'
import { pgRolesRows, pgUserRows } from './access-rows.ts'
import { BTREE, hasIndex, pgRelationTables } from './pg-class.ts'
import { PG_INDEX, pgIndexRecords, PG_CONSTRAINT, pgConstraintRecords } from './pg-index-rows.ts'
import type { SystemTable, CatalogListing } from './system-table.ts'
import { NAMESPACE, objectOid, table, viewDefinition } from './system-table.ts'

/** pg_catalog's tables (in the order that fixes their OIDs). */
export function pgCatalogTables(listing: CatalogListing): SystemTable[] {
  return [
    ...pgRelationTables(listing),
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
        .map((o) => ({
          schemaname: 'public',
          viewname: o.name,
          viewowner: 'sluice',
          definition: viewDefinition(o.sql),
        })),
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
}
