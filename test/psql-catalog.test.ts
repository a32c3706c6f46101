/**
 * psql's list meta-commands against Sluice's pg_catalog emulation: \dt lists sources and tables,
 * \dm materialized views, \dv views, \l the database, \dn schemas, \conninfo the connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RunningServer } from '../server/main.ts'
import { startLocalServer } from './local-server.ts'
import { psqlCommand } from './support.ts'

describe('psql meta-commands', () => {
  let dataDir: string
  let server: RunningServer

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-psql-'))
    server = await startLocalServer(dataDir)
    await server.db.sql(`CREATE SOURCE bid WITH (connector = 'datagen', generator = 'nexmark', rate = '10')`)
    await server.db.sql(`CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR)`)
    await server.db.sql(
      `CREATE MATERIALIZED VIEW per_auction AS SELECT auction, count(*) AS n FROM bid GROUP BY auction`,
    )
    await server.db.sql(`CREATE VIEW named AS SELECT name FROM users`)
  })

  afterAll(async () => {
    await server.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const psql = (command: string): Promise<string> => psqlCommand(server.pgPort, command)

  it('lists relations by kind', async () => {
    expect(await psql('\\dt')).toBe('public|bid|table|sluice\npublic|users|table|sluice')
    expect(await psql('\\dm')).toBe('public|per_auction|materialized view|sluice')
    expect(await psql('\\dv')).toBe('public|named|view|sluice')
    expect(await psql('\\d')).toContain('public|per_auction|materialized view|sluice')
  })

  it('lists the database and schemas, and describes the connection', async () => {
    expect(await psql('\\l')).toMatch(/^sluice\|sluice\|UTF8\|/)
    expect(await psql('\\dn')).toContain('public|sluice')
    expect(await psql('\\conninfo')).toContain('You are connected to database "sluice" as user "sluice"')
  })

  it('answers the functions BI tools call', async () => {
    expect(await psql('SELECT current_database(), current_schema(), current_user')).toBe('sluice|public|sluice')
    expect(await psql('SELECT version()')).toMatch(/^PostgreSQL 16\.0 \(Sluice/)
    expect(
      await psql(
        "SELECT c.relname, c.relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1",
      ),
    ).toBe('bid|r\nnamed|v\nper_auction|m\nusers|r\nusers_pkey|i')
    expect(
      await psql(
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname = 'users' ORDER BY a.attnum",
      ),
    ).toBe('id|bigint\nname|character varying')
  })
})
