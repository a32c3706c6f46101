/**
 * CREATE INDEX and DROP INDEX: secondary indexes on tables and materialized views
 * (catalog/indexes.ts). An index is built when created, kept with every change of its relation,
 * persisted as its statement and rebuilt at startup by replaying it; pull queries read it for
 * `col = constant` filters. Dropping a relation drops its indexes.
 */
import type { Engine } from '../engine.ts'
import type { StatementBody } from '../sql/tree.ts'
import type { StatementResult } from '../session-api.ts'
import type { IndexObject } from '../catalog/indexes.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { catalogDelete, catalogPut } from '../catalog/catalog-store.ts'
import { kindLabel } from '../catalog/objects.ts'

type CreateIndex = Extract<StatementBody, { kind: 'create_index' }>
type DropIndex = Extract<StatementBody, { kind: 'drop_index' }>

/** PostgreSQL's longest identifier (NAMEDATALEN - 1). */
const MAX_NAME = 63

export async function createIndex(engine: Engine, s: CreateIndex, sql: string): Promise<StatementResult> {
  const rel = engine.get(s.relation)
  if (rel === undefined)
    throw new SluiceError(SqlState.undefined_table, `relation "${s.relation}" does not exist`, { position: s.position })
  if (rel.kind !== 'table' && rel.kind !== 'materialized_view') {
    throw new SluiceError(SqlState.wrong_object_type, `cannot create index on relation "${s.relation}"`, {
      detail: `This operation is not supported for ${rel.kind === 'view' ? 'views' : rel.kind === 'source' ? 'sources: a source holds no rows' : 'sinks'}.`,
      position: s.position,
    })
  }
  const columns = s.columns.map((name) => {
    const i = rel.columns.findIndex((c) => c.name === name)
    if (i < 0)
      throw new SluiceError(SqlState.undefined_column, `column "${name}" does not exist`, { position: s.position })
    return i
  })
  if (new Set(columns).size !== columns.length)
    throw new SluiceError(SqlState.duplicate_column, 'column specified more than once in an index', {
      position: s.position,
    })
  const name = s.name ?? defaultName(engine, rel.name, s.columns)
  if (engine.indexes.has(name) || engine.get(name) !== undefined || isPrimaryKeyIndex(engine, name)) {
    if (s.ifNotExists) return { tag: 'CREATE INDEX', notices: [`relation "${name}" already exists, skipping`] }
    throw new SluiceError(SqlState.duplicate_table, `relation "${name}" already exists`)
  }
  const index: IndexObject = { id: engine.allocateId(), name, sql, relation: rel.name, columns }
  if (rel.kind === 'table') rel.rows.addIndex(name, columns)
  else rel.materialize.declareIndex(name, columns)
  engine.indexes.set(name, index)
  if (engine.restoringId === undefined) {
    try {
      await engine.store.write([catalogPut({ id: index.id, kind: 'index', name, sql })])
    } catch (e) {
      forget(engine, index)
      throw e
    }
  }
  return { tag: 'CREATE INDEX' }
}

export async function dropIndexes(engine: Engine, s: DropIndex): Promise<StatementResult> {
  const notices: string[] = []
  for (const name of s.names) {
    const index = engine.indexes.get(name)
    if (index === undefined) {
      if (isPrimaryKeyIndex(engine, name)) {
        const table = name.slice(0, -'_pkey'.length)
        throw new SluiceError(
          SqlState.dependent_objects_still_exist,
          `cannot drop index ${name} because constraint ${name} on table ${table} requires it`,
          {
            hint: `The primary key goes with its table: DROP TABLE ${table}.`,
          },
        )
      }
      const other = engine.get(name)
      if (other !== undefined)
        throw new SluiceError(SqlState.wrong_object_type, `"${name}" is not an index`, {
          hint: `Use DROP ${kindLabel(other.kind).toUpperCase()} to remove a ${kindLabel(other.kind)}.`,
        })
      if (s.ifExists) {
        notices.push(`index "${name}" does not exist, skipping`)
        continue
      }
      throw new SluiceError(SqlState.undefined_object, `index "${name}" does not exist`)
    }
    forget(engine, index)
    await engine.store.write([catalogDelete(index.id)])
  }
  return { tag: 'DROP INDEX', notices }
}

/** Drops the indexes of a relation being dropped (PostgreSQL drops them with their table). */
export async function dropIndexesOf(engine: Engine, relation: string): Promise<void> {
  for (const index of [...engine.indexes.values()]) {
    if (index.relation !== relation) continue
    engine.indexes.delete(index.name)
    await engine.store.write([catalogDelete(index.id)])
  }
}

function forget(engine: Engine, index: IndexObject): void {
  engine.indexes.delete(index.name)
  const rel = engine.get(index.relation)
  if (rel?.kind === 'table') rel.rows.dropIndex(index.name)
  else if (rel?.kind === 'materialized_view') rel.materialize.undeclareIndex(index.name)
}

function isPrimaryKeyIndex(engine: Engine, name: string): boolean {
  if (!name.endsWith('_pkey')) return false
  const table = engine.get(name.slice(0, -'_pkey'.length))
  return table?.kind === 'table' && table.primaryKey !== undefined
}

/** PostgreSQL's made-up index name: `<table>_<col>_<col>_idx`, numbered when taken, cut to 63 characters. */
function defaultName(engine: Engine, table: string, columns: readonly string[]): string {
  const base = `${table}_${columns.join('_')}`.slice(0, MAX_NAME - 4)
  for (let n = 0; ; n++) {
    const name = n === 0 ? `${base}_idx` : `${base}_idx${n}`
    if (!engine.indexes.has(name) && engine.get(name) === undefined) return name
  }
}
