/**
 * psycopg2 and SQLAlchemy (Debian's python3-psycopg2 and python3-sqlalchemy, run with Debian's
 * /usr/bin/python3) against a real Sluice server process: queries with parameters, several
 * statements in one query, SQLSTATEs, and SQLAlchemy's inspector (table, view and materialized
 * view names, columns with their type modifiers, view definitions, the primary key and indexes),
 * which is what Superset and pandas introspect with; NUMERIC(12,2) values keep their scale
 * across a server restart.
 * The packages are installed with apt-get when missing; a machine that cannot install them fails
 * the test with the reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import type { SluiceProcess } from '../sluice-process.ts'
import { startUsersServer, type UsersServer } from './users-server.ts'

const PYTHON = '/usr/bin/python3'
const PACKAGES = ['python3-psycopg2', 'python3-sqlalchemy']

function havePackages(): boolean {
  return spawnSync(PYTHON, ['-c', 'import psycopg2, sqlalchemy'], { encoding: 'utf8' }).status === 0
}

/** Installs the Debian packages when the modules are missing; throws with apt's words when it cannot. */
function ensurePackages(): void {
  if (havePackages()) return
  if (process.getuid?.() !== 0)
    throw new Error(
      `psycopg2 and SQLAlchemy are missing for ${PYTHON}; install them with: apt-get install -y ${PACKAGES.join(' ')}`,
    )
  let r = spawnSync('apt-get', ['install', '-y', ...PACKAGES], {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { encoding: 'utf8' })
    r = spawnSync('apt-get', ['install', '-y', ...PACKAGES], {
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    })
  }
  if (r.status !== 0 || !havePackages())
    throw new Error(`could not install ${PACKAGES.join(' ')} with apt-get:\n${r.stdout}\n${r.stderr}`)
}

interface Seen {
  row: [number, string, string]
  description: [string, number][]
  multi: number[][]
  error: string | null
  any: number
  server_version: number
  tables: string[]
  views: string[]
  materialized_views?: string[]
  schemas: string[]
  columns: Record<string, [string, string, boolean][]>
  view_definition: string
  pk: { constrained_columns: string[]; name: string }
  indexes: [string, string[], boolean][]
  sa_rows: [number, string][]
}

describe('psycopg2 and SQLAlchemy against a Sluice server', () => {
  let server: UsersServer | undefined
  let sluice: SluiceProcess

  beforeAll(async () => {
    ensurePackages()
    server = await startUsersServer(
      'sluice-python-',
      "(1, 'ann', '2024-03-01 12:30:00+00', 19.99), (2, 'bob', NULL, 0.5)",
    )
    sluice = server.sluice
  }, 600_000)

  afterAll(async () => {
    await server?.stop()
  })

  it('queries and introspects', () => {
    const out = execFileSync(PYTHON, [join(import.meta.dirname, 'python/introspect.py'), String(sluice.pgPort)], {
      encoding: 'utf8',
      timeout: 120_000,
    })
    const seen = JSON.parse(out) as Seen
    expect(seen.row).toEqual([1, 'ann', '19.99'])
    expect(seen.description).toEqual([
      ['id', 20],
      ['name', 1043],
      ['price', 1700],
    ])
    expect(seen.multi).toEqual([[2]])
    expect(seen.error).toBe('42P01')
    expect(seen.any).toBe(1)
    expect(seen.server_version).toBe(160000)
    expect(seen.tables).toEqual(['users'])
    // SQLAlchemy 1.4 lists materialized views among the views; 2.x has a call of their own.
    if (seen.materialized_views === undefined) expect(seen.views).toEqual(['mv', 'v'])
    else {
      expect(seen.views).toEqual(['v'])
      expect(seen.materialized_views).toEqual(['mv'])
    }
    expect(seen.schemas).toContain('public')
    expect(seen.columns).toEqual({
      users: [
        ['id', 'BIGINT', false],
        ['name', 'VARCHAR(40)', true],
        ['ts', 'TIMESTAMP', true],
        ['price', 'NUMERIC(12, 2)', true],
      ],
      mv: [
        ['id', 'BIGINT', true],
        ['name', 'VARCHAR(40)', true],
      ],
      v: [['name', 'VARCHAR(40)', true]],
    })
    expect(seen.pk).toEqual({ constrained_columns: ['id'], name: 'users_pkey' })
    expect(seen.indexes).toEqual([['users_name_idx', ['name'], false]])
    expect(seen.view_definition).toBe('SELECT name FROM users;')
    expect(seen.sa_rows).toEqual([
      [1, 'ann'],
      [2, 'bob'],
    ])
  })

  it('reads NUMERIC(12,2) values with their scale after a restart', async () => {
    await sluice.stop()
    await sluice.start()
    const out = execFileSync(
      PYTHON,
      [join(import.meta.dirname, 'python/introspect.py'), String(sluice.pgPort), 'prices'],
      { encoding: 'utf8', timeout: 120_000 },
    )
    expect(JSON.parse(out)).toEqual([
      [1, '19.99'],
      [2, '0.50'],
    ])
  }, 120_000)
})
