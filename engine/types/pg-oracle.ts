/**
 * Test helper: one PostgreSQL connection used as the oracle by the engine/types tests, and
 * small wrappers to run a query per sample and capture either its text result or its error.
 */
import pg from 'pg'

export type OracleResult =
  | { readonly ok: true; readonly text: string | null }
  | { readonly ok: false; readonly code: string; readonly message: string }

export interface Oracle {
  /** Runs `sql` (one value in, first column of the first row out, as text). */
  one(sql: string, params?: readonly unknown[]): Promise<OracleResult>
  /** Runs `sql` returning all rows with every column as text (or null). */
  rows(sql: string, params?: readonly unknown[]): Promise<(string | null)[][]>
  close(): Promise<void>
}

export async function openOracle(): Promise<Oracle> {
  const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' })
  // Every column as text, exactly as PostgreSQL printed it.
  const types = { getTypeParser: () => (v: string) => v }
  await client.connect()
  await client.query("SET extra_float_digits = 1; SET IntervalStyle = 'postgres'; SET DateStyle = 'ISO, MDY'")
  return {
    async one(sql, params = []) {
      try {
        const r = await client.query({ text: sql, values: params as unknown[], types, rowMode: 'array' })
        const row = (r.rows as unknown[][])[0]
        return { ok: true, text: row === undefined ? null : (row[0] as string | null) }
      } catch (e) {
        const err = e as { code?: string; message?: string }
        return { ok: false, code: err.code ?? '', message: err.message ?? String(e) }
      }
    },
    async rows(sql, params = []) {
      const r = await client.query({ text: sql, values: params as unknown[], types, rowMode: 'array' })
      return r.rows as (string | null)[][]
    },
    async close() {
      await client.end()
    },
  }
}

/** Runs `fn` and captures its result or SluiceError the way the oracle reports PostgreSQL's. */
export function capture(fn: () => string): OracleResult {
  try {
    return { ok: true, text: fn() }
  } catch (e) {
    const err = e as { code?: string; message?: string }
    return { ok: false, code: err.code ?? 'JS', message: err.message ?? String(e) }
  }
}
