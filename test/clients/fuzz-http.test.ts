/**
 * The HTTP API under 100,000 malformed requests (through fastify's app.inject, no sockets):
 * POST /v1/sql with broken JSON, wrong shapes and types, random and mutated SQL and parameters;
 * POST /v1/ingest/:table with broken lines, wrong fields and content types; GET /v1/views/:name
 * with bad names, formats, limits and unknown parameters. Every answer is a 2xx, or a 4xx/5xx
 * carrying an application/problem+json body with a SQLSTATE code; nothing is a 500 from an
 * uncaught error; and a healthy query keeps working before, during and after. Seeded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { Sluice } from '../../engine/index.ts'
import { buildHttpApp } from '../../server/http/app.ts'

const SEED = 7_654_321
const REQUESTS = 100_000

function generator(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SQL = [
  'SELECT 1',
  'SELECT * FROM hv',
  'SELECT k FROM hv WHERE k = $1',
  'SELECT $1::int8',
  'SELECT 1/0',
  'SELECT * FROM nowhere',
  'INSERT INTO events VALUES ($1, $2)',
  'SHOW timezone',
  'SELECT',
  '',
  'FLUSH',
  'SELECT * FROM pg_catalog.pg_class',
]
const JUNK = [
  '{',
  '}',
  '[',
  ']',
  '"',
  ':',
  ',',
  'null',
  'true',
  '1e999',
  '-0',
  '\\u0000',
  '\u00ff',
  '\ud800',
  '{"sql":',
  '"sql"',
  '"params"',
  '[1,',
  'NaN',
]

describe('HTTP API fuzzing', () => {
  let db: Sluice
  let app: FastifyInstance

  beforeAll(async () => {
    db = await Sluice.open({ dataDir: ':memory:' })
    await db.sql('CREATE TABLE events (id BIGINT, note TEXT) APPEND ONLY')
    await db.sql('CREATE TABLE base (k BIGINT PRIMARY KEY, v TEXT)')
    await db.sql("INSERT INTO base VALUES (1, 'a'), (2, 'b')")
    await db.sql('CREATE MATERIALIZED VIEW hv AS SELECT k, v FROM base')
    await db.sql('FLUSH')
    app = buildHttpApp({ db })
    await app.ready()
  })

  afterAll(async () => {
    await app.close()
    await db.close()
  })

  const healthy = async (): Promise<void> => {
    const r = await app.inject({ method: 'POST', url: '/v1/sql', payload: { sql: 'SELECT count(*) AS n FROM hv' } })
    expect(r.statusCode).toBe(200)
    expect(r.json<{ results: { rows: unknown[][] }[] }>().results[0].rows).toEqual([[2]])
  }

  it(`answers ${REQUESTS} malformed requests with problems, never a crash (seed ${SEED})`, async () => {
    await healthy()
    const rand = generator(SEED)
    const int = (n: number): number => Math.floor(rand() * n)
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]
    const mutate = (s: string): string => {
      if (s.length === 0 || rand() < 0.5) return s
      const i = int(s.length)
      return s.slice(0, i) + pick(JUNK) + s.slice(i + int(3))
    }
    const value = (): unknown =>
      pick([1, -1, 2 ** 63, 'x', null, true, [], {}, [1, [2]], { a: 1 }, '9'.repeat(40), 1.5, '2024-01-01', ''])
    const statuses = new Map<number, number>()
    for (let i = 0; i < REQUESTS; i++) {
      const r = rand()
      let res
      if (r < 0.45) {
        const body =
          rand() < 0.6
            ? mutate(
                JSON.stringify(
                  rand() < 0.8
                    ? {
                        sql: mutate(pick(SQL)),
                        params: rand() < 0.5 ? undefined : Array.from({ length: int(4) }, value),
                      }
                    : pick([
                        { sql: 1 },
                        { query: 'SELECT 1' },
                        [],
                        'SELECT 1',
                        { sql: ['SELECT 1'] },
                        { sql: 'SELECT 1', params: 'x' },
                        { sql: 'SELECT 1', extra: true },
                      ]),
                ),
              )
            : Array.from({ length: int(8) }, () => pick(JUNK)).join('')
        res = await app.inject({
          method: 'POST',
          url: '/v1/sql',
          payload: body,
          headers: {
            'content-type': pick([
              'application/json',
              'application/json',
              'text/plain',
              'application/x-www-form-urlencoded',
              'application/json; charset=latin1',
            ]),
          },
        })
      } else if (r < 0.8) {
        const table = pick(['events', 'events', 'base', 'hv', 'nowhere', '%00', 'a'.repeat(300), 'ev%20ents'])
        const lines = Array.from({ length: 1 + int(5) }, () =>
          mutate(
            JSON.stringify(
              pick([
                { id: int(100), note: 'n' },
                { id: 'x' },
                { nope: 1 },
                [1, 2],
                { id: value(), note: value() },
                'plain',
              ]),
            ),
          ),
        )
        res = await app.inject({
          method: 'POST',
          url: `/v1/ingest/${table}`,
          payload: lines.join(pick(['\n', '\r\n', '', '\n\n'])),
          headers: {
            'content-type': pick([
              'application/x-ndjson',
              'application/jsonl',
              'application/json',
              'text/csv',
              'application/x-ndjson; charset=utf-8',
            ]),
          },
        })
      } else {
        const name = pick(['hv', 'base', 'events', 'nowhere', '..', '%2e%2e', 'hv%00', 'h'.repeat(500)])
        const qs = pick([
          '',
          '?format=json',
          '?format=csv',
          '?format=arrow',
          '?format=xml',
          '?limit=-1',
          '?limit=abc',
          '?limit=99999999999',
          '?limit=1&limit=2',
          '?x=1',
          '?format[]=json',
          '?%zz',
          '?limit=1&format=csv',
        ])
        res = await app.inject({
          method: 'GET',
          url: `/v1/views/${name}${qs}`,
          headers: {
            accept: pick(['*/*', 'application/json', 'text/csv', 'application/vnd.apache.arrow.stream', 'image/png']),
          },
        })
      }
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      if (res.statusCode >= 400) {
        expect(res.headers['content-type'], `${res.statusCode} ${res.body.slice(0, 200)}`).toMatch(
          /^application\/problem\+json/,
        )
        const problem = res.json<{ status: number; code?: string }>()
        expect(problem.status).toBe(res.statusCode)
        expect(problem.code, res.body.slice(0, 300)).toMatch(/^[0-9A-Z]{5}$/)
        expect(problem.code, res.body.slice(0, 300)).not.toBe('XX000')
      }
      if (i % 10_000 === 0) await healthy()
    }
    await healthy()
    console.log(`HTTP fuzz: ${REQUESTS} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
  }, 180_000)
})
