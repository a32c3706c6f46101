/**
 * Limits, against the real engine over pgwire: statement_timeout stops a long pull query and a
 * FLUSH that cannot finish (57014), a cancel request stops a waiting FLUSH, a result over the
 * per-statement size limit fails with 54000 instead of exhausting memory, and a client that
 * stops reading a big result stalls neither the engine nor other sessions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, type Socket } from 'node:net'
import pg from 'pg'
import { serialize } from 'pg-protocol'
import type { SourceFactory } from '../../engine/index.ts'
import { Sluice } from '../../engine/index.ts'
import { startPgServer, type PgServer } from './server.ts'

/** A source that never catches up: FLUSH waits for it until its timeout. */
const stuckSource: SourceFactory = {
  connector: 'stuck',
  create: () => ({
    open: async () => {},
    poll: async () => undefined,
    offsets: () => ({}),
    endOffsets: async () => ({ p: '1' }),
    reached: () => false,
    close: async () => {},
  }),
}

const ROWS = 100_000
let db: Sluice
let server: PgServer

beforeAll(async () => {
  db = await Sluice.open({ dataDir: ':memory:', sources: [stuckSource], flushTimeoutMs: 20_000 })
  await db.sql('CREATE TABLE lim_big (k BIGINT, g BIGINT, s TEXT) APPEND ONLY')
  for (let b = 0; b < ROWS / 10_000; b++) {
    const values = Array.from({ length: 10_000 }, (_x, i) => {
      const k = b * 10_000 + i
      return `(${k}, ${k % 100}, 'value-${k}')`
    })
    await db.sql(`INSERT INTO lim_big VALUES ${values.join(',')}`)
  }
  server = await startPgServer({
    host: '127.0.0.1',
    port: 0,
    auth: { mode: 'trust' },
    openSession: (s) => db.session({ ...s, maxResultBytes: s.user === 'small' ? 1_000_000 : undefined }),
  })
}, 60_000)

afterAll(async () => {
  await server.close()
  await db.close()
})

async function client(user = 'sluice'): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: server.port, user, database: 'sluice' })
  await c.connect()
  return c
}

/** A join with 5000 × 1000 matches: seconds of work, long past a 100 ms timeout. */
const SLOW = 'SELECT count(*) FROM lim_big a JOIN lim_big b ON a.g = b.g WHERE a.k < 5000'

describe('statement_timeout', () => {
  it('cancels a long pull query with 57014 and the session goes on', async () => {
    const c = await client()
    try {
      await c.query("SET statement_timeout = '100ms'")
      expect((await c.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '100ms' }])
      const started = Date.now()
      await expect(c.query(SLOW)).rejects.toMatchObject({
        code: '57014',
        message: 'canceling statement due to statement timeout',
      })
      expect(Date.now() - started).toBeLessThan(1500)
      expect((await c.query('SELECT count(*) AS n FROM lim_big')).rows).toEqual([{ n: String(ROWS) }])
      await c.query('SET statement_timeout = 0')
      expect((await c.query('SELECT count(*) AS n FROM lim_big WHERE g = 7')).rows).toEqual([{ n: '1000' }])
      await expect(c.query("SET statement_timeout = 'soon'")).rejects.toMatchObject({ code: '22023' })
    } finally {
      await c.end()
    }
  })

  it('ends a FLUSH that cannot finish in time', async () => {
    const c = await client()
    try {
      await c.query("CREATE SOURCE lim_stuck (x BIGINT) WITH (connector = 'stuck')")
      // A source runs once a view reads it.
      await c.query('CREATE MATERIALIZED VIEW lim_stuck_n AS SELECT count(*) AS n FROM lim_stuck')
      await c.query("SET statement_timeout = '200ms'")
      const started = Date.now()
      await expect(c.query('FLUSH')).rejects.toMatchObject({ code: '57014' })
      expect(Date.now() - started).toBeLessThan(3000)
      await c.query('RESET statement_timeout')
      // A cancel request reaches a waiting FLUSH.
      const processID = (c as unknown as { processID: number }).processID
      const secretKey = (c as unknown as { secretKey: number }).secretKey
      const flushing = c.query('FLUSH').catch((e: unknown) => e)
      await new Promise((r) => setTimeout(r, 200))
      await sendCancel(processID, secretKey)
      expect(await flushing).toMatchObject({ code: '57014', message: 'canceling statement due to user request' })
      await c.query('DROP SOURCE lim_stuck CASCADE')
      expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }])
    } finally {
      await c.end()
    }
  })
})

describe('result size', () => {
  it('refuses a result over the per-statement limit with 54000', async () => {
    const c = await client('small')
    try {
      await expect(c.query('SELECT * FROM lim_big')).rejects.toMatchObject({ code: '54000' })
      await expect(c.query('COPY (SELECT * FROM lim_big) TO STDOUT')).rejects.toMatchObject({ code: '54000' })
      expect((await c.query('SELECT * FROM lim_big WHERE k < 10')).rows).toHaveLength(10)
    } finally {
      await c.end()
    }
    const roomy = await client()
    try {
      expect((await roomy.query('SELECT * FROM lim_big')).rowCount).toBe(ROWS)
    } finally {
      await roomy.end()
    }
  })
})

describe('a slow reader', () => {
  it('stalls neither the engine nor other sessions, and still gets every row', async () => {
    // A raw client asks for 100,000 rows and then stops reading.
    const slow: Socket = connect(server.port, '127.0.0.1')
    await new Promise<void>((resolve) => slow.once('connect', () => resolve()))
    let received = 0
    let text = ''
    slow.on('data', (d: Buffer) => {
      received += d.length
      text = d.subarray(Math.max(0, d.length - 64)).toString('latin1')
    })
    slow.write(serialize.startup({ user: 'sluice', database: 'sluice' }))
    await new Promise((r) => setTimeout(r, 100))
    slow.write(serialize.query('SELECT k, s FROM lim_big'))
    await new Promise((r) => setTimeout(r, 300))
    slow.pause()
    const before = received
    // Meanwhile the engine takes writes and answers others.
    const other = await client()
    try {
      for (let i = 0; i < 20; i++) await other.query(`INSERT INTO lim_big VALUES (${ROWS + i}, 0, 'late')`)
      expect((await other.query('SELECT count(*) AS n FROM lim_big')).rows).toEqual([{ n: String(ROWS + 20) }])
    } finally {
      await other.end()
    }
    expect(received).toBe(before)
    slow.resume()
    for (let i = 0; i < 500 && !text.includes('SELECT 100000'); i++) await new Promise((r) => setTimeout(r, 20))
    expect(text).toContain('SELECT 100000')
    expect(received).toBeGreaterThan(ROWS * 20)
    slow.destroy()
  })
})

async function sendCancel(pid: number, secret: number): Promise<void> {
  const msg = Buffer.alloc(16)
  msg.writeInt32BE(16, 0)
  msg.writeInt32BE(80877102, 4)
  msg.writeInt32BE(pid, 8)
  msg.writeInt32BE(secret, 12)
  await new Promise<void>((resolve, reject) => {
    const s = connect(server.port, '127.0.0.1', () => s.write(msg))
    s.on('error', reject)
    s.on('close', () => resolve())
    s.resume()
  })
}
