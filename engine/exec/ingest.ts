/**
 * Appending decoded rows to an APPEND ONLY table from outside SQL (HTTP ingest): one call is one
 * batch — persisted atomically, then pushed to every view, then the watermark moves once (SQL.md
 * "Batches"). A batch that breaks a constraint applies nothing.
 */
import type { Column } from '../chunk.ts'
import type { ColumnSchema } from '../connector.ts'
import type { Engine } from '../engine.ts'
import type { Value } from '../types/datatype.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { kindLabel } from '../catalog/objects.ts'
import { RowMap } from '../util/row-map.ts'
import { applyColumnMods } from '../types/typmod.ts'

/** A table rows can be appended to. */
export interface IngestTarget {
  readonly name: string
  readonly columns: readonly ColumnSchema[]
  /** Appends `length` rows given column by column (declared order); resolves once durable. */
  append(columns: readonly Column[], length: number): Promise<void>
}

/**
 * The APPEND ONLY table `name`: 42P01 when there is none, 42809 when `name` is another kind of
 * object, 0A000 when the table takes updates (ingest is for append-only tables).
 */
export function ingestTarget(engine: Engine, name: string): IngestTarget {
  const obj = engine.get(name)
  if (obj === undefined) throw new SluiceError(SqlState.undefined_table, `relation "${name}" does not exist`)
  if (obj.kind !== 'table')
    throw new SluiceError(SqlState.wrong_object_type, `"${name}" is a ${kindLabel(obj.kind)}, not a table`, {
      hint: 'Rows can be ingested into APPEND ONLY tables.',
    })
  if (!obj.appendOnly) {
    throw new SluiceError(SqlState.feature_not_supported, `table "${name}" is not APPEND ONLY`, {
      hint: 'Ingest writes to tables created with APPEND ONLY; use INSERT for other tables.',
    })
  }
  const table = obj
  return {
    name,
    columns: table.columns,
    append: (columns, length) =>
      engine.writeLock.run(async () => {
        if (engine.get(name) !== table)
          throw new SluiceError(SqlState.undefined_table, `relation "${name}" does not exist`)
        if (engine.closed) throw new SluiceError(SqlState.admin_shutdown, 'the server is shutting down')
        const rows: Value[][] = new Array<Value[]>(length)
        const width = table.columns.length
        for (let i = 0; i < length; i++) {
          const row = new Array<Value>(width)
          for (let c = 0; c < width; c++) row[c] = columns[c][i]
          rows[i] = row
        }
        applyColumnMods(table.columns, rows)
        const pk = table.primaryKey
        if (pk !== undefined) {
          const batch = new RowMap<number>(pk.map((c) => table.columns[c].type))
          for (let i = 0; i < length; i++) {
            const key = table.rows.keyOf(rows[i])
            const nullAt = key.indexOf(null)
            if (nullAt >= 0) {
              throw new SluiceError(
                SqlState.not_null_violation,
                `null value in column "${table.columns[pk[nullAt]].name}" of relation "${name}" violates not-null constraint`,
                { detail: `in row ${i + 1}` },
              )
            }
            const hash = batch.hashKey(key)
            if (batch.find(key, hash) !== undefined || table.rows.findByKey(key) !== undefined) {
              throw new SluiceError(
                SqlState.unique_violation,
                `duplicate key value violates unique constraint "${name}_pkey"`,
                { detail: `in row ${i + 1}` },
              )
            }
            batch.insert(key, hash, i)
          }
        }
        if (length > 0) await engine.applyTableChange(table, rows, [])
      }),
  }
}
