/**
 * pgJDBC (the driver DBeaver, Metabase and Tableau use) against a real Sluice server process:
 * DatabaseMetaData getCatalogs/getSchemas/getTableTypes/getTables/getColumns (VARCHAR(40) with its
 * size, NUMERIC(12,2) with its digits)/getPrimaryKeys/getIndexInfo/getImportedKeys/getTypeInfo,
 * result-set metadata from RowDescription's type modifiers, prepared statements with binary
 * transfer from the first execution, typed parameters and results, a fetch size (Execute with a
 * row limit, PortalSuspended), SQLSTATEs, and NUMERIC(12,2) values keeping their scale across a
 * server restart.
 * The client is test/clients/jdbc, built once with Maven (incremental: later runs reuse target/).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { SluiceProcess } from '../sluice-process.ts'
import { startUsersServer, type UsersServer } from './users-server.ts'

const clientDir = join(import.meta.dirname, 'jdbc')

describe('pgJDBC against a Sluice server', () => {
  let server: UsersServer | undefined
  let sluice: SluiceProcess
  let classpath = ''

  beforeAll(async () => {
    const build = spawnSync('mvn', ['-q', 'compile', 'dependency:build-classpath', '-Dmdep.outputFile=target/cp.txt'], {
      cwd: clientDir,
      encoding: 'utf8',
    })
    if (build.status !== 0)
      throw new Error(`building the pgJDBC client with Maven failed:\n${build.stdout}\n${build.stderr}`)
    classpath = `${join(clientDir, 'target/classes')}:${readFileSync(join(clientDir, 'target/cp.txt'), 'utf8').trim()}`
    server = await startUsersServer(
      'sluice-jdbc-',
      "(1, 'ann', '2024-03-01 12:30:00+00', 19.99), (2, 'bob', '2024-03-02 08:00:00.5+00', 0.5)",
    )
    sluice = server.sluice
  }, 600_000)

  afterAll(async () => {
    await server?.stop()
  })

  it('introspects, queries with typed parameters in binary, fetches in pieces and reports SQLSTATEs', () => {
    const out = execFileSync(
      'java',
      ['-cp', classpath, 'sluice.JdbcProbe', `jdbc:postgresql://127.0.0.1:${sluice.pgPort}/sluice`],
      { encoding: 'utf8', timeout: 120_000 },
    )
    const lines = out.trim().split('\n')
    expect(lines).toContain('product PostgreSQL 16.0')
    expect(lines).toContain('catalog sluice')
    expect(lines.filter((l) => l.startsWith('schema '))).toEqual([
      'schema information_schema',
      'schema pg_catalog',
      'schema public',
      'schema sluice_catalog',
    ])
    expect(lines).toContain('tabletype MATERIALIZED VIEW')
    // With no type filter pgJDBC lists indexes too, as against PostgreSQL.
    expect(lines.filter((l) => l.startsWith('table '))).toEqual([
      'table public.users_name_idx INDEX',
      'table public.users_pkey INDEX',
      'table public.mv MATERIALIZED VIEW',
      'table public.users TABLE',
      'table public.v VIEW',
    ])
    // sluice_catalog's relations are tables of their own schema (as with \dt sluice_catalog.*), so
    // an unfiltered getTables lists them after public's (pgJDBC sorts by type, schema, name).
    const typed = lines.filter((l) => l.startsWith('table-typed '))
    expect(typed[0]).toBe('table-typed mv MATERIALIZED VIEW')
    expect(typed[1]).toBe('table-typed users TABLE')
    expect(typed.at(-1)).toBe('table-typed v VIEW')
    expect(typed).toEqual(expect.arrayContaining(['table-typed sinks TABLE', 'table-typed views TABLE']))
    // java.sql.Types: BIGINT -5, VARCHAR 12, TIMESTAMP 93, NUMERIC 2.
    expect(lines.filter((l) => l.startsWith('column '))).toEqual([
      'column mv.id -5 int8 1 YES',
      'column mv.name 12 varchar 2 YES',
      'column users.id -5 int8 1 NO',
      'column users.name 12 varchar 2 YES',
      'column users.ts 93 timestamptz 3 YES',
      'column users.price 2 numeric 4 YES',
      'column v.name 12 varchar 1 YES',
    ])
    expect(lines.filter((l) => l.startsWith('colsize '))).toEqual([
      'colsize id int8 19 0',
      'colsize name varchar 40 0',
      'colsize ts timestamptz 35 6',
      'colsize price numeric 12 2',
    ])
    expect(lines.filter((l) => l.startsWith('pk '))).toEqual(['pk id 1 users_pkey'])
    expect(lines.filter((l) => l.startsWith('index '))).toEqual([
      'index users_pkey id 1 unique',
      'index users_name_idx name 1 non-unique',
    ])
    expect(lines.filter((l) => l.startsWith('rsmeta '))).toEqual([
      'rsmeta name varchar 40 0',
      'rsmeta price numeric 12 2',
    ])
    expect(lines).toContain('typeinfo true')
    expect(lines).toContain('row 1 ann 2024-03-01T12:30:00Z 19.99')
    expect(lines).toContain('row 2 bob 2024-03-02T08:00:00.500Z 0.50')
    expect(lines).toContain('params 42 héllo 2.5 true 2024-02-29')
    expect(lines).toContain('fetched 10 55')
    expect(lines).toContain('error 42P01')
    expect(lines).toContain('count 2')
  })

  it('reads NUMERIC(12,2) values with their scale after a restart', async () => {
    await sluice.stop()
    await sluice.start()
    const out = execFileSync(
      'java',
      ['-Dprobe=rows', '-cp', classpath, 'sluice.JdbcProbe', `jdbc:postgresql://127.0.0.1:${sluice.pgPort}/sluice`],
      { encoding: 'utf8', timeout: 120_000 },
    )
    expect(out.trim().split('\n')).toEqual(['price 1 19.99', 'price 2 0.50'])
  }, 120_000)
})
