/**
 * pg_index and pg_constraint rows (Sluice's indexes and primary keys), and the key-per-row
 * helper tables that the rewritten driver queries (engine/sql/driver-queries.ts) read.
 */
import type { Engine } from '../engine.ts'
import type { Value } from '../types/datatype.ts'
import { indexEntries, pkConstraintOid } from './indexes.ts'
import type { SystemTable } from './system-table.ts'
import { NAMESPACE, objectOid, table } from './system-table.ts'

export const PG_INDEX =
  'indexrelid int8, indrelid int8, indnatts int2, indnkeyatts int2, indisunique bool, indnullsnotdistinct bool, indisprimary bool, indisexclusion bool, indimmediate bool, indisclustered bool, indisvalid bool, indcheckxmin bool, indisready bool, indislive bool, indisreplident bool, indkey int2[], indcollation int8[], indclass int8[], indoption int2[], indexprs text, indpred text'

export function pgIndexRecords(engine: Engine): Record<string, Value>[] {
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

export const PG_CONSTRAINT =
  'oid int8, conname text, connamespace int8, contype text, condeferrable bool, condeferred bool, convalidated bool, conrelid int8, contypid int8, conindid int8, conparentid int8, confrelid int8, confupdtype text, confdeltype text, confmatchtype text, conislocal bool, coninhcount int4, connoinherit bool, conkey int2[], confkey int2[], conpfeqop int8[], conppeqop int8[], conffeqop int8[], confdelsetcols int2[], conexclop int8[], conbin text'

/** Primary keys, Sluice's only constraints: `<table>_pkey`, backed by the primary-key index. */
export function pgConstraintRecords(engine: Engine): Record<string, Value>[] {
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

/** pg_index and pg_constraint with one row per key column (helpers of driver-queries.ts). */
export const PG_KEY_TABLES: readonly SystemTable[] = [
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
]
