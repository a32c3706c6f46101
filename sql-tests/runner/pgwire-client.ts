/**
 * SqlClient over the PostgreSQL wire protocol with the `pg` package: works against Sluice's
 * pgwire server and against a real PostgreSQL (the oracle). Every type parser is replaced by the
 * identity, so values arrive exactly as the server printed them in text format.
 */
import pg from 'pg'
import type { SqlClient, SqlOutcome } from './client.ts'

/** Where to connect; `options` is passed to the server like libpq's (e.g. `-c search_path=x`). */
export interface PgwireTarget {
  readonly host?: string
  readonly port?: number
  readonly user?: string
  readonly password?: string
  readonly database?: string
  readonly options?: string
}

const identity = (value: string): string => value
const textTypes = { getTypeParser: () => identity } as unknown as pg.CustomTypesConfig

/** Connects (a connection string such as `postgres://sluice@127.0.0.1:4566/sluice`, or a target). */
export async function pgwireClient(target: string | PgwireTarget): Promise<SqlClient> {
  const config: pg.ClientConfig = typeof target === 'string' ? { connectionString: target } : { ...target }
  const client = new pg.Client({ ...config, types: textTypes })
  // An error event without a listener would crash the process; the next query reports it instead.
  client.on('error', () => {})
  await client.connect()
  return {
    async run(sql: string): Promise<SqlOutcome> {
      try {
        // No parameters: pg uses the simple query protocol, so several statements may be sent.
        const res = (await client.query({ text: sql, rowMode: 'array' })) as unknown
        const results = (Array.isArray(res) ? res : [res]) as pg.QueryArrayResult<(string | null)[]>[]
        const last = results[results.length - 1]
        const fields = last?.fields ?? []
        return { columns: fields.map((f) => f.name), rows: fields.length === 0 ? [] : last.rows }
      } catch (e) {
        if (e instanceof pg.DatabaseError) return { error: { code: e.code ?? '', message: e.message } }
        throw e
      }
    },
    async close(): Promise<void> {
      await client.end()
    },
  }
}
