/**
 * sluice_catalog's relations as PostgreSQL lists a schema's tables: in pg_class (namespace
 * sluice_catalog) and pg_attribute, so the real psql's `\dt sluice_catalog.*` and
 * `\d sluice_catalog.views` find them, and in information_schema.tables and .columns; not on the
 * search path, so a plain `\dt` still lists only the user's relations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningServer } from '../server/main.ts'
import { startLocalServer } from './local-server.ts'
import { TempDirs, psqlCommand } from './support.ts'

const dirs = new TempDirs('sluice-psql-catalog-')
const CATALOG = ['checkpoints', 'dead_letters', 'lag', 'sinks', 'sources', 'tables', 'views']

describe('sluice_catalog in the PostgreSQL catalog', () => {
  let server: RunningServer

  beforeAll(async () => {
    server = await startLocalServer(dirs.make())
    await server.db.sql(`CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR)`)
  })

  afterAll(async () => {
    await server.close()
    dirs.removeAll()
  })

  const psql = (command: string): Promise<string> => psqlCommand(server.pgPort, command)

  it('lists every sluice_catalog relation with \\dt sluice_catalog.*', async () => {
    const listed = (await psql('\\dt sluice_catalog.*')).split('\n')
    // CATALOG and any relation added since; never the internal helpers (series, pg_index_keys).
    expect(listed).toEqual(expect.arrayContaining(CATALOG.map((name) => `sluice_catalog|${name}|table|sluice`)))
    for (const line of listed) expect(line).toMatch(/^sluice_catalog\|[a-z_]+\|table\|sluice$/)
    expect(listed.join('\n')).not.toMatch(/series|_keys/)
    expect(await psql('\\dt sluice_catalog.view*')).toBe('sluice_catalog|views|table|sluice')
    // Not on the search path: the user's relations alone, as before.
    expect(await psql('\\dt')).toBe('public|users|table|sluice')
  })

  it('describes a sluice_catalog relation with \\d, and reads it by the name psql shows', async () => {
    const described = await psql('\\d sluice_catalog.sinks')
    expect(described.split('\n').map((l) => l.split('|').slice(0, 2).join('|'))).toEqual(
      expect.arrayContaining(['name|text', 'status|text', 'committed_epoch|bigint']),
    )
    expect(await psql('SELECT name FROM sluice_catalog.tables')).toBe('users')
  })

  it('lists sluice_catalog relations and their columns in information_schema', async () => {
    expect(
      await psql(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'sluice_catalog' ORDER BY 1",
      ),
    ).toEqual(
      expect.stringContaining(
        CATALOG.slice(0, 3)
          .map((n) => `${n}|BASE TABLE`)
          .join('\n'),
      ),
    )
    expect(
      await psql(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'sluice_catalog' AND table_name = 'dead_letters' ORDER BY ordinal_position",
      ),
    ).toMatch(/^object\|text\nreason\|text\n/)
    expect(
      await psql("SELECT table_schema, table_name FROM information_schema.tables WHERE table_name = 'users'"),
    ).toBe('public|users')
  })
})
