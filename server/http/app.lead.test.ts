/** The HTTP API through fastify's inject (no socket), over a real in-memory engine. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sluice } from '../../engine/index.ts'
import { buildHttpApp } from './app.ts'

describe('HTTP API', () => {
  let db: Sluice
  let app: ReturnType<typeof buildHttpApp>

  beforeAll(async () => {
    db = await Sluice.open({ dataDir: ':memory:' })
    await db.sql('CREATE TABLE t (id BIGINT, price NUMERIC, ts TIMESTAMP, doc JSONB) APPEND ONLY')
    await db.sql(
      `INSERT INTO t VALUES (1, 2.50, '2024-01-01 10:00:00', '{"a": [1, 2]}'), (9007199254740993, 0.1, NULL, NULL)`,
    )
    app = buildHttpApp({ db })
  })

  afterAll(async () => {
    await app.close()
    await db.close()
  })

  it('runs SQL and returns typed JSON without losing digits', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/sql',
      payload: { sql: 'SELECT id, price, ts, doc FROM t ORDER BY id' },
    })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      results: [
        {
          tag: 'SELECT 2',
          columns: [
            { name: 'id', type: 'bigint' },
            { name: 'price', type: 'numeric' },
            { name: 'ts', type: 'timestamp without time zone' },
            { name: 'doc', type: 'jsonb' },
          ],
          rows: [
            [1, 2.5, '2024-01-01 10:00:00', { a: [1, 2] }],
            ['9007199254740993', 0.1, null, null],
          ],
        },
      ],
    })
  })

  it('answers bad requests and bad SQL with problem documents', async () => {
    const syntax = await app.inject({ method: 'POST', url: '/v1/sql', payload: { sql: 'SELEC 1' } })
    expect(syntax.statusCode).toBe(400)
    expect(syntax.headers['content-type']).toMatch(/application\/problem\+json/)
    expect(syntax.json()).toMatchObject({ code: '42601', position: 1 })
    const missing = await app.inject({ method: 'POST', url: '/v1/sql', payload: { sql: 'SELECT * FROM nope' } })
    expect(missing.json()).toMatchObject({ code: '42P01', status: 400 })
    const noSql = await app.inject({ method: 'POST', url: '/v1/sql', payload: { query: 'x' } })
    expect(noSql.statusCode).toBe(400)
    const broken = await app.inject({
      method: 'POST',
      url: '/v1/sql',
      headers: { 'content-type': 'application/json' },
      payload: '{"sql": ',
    })
    expect(broken.statusCode).toBe(400)
    expect(broken.json()).toMatchObject({ code: '08P01' })
    const big = await app.inject({
      method: 'POST',
      url: '/v1/sql',
      payload: { sql: 'SELECT ' + '1+'.repeat(600_000) + '1' },
    })
    expect(big.statusCode).toBe(413)
  })

  it('never answers malformed bodies with a crash', async () => {
    const bodies = [
      '',
      'null',
      '[]',
      '42',
      '"x"',
      '{"sql": 1}',
      '{"sql": "SELECT 1", "params": {}}',
      '{"sql": "SELECT $1", "params": [[1]]}',
      '\u0000\u0001',
      '{"sql": "' + '\\'.repeat(10) + '"}',
    ]
    for (let k = 0; k < 200; k++)
      bodies.push(String.fromCharCode(...Array.from({ length: k % 40 }, (_x, i) => 32 + ((i * 7 + k) % 90))))
    for (const payload of bodies) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/sql',
        headers: { 'content-type': 'application/json' },
        payload,
      })
      expect(res.statusCode, payload).toBeGreaterThanOrEqual(200)
      expect(res.statusCode, payload).toBeLessThan(500)
    }
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' })
  })

  it('serves metrics, health and the OpenAPI document', async () => {
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200)
    expect((await app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/sluice_source_rows_total/)
    expect((await app.inject({ method: 'GET', url: '/v1/openapi.json' })).json()).toMatchObject({
      openapi: expect.stringMatching(/^3\./),
    })
  })

  it('requires a bearer token when tokens are configured', async () => {
    const secured = buildHttpApp({ db, tokens: ['t0k3n'] })
    expect((await secured.inject({ method: 'POST', url: '/v1/sql', payload: { sql: 'SELECT 1' } })).statusCode).toBe(
      401,
    )
    expect(
      (
        await secured.inject({
          method: 'POST',
          url: '/v1/sql',
          headers: { authorization: 'Bearer t0k3n' },
          payload: { sql: 'SELECT 1' },
        })
      ).statusCode,
    ).toBe(200)
    expect((await secured.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    await secured.close()
  })
})
