// Route shapes of the HTTP API through app.inject(), against a stand-in database whose sessions
// answer from a script. The same routes against the real engine are in app.engine.test.ts.
import { describe, it, expect } from 'vitest'
import { Registry, Counter } from 'prom-client'
import type { PreparedDescription, Session, StatementResult } from '../../engine/session-api.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import { T } from '../../engine/types/datatype.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { Jsonb } from '../../engine/types/jsonb.ts'
import { buildHttpApp, type HttpAppOptions } from './app.ts'
import { OPENAPI } from './openapi.ts'

/** A session that answers `execute` from `script` and records what it was asked. */
class ScriptedSession implements Session {
  readonly reportedSettings = new Map<string, string>()
  closed = false
  constructor(
    private readonly script: (sql: string, params?: readonly Value[]) => StatementResult[],
    private readonly calls: { sql: string; params?: readonly Value[] }[],
  ) {}
  async execute(sql: string, params?: readonly Value[]): Promise<StatementResult[]> {
    this.calls.push({ sql, params })
    return this.script(sql, params)
  }
  async describe(sql: string): Promise<PreparedDescription> {
    const types: DataType[] = []
    for (const m of sql.matchAll(/\$(\d+)::(\w+)/g))
      types[Number(m[1]) - 1] =
        m[2] === 'int' ? T.int4 : m[2] === 'bigint' ? T.int8 : m[2] === 'jsonb' ? T.jsonb : T.text
    return { paramTypes: types, columns: undefined }
  }
  setting(name: string): string | undefined {
    return name === 'timezone' ? 'UTC' : undefined
  }
  close(): void {
    this.closed = true
  }
}

function standIn(script: (sql: string, params?: readonly Value[]) => StatementResult[]) {
  const metrics = new Registry()
  new Counter({ name: 'sluice_test_total', help: 'a test counter', registers: [metrics] }).inc(3)
  const sessions: ScriptedSession[] = []
  const calls: { sql: string; params?: readonly Value[] }[] = []
  const db = {
    metrics,
    session: () => {
      const s = new ScriptedSession(script, calls)
      sessions.push(s)
      return s
    },
  }
  return { db, sessions, calls }
}

const TYPED_RESULT: StatementResult = {
  tag: 'SELECT 2',
  columns: [
    { name: 'n', type: T.int8 },
    { name: 'price', type: T.numeric },
    { name: 'at', type: T.timestamp },
    { name: 'doc', type: T.jsonb },
    { name: 'ok', type: T.bool },
  ],
  rows: [
    [1n, new Decimal(150n, 2), 0, new Jsonb({ a: [1, 2] }), true],
    [2n ** 62n, null, 86_400_000_000, new Jsonb(null), false],
  ],
}

function script(sql: string, params?: readonly Value[]): StatementResult[] {
  if (sql.startsWith('BAD'))
    throw new SluiceError(SqlState.syntax_error, 'syntax error at or near "BAD"', {
      position: 1,
      hint: 'check the spelling',
    })
  if (sql.startsWith('KAFKA DOWN'))
    throw new SluiceError(SqlState.io_error, 'broker unreachable', { domain: 'external', retryable: true })
  if (sql.startsWith('KAFKA GONE')) throw new SluiceError(SqlState.io_error, 'topic deleted', { domain: 'external' })
  if (sql.startsWith('BUG')) throw new TypeError('cannot read properties of undefined')
  if (sql.startsWith('PARTIAL')) {
    throw Object.assign(new SluiceError(SqlState.undefined_table, 'relation "nope" does not exist', { position: 10 }), {
      partial: [{ tag: 'CREATE TABLE' }],
    })
  }
  if (sql.startsWith('CREATE')) return [{ tag: 'CREATE TABLE' }]
  if (params !== undefined)
    return [
      {
        tag: 'SELECT 1',
        columns: params.map((_p, i) => ({ name: `p${i + 1}`, type: T.text })),
        rows: [params.map((p) => String(p))],
      },
    ]
  return [TYPED_RESULT]
}

function app(options: Partial<HttpAppOptions> = {}) {
  const s = standIn(script)
  return { ...s, app: buildHttpApp({ db: s.db, ...options }) }
}

const post = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST' as const,
  url: '/v1/sql',
  headers: { 'content-type': 'application/json', ...headers },
  payload: typeof body === 'string' ? body : JSON.stringify(body),
})

describe('POST /v1/sql', () => {
  it('returns each statement with format_type names and JSON values', async () => {
    const { app: a, sessions } = app()
    const res = await a.inject(post({ sql: 'SELECT stuff' }))
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    expect(res.json()).toEqual({
      results: [
        {
          tag: 'SELECT 2',
          columns: [
            { name: 'n', type: 'bigint' },
            { name: 'price', type: 'numeric' },
            { name: 'at', type: 'timestamp without time zone' },
            { name: 'doc', type: 'jsonb' },
            { name: 'ok', type: 'boolean' },
          ],
          rows: [
            [1, 1.5, '1970-01-01 00:00:00', { a: [1, 2] }, true],
            ['4611686018427387904', null, '1970-01-02 00:00:00', null, false],
          ],
        },
      ],
    })
    expect(sessions).toHaveLength(1)
    expect(sessions[0].closed).toBe(true)
  })

  it('gives statements without rows only their tag', async () => {
    const res = await app().app.inject(post({ sql: 'CREATE TABLE t (a int)' }))
    expect(res.json()).toEqual({ results: [{ tag: 'CREATE TABLE' }] })
  })

  it('converts params by the types the statement describes', async () => {
    const { app: a, calls } = app()
    const res = await a.inject(
      post({
        sql: 'SELECT $1::int, $2::bigint, $3::text, $4::jsonb',
        params: [41, '9007199254740993', null, { k: true }],
      }),
    )
    expect(res.statusCode).toBe(200)
    expect(calls[0].params).toEqual([41, 9007199254740993n, null, new Jsonb({ k: true })])
  })

  it('rejects params that do not fit their types with the SQLSTATE of the cast', async () => {
    const res = await app().app.inject(post({ sql: 'SELECT $1::int', params: ['abc'] }))
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: '22P02', message_detail: 'in parameter $1' })
    const res2 = await app().app.inject(post({ sql: 'SELECT $1::int', params: [1, 2] }))
    expect(res2.statusCode).toBe(400)
    expect(res2.json().code).toBe('08P01')
  })

  it('answers a SQL error with a problem document carrying the SQLSTATE', async () => {
    const { app: a, sessions } = app()
    const res = await a.inject(post({ sql: 'BAD 1' }))
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.json()).toEqual({
      type: 'https://sluice.dev/errors/42601',
      title: 'syntax error',
      status: 400,
      detail: 'syntax error at or near "BAD"',
      code: '42601',
      position: 1,
      hint: 'check the spelling',
    })
    expect(sessions[0].closed).toBe(true)
  })

  it('maps external faults to 503 (retryable) or 502, and bugs to 500', async () => {
    const a = app().app
    const down = await a.inject(post({ sql: 'KAFKA DOWN' }))
    expect(down.statusCode).toBe(503)
    expect(down.headers['retry-after']).toBe('1')
    expect(down.json().code).toBe('58030')
    expect((await a.inject(post({ sql: 'KAFKA GONE' }))).statusCode).toBe(502)
    const bug = await a.inject(post({ sql: 'BUG' }))
    expect(bug.statusCode).toBe(500)
    expect(bug.json()).toMatchObject({
      code: 'XX000',
      title: 'internal error',
      detail: 'cannot read properties of undefined',
    })
  })

  it('hands along the results of the statements before a failing one', async () => {
    const res = await app().app.inject(post({ sql: 'PARTIAL' }))
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: '42P01', position: 10, results: [{ tag: 'CREATE TABLE' }] })
  })

  const malformed: [string, { payload?: string; headers?: Record<string, string> }][] = [
    ['bad JSON', { payload: '{"sql": "SELECT 1"' }],
    ['an empty JSON body', { payload: '' }],
    ['a JSON array', { payload: '[1, 2]' }],
    ['a JSON string', { payload: '"SELECT 1"' }],
    ['no sql', { payload: '{}' }],
    ['a numeric sql', { payload: '{"sql": 1}' }],
    ['params not an array', { payload: '{"sql": "SELECT 1", "params": {"a": 1}}' }],
    ['an unknown member', { payload: '{"query": "SELECT 1"}' }],
    ['a prototype-poisoning body', { payload: '{"sql": "SELECT 1", "__proto__": {"x": 1}}' }],
    ['text/plain', { payload: 'SELECT 1', headers: { 'content-type': 'text/plain' } }],
    ['a form body', { payload: 'sql=SELECT+1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
  ]
  for (const [what, req] of malformed) {
    it(`answers ${what} with 400 and SQLSTATE 08P01`, async () => {
      const res = await app().app.inject({
        method: 'POST',
        url: '/v1/sql',
        payload: req.payload,
        headers: { 'content-type': 'application/json', ...req.headers },
      })
      expect(res.statusCode).toBe(400)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json()).toMatchObject({
        type: 'https://sluice.dev/errors/08P01',
        title: 'protocol violation',
        status: 400,
        code: '08P01',
      })
      expect(typeof res.json().detail).toBe('string')
    })
  }

  it('answers a request without a body or content type with 400', async () => {
    const res = await app().app.inject({ method: 'POST', url: '/v1/sql' })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('08P01')
  })

  it('answers a body over the limit with 413', async () => {
    const big = post({ sql: `SELECT '${'x'.repeat(1024 * 1024)}'` })
    const res = await app().app.inject(big)
    expect(res.statusCode).toBe(413)
    expect(res.json()).toMatchObject({ status: 413, code: '08P01' })
    const small = await app({ bodyLimit: 100 }).app.inject(post({ sql: `SELECT '${'x'.repeat(200)}'` }))
    expect(small.statusCode).toBe(413)
  })
})

describe('bearer tokens', () => {
  const withTokens = () => app({ tokens: ['s3cret', 'other'] }).app

  it('refuses requests without a token or with a wrong one', async () => {
    const a = withTokens()
    const headerSets: Record<string, string>[] = [
      {},
      { authorization: 'Bearer nope' },
      { authorization: 's3cret' },
      { authorization: 'Basic czNjcmV0' },
      { authorization: 'Bearer s3cret2' },
    ]
    for (const headers of headerSets) {
      const res = await a.inject(post({ sql: 'SELECT 1' }, headers))
      expect(res.statusCode).toBe(401)
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/)
      expect(res.json()).toMatchObject({ status: 401, code: '28000' })
    }
    expect((await a.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401)
    expect((await a.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(401)
    expect((await a.inject({ method: 'GET', url: '/v1/openapi.json' })).statusCode).toBe(401)
  })

  it('lets the right tokens through, and /healthz without one', async () => {
    const a = withTokens()
    expect((await a.inject(post({ sql: 'SELECT 1' }, { authorization: 'Bearer s3cret' }))).statusCode).toBe(200)
    expect((await a.inject(post({ sql: 'SELECT 1' }, { authorization: 'bearer other' }))).statusCode).toBe(200)
    expect((await a.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    expect((await a.inject({ method: 'GET', url: '/healthz?probe=1' })).statusCode).toBe(200)
  })
})

describe('service routes', () => {
  it('answers /healthz and /readyz', async () => {
    let ready = false
    const a = app({ ready: () => ready }).app
    expect((await a.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' })
    const notReady = await a.inject({ method: 'GET', url: '/readyz' })
    expect(notReady.statusCode).toBe(503)
    expect(notReady.json().code).toBe('57P01')
    ready = true
    const res = await a.inject({ method: 'GET', url: '/readyz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ready' })
  })

  it('serves the engine metrics and the extra registries on /metrics', async () => {
    const extra = new Registry()
    new Counter({ name: 'process_test_total', help: 'another counter', registers: [extra] }).inc()
    const res = await app({ extraMetrics: [extra] }).app.inject({ method: 'GET', url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain/)
    expect(res.body).toContain('sluice_test_total 3')
    expect(res.body).toContain('process_test_total 1')
  })

  it('answers unknown routes with 404 and wrong methods with 405, as problems', async () => {
    const a = app().app
    const missing = await a.inject({ method: 'GET', url: '/v2/nothing' })
    expect(missing.statusCode).toBe(404)
    expect(missing.json()).toMatchObject({ status: 404, code: '08P01' })
    const wrong = await a.inject({ method: 'GET', url: '/v1/sql' })
    expect(wrong.statusCode).toBe(405)
    expect(wrong.headers.allow).toBe('POST')
  })

  it('describes exactly its routes in the OpenAPI document', async () => {
    const a = app().app
    const res = await a.inject({ method: 'GET', url: '/v1/openapi.json' })
    expect(res.statusCode).toBe(200)
    const doc = res.json()
    expect(doc).toEqual(JSON.parse(JSON.stringify(OPENAPI)))
    expect(doc.openapi).toMatch(/^3\./)
    await a.ready()
    const documented: string[] = []
    for (const [template, methods] of Object.entries(OPENAPI.paths)) {
      // OpenAPI's `{name}` is fastify's `:name`.
      const path = template.replace(/\{(\w+)\}/g, ':$1')
      for (const method of Object.keys(methods)) {
        documented.push(`${method.toUpperCase()} ${path}`)
        expect(a.hasRoute({ method: method.toUpperCase(), url: path }), `${method} ${path}`).toBe(true)
      }
    }
    // printRoutes draws a tree: each level indents 4 characters and shows its path below the
    // parent's (with a route at "/", every other path is its child), so full paths are rebuilt.
    const parents: string[] = []
    const routes = a
      .printRoutes({ commonPrefix: false })
      .split('\n')
      .flatMap((line) => {
        const m = /^([│├└─\s]*)(\S+)(?: \(([A-Z, ]+)\))?/.exec(line)
        if (m === null) return []
        const depth = Math.floor(m[1].length / 4)
        parents.length = depth
        const path = parents.join('') + m[2]
        parents.push(m[2])
        return (m[3] ?? '')
          .split(', ')
          .filter((x) => x !== '' && x !== 'HEAD')
          .map((method) => `${method} ${path}`)
      })
    expect(routes.sort()).toEqual(documented.sort())
    // Every $ref points at a schema that exists.
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g) ?? []
    for (const ref of refs) expect(doc.components.schemas[ref.split('/').pop() as string], ref).toBeDefined()
  })
})

/** A small deterministic PRNG (mulberry32), so a failing fuzz case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('fuzzed request bodies', () => {
  it('never answers 5xx for a bad request, and keeps serving', async () => {
    const { app: a } = app({ bodyLimit: 4096 })
    const rand = prng(20240601)
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rand() * xs.length)]
    const atoms: unknown[] = [
      null,
      true,
      false,
      0,
      -1,
      1.5,
      1e308,
      '',
      'SELECT 1',
      'BAD',
      '$1',
      '\u0000',
      '\ud800',
      [],
      {},
      [null],
      { sql: 5 },
    ]
    const randomJson = (depth: number): unknown => {
      if (depth > 3 || rand() < 0.4) return pick(atoms)
      if (rand() < 0.5) return Array.from({ length: Math.floor(rand() * 4) }, () => randomJson(depth + 1))
      const o: Record<string, unknown> = {}
      for (let i = 0; i < Math.floor(rand() * 4); i++)
        o[pick(['sql', 'params', 'x', '__proto__', 'constructor'])] = randomJson(depth + 1)
      return o
    }
    const randomBytes = (): string =>
      Array.from({ length: Math.floor(rand() * 64) }, () => String.fromCharCode(Math.floor(rand() * 256))).join('')
    const contentTypes = [
      'application/json',
      'application/json; charset=utf-8',
      'application/JSON',
      'text/plain',
      'application/json; charset=latin1',
      '',
      'multipart/form-data',
    ]
    const statuses = new Map<number, number>()
    for (let i = 0; i < 400; i++) {
      let payload: string
      const kind = rand()
      if (kind < 0.35) payload = JSON.stringify(randomJson(0)) ?? ''
      else if (kind < 0.55) payload = JSON.stringify({ sql: pick(atoms), params: randomJson(1) }) ?? ''
      else if (kind < 0.7)
        payload = JSON.stringify({ sql: 'SELECT $1::int, $2::jsonb', params: [randomJson(2), randomJson(2)] })
      else if (kind < 0.85) {
        const valid = JSON.stringify({ sql: 'SELECT 1' })
        payload = valid.slice(0, Math.floor(rand() * valid.length)) + randomBytes().slice(0, 3)
      } else if (kind < 0.95) payload = randomBytes()
      else payload = JSON.stringify({ sql: 'x'.repeat(5000) })
      const headers: Record<string, string> = {}
      const ct = pick(contentTypes)
      if (ct !== '') headers['content-type'] = ct
      const res = await a.inject({
        method: pick(['POST', 'POST', 'POST', 'GET', 'PUT']) as 'POST',
        url: '/v1/sql',
        payload,
        headers,
      })
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      expect(res.statusCode, `case ${i}: ${payload.slice(0, 80)}`).toBeLessThan(500)
      if (res.statusCode !== 200) {
        expect(res.headers['content-type'], `case ${i}`).toMatch(/^application\/problem\+json/)
        const body = res.json()
        expect(body.status).toBe(res.statusCode)
        expect(body.code).toMatch(/^[0-9A-Z]{5}$/)
      }
    }
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0)
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0)
    expect((await a.inject(post({ sql: 'SELECT 1' }))).statusCode).toBe(200)
  })
})
