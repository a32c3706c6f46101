/**
 * Users and privileges, one model for both doors: a superuser creates a role and grants it SELECT
 * on one view; the role reads that view over pgwire (node-postgres, psql) and HTTP (Basic auth and
 * its own token) and gets 42501 for everything else, on both. Roles, grants, secrets and tokens
 * survive a restart (the password still works), and a PostgreSQL sink's password shows nowhere:
 * not in the catalog, SHOW CREATE, HTTP answers or the log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import pg from 'pg'
import type { RunningServer } from '../server/main.ts'
import { checkListenAuth } from '../server/main.ts'
import { startLocalServer } from './local-server.ts'
import { createLogger } from '../server/log.ts'
import { TempDirs } from './support.ts'

const ADMIN_PASSWORD = 'admin-pw'
const SINK_PASSWORD = 'S1nkSecret_' + process.pid.toString(36)
const SINK_ROLE = `sluice_sink_${process.pid.toString(36)}`
const SCHEMA = `sluice_roles_${process.pid.toString(36)}${Date.now().toString(36)}`
const SINK_URL = `postgres://${SINK_ROLE}:${SINK_PASSWORD}@127.0.0.1:5432/postgres`

const dirs = new TempDirs('sluice-roles-')
const logLines: string[] = []
let dataDir: string
let server: RunningServer
const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' })

async function start(): Promise<RunningServer> {
  return startLocalServer(dataDir, {
    auth: { mode: 'password', users: new Map([['sluice', ADMIN_PASSWORD]]) },
    logLevel: 'info',
    logger: createLogger({ level: 'debug', destination: { write: (line: string) => logLines.push(line) } }),
    checkpointIntervalMs: 200,
  })
}

async function connect(user: string, password: string): Promise<pg.Client> {
  const client = new pg.Client({ host: '127.0.0.1', port: server.pgPort, user, password, database: 'sluice' })
  await client.connect()
  return client
}

/** The SQLSTATE of a pgwire query's failure ('' when it succeeds). */
async function pgCode(client: pg.Client, sql: string): Promise<string> {
  try {
    await client.query(sql)
    return ''
  } catch (e) {
    return (e as { code?: string }).code ?? 'no code'
  }
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}

async function http(path: string, authorization: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${server.httpPort}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, text: await res.text() }
}

async function httpSql(authorization: string, sql: string): Promise<{ status: number; code: string; text: string }> {
  const { status, text } = await http('/v1/sql', authorization, { sql })
  const code = status === 200 ? '' : ((JSON.parse(text) as { code?: string }).code ?? '')
  return { status, code, text }
}

beforeAll(async () => {
  dataDir = dirs.make()
  await admin.connect()
  await admin.query(`DROP ROLE IF EXISTS ${SINK_ROLE}`)
  await admin.query(`CREATE ROLE ${SINK_ROLE} LOGIN PASSWORD '${SINK_PASSWORD}'`)
  await admin.query(`CREATE SCHEMA ${SCHEMA} AUTHORIZATION ${SINK_ROLE}`)
  server = await start()
  const su = await connect('sluice', ADMIN_PASSWORD)
  await su.query(`CREATE TABLE t (k BIGINT, v BIGINT) APPEND ONLY`)
  await su.query(`INSERT INTO t VALUES (1, 10), (2, 20)`)
  await su.query(`CREATE MATERIALIZED VIEW totals AS SELECT k, sum(v) AS s FROM t GROUP BY k`)
  await su.query(`CREATE MATERIALIZED VIEW hidden AS SELECT count(*) AS n FROM t`)
  await su.query(`CREATE USER reader PASSWORD 'r'; GRANT SELECT ON totals TO reader`)
  await su.query('FLUSH')
  await su.end()
}, 60_000)

afterAll(async () => {
  await server?.close()
  await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => {})
  await admin.query(`DROP ROLE IF EXISTS ${SINK_ROLE}`).catch(() => {})
  await admin.end()
  dirs.removeAll()
})

describe('a role granted SELECT on one view', () => {
  it('reads it over pgwire and gets 42501 for everything else', async () => {
    const reader = await connect('reader', 'r')
    try {
      const { rows } = await reader.query('SELECT k, s FROM totals ORDER BY k')
      expect(rows).toEqual([
        { k: '1', s: '10' },
        { k: '2', s: '20' },
      ])
      expect(await pgCode(reader, 'INSERT INTO t VALUES (3, 30)')).toBe('42501')
      expect(await pgCode(reader, 'CREATE TABLE mine (a INT)')).toBe('42501')
      expect(await pgCode(reader, 'DROP MATERIALIZED VIEW totals')).toBe('42501')
      expect(await pgCode(reader, 'FLUSH')).toBe('42501')
      expect(await pgCode(reader, 'SELECT * FROM hidden')).toBe('42501')
      expect(await pgCode(reader, 'SELECT * FROM (SELECT * FROM t) x')).toBe('42501')
      expect(await pgCode(reader, "CREATE USER other PASSWORD 'x'")).toBe('42501')
      expect(await pgCode(reader, 'SELECT * FROM sluice_catalog.secrets')).toBe('42501')
      const su = await reader.query('SHOW is_superuser')
      expect(su.rows[0]).toEqual({ is_superuser: 'off' })
    } finally {
      await reader.end()
    }
  })

  it('reads it over HTTP with Basic auth and gets 42501 for everything else', async () => {
    const auth = basic('reader', 'r')
    const ok = await httpSql(auth, 'SELECT k, s FROM totals ORDER BY k')
    expect(ok.status).toBe(200)
    expect(JSON.parse(ok.text)).toMatchObject({
      results: [
        {
          rows: [
            [1, 10],
            [2, 20],
          ],
        },
      ],
    })
    for (const sql of [
      'INSERT INTO t VALUES (3, 30)',
      'CREATE TABLE mine (a INT)',
      'DROP MATERIALIZED VIEW totals',
      'FLUSH',
      'SELECT * FROM hidden',
    ]) {
      const r = await httpSql(auth, sql)
      expect({ sql, status: r.status, code: r.code }).toEqual({ sql, status: 403, code: '42501' })
    }
    expect((await http('/v1/views/totals', auth)).status).toBe(200)
    expect((await http('/v1/views/hidden', auth)).status).toBe(403)
    // Ingest and subscribe apply the same grants before anything is read or written.
    const ingest = await fetch(`http://127.0.0.1:${server.httpPort}/v1/ingest/t`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/x-ndjson' },
      body: '{"k": 9, "v": 9}\n',
    })
    expect(ingest.status).toBe(403)
    const sub = await fetch(`http://127.0.0.1:${server.httpPort}/v1/subscribe/hidden`, {
      headers: { authorization: auth, accept: 'text/event-stream' },
    })
    expect(sub.status).toBe(403)
    await sub.body?.cancel()
  })

  it('refuses a wrong password on both doors, and anonymous HTTP when a password is set', async () => {
    await expect(connect('reader', 'wrong')).rejects.toMatchObject({ code: '28P01' })
    await expect(connect('nobody', 'r')).rejects.toMatchObject({ code: '28P01' })
    expect((await httpSql(basic('reader', 'wrong'), 'SELECT 1')).status).toBe(401)
    expect((await httpSql(basic('nobody', 'r'), 'SELECT 1')).status).toBe(401)
    expect((await httpSql('', 'SELECT 1')).status).toBe(401)
    expect((await httpSql(basic('sluice', ADMIN_PASSWORD), 'SELECT 1')).status).toBe(200)
  })

  it('uses a token of its own over HTTP, with the same grants', async () => {
    const reader = await connect('reader', 'r')
    const { rows } = await reader.query('CREATE TOKEN FOR reader')
    await reader.end()
    const token = (rows[0] as { token: string }).token
    expect((await httpSql(`Bearer ${token}`, 'SELECT * FROM totals')).status).toBe(200)
    expect((await httpSql(`Bearer ${token}`, 'SELECT * FROM hidden')).code).toBe('42501')
    expect((await httpSql(`Bearer ${token}x`, 'SELECT 1')).status).toBe(401)
  })

  it('shows roles in pg_roles and psql \\du, with passwords masked', async () => {
    // Asynchronously: the server runs in this process and must answer psql meanwhile.
    const { stdout: out } = await promisify(execFile)(
      'psql',
      ['-h', '127.0.0.1', '-p', String(server.pgPort), '-U', 'sluice', '-d', 'sluice', '-X', '-c', '\\du'],
      { env: { ...process.env, PGPASSWORD: ADMIN_PASSWORD }, encoding: 'utf8', timeout: 20_000 },
    )
    expect(out).toMatch(/reader/)
    expect(out).toMatch(/sluice\s*\|\s*Superuser/)
  })
})

describe('secrets and redaction', () => {
  it('a PostgreSQL sink with a password in its URL shows it nowhere', async () => {
    const su = await connect('sluice', ADMIN_PASSWORD)
    try {
      await su.query(
        `CREATE SINK pg_out FROM totals WITH (connector = 'postgres', url = '${SINK_URL}', schema = '${SCHEMA}')`,
      )
      await su.query(`CREATE SECRET pg_url AS '${SINK_URL}'`)
      await su.query(
        `CREATE SINK pg_out2 FROM totals WITH (connector = 'postgres', url = SECRET pg_url, schema = '${SCHEMA}')`,
      )
      await su.query('FLUSH')
      // The sinks really connected with the password: the rows arrived.
      await expect
        .poll(async () => (await admin.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.pg_out`)).rows[0], {
          timeout: 20_000,
        })
        .toEqual({ n: 2 })
      await expect
        .poll(async () => (await admin.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.pg_out2`)).rows[0], {
          timeout: 20_000,
        })
        .toEqual({ n: 2 })
      const shown: string[] = []
      for (const sql of [
        'SELECT * FROM sluice_catalog.sinks',
        'SHOW CREATE SINK pg_out',
        'SHOW CREATE SINK pg_out2',
        'SELECT * FROM sluice_catalog.secrets',
        'EXPLAIN SELECT * FROM totals',
      ]) {
        const r = await su.query(sql)
        shown.push(JSON.stringify(r.rows))
        shown.push((await httpSql(basic('sluice', ADMIN_PASSWORD), sql)).text)
      }
      // An error that quotes the URL (an invalid option) masks it too, on both doors.
      const bad = `CREATE SINK bad FROM totals WITH (connector = 'redis', url = 'http://u:${SINK_PASSWORD}@h', key = 'k')`
      shown.push(
        await su.query(bad).then(
          () => 'created?',
          (e: Error) => e.message,
        ),
      )
      shown.push((await httpSql(basic('sluice', ADMIN_PASSWORD), bad)).text)
      const all = shown.join('\n')
      expect(all).toContain('pg_out')
      expect(all).toContain(`${SINK_ROLE}:***@`)
      expect(all).toMatch(/SECRET pg_url/i)
      expect(all).toContain('http://u:***@h')
      expect(all).not.toContain(SINK_PASSWORD)
      expect(logLines.join('\n')).not.toContain(SINK_PASSWORD)
    } finally {
      await su.end()
    }
  }, 60_000)
})

describe('a restart', () => {
  it('keeps roles, grants, secrets and tokens; the password still works', async () => {
    const su = await connect('sluice', ADMIN_PASSWORD)
    const { rows } = await su.query('CREATE TOKEN FOR reader')
    await su.end()
    const token = (rows[0] as { token: string }).token
    await server.close()
    server = await start()
    const reader = await connect('reader', 'r')
    try {
      expect((await reader.query('SELECT count(*)::int AS n FROM totals')).rows).toEqual([{ n: 2 }])
      expect(await pgCode(reader, 'SELECT * FROM hidden')).toBe('42501')
      expect(await pgCode(reader, 'INSERT INTO t VALUES (3, 30)')).toBe('42501')
    } finally {
      await reader.end()
    }
    await expect(connect('reader', 'wrong')).rejects.toMatchObject({ code: '28P01' })
    expect((await httpSql(`Bearer ${token}`, 'SELECT * FROM totals')).status).toBe(200)
    const r = await httpSql(basic('sluice', ADMIN_PASSWORD), 'SELECT name FROM sluice_catalog.secrets')
    expect(JSON.parse(r.text)).toMatchObject({ results: [{ rows: [['pg_url']] }] })
    // The secret's value came back too: the sink that uses it was rebuilt and is running.
    const sinks = await httpSql(
      basic('sluice', ADMIN_PASSWORD),
      "SELECT status FROM sluice_catalog.sinks WHERE name = 'pg_out2'",
    )
    expect(JSON.parse(sinks.text)).toMatchObject({ results: [{ rows: [['running']] }] })
  }, 60_000)
})

describe('listening beyond loopback', () => {
  it('is refused without any auth unless asked for explicitly', () => {
    const open = { host: '0.0.0.0', auth: { mode: 'trust' as const } }
    expect(() => checkListenAuth(open)).toThrow(/--insecure-no-auth/)
    expect(() => checkListenAuth({ ...open, insecureNoAuth: true })).not.toThrow()
    expect(() => checkListenAuth({ ...open, tokens: ['t'] })).not.toThrow()
    expect(() => checkListenAuth({ ...open, host: '127.0.0.1' })).not.toThrow()
  })
})
