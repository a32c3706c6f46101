/**
 * The PostgreSQL side of a sink's table: Sluice types as PostgreSQL types, creating the target
 * table (PRIMARY KEY on the row key) and the progress table, and checking that an existing
 * target table can take the sink's rows: every column there with the same type, a unique index
 * on exactly the key columns (what INSERT ... ON CONFLICT needs), no other NOT NULL column
 * without a default.
 */
import type pg from 'pg'
import type { ColumnSchema } from '../../engine/connector.ts'
import type { DataType } from '../../engine/types/datatype.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { formatTypeName } from '../../engine/types/oid.ts'

/** Where each sink's last committed epoch is kept, one row per (sink, target table). */
export const PROGRESS_TABLE = '_sluice_sink_progress'

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** The PostgreSQL type a column of this Sluice type gets, as format_type spells it. */
export function pgType(t: DataType): string {
  if (t.kind === 'unknown') return 'text'
  if (t.kind === 'array' && t.element.kind === 'unknown') return 'text[]'
  return formatTypeName(t)
}

/** Types an existing column may have for a Sluice type besides its own (text goes into varchar). */
function fits(expected: string, found: string): boolean {
  if (expected === found) return true
  const textual = ['text', 'character varying', 'character']
  return textual.includes(expected) && textual.includes(found)
}

export interface TargetTable {
  readonly schema: string
  readonly table: string
  readonly columns: readonly ColumnSchema[]
  readonly key: readonly number[]
}

export function qualified(t: { readonly schema: string; readonly table: string }): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`
}

function mismatch(t: TargetTable, message: string, hint?: string): SluiceError {
  return new SluiceError(SqlState.datatype_mismatch, `postgres table ${qualified(t)} ${message}`, {
    domain: 'user',
    ...(hint === undefined ? {} : { hint }),
  })
}

/**
 * Creates what is missing (the progress table always, the target when `create`) and checks the
 * target. Runs under an advisory lock so sinks opening at the same time do not race on CREATE.
 */
export async function prepareTables(client: pg.Client, t: TargetTable, create: boolean): Promise<void> {
  await client.query('BEGIN')
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('sluice sink ddl'))")
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quoteIdent(t.schema)}.${PROGRESS_TABLE} (sink text NOT NULL, target text NOT NULL, epoch bigint NOT NULL, committed_at timestamptz, PRIMARY KEY (sink, target))`,
    )
    const exists = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::oid AS oid', [qualified(t)])
    let oid = exists.rows[0]?.oid ?? null
    if (oid === null) {
      if (!create)
        throw new SluiceError(SqlState.undefined_table, `postgres table ${qualified(t)} does not exist`, {
          hint: "create it, or let the sink create it (create_table = 'true')",
        })
      const cols = t.columns.map((c) => `${quoteIdent(c.name)} ${pgType(c.type)}`)
      await client.query(
        `CREATE TABLE ${qualified(t)} (${cols.join(', ')}, PRIMARY KEY (${t.key.map((k) => quoteIdent(t.columns[k].name)).join(', ')}))`,
      )
      oid = (await client.query<{ oid: string }>('SELECT to_regclass($1)::oid AS oid', [qualified(t)])).rows[0].oid
    }
    await checkTable(client, t, oid)
    await client.query('COMMIT')
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {})
    throw e
  }
}

async function checkTable(client: pg.Client, t: TargetTable, oid: string): Promise<void> {
  const attrs = await client.query<{ name: string; type: string; attnum: number; notnull: boolean; hasdef: boolean }>(
    `SELECT attname AS name, format_type(atttypid, NULL) AS type, attnum, attnotnull AS notnull, atthasdef AS hasdef
       FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [oid],
  )
  const byName = new Map(attrs.rows.map((a) => [a.name, a]))
  for (const c of t.columns) {
    const a = byName.get(c.name)
    const want = pgType(c.type)
    if (a === undefined)
      throw mismatch(
        t,
        `has no column "${c.name}" (${want})`,
        `add it: ALTER TABLE ${qualified(t)} ADD COLUMN ${quoteIdent(c.name)} ${want}`,
      )
    if (!fits(want, a.type)) throw mismatch(t, `has column "${c.name}" of type ${a.type}, the sink writes ${want}`)
  }
  const written = new Set(t.columns.map((c) => c.name))
  for (const a of attrs.rows) {
    if (!written.has(a.name) && a.notnull && !a.hasdef)
      throw mismatch(t, `has a NOT NULL column "${a.name}" without a default that the sink does not write`)
  }
  const keyAttnums = t.key.map((k) => byName.get(t.columns[k].name)!.attnum).sort((x, y) => x - y)
  const indexes = await client.query<{ cols: number[] }>(
    'SELECT indkey::int2[] AS cols FROM pg_index WHERE indrelid = $1 AND indisunique AND indpred IS NULL AND indexprs IS NULL',
    [oid],
  )
  const same = (cols: readonly number[]): boolean => {
    const s = [...cols].sort((x, y) => x - y)
    return s.length === keyAttnums.length && s.every((v, i) => v === keyAttnums[i])
  }
  if (!indexes.rows.some((r) => same(r.cols))) {
    const names = t.key.map((k) => quoteIdent(t.columns[k].name)).join(', ')
    throw mismatch(
      t,
      `has no primary key or unique index on the sink's key (${names})`,
      `add one: ALTER TABLE ${qualified(t)} ADD PRIMARY KEY (${names})`,
    )
  }
}
