// psql-style output of `sluice sql`. psql itself (against the PostgreSQL at 127.0.0.1:5432) is
// the oracle for the table layout.
import { describe, it, expect } from 'vitest'
import { execFileSync } from 'node:child_process'
import type { JsonStatementResult } from './sql.ts'
import { formatProblem, formatResult } from './client.ts'

function psql(sql: string): string | undefined {
  try {
    return execFileSync('psql', ['-X', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', sql], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
  } catch {
    return undefined
  }
}

const cases: [string, JsonStatementResult][] = [
  [
    `SELECT * FROM (VALUES ('Google'::text, 12::bigint, NULL::int), ('Facebook', 7, 3)) v(channel, bids, x)`,
    {
      tag: 'SELECT 2',
      columns: [
        { name: 'channel', type: 'text' },
        { name: 'bids', type: 'bigint' },
        { name: 'x', type: 'integer' },
      ],
      rows: [
        ['Google', 12, null],
        ['Facebook', 7, 3],
      ],
    },
  ],
  [
    `SELECT * FROM (VALUES (1, 'ab'::text), (22, NULL)) v(n, t)`,
    {
      tag: 'SELECT 2',
      columns: [
        { name: 'n', type: 'integer' },
        { name: 't', type: 'text' },
      ],
      rows: [
        [1, 'ab'],
        [22, null],
      ],
    },
  ],
  [
    `SELECT '{"a": 1}'::jsonb AS j, true AS b, 1e20::float8 AS f, 1.50::numeric AS longheadername`,
    {
      tag: 'SELECT 1',
      columns: [
        { name: 'j', type: 'jsonb' },
        { name: 'b', type: 'boolean' },
        { name: 'f', type: 'double precision' },
        { name: 'longheadername', type: 'numeric' },
      ],
      rows: [[{ a: 1 }, true, 1e20, 1.5]],
    },
  ],
  [`SELECT 1 AS n WHERE false`, { tag: 'SELECT 0', columns: [{ name: 'n', type: 'integer' }], rows: [] }],
]

describe('formatResult', () => {
  for (const [sql, result] of cases) {
    it(`prints like psql: ${sql.slice(0, 60)}`, () => {
      const expected = psql(sql)
      expect(expected, 'psql against 127.0.0.1:5432').toBeDefined()
      // 1.50::numeric keeps its scale in psql; the JSON number does not.
      expect(formatResult(result)).toBe(expected!.replace(' 1.50', '  1.5'))
    })
  }

  it('prints the tag of a statement without rows', () => {
    expect(formatResult({ tag: 'CREATE MATERIALIZED VIEW' })).toBe('CREATE MATERIALIZED VIEW\n')
  })
})

describe('formatProblem', () => {
  it('points at the position in the right line', () => {
    const sql = 'SELECT 1;\nSELEC 2'
    expect(formatProblem({ detail: 'syntax error at or near "SELEC"', code: '42601', position: 11 }, sql)).toBe(
      'ERROR:  syntax error at or near "SELEC" (SQLSTATE 42601)\nLINE 2: SELEC 2\n        ^\n',
    )
  })

  it('adds detail and hint', () => {
    expect(formatProblem({ detail: 'bad', code: '22023', message_detail: 'why', hint: 'fix it' }, 'x')).toBe(
      'ERROR:  bad (SQLSTATE 22023)\nDETAIL:  why\nHINT:  fix it\n',
    )
  })
})
