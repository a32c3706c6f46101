// The server process (needs the engine and the datagen connector): both servers on free ports,
// the demo objects created once and kept across a restart on the same data directory, pgwire
// password auth and HTTP bearer tokens wired through, and a clean close.
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { DEMO_STATEMENTS, createdObject, startServer, type RunningServer, type ServerOptions } from './main.ts'
import { createLogger } from './log.ts'

const dirs: string[] = []
const running: RunningServer[] = []

afterEach(async () => {
  for (const s of running.splice(0)) await s.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-main-'))
  dirs.push(d)
  return d
}

const logLines: string[] = []
const logger = createLogger({ level: 'info', destination: { write: (line: string) => logLines.push(line) } })

async function start(options: Partial<ServerOptions> & { dataDir: string }): Promise<RunningServer> {
  const s = await startServer({
    host: '127.0.0.1',
    pgPort: 0,
    httpPort: 0,
    demo: true,
    auth: { mode: 'trust' },
    logLevel: 'info',
    logger,
    ...options,
  })
  running.push(s)
  // The servers listen before the restore ends (test/restart-fast.test.ts covers that window).
  await s.restored
  return s
}

async function httpSql(
  s: RunningServer,
  sql: string,
  token?: string,
): Promise<{ status: number; body: { results?: { rows?: unknown[][] }[]; code?: string } }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const res = await fetch(`http://127.0.0.1:${s.httpPort}/v1/sql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ sql }),
  })
  return { status: res.status, body: (await res.json()) as { results?: { rows?: unknown[][] }[]; code?: string } }
}

const names = (rows: readonly (readonly unknown[])[] | undefined) => (rows ?? []).map((r) => r[0]).sort()

describe('DEMO_STATEMENTS', () => {
  it('each create one named source or view', () => {
    expect(DEMO_STATEMENTS.map((s) => createdObject(s).name)).toEqual(['bid', 'bids_per_channel'])
  })
})

describe('startServer', () => {
  it('serves pgwire and HTTP, creates the demo once, and keeps it across a restart', async () => {
    const dataDir = tempDir()
    const first = await start({ dataDir })
    expect(first.pgPort).toBeGreaterThan(0)
    expect(first.httpPort).toBeGreaterThan(0)
    expect(first.demoCreated).toEqual(['bid', 'bids_per_channel'])

    const client = new pg.Client({ host: '127.0.0.1', port: first.pgPort, user: 'sluice', database: 'sluice' })
    await client.connect()
    try {
      const sources = await client.query('SHOW SOURCES')
      expect(sources.rows.map((r: { name: string }) => r.name)).toEqual(['bid'])
      // The generator runs at 2000 rows/s: the view fills within moments.
      let rows: { channel: string; bids: string }[] = []
      for (let i = 0; i < 200 && rows.length === 0; i++) {
        rows = (await client.query('SELECT channel, bids FROM bids_per_channel')).rows as {
          channel: string
          bids: string
        }[]
        if (rows.length === 0) await new Promise((r) => setTimeout(r, 100))
      }
      expect(rows.length).toBeGreaterThan(0)
      for (const r of rows) expect(['Google', 'Facebook', 'Baidu', 'Apple']).toContain(r.channel)
    } finally {
      await client.end()
    }

    expect((await fetch(`http://127.0.0.1:${first.httpPort}/readyz`)).status).toBe(200)
    const metrics = await (await fetch(`http://127.0.0.1:${first.httpPort}/metrics`)).text()
    expect(metrics).toContain('sluice_source_rows_total')
    expect(metrics).toContain('process_cpu_user_seconds_total')
    const views = await httpSql(first, 'SHOW MATERIALIZED VIEWS')
    expect(names(views.body.results?.[0].rows)).toEqual(['bids_per_channel'])
    await first.close()
    running.length = 0
    await first.close() // a second close is harmless

    const second = await start({ dataDir })
    expect(second.demoCreated).toEqual([])
    expect(names((await httpSql(second, 'SHOW SOURCES')).body.results?.[0].rows)).toEqual(['bid'])
    expect(names((await httpSql(second, 'SHOW MATERIALIZED VIEWS')).body.results?.[0].rows)).toEqual([
      'bids_per_channel',
    ])
  })

  it('creates nothing with demo off', async () => {
    const s = await start({ dataDir: ':memory:', demo: false })
    expect(s.demoCreated).toEqual([])
    expect((await httpSql(s, 'SHOW SOURCES')).body.results?.[0].rows).toEqual([])
  })

  it('wires pgwire password auth and HTTP bearer tokens', async () => {
    const s = await start({
      dataDir: ':memory:',
      demo: false,
      auth: { mode: 'password', users: new Map([['sluice', 'pw']]) },
      tokens: ['tok'],
    })
    const wrong = new pg.Client({
      host: '127.0.0.1',
      port: s.pgPort,
      user: 'sluice',
      database: 'sluice',
      password: 'nope',
    })
    await expect(wrong.connect()).rejects.toMatchObject({ code: '28P01' })
    const right = new pg.Client({
      host: '127.0.0.1',
      port: s.pgPort,
      user: 'sluice',
      database: 'sluice',
      password: 'pw',
    })
    await right.connect()
    expect((await right.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    await right.end()
    expect((await httpSql(s, 'SELECT 1')).status).toBe(401)
    expect((await httpSql(s, 'SELECT 1', 'tok')).status).toBe(200)
    expect((await fetch(`http://127.0.0.1:${s.httpPort}/healthz`)).status).toBe(200)
  })

  it('closes the engine when a port is taken', async () => {
    const s = await start({ dataDir: ':memory:', demo: false })
    await expect(
      startServer({
        dataDir: ':memory:',
        host: '127.0.0.1',
        pgPort: 0,
        httpPort: s.httpPort,
        demo: false,
        auth: { mode: 'trust' },
        logLevel: 'info',
        logger,
      }),
    ).rejects.toMatchObject({
      code: 'EADDRINUSE',
    })
    expect((await httpSql(s, 'SELECT 1')).status).toBe(200)
  })
})
