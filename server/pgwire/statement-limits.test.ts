/**
 * Big and deep statements against the real engine over pgwire (and HTTP): a statement over
 * max_statement_bytes fails with 54000 before it is parsed (simple and extended protocol, HTTP);
 * 10,000 OR terms and 10,000 summed terms work in a pull query's WHERE, a view and a
 * materialized view; past a real nesting limit the error is 54001, never XX000 or 42601;
 * generate_series in FROM and INSERT ... SELECT handle large row counts; a materialized view's
 * backfill stops at statement_timeout (57014) and leaves nothing behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pg from 'pg'
import { connect } from 'node:net'
import { serialize } from 'pg-protocol'
import type { FastifyInstance } from 'fastify'
import { Sluice } from '../../engine/index.ts'
import { buildHttpApp } from '../http/app.ts'
import { startPgServer, type PgServer } from './server.ts'

let db: Sluice
let server: PgServer
let app: FastifyInstance
let c: pg.Client

beforeAll(async () => {
  db = await Sluice.open({ dataDir: ':memory:' })
  server = await startPgServer({
    host: '127.0.0.1',
    port: 0,
    auth: { mode: 'trust' },
    openSession: (s) => db.session(s),
  })
  app = buildHttpApp({ db, bodyLimit: 16 * 1024 * 1024 })
  c = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'sluice', database: 'sluice' })
  await c.connect()
  await c.query('CREATE TABLE sl_t (k BIGINT, v BIGINT)')
  await c.query('INSERT INTO sl_t VALUES (1, 10), (2, 20), (10001, 30)')
}, 30_000)

afterAll(async () => {
  await c.end()
  await app.close()
  await server.close()
  await db.close()
})

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
    return undefined
  } catch (e) {
    return (e as { code?: string }).code
  }
}

const ors = (n: number): string => Array.from({ length: n }, (_, i) => `k = ${i}`).join(' OR ')
const sum = (n: number, term = '1'): string => Array.from({ length: n }, () => term).join(' + ')

describe('max_statement_bytes', () => {
  const big = `SELECT '${'x'.repeat(5 * 1024 * 1024)}' AS s`

  it('defaults to 4MB and refuses a longer statement with 54000, simple and extended protocol', async () => {
    expect((await c.query('SHOW max_statement_bytes')).rows).toEqual([{ max_statement_bytes: '4MB' }])
    expect(await codeOf(c.query(big))).toBe('54000')
    expect(await codeOf(c.query({ text: `${big} WHERE $1::int = 1`, values: [1] }))).toBe('54000')
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  it('is a setting: SET, SHOW and bad values (22023)', async () => {
    await c.query("SET max_statement_bytes = '1kB'")
    expect((await c.query('SHOW max_statement_bytes')).rows).toEqual([{ max_statement_bytes: '1kB' }])
    expect(await codeOf(c.query(`SELECT '${'y'.repeat(2000)}'`))).toBe('54000')
    expect(await codeOf(c.query("SET max_statement_bytes = 'huge'"))).toBe('22023')
    await c.query('RESET max_statement_bytes')
    expect((await c.query(`SELECT length('${'y'.repeat(2000)}') AS n`)).rows).toEqual([{ n: 2000 }])
    expect(await codeOf(c.query("SET query_memory_limit = 'lots'"))).toBe('22023')
    await c.query("SET query_memory_limit = '64MB'")
    expect((await c.query('SHOW query_memory_limit')).rows).toEqual([{ query_memory_limit: '64MB' }])
    await c.query('RESET query_memory_limit')
  })

  it('refuses a longer statement over HTTP with 54000 (400)', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/sql', payload: { sql: big } })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: '54000' })
  })
})

describe('deep expressions', () => {
  it('runs 10,000 OR terms in the WHERE of a pull query', async () => {
    const r = await c.query(`SELECT k FROM sl_t WHERE ${ors(10_000)} ORDER BY k`)
    expect(r.rows).toEqual([{ k: '1' }, { k: '2' }])
  }, 60_000)

  it('runs 10,000 summed terms, of one type and of mixed integer types', async () => {
    expect((await c.query(`SELECT ${sum(10_000)} AS s`)).rows).toEqual([{ s: 10_000 }])
    expect((await c.query(`SELECT ${sum(10_000, 'v')} AS s FROM sl_t WHERE k = 1`)).rows).toEqual([{ s: '100000' }])
    expect((await c.query(`SELECT 1 + ${sum(9_999, 'k')} AS s FROM sl_t WHERE k = 2`)).rows).toEqual([{ s: '19999' }])
    expect((await c.query(`SELECT length('a' ${" || 'b'".repeat(10_000)}) AS n`)).rows).toEqual([{ n: 10_001 }])
  }, 60_000)

  it('keeps 10,000 OR terms in a view and in a materialized view', async () => {
    await c.query(`CREATE VIEW sl_v AS SELECT k FROM sl_t WHERE ${ors(10_000)}`)
    expect((await c.query('SELECT k FROM sl_v ORDER BY k')).rows).toEqual([{ k: '1' }, { k: '2' }])
    await c.query(`CREATE MATERIALIZED VIEW sl_mv AS SELECT k, ${sum(10_000, 'v')} AS s FROM sl_t WHERE ${ors(10_000)}`)
    await c.query('INSERT INTO sl_t VALUES (3, 1)')
    await c.query('FLUSH')
    expect((await c.query('SELECT k, s FROM sl_mv ORDER BY k')).rows).toEqual([
      { k: '1', s: '100000' },
      { k: '2', s: '200000' },
      { k: '3', s: '10000' },
    ])
  }, 120_000)

  it('reports a real nesting limit as 54001, not XX000 or 42601', async () => {
    expect(await codeOf(c.query(`SELECT ${'('.repeat(10_000)}1${')'.repeat(10_000)}`))).toBe('54001')
    // Floats round differently when regrouped, so their chains stay left-deep: too deep here.
    expect(await codeOf(c.query(`SELECT ${sum(10_000, '1.5::float8')} AS s`))).toBe('54001')
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  }, 60_000)
})

describe('large row counts', () => {
  it('generate_series in FROM makes a million rows', async () => {
    const r = await c.query('SELECT count(*) AS n, sum(g) AS s FROM generate_series(1, 1000000) AS g')
    expect(r.rows).toEqual([{ n: '1000000', s: '500000500000' }])
    expect((await c.query('SELECT * FROM generate_series(5, 1, -2) AS x ORDER BY 1')).rows).toEqual([
      { x: 1 },
      { x: 3 },
      { x: 5 },
    ])
  }, 60_000)

  it('INSERT ... SELECT stores more rows than one piece holds', async () => {
    await c.query('CREATE TABLE sl_many (k BIGINT, g BIGINT)')
    expect(
      (await c.query('INSERT INTO sl_many SELECT n, n % 10 FROM generate_series(1, 200000) AS s(n)')).rowCount,
    ).toBe(200_000)
    expect((await c.query('SELECT count(*) AS n, count(DISTINCT k) AS d FROM sl_many')).rows).toEqual([
      { n: '200000', d: '200000' },
    ])
  }, 120_000)

  it('stops a materialized view backfill at statement_timeout and leaves no view behind', async () => {
    // Every row joins a tenth of the others: billions of pairs to backfill.
    await c.query("SET statement_timeout = '300ms'")
    const started = Date.now()
    expect(
      await codeOf(
        c.query(
          'CREATE MATERIALIZED VIEW sl_slow AS SELECT a.k, count(*) AS n FROM sl_many a JOIN sl_many b ON a.g = b.g GROUP BY a.k',
        ),
      ),
    ).toBe('57014')
    const took = Date.now() - started
    await c.query('RESET statement_timeout')
    expect(took).toBeLessThan(10_000)
    expect((await c.query('SHOW MATERIALIZED VIEWS')).rows.map((r: { name: string }) => r.name)).not.toContain(
      'sl_slow',
    )
    expect((await c.query('SELECT count(*) AS n FROM sl_many')).rows).toEqual([{ n: '200000' }])
  }, 60_000)
})

/** A raw pgwire client: messages as (type, body), read as they arrive. */
class RawClient {
  private buffer = Buffer.alloc(0)
  readonly messages: { type: string; body: Buffer }[] = []
  readonly socket = connect(server.port, '127.0.0.1')

  constructor() {
    this.socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d])
      while (this.buffer.length >= 5) {
        const length = this.buffer.readInt32BE(1)
        if (this.buffer.length < 1 + length) break
        this.messages.push({ type: String.fromCharCode(this.buffer[0]), body: this.buffer.subarray(5, 1 + length) })
        this.buffer = this.buffer.subarray(1 + length)
      }
    })
  }

  async until(type: string, from = 0): Promise<number> {
    for (let i = 0; i < 1500; i++) {
      const at = this.messages.findIndex((m, k) => k >= from && m.type === type)
      if (at >= 0) return at
      await new Promise((r) => setTimeout(r, 20))
    }
    throw new Error(`no ${type} message`)
  }
}

function errorCode(body: Buffer): string | undefined {
  for (const field of body.toString('utf8').split('\0')) if (field.startsWith('C')) return field.slice(1)
  return undefined
}

describe('COPY TO STDOUT', () => {
  it('stops sending on a cancel request, even to a client that stopped reading, and the session goes on', async () => {
    const raw = new RawClient()
    raw.socket.write(serialize.startup({ user: 'sluice', database: 'sluice' }))
    const key = raw.messages[await raw.until('K')].body
    await raw.until('Z')
    raw.socket.write(
      serialize.query(`COPY (SELECT n, 'some padding text' AS t FROM generate_series(1, 1000000) AS g(n)) TO STDOUT`),
    )
    await raw.until('d')
    raw.socket.pause()
    await new Promise<void>((resolve, reject) => {
      const m = Buffer.alloc(16)
      m.writeInt32BE(16, 0)
      m.writeInt32BE(80877102, 4)
      key.copy(m, 8, 0, 8)
      const s = connect(server.port, '127.0.0.1', () => s.end(m, () => resolve()))
      s.on('error', reject)
    })
    raw.socket.resume()
    const at = await raw.until('E')
    expect(errorCode(raw.messages[at].body)).toBe('57014')
    expect(raw.messages.some((m) => m.type === 'c')).toBe(false)
    const ready = await raw.until('Z', at)
    raw.socket.write(serialize.query('SELECT 42'))
    await raw.until('C', ready)
    raw.socket.destroy()
  }, 60_000)
})
