/**
 * ALTER SOURCE s ADD COLUMN c type: additive schema evolution of a running source. The column is
 * appended last; the reader decodes it from the next record on (records without the field read
 * NULL), views created before keep their columns, views created after see it. The statement is
 * persisted after the source's CREATE, so a restart replays both and keeps the column.
 */
import type { ColumnSchema } from '../connector.ts'
import type { Engine } from '../engine.ts'
import type { ColumnDef } from '../sql/tree.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { catalogPut } from '../catalog/catalog-store.ts'
import { kindLabel } from '../catalog/objects.ts'

export async function alterSourceAddColumn(
  engine: Engine,
  source: string,
  def: ColumnDef,
  column: ColumnSchema,
  statementText: string,
): Promise<void> {
  const obj = engine.get(source)
  if (obj === undefined) throw new SluiceError(SqlState.undefined_table, `source "${source}" does not exist`)
  if (obj.kind !== 'source') {
    throw new SluiceError(SqlState.wrong_object_type, `"${source}" is a ${kindLabel(obj.kind)}, not a source`, {
      hint:
        obj.kind === 'table' ? 'tables change through their own statements; ALTER SOURCE evolves sources' : undefined,
    })
  }
  if (obj.columns.some((c) => c.name === column.name)) {
    throw new SluiceError(SqlState.duplicate_column, `column "${column.name}" of source "${source}" already exists`, {
      hint: 'a source evolves additively: add a column under a new name (changing the type of an existing one is not supported)',
    })
  }
  if (def.primaryKey || def.notNull) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      `an added source column must be nullable: records written before it have no "${column.name}"`,
    )
  }
  const reader = obj.driver.reader
  if (reader.addColumn === undefined) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      `connector "${obj.connector}" cannot add columns to a running source`,
    )
  }
  if (engine.restoringId === undefined) await reader.checkColumns?.([...obj.columns, column])
  const sql = `${obj.sql.replace(/;?\s*$/, '')};\n${statementText.trim().replace(/;$/, '')}`
  if (engine.restoringId === undefined) {
    // Persisted first: a crash right after must not forget a column views may already read.
    await engine.store.write([catalogPut({ id: obj.id, kind: obj.kind, name: obj.name, sql })])
  }
  reader.addColumn(column)
  // The object stays the same instance (the driver, the views' inputs and the stream refer to it).
  const mutable = obj as { columns: readonly ColumnSchema[]; sql: string }
  mutable.columns = [...obj.columns, column]
  mutable.sql = sql
}
