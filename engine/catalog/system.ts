/**
 * Sluice's own system tables (`sluice_catalog.*`): read-only relations computed from the running
 * engine when a query reads them. They have no change stream; views cannot be built over them.
 */
import type { ColumnSchema } from '../connector.ts'
import type { Engine } from '../engine.ts'
import type { Value } from '../types/datatype.ts'
import { SQL_KINDS, T, arrayOf } from '../types/datatype.ts'
import { formatTypeName, pgTypeName, typeLength, typeOid } from '../types/oid.ts'

export interface SystemTable {
  readonly schema: string
  readonly name: string
  readonly columns: readonly ColumnSchema[]
  rows(engine: Engine): Value[][]
}

const col = (name: string, type: ColumnSchema['type']): ColumnSchema => ({ name, type })

/** Every relation a client can read, for information_schema. */
function relations(engine: Engine): { name: string; type: string; columns: readonly ColumnSchema[] }[] {
  return [...engine.objects.values()]
    .sort((a, b) => a.id - b.id)
    .map((o) => ({ name: o.name, type: o.kind === 'source' || o.kind === 'table' ? 'BASE TABLE' : 'VIEW', columns: o.columns }))
}

/** OIDs: user objects after PostgreSQL's first normal OID, namespaces as in PostgreSQL. */
export const NAMESPACE = { pg_catalog: 11n, public: 2200n, information_schema: 13000n, sluice_catalog: 13001n } as const
export function objectOid(id: number): bigint {
  return 16384n + BigInt(id)
}

const RELKIND = { source: 'r', table: 'r', materialized_view: 'm', view: 'v', sink: 'r' } as const

const PG_CATALOG: readonly SystemTable[] = [
  {
    schema: 'pg_catalog',
    name: 'pg_namespace',
    columns: [col('oid', T.int8), col('nspname', T.text), col('nspowner', T.int8), col('nspacl', arrayOf(T.text))],
    rows: () => Object.entries(NAMESPACE).map(([name, oid]) => [oid, name, 10n, null]),
  },
  {
    schema: 'pg_catalog',
    name: 'pg_class',
    columns: [
      col('oid', T.int8),
      col('relname', T.text),
      col('relnamespace', T.int8),
      col('reltype', T.int8),
      col('relowner', T.int8),
      col('relam', T.int8),
      col('reltuples', T.float4),
      col('relhasindex', T.bool),
      col('relpersistence', T.text),
      col('relkind', T.text),
      col('relnatts', T.int2),
      col('relchecks', T.int2),
      col('relhasrules', T.bool),
      col('relhastriggers', T.bool),
      col('relhassubclass', T.bool),
      col('relrowsecurity', T.bool),
      col('relforcerowsecurity', T.bool),
      col('relispopulated', T.bool),
      col('relreplident', T.text),
      col('relispartition', T.bool),
      col('reloftype', T.int8),
      col('relacl', arrayOf(T.text)),
      col('reloptions', arrayOf(T.text)),
    ],
    rows: (engine) =>
      [...engine.objects.values()].map((o) => [
        objectOid(o.id),
        o.name,
        NAMESPACE.public,
        0n,
        10n,
        o.kind === 'table' || o.kind === 'source' ? 2n : 0n,
        o.kind === 'table' ? o.rows.size : o.kind === 'materialized_view' ? o.materialize.rowCount : 0,
        false,
        'p',
        RELKIND[o.kind],
        o.columns.length,
        0,
        false,
        false,
        false,
        false,
        false,
        true,
        'd',
        false,
        0n,
        null,
        null,
      ]),
  },
  {
    schema: 'pg_catalog',
    name: 'pg_attribute',
    columns: [
      col('attrelid', T.int8),
      col('attname', T.text),
      col('atttypid', T.int8),
      col('attlen', T.int2),
      col('attnum', T.int2),
      col('atttypmod', T.int4),
      col('attnotnull', T.bool),
      col('atthasdef', T.bool),
      col('attidentity', T.text),
      col('attgenerated', T.text),
      col('attisdropped', T.bool),
      col('attcollation', T.int8),
    ],
    rows: (engine) =>
      [...engine.objects.values()].flatMap((o) =>
        o.columns.map((c, i) => [objectOid(o.id), c.name, BigInt(typeOid(c.type)), typeLength(c.type), i + 1, -1, o.kind === 'table' && (o.primaryKey ?? []).includes(i), false, '', '', false, 0n]),
      ),
  },
  {
    schema: 'pg_catalog',
    name: 'pg_type',
    columns: [col('oid', T.int8), col('typname', T.text), col('typnamespace', T.int8), col('typlen', T.int2), col('typtype', T.text), col('typelem', T.int8), col('typarray', T.int8), col('typbasetype', T.int8), col('typtypmod', T.int4), col('typnotnull', T.bool)],
    rows: () =>
      SQL_KINDS.flatMap((k) => {
        const t = T[k]
        const arr = arrayOf(t)
        return [
          [BigInt(typeOid(t)), pgTypeName(t), NAMESPACE.pg_catalog, typeLength(t), 'b', 0n, BigInt(typeOid(arr)), 0n, -1, false],
          [BigInt(typeOid(arr)), pgTypeName(arr), NAMESPACE.pg_catalog, -1, 'b', BigInt(typeOid(t)), 0n, 0n, -1, false],
        ]
      }),
  },
  {
    schema: 'pg_catalog',
    name: 'pg_database',
    columns: [col('oid', T.int8), col('datname', T.text), col('datdba', T.int8), col('encoding', T.int4), col('datlocprovider', T.text), col('datistemplate', T.bool), col('datallowconn', T.bool), col('datcollate', T.text), col('datctype', T.text), col('daticulocale', T.text), col('datacl', arrayOf(T.text))],
    rows: () => [[16383n, 'sluice', 10n, 6, 'c', false, true, 'C', 'C', null, null]],
  },
  {
    schema: 'pg_catalog',
    name: 'pg_am',
    columns: [col('oid', T.int8), col('amname', T.text), col('amtype', T.text)],
    rows: () => [[2n, 'heap', 't']],
  },
  {
    schema: 'pg_catalog',
    name: 'pg_roles',
    columns: [col('oid', T.int8), col('rolname', T.text), col('rolsuper', T.bool), col('rolcanlogin', T.bool)],
    rows: () => [[10n, 'sluice', true, true]],
  },
  {
    schema: 'pg_catalog',
    name: 'pg_settings',
    columns: [col('name', T.text), col('setting', T.text), col('unit', T.text), col('category', T.text), col('short_desc', T.text)],
    rows: () => [['server_version', '16.0', null, 'Preset Options', 'Shows the server version.'], ['server_encoding', 'UTF8', null, 'Preset Options', 'Shows the server (database) character set encoding.'], ['max_connections', '1000', null, 'Connections and Authentication', 'Sets the maximum number of concurrent connections.']],
  },
  ...(['pg_index', 'pg_description', 'pg_inherits', 'pg_constraint', 'pg_proc', 'pg_trigger', 'pg_policy', 'pg_rewrite', 'pg_statistic_ext', 'pg_publication', 'pg_foreign_table'] as const).map(
    (name): SystemTable => ({ schema: 'pg_catalog', name, columns: [col('oid', T.int8)], rows: () => [] }),
  ),
]

export const SYSTEM_TABLES: readonly SystemTable[] = [
  ...PG_CATALOG,
  {
    schema: 'information_schema',
    name: 'tables',
    columns: [col('table_catalog', T.text), col('table_schema', T.text), col('table_name', T.text), col('table_type', T.text)],
    rows: (engine) => relations(engine).map((r) => ['sluice', 'public', r.name, r.type]),
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
    ],
    rows: (engine) =>
      relations(engine).flatMap((r) => r.columns.map((c, i) => ['sluice', 'public', r.name, c.name, i + 1, null, 'YES', c.display ?? (c.type.kind === 'array' ? 'ARRAY' : formatTypeName(c.type))])),
  },
  {
    schema: 'information_schema',
    name: 'schemata',
    columns: [col('catalog_name', T.text), col('schema_name', T.text), col('schema_owner', T.text)],
    rows: () => [['sluice', 'public', 'sluice'], ['sluice', 'sluice_catalog', 'sluice'], ['sluice', 'information_schema', 'sluice'], ['sluice', 'pg_catalog', 'sluice']],
  },
  {
    schema: 'sluice_catalog',
    name: 'dead_letters',
    columns: [col('object', T.text), col('reason', T.text), col('detail', T.text), col('payload', T.text), col('received_at', T.timestamptz), col('origin', T.text)],
    rows: (engine) => engine.deadLetters.list().map((l) => [l.object, l.reason, l.detail, l.payload, l.receivedAt, l.origin ?? null]),
  },
  {
    schema: 'sluice_catalog',
    name: 'sources',
    columns: [col('name', T.text), col('connector', T.text), col('running', T.bool), col('last_error', T.text), col('definition', T.text)],
    rows: (engine) => engine.sources().map((s) => [s.name, s.connector, s.driver.started, s.driver.lastError ?? null, s.sql]),
  },
  {
    schema: 'sluice_catalog',
    name: 'views',
    columns: [col('name', T.text), col('rows', T.int8), col('state_entries', T.int8), col('status', T.text), col('error', T.text), col('definition', T.text)],
    rows: (engine) =>
      engine.materializedViews().map((v) => {
        let state = 0
        for (const op of v.dataflow.operators()) state += op.stateSize?.() ?? 0
        return [v.name, BigInt(v.materialize.rowCount), BigInt(state), v.failure === undefined ? 'running' : 'failed', v.failure ?? null, v.sql]
      }),
  },
  {
    schema: 'sluice_catalog',
    name: 'tables',
    columns: [col('name', T.text), col('rows', T.int8), col('append_only', T.bool), col('definition', T.text)],
    rows: (engine) =>
      [...engine.objects.values()].flatMap((o) => (o.kind === 'table' ? [[o.name, BigInt(o.rows.size), o.appendOnly, o.sql]] : [])),
  },
  {
    schema: 'sluice_catalog',
    name: 'lag',
    // One row per partition of each running source: next offset to read, the partition's end as
    // last seen, and their difference (readers without partitions show their positions only).
    columns: [col('source', T.text), col('topic', T.text), col('partition', T.int4), col('offset', T.int8), col('high_watermark', T.int8), col('lag', T.int8), col('paused', T.bool)],
    rows: (engine) =>
      engine.sources().flatMap((s): Value[][] => {
        if (!s.driver.started) return []
        const reader = s.driver.reader
        if (reader.lag !== undefined) return reader.lag().map((p) => [s.name, p.topic, p.partition, p.offset, p.end, p.end - p.offset, p.paused])
        return Object.entries(reader.offsets()).map(([k, v]) => [s.name, k, null, /^\d+$/.test(v) ? BigInt(v) : null, null, null, false])
      }),
  },
  {
    schema: 'sluice_catalog',
    name: 'sinks',
    // status: running, or unhealthy while its writer keeps failing (commits retried each checkpoint).
    columns: [col('name', T.text), col('connector', T.text), col('status', T.text), col('last_error', T.text), col('committed_epoch', T.int8), col('pending_epochs', T.int4), col('definition', T.text)],
    rows: (engine) =>
      [...engine.objects.values()].flatMap((o) =>
        o.kind === 'sink'
          ? [[o.name, o.connector, o.lastError === undefined ? 'running' : 'unhealthy', o.lastError ?? null, BigInt(o.committedEpoch), engine.checkpoints.pendingEpochs(o.id), o.sql]]
          : [],
      ),
  },
  {
    schema: 'sluice_catalog',
    name: 'checkpoints',
    // The last 100 checkpoints this process took, oldest first.
    columns: [col('epoch', T.int8), col('started_at', T.timestamptz), col('duration_ms', T.float8), col('size_bytes', T.int8), col('status', T.text), col('error', T.text)],
    rows: (engine) => engine.checkpoints.history.map((c) => [BigInt(c.epoch), c.startedAt * 1000, c.durationMs, BigInt(c.sizeBytes), c.status, c.error ?? null]),
  },
]

/** A system table by schema and name; unqualified names find pg_catalog's, as PostgreSQL's search path does. */
export function findSystemTable(schema: string | undefined, name: string): SystemTable | undefined {
  return SYSTEM_TABLES.find((t) => t.name === name && t.schema === (schema ?? 'pg_catalog'))
}
