/**
 * Which index a pull query's lookup on some columns reads (the index-lookup rule asks it through
 * RelationRef.lookupIndex, EXPLAIN names the result on the scan): a table's primary key when the
 * columns include all of it, else the table's declared index with the most columns among them; a
 * materialized view's declared index, else one the view builds on first use. A view that reads its
 * rows from its aggregate's state looks up only by the group keys, which key that state.
 */
import type { MaterializedViewObject, TableObject } from '../catalog/objects.ts'
import type { LookupIndex } from '../plan/logical.ts'

export function lookupIndex(
  relation: TableObject | MaterializedViewObject,
  columns: readonly number[],
): LookupIndex | undefined {
  if (relation.kind === 'table') {
    const pk = relation.primaryKey
    if (pk !== undefined && pk.length > 0 && pk.every((c) => columns.includes(c)))
      return { name: `${relation.name}_pkey`, columns: pk }
    const ix = relation.rows.indexFor(columns)
    return ix === undefined ? undefined : { name: ix.name, columns: ix.columns }
  }
  // A view that reads its rows from its aggregate's state looks up only by the group keys.
  if (!relation.materialize.servesLookup(columns)) return undefined
  const declared = relation.materialize.declaredIndexName(columns)
  // Nothing is built for it: the aggregate's state is keyed by the group (EXPLAIN says so).
  if (declared === undefined && relation.materialize.derived !== undefined) return { name: 'group key', columns }
  if (declared === undefined) return { name: undefined, columns }
  // The view's lookup reads the declared index on exactly these columns, or the widest among them.
  return { name: declared, columns }
}
