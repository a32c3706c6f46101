// The HTTP API over the real engine (needs engine/index.ts): statements, types and values as
// they come out of Sluice, errors with the engine's SQLSTATEs and positions, parameters typed by
// the engine's describe, and a fuzz loop of random SQL that must never break the server.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { Sluice } from '../../engine/index.ts'
import { buildHttpApp } from './app.ts'

let db: Sluice
let app: FastifyInstance

beforeAll(async () => {
  db = await Sluice.open({ dataDir: ':memory:' })
  app = buildHttpApp({ db })
})

afterAll(async () => {
  await app.close()
  await db.close()
})

async function sql(text: string, params?: unknown[]) {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/sql',
    payload: params === undefined ? { sql: text } : { sql: text, params },
  })
  return { status: res.statusCode, body: res.json(), type: res.headers['content-type'] }
}

describe('POST /v1/sql on the engine', () => {
  it('runs a query and names types as format_type does', async () => {
    const { status, body } = await sql(
      `SELECT 1 AS n, 2::bigint AS b, 1.5::numeric AS x, 'hi' AS t, true AS ok, '{"a": [1]}'::jsonb AS j, DATE '2024-02-29' AS d`,
    )
    expect(status).toBe(200)
    expect(body).toEqual({
      results: [
        {
          tag: 'SELECT 1',
          columns: [
            { name: 'n', type: 'integer' },
            { name: 'b', type: 'bigint' },
            { name: 'x', type: 'numeric' },
            { name: 't', type: 'text' },
            { name: 'ok', type: 'boolean' },
            { name: 'j', type: 'jsonb' },
            { name: 'd', type: 'date' },
          ],
          rows: [[1, 2, 1.5, 'hi', true, { a: [1] }, '2024-02-29']],
        },
      ],
    })
  })

  it('keeps big bigints exact as strings', async () => {
    const { body } = await sql('SELECT 9223372036854775807::bigint AS big, 42::bigint AS small')
    expect(body.results[0].rows).toEqual([['9223372036854775807', 42]])
  })

  it('runs several statements and returns one result each', async () => {
    const { status, body } = await sql(
      `CREATE TABLE http_t (k BIGINT, v TEXT); INSERT INTO http_t VALUES (1, 'a'), (2, NULL); SELECT k, v FROM http_t ORDER BY k`,
    )
    expect(status).toBe(200)
    expect(body.results.map((r: { tag: string }) => r.tag)).toEqual(['CREATE TABLE', 'INSERT 0 2', 'SELECT 2'])
    expect(body.results[0]).toEqual({ tag: 'CREATE TABLE' })
    expect(body.results[2].rows).toEqual([
      [1, 'a'],
      [2, null],
    ])
  })

  it('passes params typed by the statement', async () => {
    const { status, body } = await sql('SELECT $1::int + 1 AS p, $2::text AS s, $3::bigint AS b', [
      41,
      'x',
      '9007199254740993',
    ])
    expect(status).toBe(200)
    expect(body.results[0].rows).toEqual([[42, 'x', '9007199254740993']])
  })

  it('prints timestamptz in the time zone the request sets, floats specials as strings', async () => {
    const { body } = await sql(
      "SET TimeZone = 'Europe/Paris'; SELECT TIMESTAMPTZ '2024-03-01 12:00:00+00' AS t, 'NaN'::float8 AS nan, ARRAY[1, 2] AS a",
    )
    expect(body.results[0]).toEqual({ tag: 'SET' })
    expect(body.results[1].columns.map((c: { type: string }) => c.type)).toEqual([
      'timestamp with time zone',
      'double precision',
      'integer[]',
    ])
    expect(body.results[1].rows).toEqual([['2024-03-01 13:00:00+01', 'NaN', [1, 2]]])
  })

  it('reports a syntax error with its SQLSTATE and position', async () => {
    const { status, body, type } = await sql('SELECT 1;\nSELEC 2')
    expect(status).toBe(400)
    expect(type).toMatch(/^application\/problem\+json/)
    expect(body).toMatchObject({
      type: 'https://sluice.dev/errors/42601',
      title: 'syntax error',
      status: 400,
      code: '42601',
      position: 11,
    })
    expect(body.detail).toContain('SELEC')
  })

  it('reports an unknown table as 42P01 and hands along earlier results', async () => {
    const { status, body } = await sql('SELECT 1 AS one; SELECT * FROM no_such_relation')
    expect(status).toBe(400)
    expect(body.code).toBe('42P01')
    expect(body.detail).toContain('no_such_relation')
    expect(body.results).toEqual([{ tag: 'SELECT 1', columns: [{ name: 'one', type: 'integer' }], rows: [[1]] }])
  })

  it('reports a bad parameter as the cast would', async () => {
    const { status, body } = await sql('SELECT $1::int AS p', ['abc'])
    expect(status).toBe(400)
    expect(body).toMatchObject({ code: '22P02', message_detail: 'in parameter $1' })
  })

  it('serves the engine metrics', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.body).toContain('sluice_source_rows_total')
  })

  it('survives a few hundred random statements without a 5xx other than internal errors', async () => {
    let seed = 7
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed / 2147483648
    }
    const words = [
      'SELECT',
      'FROM',
      'WHERE',
      '1',
      "'x'",
      'http_t',
      'k',
      'v',
      '(',
      ')',
      ',',
      '+',
      '/',
      '0',
      'NULL',
      '::int',
      '::jsonb',
      'count(*)',
      'GROUP BY',
      ';',
      '$1',
      'CREATE',
      'DROP',
      'SHOW',
      'SOURCES',
      '"',
      "'",
      'ORDER BY',
      'LIMIT',
      '-1',
    ]
    let internal = 0
    for (let i = 0; i < 300; i++) {
      const n = 1 + Math.floor(rand() * 8)
      const text = Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(' ')
      const { status, body } = await sql(text)
      if (status === 500) {
        internal++
        expect(body.code, text).toBe('XX000')
      } else {
        expect([200, 400], `${text} → ${JSON.stringify(body)}`).toContain(status)
      }
    }
    expect(internal).toBeLessThan(300)
    expect((await sql('SELECT 1 AS still_alive')).body.results[0].rows).toEqual([[1]])
  })
})
