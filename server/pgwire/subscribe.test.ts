// SUBSCRIBE over a real socket with real clients: `pg` streaming a simple query until a
// CancelRequest ends it (57014) with the connection still usable, and pg-cursor paging through an
// endless result with Execute row limits (PortalSuspended).
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { connect } from 'node:net'
import pg from 'pg'
import Cursor from 'pg-cursor'
import { Sluice } from '../../engine/index.ts'
import { startPgServer, type PgServer } from './server.ts'

let db: Sluice
let server: PgServer

beforeAll(async () => {
  db = await Sluice.open({ dataDir: ':memory:' })
  await db.sql('CREATE TABLE pgsub_t (k BIGINT, v TEXT) APPEND ONLY')
  await db.sql('CREATE MATERIALIZED VIEW pgsub_v AS SELECT k, count(*) AS n FROM pgsub_t GROUP BY k')
  await db.sql(`INSERT INTO pgsub_t VALUES (1, 'a'), (2, 'b')`)
  server = await startPgServer({
    host: '127.0.0.1',
    port: 0,
    auth: { mode: 'trust' },
    openSession: (s) => db.session({ user: s.user, database: s.database }),
  })
})

afterAll(async () => {
  await server.close()
  await db.close()
})

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'sluice', database: 'sluice' })
  await c.connect()
  return c
}

/** Sends a CancelRequest for `c` on a fresh connection, as libpq does. */
function cancelRequest(c: pg.Client): Promise<void> {
  const { processID, secretKey } = c as unknown as { processID: number; secretKey: number }
  return new Promise((resolve, reject) => {
    const s = connect(server.port, '127.0.0.1', () => {
      const b = Buffer.alloc(16)
      b.writeInt32BE(16, 0)
      b.writeInt32BE(80877102, 4)
      b.writeInt32BE(processID, 8)
      b.writeInt32BE(secretKey, 12)
      s.end(b)
    })
    s.on('close', () => resolve())
    s.on('error', reject)
  })
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10))
  expect(check()).toBe(true)
}

describe('SUBSCRIBE over pgwire', () => {
  it('streams the snapshot and then changes until cancelled; the connection stays usable', async () => {
    const c = await client()
    const rows: Record<string, unknown>[] = []
    let fields: string[] = []
    const q = c.query(new pg.Query('SUBSCRIBE TO pgsub_v'))
    q.on('row', (row: Record<string, unknown>) => rows.push(row))
    const ended = new Promise<Error | undefined>((resolve) => {
      q.on('error', (e: Error) => resolve(e))
      q.on('end', () => resolve(undefined))
    })
    const qq = q as unknown as { _result: { fields: { name: string }[] } }
    await until(() => rows.length === 2)
    fields = qq._result.fields.map((f) => f.name)
    expect(fields).toEqual(['position', 'op', 'k', 'n'])
    expect(rows.map((r) => [r.op, r.k, r.n]).sort()).toEqual([
      ['insert', '1', '1'],
      ['insert', '2', '1'],
    ])
    const snapshotAt = Number(rows[0].position)
    await db.sql(`INSERT INTO pgsub_t VALUES (1, 'c')`)
    await until(() => rows.length === 4)
    expect(rows.slice(2).map((r) => [Number(r.position) - snapshotAt, r.op, r.k, r.n])).toEqual([
      [1, 'delete', '1', '1'],
      [2, 'insert', '1', '2'],
    ])
    await cancelRequest(c)
    const err = (await ended) as Error & { code?: string }
    expect(err?.code).toBe('57014')
    const after = await c.query('SELECT count(*)::int AS n FROM pgsub_v')
    expect(after.rows).toEqual([{ n: 2 }])
    await c.end()
  })

  it('resumes with WITH (from = p) over the wire', async () => {
    const c = await client()
    const [cur] = await db.sql('SUBSCRIBE TO pgsub_v WITH (snapshot = false)')
    const at = cur.subscription!.startPosition
    cur.subscription!.close()
    await db.sql(`INSERT INTO pgsub_t VALUES (3, 'x')`)
    const rows: Record<string, unknown>[] = []
    const q = c.query(new pg.Query(`SUBSCRIBE TO pgsub_v WITH (from = ${at})`))
    q.on('row', (row: Record<string, unknown>) => rows.push(row))
    const ended = new Promise<unknown>((resolve) => q.on('error', resolve))
    await until(() => rows.length === 1)
    expect([Number(rows[0].position), rows[0].op, rows[0].k]).toEqual([at + 1, 'insert', '3'])
    await cancelRequest(c)
    await ended
    await c.end()
  })

  it('pages through an endless result with pg-cursor (Execute with a row limit)', async () => {
    const c = await client()
    const cursor = c.query(new Cursor<Record<string, unknown>>('SUBSCRIBE TO pgsub_v'))
    const first = await cursor.read(2)
    expect(first.length).toBe(2)
    const snapshot = await cursor.read(100)
    // The snapshot has 3 rows; a read returns what is queued (at least one row), never waits for more.
    expect(first.length + snapshot.length).toBe(3)
    const next = cursor.read(10)
    await db.sql(`INSERT INTO pgsub_t VALUES (9, 'z')`)
    const changes = await next
    expect(changes.map((r) => [r.op, r.k, r.n])).toEqual([['insert', '9', '1']])
    await cursor.close()
    const r = await c.query('SELECT 1 AS one')
    expect(r.rows).toEqual([{ one: 1 }])
    await c.end()
  })

  it('answers a bad SUBSCRIBE with an error and goes on', async () => {
    const c = await client()
    await expect(c.query('SUBSCRIBE TO pgsub_missing')).rejects.toMatchObject({ code: '42P01' })
    await expect(c.query('SUBSCRIBE TO pgsub_v WITH (from = 1)')).rejects.toMatchObject({ code: '22023' })
    expect((await c.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])
    await c.end()
  })

  it('ends the subscription when the client disconnects mid-stream', async () => {
    const c = await client()
    c.on('error', () => {})
    const rows: unknown[] = []
    const q = c.query(new pg.Query('SUBSCRIBE TO pgsub_v'))
    q.on('row', (row: unknown) => rows.push(row))
    q.on('error', () => {})
    await until(() => rows.length > 0)
    const before = server.connections
    const conn = c as unknown as { connection: { stream: { destroy(): void } } }
    conn.connection.stream.destroy()
    await until(() => server.connections < before)
    const [r] = await db.sql('SELECT count(*) FROM pgsub_v')
    expect(r.rows?.length).toBe(1)
  })
})
