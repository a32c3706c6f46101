/**
 * Test support: a PostgreSQL scratch schema with a unique name on the local server, and
 * SqlClients whose search_path points at it, so slt files can use plain table names without
 * clashing with other test runs. Dropped with everything in it by `drop()`.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { SqlClient } from './client.ts'
import { pgwireClient } from './pgwire-client.ts'

export const LOCAL_POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' } as const

export interface ScratchSchema {
  readonly name: string
  /** A new connection whose search_path is the scratch schema. */
  client(): Promise<SqlClient>
  drop(): Promise<void>
}

export async function createScratchSchema(prefix = 'slt'): Promise<ScratchSchema> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client(LOCAL_POSTGRES)
  await admin.connect()
  try {
    await admin.query(`CREATE SCHEMA ${name}`)
  } finally {
    await admin.end()
  }
  return {
    name,
    client: () => pgwireClient({ ...LOCAL_POSTGRES, options: `-c search_path=${name}` }),
    async drop(): Promise<void> {
      const c = new pg.Client(LOCAL_POSTGRES)
      await c.connect()
      try {
        await c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
      } finally {
        await c.end()
      }
    },
  }
}
