/**
 * information_schema: tables, columns and schemata, for the user's relations and the
 * sluice_catalog tables.
 */
import type { ColumnSchema } from '../connector.ts'
import type { Engine } from '../engine.ts'
import { T } from '../types/datatype.ts'
import { columnTypeInfo } from '../types/typmod.ts'
import type { SystemTable, CatalogListing } from './system-table.ts'
import { col } from './system-table.ts'

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

/** information_schema's tables; they list the sluice_catalog tables of `listing` too. */
export function informationSchemaTables(listing: CatalogListing): SystemTable[] {
  return [
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
        ...listing.tables().map((t) => ['sluice', t.schema, t.name, 'BASE TABLE']),
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
          ...listing.tables().map((t) => ({ ...t, type: 'SYSTEM', primaryKey: [] as readonly number[] })),
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
  ]
}
