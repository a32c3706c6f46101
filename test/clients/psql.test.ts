/**
 * psql's describe meta-commands against a real Sluice server process: `\d`, `\dt`, `\dv`, `\dm`,
 * `\d <table>`, `\d <view>`, `\d+ <view>` (with its definition), `\d+ <materialized view>`, `\l`,
 * `\du`, `\conninfo`, `\di` and a table's indexes and an index under `\d`. Each sends psql's own catalog queries (scalar subqueries correlated with
 * pg_attribute rows, `::regclass`/`::regtype` casts, UNION, ARRAY(SELECT ...),
 * generate_series/unnest in FROM, `= ANY(array)`), so this pins the catalog emulation to what
 * psql really asks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { SluiceProcess } from '../sluice-process.ts'

const run = promisify(execFile)

describe('psql against a Sluice server', () => {
  let dir: string
  let sluice: SluiceProcess

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-psql-client-'))
    sluice = await SluiceProcess.create(dir, ['--checkpoint-interval', '0'])
    await sluice.start()
    await sluice.query(
      'CREATE TABLE accounts (id BIGINT PRIMARY KEY, owner VARCHAR(20), opened TIMESTAMPTZ, balance NUMERIC(12,2))',
    )
    await sluice.query(
      "INSERT INTO accounts VALUES (1, 'ann', '2024-01-01 00:00:00+00', 10.50), (2, 'bob', '2024-02-01 00:00:00+00', 3)",
    )
    await sluice.query('CREATE INDEX accounts_owner_idx ON accounts (owner)')
    await sluice.query(
      'CREATE MATERIALIZED VIEW balances AS SELECT owner, sum(balance) AS total FROM accounts GROUP BY owner',
    )
    await sluice.query('CREATE VIEW owners AS SELECT owner FROM accounts WHERE balance > 0')
  })

  afterAll(async () => {
    await sluice.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  /** psql's aligned output (as a person sees it), failing the test on anything on stderr. */
  const psql = async (command: string, aligned = true): Promise<string> => {
    const args = [
      '-X',
      ...(aligned ? [] : ['-A', '-t']),
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      '127.0.0.1',
      '-p',
      String(sluice.pgPort),
      '-U',
      'sluice',
      '-d',
      'sluice',
      '-c',
      command,
    ]
    const { stdout, stderr } = await run('psql', args, { env: { ...process.env, PGCONNECT_TIMEOUT: '10', PAGER: '' } })
    expect(stderr).toBe('')
    return stdout
  }

  it('lists relations by kind', async () => {
    expect(await psql('\\dt', false)).toBe('public|accounts|table|sluice\n')
    expect(await psql('\\dv', false)).toBe('public|owners|view|sluice\n')
    expect(await psql('\\dm', false)).toBe('public|balances|materialized view|sluice\n')
    expect(await psql('\\d', false)).toBe(
      'public|accounts|table|sluice\npublic|balances|materialized view|sluice\npublic|owners|view|sluice\n',
    )
  })

  it('describes a table with its columns, types and NOT NULL key', async () => {
    const out = await psql('\\d accounts')
    expect(out).toContain('Table "public.accounts"')
    expect(out).toMatch(/ id {6}\| bigint {19}\| {11}\| not null \|/)
    expect(out).toMatch(/ owner +\| character varying\(20\) +\|/)
    expect(out).toMatch(/ opened +\| timestamp with time zone +\|/)
    expect(out).toMatch(/ balance +\| numeric\(12,2\) +\|/)
    expect(out).toContain(
      'Indexes:\n    "accounts_pkey" PRIMARY KEY, btree (id)\n    "accounts_owner_idx" btree (owner)\n',
    )
  })

  it('lists indexes and describes one', async () => {
    expect(await psql('\\di', false)).toBe(
      'public|accounts_owner_idx|index|sluice|accounts\npublic|accounts_pkey|index|sluice|accounts\n',
    )
    const out = await psql('\\d accounts_owner_idx')
    expect(out).toContain('Index "public.accounts_owner_idx"')
    expect(out).toMatch(/ owner +\| character varying\(20\) +\| yes +\| owner/)
    expect(out).toContain('btree, for table "public.accounts"')
  })

  it('shows values with their declared scale', async () => {
    expect(await psql('SELECT id, balance FROM accounts ORDER BY id', false)).toBe('1|10.50\n2|3.00\n')
  })

  it('describes views and materialized views, with their definitions under \\d+', async () => {
    const plain = await psql('\\d owners')
    expect(plain).toContain('View "public.owners"')
    expect(plain).toMatch(/ owner +\| character varying\(20\) +\|/)
    const plus = await psql('\\d+ owners')
    expect(plus).toContain('View definition:')
    expect(plus).toContain('SELECT owner FROM accounts WHERE balance > 0;')
    const mv = await psql('\\d+ balances')
    expect(mv).toContain('Materialized view "public.balances"')
    expect(mv).toMatch(/ total +\| numeric +\|/)
    expect(mv).toContain('SELECT owner, sum(balance) AS total FROM accounts GROUP BY owner;')
    expect(await psql('\\d+ accounts')).toContain('Access method: heap')
  })

  it('lists the database and roles, and describes the connection', async () => {
    expect(await psql('\\l', false)).toMatch(/^sluice\|sluice\|UTF8\|/)
    expect(await psql('\\du', false)).toMatch(/^sluice\|Superuser/)
    expect(await psql('\\conninfo')).toContain(
      `You are connected to database "sluice" as user "sluice" on host "127.0.0.1" at port "${sluice.pgPort}".`,
    )
  })

  it('reports an unknown relation the way PostgreSQL does', async () => {
    const r = await run('psql', [
      '-X',
      '-h',
      '127.0.0.1',
      '-p',
      String(sluice.pgPort),
      '-U',
      'sluice',
      '-d',
      'sluice',
      '-c',
      '\\d nothing_here',
    ]).catch((e: { stderr: string }) => e)
    expect(r.stderr).toContain('Did not find any relation named "nothing_here".')
  })
})
