/**
 * Who may connect and what they may do, with real clients against the real engine: SCRAM-SHA-256
 * (pg and psql), stored SCRAM verifiers, MD5, the read-only role (42501 for anything that
 * changes state), and TLS (SSLRequest answered 'S' with a self-signed certificate made by the
 * openssl CLI, 'N' without one, plain clients refused when TLS is required).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import pg from 'pg'
import { serialize } from 'pg-protocol'
import { Sluice } from '../../engine/index.ts'
import { formatVerifier, makeVerifier } from './auth.ts'
import { startPgServer, type AuthConfig, type PgServer, type PgTlsOptions } from './server.ts'

let db: Sluice
let dir: string
let tls: PgTlsOptions
const servers: PgServer[] = []

async function serve(auth: AuthConfig, tlsOptions?: PgTlsOptions): Promise<PgServer> {
  const s = await startPgServer({
    host: '127.0.0.1',
    port: 0,
    auth,
    tls: tlsOptions,
    openSession: (st) => db.session({ ...st, readOnly: st.role === 'readonly' }),
  })
  servers.push(s)
  return s
}

function psql(
  port: number,
  user: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'psql',
      ['-X', '-A', '-t', '-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', 'sluice', ...args],
      { env: { ...process.env, PGCONNECT_TIMEOUT: '10', ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}

/** The server's first message after a StartupMessage for user sluice. */
function firstAuthRequest(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(serialize.startup({ user: 'sluice', database: 'sluice' })))
    let buf = Buffer.alloc(0)
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      if (buf.length >= 5 && buf.length >= 1 + buf.readInt32BE(1)) {
        sock.destroy()
        resolve(buf.subarray(0, 1 + buf.readInt32BE(1)))
      }
    })
    sock.on('error', reject)
  })
}

async function query(config: pg.ClientConfig, sql: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ host: '127.0.0.1', database: 'sluice', ...config })
  await c.connect()
  try {
    return await c.query(sql)
  } finally {
    await c.end()
  }
}

beforeAll(async () => {
  db = await Sluice.open({ dataDir: ':memory:' })
  await db.sql('CREATE TABLE acc_t (id BIGINT PRIMARY KEY, name TEXT)')
  await db.sql("INSERT INTO acc_t VALUES (1, 'ann')")
  dir = mkdtempSync(join(tmpdir(), 'sluice-pgwire-tls-'))
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  )
  tls = { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) }
})

afterAll(async () => {
  for (const s of servers) await s.close()
  await db.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('SCRAM-SHA-256', () => {
  it('authenticates pg and psql, refuses wrong passwords and unknown users alike', async () => {
    const s = await serve({ mode: 'password', users: new Map([['sluice', 'sc-pw']]) })
    expect((await query({ port: s.port, user: 'sluice', password: 'sc-pw' }, 'SELECT name FROM acc_t')).rows).toEqual([
      { name: 'ann' },
    ])
    const ok = await psql(s.port, 'sluice', ['-c', 'SELECT 1'], { PGPASSWORD: 'sc-pw' })
    expect([ok.code, ok.stdout]).toEqual([0, '1\n'])
    // The first answer to a startup is AuthenticationSASL (10) offering SCRAM-SHA-256, not MD5 (5).
    const first = await firstAuthRequest(s.port)
    expect(first.readInt32BE(5)).toBe(10)
    expect(first.subarray(9).toString('latin1')).toBe('SCRAM-SHA-256\0\0')
    const wrong = await query({ port: s.port, user: 'sluice', password: 'nope' }, 'SELECT 1').catch((e: unknown) => e)
    expect(wrong).toMatchObject({ code: '28P01', message: 'password authentication failed for user "sluice"' })
    const unknown = await query({ port: s.port, user: 'mallory', password: 'sc-pw' }, 'SELECT 1').catch(
      (e: unknown) => e,
    )
    expect(unknown).toMatchObject({ code: '28P01', message: 'password authentication failed for user "mallory"' })
    const bad = await psql(s.port, 'sluice', ['-c', 'SELECT 1'], { PGPASSWORD: 'nope' })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('password authentication failed for user "sluice"')
  })

  it('accepts a stored verifier instead of the password', async () => {
    const verifier = formatVerifier(makeVerifier('from-file', randomBytes(16), 4096))
    expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:/)
    const s = await serve({ mode: 'password', users: new Map([['ops', { password: verifier }]]) })
    expect((await query({ port: s.port, user: 'ops', password: 'from-file' }, 'SELECT 3 AS n')).rows).toEqual([
      { n: 3 },
    ])
    await expect(query({ port: s.port, user: 'ops', password: verifier }, 'SELECT 1')).rejects.toMatchObject({
      code: '28P01',
    })
  })

  it('still offers md5 when configured', async () => {
    const s = await serve({ mode: 'password', users: new Map([['sluice', 'm5']]), method: 'md5' })
    expect((await query({ port: s.port, user: 'sluice', password: 'm5' }, 'SELECT 1 AS one')).rows).toEqual([
      { one: 1 },
    ])
  })
})

describe('the read-only role', () => {
  it('lets a BI user read and refuses every change with 42501', async () => {
    const s = await serve({
      mode: 'password',
      users: new Map<string, string | { password: string; role: 'readonly' }>([
        ['sluice', 'admin-pw'],
        ['bi', { password: 'bi-pw', role: 'readonly' }],
      ]),
    })
    const c = new pg.Client({ host: '127.0.0.1', port: s.port, database: 'sluice', user: 'bi', password: 'bi-pw' })
    await c.connect()
    try {
      expect((await c.query('SELECT name FROM acc_t')).rows).toEqual([{ name: 'ann' }])
      expect((await c.query('SHOW TABLES')).rows.map((r: { name: string }) => r.name)).toContain('acc_t')
      expect((await c.query('SHOW is_superuser')).rows).toEqual([{ is_superuser: 'off' }])
      await c.query("SET timezone = 'Europe/Paris'")
      expect((await c.query('EXPLAIN SELECT * FROM acc_t')).rows.length).toBeGreaterThan(0)
      for (const sql of [
        "INSERT INTO acc_t VALUES (2, 'bob')",
        "UPDATE acc_t SET name = 'x' WHERE id = 1",
        'DELETE FROM acc_t WHERE id = 1',
        'CREATE TABLE acc_other (k BIGINT)',
        'CREATE MATERIALIZED VIEW acc_v AS SELECT count(*) FROM acc_t',
        'DROP TABLE acc_t',
        'FLUSH',
      ]) {
        await expect(c.query(sql), sql).rejects.toMatchObject({ code: '42501' })
      }
      // Extended protocol too, and the statement before a refused one in the same query still ran.
      await expect(c.query('INSERT INTO acc_t VALUES ($1, $2)', [3, 'cy'])).rejects.toMatchObject({ code: '42501' })
      expect((await c.query('SELECT count(*) AS n FROM acc_t')).rows).toEqual([{ n: '1' }])
    } finally {
      await c.end()
    }
    const admin = await query(
      { port: s.port, user: 'sluice', password: 'admin-pw' },
      "INSERT INTO acc_t VALUES (9, 'zed')",
    )
    expect(admin.rowCount).toBe(1)
    const viaPsql = await psql(s.port, 'bi', ['-c', 'DELETE FROM acc_t'], { PGPASSWORD: 'bi-pw' })
    expect(viaPsql.code).toBe(1)
    expect(viaPsql.stderr).toContain('permission denied: DELETE is not allowed for the read-only user "bi"')
  })

  it('applies to users listed under trust authentication', async () => {
    const s = await serve({ mode: 'trust', users: new Map([['viewer', { role: 'readonly' }]]) })
    await expect(query({ port: s.port, user: 'viewer' }, 'DROP TABLE acc_t')).rejects.toMatchObject({ code: '42501' })
    expect((await query({ port: s.port, user: 'anyone' }, 'SELECT count(*) AS n FROM acc_t')).rows).toEqual([
      { n: '2' },
    ])
  })
})

describe('TLS', () => {
  it('upgrades on SSLRequest for pg and psql when a certificate is configured', async () => {
    const s = await serve({ mode: 'password', users: new Map([['sluice', 'tls-pw']]) }, tls)
    const r = await query(
      { port: s.port, user: 'sluice', password: 'tls-pw', ssl: { rejectUnauthorized: false } },
      'SELECT name FROM acc_t WHERE id = 1',
    )
    expect(r.rows).toEqual([{ name: 'ann' }])
    const strict = await query(
      { port: s.port, user: 'sluice', password: 'tls-pw', ssl: { ca: tls.cert.toString(), servername: 'localhost' } },
      'SELECT 5 AS n',
    )
    expect(strict.rows).toEqual([{ n: 5 }])
    const viaPsql = await psql(s.port, 'sluice', ['-c', 'SELECT 6'], { PGPASSWORD: 'tls-pw', PGSSLMODE: 'require' })
    expect([viaPsql.code, viaPsql.stdout]).toEqual([0, '6\n'])
    // psql reports the encryption in \conninfo.
    const info = await psql(s.port, 'sluice', ['-c', '\\conninfo'], { PGPASSWORD: 'tls-pw', PGSSLMODE: 'require' })
    expect(info.stdout).toMatch(/SSL connection \(protocol: TLSv1\.[23]/)
    // Plain clients are still served unless TLS is required.
    expect((await query({ port: s.port, user: 'sluice', password: 'tls-pw' }, 'SELECT 7 AS n')).rows).toEqual([
      { n: 7 },
    ])
  })

  it("answers 'N' without a certificate, so sslmode=prefer goes on in plain text and require fails", async () => {
    const s = await serve({ mode: 'trust' })
    const prefer = await psql(s.port, 'sluice', ['-c', 'SELECT 8'], { PGSSLMODE: 'prefer' })
    expect(prefer.stdout).toBe('8\n')
    const require = await psql(s.port, 'sluice', ['-c', 'SELECT 8'], { PGSSLMODE: 'require' })
    expect(require.code).toBe(2)
    expect(require.stderr).toMatch(/server does not support SSL/)
  })

  it('refuses plain-text clients when TLS is required', async () => {
    const s = await serve({ mode: 'trust' }, { ...tls, required: true })
    await expect(query({ port: s.port, user: 'sluice' }, 'SELECT 1')).rejects.toMatchObject({ code: '28000' })
    expect(
      (await query({ port: s.port, user: 'sluice', ssl: { rejectUnauthorized: false } }, 'SELECT 9 AS n')).rows,
    ).toEqual([{ n: 9 }])
  })
})
