/**
 * node-postgres (`pg`, with pg-cursor) against a real Sluice server process: simple queries with
 * several statements, named and unnamed prepared statements, binary results byte for byte as
 * PostgreSQL itself sends them (the real server on 127.0.0.1:5432 is the oracle), a portal read
 * in pieces (Execute with a row limit → PortalSuspended), a CancelRequest that ends a running
 * SUBSCRIBE, COPY (SELECT ...) TO STDOUT through psql, and SCRAM-SHA-256 login.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { connect } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import Cursor from 'pg-cursor'
import { SluiceProcess } from '../sluice-process.ts'

const run = promisify(execFile)

/** Every column type clients read in binary, with a value PostgreSQL and Sluice both parse the same. */
const TYPED = `SELECT 1::int2 AS a, 2::int4 AS b, 3::int8 AS c, 1.5::float4 AS d, 2.25::float8 AS e,
  12.345::numeric AS f, -0.0001::numeric AS f2, 123456789012345678901234567890::numeric AS f3, true AS g, 'héllo'::text AS h,
  '2024-02-29'::date AS i, '2024-02-29 10:00:00.123456+00'::timestamptz AS j, '1999-12-31 23:59:59'::timestamp AS k,
  '{"a": [1, "x"]}'::jsonb AS l, '\\x0102ff'::bytea AS m, interval '1 month 2 days 03:04:05.5' AS n, '12:34:56.5'::time AS o,
  $1::int8 AS p, $2::text AS q`

/** A pg client that hands binary cells back as raw bytes (hex), whatever their type. */
function rawClient(config: pg.ClientConfig): pg.Client {
  return new pg.Client({
    ...config,
    types: {
      getTypeParser: () => (v: string | Buffer) => (Buffer.isBuffer(v) ? v.toString('hex') : v),
    } as unknown as pg.CustomTypesConfig,
  })
}

describe('node-postgres against a Sluice server', () => {
  let dir: string
  let sluice: SluiceProcess
  let secured: SluiceProcess
  const clients: pg.Client[] = []

  const client = async (): Promise<pg.Client> => {
    const c = await sluice.client()
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-node-pg-'))
    sluice = await SluiceProcess.create(join(dir, 'open'), ['--checkpoint-interval', '0'])
    secured = await SluiceProcess.create(join(dir, 'secured'), [
      '--checkpoint-interval',
      '0',
      '--password',
      'pa55 word',
    ])
    // SluiceProcess's readiness probe connects without a password; pg takes it from PGPASSWORD
    // (the trust-mode server never asks for it).
    process.env.PGPASSWORD = 'pa55 word'
    await Promise.all([sluice.start(), secured.start()])
    await sluice.query('CREATE TABLE t (k BIGINT PRIMARY KEY, v TEXT)')
    await sluice.query(`INSERT INTO t VALUES ${Array.from({ length: 25 }, (_x, i) => `(${i}, 'v${i}')`).join(', ')}`)
    await sluice.query('CREATE MATERIALIZED VIEW tv AS SELECT k, v FROM t')
  })

  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => {})
    await sluice.stop()
    await secured.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('runs simple queries, several statements in one, and prepared statements', async () => {
    const c = await client()
    expect((await c.query('SELECT v FROM t WHERE k = 3')).rows).toEqual([{ v: 'v3' }])
    const multi = (await c.query(
      "SELECT 1 AS a; SELECT count(*) AS n FROM t; SET timezone = 'UTC'",
    )) as unknown as pg.QueryResult[]
    expect(multi.map((r) => r.command)).toEqual(['SELECT', 'SELECT', 'SET'])
    expect(multi[1].rows).toEqual([{ n: '25' }])
    const named = { name: 'by-key', text: 'SELECT v FROM t WHERE k = $1' }
    expect((await c.query({ ...named, values: [4] })).rows).toEqual([{ v: 'v4' }])
    expect((await c.query({ ...named, values: [5] })).rows).toEqual([{ v: 'v5' }])
    expect((await c.query('SELECT k FROM t WHERE k < $1 AND v <> $2 ORDER BY k', [3, 'v1'])).rows).toEqual([
      { k: '0' },
      { k: '2' },
    ])
    await expect(c.query('SELECT nope FROM t')).rejects.toMatchObject({ code: '42703' })
    expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }])
  })

  it('sends binary results exactly as PostgreSQL does', async () => {
    const values = ['9007199254740993', 'ünïcode']
    const read = async (config: pg.ClientConfig): Promise<{ rows: unknown[]; oids: number[] }> => {
      const c = rawClient(config)
      c.on('error', () => {})
      await c.connect()
      try {
        // `binary` is a real option of pg's Query that its typings leave out.
        const r = await c.query({ text: TYPED, values, binary: true } as pg.QueryConfig)
        return { rows: r.rows, oids: r.fields.map((f) => f.dataTypeID) }
      } finally {
        await c.end()
      }
    }
    const ours = await read({ host: '127.0.0.1', port: sluice.pgPort, user: 'sluice', database: 'sluice' })
    const postgres = await read({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' })
    expect(ours.oids).toEqual(postgres.oids)
    expect(ours.rows).toEqual(postgres.rows)
  })

  it('describes columns with type modifiers and stores values by them, as PostgreSQL does', async () => {
    const ddl = 'CREATE TABLE typed_mods (name VARCHAR(5), code CHAR(3), price NUMERIC(12,2), ts TIMESTAMPTZ(3))'
    const insert =
      "INSERT INTO typed_mods VALUES ('ab', 'x', 0.1, '2024-01-01 00:00:00.1239+00'), ('abc  ', 'yz', 12.345, NULL)"
    const select = 'SELECT name, code, price, ts FROM typed_mods ORDER BY price'
    const read = async (c: pg.Client): Promise<{ rows: unknown[]; fields: [number, number][] }> => {
      const r = await c.query(select)
      return { rows: r.rows, fields: r.fields.map((f) => [f.dataTypeID, f.dataTypeModifier]) }
    }
    const c = rawClient({ host: '127.0.0.1', port: sluice.pgPort, user: 'sluice', database: 'sluice' })
    const postgres = rawClient({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' })
    await c.connect()
    await postgres.connect()
    try {
      await c.query(ddl)
      await c.query(insert)
      const ours = await read(c)
      await postgres.query(`${ddl.replace('CREATE TABLE', 'CREATE TEMP TABLE')}`)
      await postgres.query(insert)
      const theirs = await read(postgres)
      expect(ours.fields).toEqual([
        [1043, 9],
        [1042, 7],
        [1700, 786438],
        [1184, 3],
      ])
      expect(ours).toEqual(theirs)
    } finally {
      await c.end()
      await postgres.end()
    }
  })

  it('reads a portal in pieces with a row limit', async () => {
    const c = await client()
    const cursor = c.query(new Cursor('SELECT k FROM tv ORDER BY k'))
    const pieces: number[] = []
    let total = 0
    for (;;) {
      const rows = await cursor.read(7)
      if (rows.length === 0) break
      pieces.push(rows.length)
      total += rows.length
    }
    await cursor.close()
    expect(pieces).toEqual([7, 7, 7, 4])
    expect(total).toBe(25)
  })

  it('cancels a running SUBSCRIBE with a CancelRequest, and the session goes on', async () => {
    const c = await client()
    const { processID, secretKey } = c as unknown as { processID: number; secretKey: number }
    const streaming = c.query('SUBSCRIBE TO tv').catch((e: unknown) => e)
    await new Promise((r) => setTimeout(r, 300))
    await new Promise<void>((resolve, reject) => {
      const s = connect(sluice.pgPort, '127.0.0.1', () => {
        const m = Buffer.alloc(16)
        m.writeInt32BE(16, 0)
        m.writeInt32BE(80877102, 4)
        m.writeInt32BE(processID, 8)
        m.writeInt32BE(secretKey, 12)
        s.end(m)
      })
      s.on('error', reject)
      s.on('close', () => resolve())
    })
    expect(await streaming).toMatchObject({ code: '57014' })
    expect((await c.query('SELECT count(*) AS n FROM tv')).rows).toEqual([{ n: '25' }])
  })

  it('copies a query out with COPY ... TO STDOUT', async () => {
    const { stdout } = await run('psql', [
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
      'COPY (SELECT k, v FROM t WHERE k < 3 ORDER BY k) TO STDOUT WITH (FORMAT csv, HEADER)',
    ])
    expect(stdout).toBe('k,v\n0,v0\n1,v1\n2,v2\n')
  })

  it('logs in with SCRAM-SHA-256 and refuses a wrong password with 28P01', async () => {
    const ok = new pg.Client({
      host: '127.0.0.1',
      port: secured.pgPort,
      user: 'sluice',
      database: 'sluice',
      password: 'pa55 word',
    })
    await ok.connect()
    expect((await ok.query('SELECT current_user AS u')).rows).toEqual([{ u: 'sluice' }])
    await ok.end()
    const bad = new pg.Client({
      host: '127.0.0.1',
      port: secured.pgPort,
      user: 'sluice',
      database: 'sluice',
      password: 'nope',
    })
    bad.on('error', () => {})
    await expect(bad.connect()).rejects.toMatchObject({ code: '28P01' })
  })
})
