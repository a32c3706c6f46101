/**
 * The correctness check before a query is timed: Sluice's materialized view over the events
 * (datagen, same generator and spec as the timed run) against the same query in PostgreSQL over
 * the same events, compared as multisets of rows in PostgreSQL's text form. Numbers compare to
 * 12 significant digits, since avg() and numeric scales print differently in the two engines.
 *
 * A query Sluice refuses comes back as a gap with its SQLSTATE and message.
 */
import pg from 'pg'
import { Sluice, SluiceError } from '../../engine/index.ts'
import { datagenSourceFactory } from '../../connectors/datagen/index.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { formatText } from '../../engine/types/text.ts'
import type { EventSpec } from './events.ts'
import { loadPostgres } from './events.ts'
import type { NexmarkQuery } from './queries.ts'
import { sourceStatements } from './sluice-sources.ts'

export type CheckOutcome =
  | { readonly kind: 'ok'; readonly rows: number }
  | { readonly kind: 'mismatch'; readonly detail: string }
  | { readonly kind: 'gap'; readonly reason: string }

const NUMBER = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i

function normalize(cell: string | null): string {
  if (cell === null) return '∅'
  return NUMBER.test(cell) ? String(Number(Number(cell).toPrecision(12))) : cell
}

function key(row: readonly (string | null)[]): string {
  return row.map(normalize).join('\u0001')
}

function counts(rows: readonly (readonly (string | null)[])[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const r of rows) {
    const k = key(r)
    m.set(k, (m.get(k) ?? 0) + 1)
  }
  return m
}

/** Rows in one multiset and not the other, a few of each, for the report. */
function difference(ours: Map<string, number>, theirs: Map<string, number>): string[] {
  const out: string[] = []
  for (const [k, n] of ours) {
    const d = n - (theirs.get(k) ?? 0)
    if (d > 0 && out.length < 3) out.push(`${d}× ${k.replaceAll('\u0001', ' | ')}`)
  }
  return out
}

/** A scratch database for the check, dropped afterwards. */
export class Oracle {
  private constructor(
    private readonly admin: pg.Client,
    private readonly db: pg.Client,
    private readonly name: string,
  ) {}

  static async open(url: string, spec: EventSpec): Promise<Oracle> {
    const name = `nexmark_check_${process.pid}`
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    await admin.query(`DROP DATABASE IF EXISTS ${name}`)
    await admin.query(`CREATE DATABASE ${name}`)
    const u = new URL(url)
    u.pathname = `/${name}`
    // Every value as PostgreSQL's text, the form Sluice's rows are compared in.
    const db = new pg.Client({ connectionString: u.toString(), types: { getTypeParser: () => (v: string) => v } })
    await db.connect()
    await db.query(`SET TIME ZONE 'UTC'`)
    await loadPostgres(db, spec)
    return new Oracle(admin, db, name)
  }

  /** The rows of `sql`, after `tables` (a query's own tables), which are rolled back afterwards. */
  async rows(sql: string, tables: readonly string[] = []): Promise<(string | null)[][]> {
    await this.db.query('BEGIN')
    try {
      for (const stmt of tables) await this.db.query(stmt)
      const res = await this.db.query<(string | null)[]>({ text: sql, rowMode: 'array' })
      return res.rows
    } finally {
      await this.db.query('ROLLBACK')
    }
  }

  async close(): Promise<void> {
    await this.db.end()
    await this.admin.query(`DROP DATABASE IF EXISTS ${this.name}`)
    await this.admin.end()
  }
}

/** Runs `query` in Sluice over the spec's events and compares with the oracle. */
export async function checkQuery(
  query: NexmarkQuery,
  spec: EventSpec,
  oracle: Oracle,
  workers = 1,
): Promise<CheckOutcome> {
  const db = await Sluice.open({
    dataDir: ':memory:',
    flushTimeoutMs: 3_600_000,
    sources: [datagenSourceFactory],
    workers,
  })
  try {
    for (const stmt of sourceStatements('datagen', spec, '', '')) await db.sql(stmt)
    for (const stmt of query.tables ?? []) await db.sql(stmt)
    try {
      await db.sql(`CREATE MATERIALIZED VIEW nexmark_check AS ${query.sql}`)
    } catch (e) {
      if (e instanceof SluiceError) return { kind: 'gap', reason: `Sluice refuses it: ${e.code} ${e.message}` }
      throw e
    }
    await db.sql('FLUSH')
    const [res] = await db.sql('SELECT * FROM nexmark_check')
    const columns = res.columns ?? []
    const ours = (res.rows ?? []).map((r: readonly Value[]) =>
      r.map((v, i) => (v === null ? null : formatText(columns[i].type, v))),
    )
    const theirs = await oracle.rows(query.postgres ?? query.sql, query.tables)
    const a = counts(ours)
    const b = counts(theirs)
    const extra = difference(a, b)
    const missing = difference(b, a)
    if (extra.length === 0 && missing.length === 0) return { kind: 'ok', rows: ours.length }
    return {
      kind: 'mismatch',
      detail: `Sluice ${ours.length} rows, PostgreSQL ${theirs.length}; only in Sluice: ${extra.join('; ') || '-'}; only in PostgreSQL: ${missing.join('; ') || '-'}`,
    }
  } finally {
    await db.close()
  }
}
