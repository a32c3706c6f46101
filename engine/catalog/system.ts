/**
 * Sluice's own system tables (`sluice_catalog.*`): read-only relations computed from the running
 * engine when a query reads them. They have no change stream; views cannot be built over them.
 */
import type { ColumnSchema } from '../connector.ts'
import type { Engine } from '../engine.ts'
import type { Value } from '../types/datatype.ts'
import { T } from '../types/datatype.ts'
import { formatTypeName } from '../types/oid.ts'

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

export const SYSTEM_TABLES: readonly SystemTable[] = [
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
    columns: [col('source', T.text), col('position', T.text), col('value', T.text)],
    rows: (engine) =>
      engine.sources().flatMap((s) => (s.driver.started ? Object.entries(s.driver.reader.offsets()).map(([k, v]) => [s.name, k, v]) : [])),
  },
  {
    schema: 'sluice_catalog',
    name: 'sinks',
    columns: [col('name', T.text), col('connector', T.text), col('status', T.text), col('definition', T.text)],
    rows: () => [],
  },
  {
    schema: 'sluice_catalog',
    name: 'checkpoints',
    columns: [col('epoch', T.int8), col('started_at', T.timestamptz), col('duration_ms', T.float8), col('size_bytes', T.int8), col('status', T.text)],
    rows: () => [],
  },
]

export function findSystemTable(schema: string | undefined, name: string): SystemTable | undefined {
  return SYSTEM_TABLES.find((t) => t.name === name && (schema === undefined ? false : t.schema === schema))
}
