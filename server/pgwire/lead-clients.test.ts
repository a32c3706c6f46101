/**
 * The pgwire server against real clients (`pg`, `psql`) and against garbage: errors carry
 * SQLSTATE and position, the extended protocol binds parameters, and no malformed input stops
 * the server or harms another session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import pg from 'pg'
import { Sluice } from '../../engine/index.ts'
import { startPgServer, type PgServer } from './server.ts'

const run = promisify(execFile)

describe('pgwire', () => {
  let db: Sluice
  let server: PgServer
  let secured: PgServer

  beforeAll(async () => {
    db = await Sluice.open({ dataDir: ':memory:' })
    await db.sql('CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, ts TIMESTAMP, price NUMERIC, ok BOOLEAN)')
    await db.sql(
      "INSERT INTO t VALUES (1, 'ann', '2024-01-01 10:00:00', 1.50, true), (2, NULL, '2024-01-02 00:00:00.25', 20, false)",
    )
    server = await startPgServer({
      host: '127.0.0.1',
      port: 0,
      auth: { mode: 'trust' },
      openSession: (s) => db.session(s),
    })
    secured = await startPgServer({
      host: '127.0.0.1',
      port: 0,
      auth: { mode: 'password', users: new Map([['sluice', 's3cret']]) },
      openSession: (s) => db.session(s),
    })
  })

  afterAll(async () => {
    await server.close()
    await secured.close()
    await db.close()
  })

  const client = (port = server.port, password?: string): pg.Client =>
    new pg.Client({ host: '127.0.0.1', port, user: 'sluice', database: 'sluice', password })

  it('answers simple and extended queries with typed values', async () => {
    const c = client()
    await c.connect()
    try {
      const simple = await c.query('SELECT id, name, price, ok FROM t ORDER BY id')
      expect(simple.rows).toEqual([
        { id: '1', name: 'ann', price: '1.50', ok: true },
        { id: '2', name: null, price: '20', ok: false },
      ])
      expect(simple.fields.map((f) => f.dataTypeID)).toEqual([20, 25, 1700, 16])
      const params = await c.query('SELECT name FROM t WHERE id = $1 AND ts >= $2', [1, '2024-01-01'])
      expect(params.rows).toEqual([{ name: 'ann' }])
      const named = await c.query({ name: 'by-id', text: 'SELECT id FROM t WHERE id > $1 ORDER BY id', values: [0] })
      expect(named.rows.map((r: { id: string }) => r.id)).toEqual(['1', '2'])
      const again = await c.query({ name: 'by-id', text: 'SELECT id FROM t WHERE id > $1 ORDER BY id', values: [1] })
      expect(again.rows).toEqual([{ id: '2' }])
      const multi = (await c.query('SELECT 1 AS a; SELECT 2 AS b')) as unknown as pg.QueryResult[]
      expect(multi.map((r) => r.rows[0])).toEqual([{ a: 1 }, { b: 2 }])
      const inserted = await c.query('INSERT INTO t VALUES ($1, $2, NULL, NULL, NULL)', [3, 'cy'])
      expect(inserted.rowCount).toBe(1)
    } finally {
      await c.end()
    }
  })

  it('reports SQLSTATE, message and position', async () => {
    const c = client()
    await c.connect()
    try {
      await expect(c.query('SELECT * FROM t WHERE nme = 1')).rejects.toMatchObject({ code: '42703', position: '23' })
      await expect(c.query('SELECT 1 +')).rejects.toMatchObject({ code: '42601' })
      await expect(c.query('SELECT * FROM missing')).rejects.toMatchObject({
        code: '42P01',
        message: 'relation "missing" does not exist',
      })
      await expect(c.query('INSERT INTO t VALUES (1, NULL, NULL, NULL, NULL)')).rejects.toMatchObject({ code: '23505' })
      await expect(c.query('SELECT $1::int8 / 0', [5])).rejects.toMatchObject({ code: '22012' })
      expect((await c.query('SELECT 42 AS still_here')).rows).toEqual([{ still_here: 42 }])
    } finally {
      await c.end()
    }
  })

  it('works with psql, including password authentication', async () => {
    const { stdout } = await run('psql', [
      '-X',
      '-A',
      '-t',
      '-h',
      '127.0.0.1',
      '-p',
      String(server.port),
      '-U',
      'sluice',
      '-d',
      'sluice',
      '-c',
      'SELECT name FROM t WHERE id = 1',
    ])
    expect(stdout.trim()).toBe('ann')
    const ok = await run(
      'psql',
      [
        '-X',
        '-A',
        '-t',
        '-h',
        '127.0.0.1',
        '-p',
        String(secured.port),
        '-U',
        'sluice',
        '-d',
        'sluice',
        '-c',
        'SELECT 7',
      ],
      { env: { ...process.env, PGPASSWORD: 's3cret' } },
    )
    expect(ok.stdout.trim()).toBe('7')
    const bad = await run(
      'psql',
      ['-X', '-h', '127.0.0.1', '-p', String(secured.port), '-U', 'sluice', '-d', 'sluice', '-c', 'SELECT 7'],
      { env: { ...process.env, PGPASSWORD: 'wrong' } },
    ).catch((e: { code: number; stderr: string }) => e)
    expect(bad).toMatchObject({ code: 2 })
    expect((bad as { stderr: string }).stderr).toMatch(/password authentication failed for user "sluice"/)
  })

  it('survives garbage, truncated and oversized messages', async () => {
    const payloads = [
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
      Buffer.from([0, 0, 0, 8, 0, 3, 0]),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
      Buffer.from([0, 0, 0, 3]),
      Buffer.concat([Buffer.from([0, 0, 0, 9, 0, 3, 0, 0, 0]), Buffer.from('Q\x00\x00\x00\x04')]),
      Buffer.concat([
        Buffer.from([0, 0, 0, 23, 0, 3, 0, 0]),
        Buffer.from('user\0sluice\0\0'),
        Buffer.from('Z\x7f\xff\xff\xff'),
      ]),
      Buffer.concat([
        Buffer.from([0, 0, 0, 23, 0, 3, 0, 0]),
        Buffer.from('user\0sluice\0\0'),
        Buffer.from('P\x00\x00\x00\x05x'),
      ]),
      Buffer.concat([
        Buffer.from([0, 0, 0, 23, 0, 3, 0, 0]),
        Buffer.from('user\0sluice\0\0'),
        Buffer.from('B\x00\x00\x00\x08abcd'),
      ]),
    ]
    for (let k = 0; k < 200; k++)
      payloads.push(Buffer.from(Array.from({ length: 1 + (k % 50) }, (_x, i) => (i * 37 + k * 11) % 256)))
    for (const p of payloads) {
      await new Promise<void>((resolve) => {
        const s = connect(server.port, '127.0.0.1', () => s.end(p))
        s.on('data', () => {})
        s.on('error', () => resolve())
        s.on('close', () => resolve())
        setTimeout(() => {
          s.destroy()
          resolve()
        }, 500)
      })
    }
    const c = client()
    await c.connect()
    expect((await c.query('SELECT 1 AS alive')).rows).toEqual([{ alive: 1 }])
    await c.end()
  })
})
