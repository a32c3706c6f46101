// The console's server side over the real engine, through app.inject(): the page and its bundled
// assets (no CDN), the token rule (page public, data behind the token), the overview's objects
// and states, a join view's graph with per-operator row counters and fan-out, the metrics history
// and its parameter errors. The browser itself is driven in test/console.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { Sluice } from '../../../engine/index.ts'
import { buildHttpApp } from '../app.ts'
import { sleep } from '../../../test/support.ts'

let db: Sluice
let app: FastifyInstance

beforeAll(async () => {
  db = await Sluice.open({ dataDir: ':memory:' })
  app = buildHttpApp({ db })
  await app.ready()
  await db.sql(`CREATE TABLE orders (id BIGINT PRIMARY KEY, customer BIGINT, amount BIGINT)`)
  await db.sql(`CREATE TABLE customers (id BIGINT PRIMARY KEY, region TEXT)`)
  await db.sql(
    `CREATE MATERIALIZED VIEW by_region AS SELECT c.region, sum(o.amount) AS total FROM orders o JOIN customers c ON o.customer = c.id GROUP BY c.region`,
  )
  await db.sql(`CREATE MATERIALIZED VIEW top_region AS SELECT max(total) AS top FROM by_region`)
  await db.sql(`CREATE MATERIALIZED VIEW ratios AS SELECT id, 100 / amount AS r FROM orders`)
  await db.sql(`INSERT INTO customers VALUES (1, 'eu'), (2, 'us')`)
  await db.sql(`INSERT INTO orders VALUES (1, 1, 10), (2, 2, 0), (3, 1, 5)`)
})

afterAll(async () => {
  await app.close()
  await db.close()
})

describe('the console routes', () => {
  it('serves one page for every console path, and its script and stylesheet from the bundle', async () => {
    for (const url of ['/', '/sql', '/dead-letters', '/views/by_region', '/graph/by_region']) {
      const res = await app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(200)
      expect(res.headers['content-type']).toMatch(/^text\/html/)
      expect(res.body).toContain('<script type="module" src="/console/app.js">')
    }
    const js = await app.inject({ method: 'GET', url: '/console/app.js' })
    expect(js.statusCode).toBe(200)
    expect(js.headers['content-type']).toMatch(/^text\/javascript/)
    // Bundled: nothing is fetched from elsewhere at run time.
    expect(js.body).not.toMatch(/https?:\/\/(cdn|unpkg|jsdelivr)/)
    expect(js.body).not.toMatch(/^import .* from ["']/m)
    const css = await app.inject({ method: 'GET', url: '/console/app.css' })
    expect(css.statusCode).toBe(200)
    // uPlot's own stylesheet is in the bundle.
    expect(css.body).toContain('.uplot')
  })

  it('serves the page without a token but its data only with one', async () => {
    const guarded = buildHttpApp({ db, tokens: ['s3cret'] })
    try {
      for (const url of ['/', '/views/by_region', '/console/app.js'])
        expect((await guarded.inject({ method: 'GET', url })).statusCode, url).toBe(200)
      for (const url of ['/console/api/overview', '/console/api/history', '/console/api/graph/by_region']) {
        const res = await guarded.inject({ method: 'GET', url })
        expect(res.statusCode, url).toBe(401)
        expect(res.json().code).toBe('28000')
      }
      const ok = await guarded.inject({
        method: 'GET',
        url: '/console/api/overview',
        headers: { authorization: 'Bearer s3cret' },
      })
      expect(ok.statusCode).toBe(200)
    } finally {
      await guarded.close()
    }
  })

  it("says who the request is; a read-only user's DDL from the console is refused", async () => {
    expect((await app.inject({ method: 'GET', url: '/console/api/me' })).json()).toEqual({
      user: 'sluice',
      readOnly: false,
    })
    const users = new Map([['viewer', { password: 'pw', readOnly: true, login: true }]])
    const guarded = buildHttpApp({ db, auth: { required: true, user: (name) => users.get(name) } })
    const basic = `Basic ${Buffer.from('viewer:pw').toString('base64')}`
    try {
      const me = await guarded.inject({ method: 'GET', url: '/console/api/me', headers: { authorization: basic } })
      expect(me.json()).toEqual({ user: 'viewer', readOnly: true })
      // The console's SQL goes through /v1/sql: the same refusal as from any client.
      const ddl = await guarded.inject({
        method: 'POST',
        url: '/v1/sql',
        headers: { authorization: basic },
        payload: { sql: 'CREATE TABLE nope (a INT)' },
      })
      expect(ddl.statusCode).toBeGreaterThanOrEqual(400)
      expect(ddl.json().code).toBe('42501')
      const overview = await guarded.inject({
        method: 'GET',
        url: '/console/api/overview',
        headers: { authorization: basic },
      })
      expect(overview.statusCode).toBe(200)
    } finally {
      await guarded.close()
    }
  })

  it('lists every object with its state, and dead letters by reason', async () => {
    const res = await app.inject({ method: 'GET', url: '/console/api/overview' })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    const names = body.objects.map((o: { kind: string; name: string }) => `${o.kind}:${o.name}`).sort()
    expect(names).toEqual([
      'materialized_view:by_region',
      'materialized_view:ratios',
      'materialized_view:top_region',
      'table:customers',
      'table:orders',
    ])
    for (const o of body.objects) expect(o.state).toBe('running')
    expect(body.objects.find((o: { name: string }) => o.name === 'by_region').rows).toBe(2)
    expect(body.deadLetters).toEqual([{ object: 'ratios', reason: expect.any(String), count: 1 }])
    // Checkpoints are off for ':memory:': nothing to flag.
    expect(body.checkpoints.state).toBe('running')
  })

  it("draws a join view's graph from its physical plan, with row counters and fan-out", async () => {
    const res = await app.inject({ method: 'GET', url: '/console/api/graph/by_region' })
    expect(res.statusCode).toBe(200)
    const g = res.json()
    expect(g.kind).toBe('materialized_view')
    const names = g.operators.map((o: { name: string }) => o.name)
    expect(names[0]).toBe('Materialize')
    expect(names).toContain('HashJoin')
    expect(names).toContain('HashAggregate')
    expect(g.upstream.sort()).toEqual(['customers', 'orders'])
    expect(g.downstream).toEqual([{ name: 'top_region', kind: 'materialized_view' }])
    // Every leaf counted the rows its table sent: 3 orders and 2 customers.
    const leafIn = (relation: string): number =>
      g.operators.find((o: { inputs: { relation?: string }[] }) => o.inputs.some((i) => i.relation === relation)).rowsIn
    expect(leafIn('orders')).toBe(3)
    expect(leafIn('customers')).toBe(2)
    const join = g.operators.find((o: { name: string }) => o.name === 'HashJoin')
    expect(join.rowsIn).toBe(5)
    expect(join.rowsOut).toBe(3)
    expect(join.stateEntries).toBeGreaterThan(0)

    const table = (await app.inject({ method: 'GET', url: '/console/api/graph/orders' })).json()
    expect(table).toMatchObject({ kind: 'table', operators: [] })
    expect(table.downstream.map((d: { name: string }) => d.name).sort()).toEqual(['by_region', 'ratios'])

    const missing = await app.inject({ method: 'GET', url: '/console/api/graph/nope' })
    expect(missing.statusCode).toBe(404)
    expect(missing.json().code).toBe('42P01')
  })

  it('keeps a history of rates; bad parameters get 22023', async () => {
    // The sampler runs once a second from app.ready(); two samples make a rate.
    await sleep(1100)
    await db.sql(`INSERT INTO orders VALUES (4, 2, 7), (5, 1, 1)`)
    await sleep(1100)
    const res = await app.inject({ method: 'GET', url: '/console/api/history?prefix=events:,changes:&seconds=60' })
    expect(res.statusCode).toBe(200)
    const h = res.json<{ t: number[]; series: Record<string, (number | null)[]> }>()
    expect(h.t.length).toBeGreaterThanOrEqual(2)
    expect(Object.keys(h.series)).toContain('events:orders')
    for (const values of Object.values(h.series)) expect(values).toHaveLength(h.t.length)
    expect(Math.max(...h.series['events:orders'].map((v) => v ?? 0))).toBeGreaterThan(0)

    for (const url of ['/console/api/history?seconds=abc', '/console/api/history?window=5']) {
      const bad = await app.inject({ method: 'GET', url })
      expect(bad.statusCode, url).toBe(400)
      expect(bad.json().code).toBe('22023')
    }
  })
})
