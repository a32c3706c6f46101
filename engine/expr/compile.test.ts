// The expression compiler: SQL logic against PostgreSQL over the sample rows, and the compiler's
// own contracts (row errors, predicates, laziness, constants, parameters, no user text in code).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BoundExpr } from './bound.ts'
import type { CompileContext, RowErrors } from './compile.ts'
import { OracleCheck } from './oracle-check.ts'
import { TestBinder, parseExpr } from './testing.ts'
import { compileExpr, compilePredicate, evalConst } from './compile.ts'
import { makeChunk } from '../chunk.ts'
import { SluiceError } from '../errors.ts'
import { T } from '../types/datatype.ts'

const LOGIC = [
  'a > 0 AND f',
  'a > 0 OR f',
  'NOT f',
  'f AND NULL',
  'f OR NULL',
  'NOT (a > 0 AND b > 0)',
  'a > 0 AND b > 0 AND c > 0',
  'a IS NULL',
  'a IS NOT NULL',
  'f IS TRUE',
  'f IS NOT TRUE',
  'f IS FALSE',
  'f IS NOT FALSE',
  '(a > 0) IS UNKNOWN',
  'a IS DISTINCT FROM 7',
  'a IS NOT DISTINCT FROM 7',
  'a IS DISTINCT FROM NULL',
  'd IS DISTINCT FROM 12.345',
  'c IS DISTINCT FROM c',
  'a IN (1, 7, 9)',
  'a NOT IN (1, 7)',
  'a IN (1, NULL)',
  'a NOT IN (1, NULL)',
  'a IN (7, NULL)',
  "s IN ('Hello World', 'x')",
  'd IN (12.345, 0)',
  'a IN (b, 7)',
  'c IN (2.5, -0.5)',
  "ts IN ('2024-02-29 13:45:30.123456')",
  'a BETWEEN 0 AND 10',
  'a NOT BETWEEN 0 AND 10',
  'b BETWEEN a AND 20000000000',
  "CASE WHEN a > 0 THEN 'pos' WHEN a < 0 THEN 'neg' END",
  "CASE WHEN a > 0 THEN 'pos' ELSE 'other' END",
  'CASE a WHEN 7 THEN 1 WHEN -3 THEN 2 ELSE 3 END',
  'CASE WHEN a = 0 THEN 0 ELSE 100 / a END',
  'CASE WHEN f THEN d ELSE a END',
  'CASE WHEN a > 0 THEN 1 ELSE 1.5 END',
  'COALESCE(a, 0)',
  'COALESCE(NULL, b, a)',
  "COALESCE(s, 'none')",
  'COALESCE(a, 100 / a)',
  'NULLIF(a, 7)',
  "NULLIF(s, '')",
  'GREATEST(a, 2, e)',
  'LEAST(a, b)',
  'GREATEST(c, d)',
  "LEAST(s, 'M')",
  'GREATEST(NULL, a)',
  'GREATEST(ts, tz)',
  'a > 0 AND 10 / a > 1',
]

describe('SQL logic matches PostgreSQL', () => {
  let check: OracleCheck
  beforeAll(async () => {
    check = await OracleCheck.open('UTC')
  })
  afterAll(async () => {
    await check.close()
  })

  it('three-valued logic, IS tests, IN, BETWEEN, CASE, COALESCE, NULLIF, GREATEST/LEAST', async () => {
    const failures: string[] = []
    for (const sql of LOGIC) {
      const d = await check.diff(sql)
      if (d.length > 0) failures.push(`${sql}\n    ${d.join('\n    ')}`)
    }
    expect(failures.join('\n')).toBe('')
  })
})

const ctx: CompileContext = { params: [], timezone: 'UTC', now: 1_700_000_000_000_000 }

async function bind(sql: string, context: CompileContext = ctx): Promise<BoundExpr> {
  return new TestBinder(context).bind(await parseExpr(sql))
}

/** A chunk with columns a int4 and b int8 (the first two sample columns); others empty. */
function chunk(a: (number | null)[], b: (bigint | null)[] = a.map(() => 0n)) {
  return makeChunk([a, b, ...Array.from({ length: 12 }, () => a.map(() => null))])
}

describe('compileExpr', () => {
  it('records failing rows as NULL and goes on when given an error sink', async () => {
    const f = compileExpr(await bind('100 / a'), ctx)
    const errors: RowErrors = { rows: [], errors: [] }
    expect(f(chunk([10, 0, null, 3, 0]), errors)).toEqual([10, null, null, 33, null])
    expect(errors.rows).toEqual([1, 4])
    expect(errors.errors.map((e) => e.code)).toEqual(['22012', '22012'])
  })

  it('throws the first error without an error sink', async () => {
    const f = compileExpr(await bind('a + 2147483647'), ctx)
    expect(() => f(chunk([0, 1]))).toThrow(SluiceError)
    try {
      f(chunk([0, 1]))
    } catch (e) {
      expect((e as SluiceError).code).toBe('22003')
      expect((e as SluiceError).message).toBe('integer out of range')
    }
  })

  it('reports bigint overflow with PostgreSQL message', async () => {
    const errors: RowErrors = { rows: [], errors: [] }
    compileExpr(await bind('b * 2'), ctx)(chunk([0], [9223372036854775807n]), errors)
    expect(errors.errors[0].message).toBe('bigint out of range')
  })

  it('evaluates CASE branches lazily, so a guarded division never fails', async () => {
    const f = compileExpr(await bind('CASE WHEN a = 0 THEN -1 ELSE 10 / a END'), ctx)
    expect(f(chunk([0, 5, null]))).toEqual([-1, 2, null])
    const g = compileExpr(await bind('a <> 0 AND 10 / a > 1'), ctx)
    expect(g(chunk([0, 2, 20]))).toEqual([false, true, false])
  })

  it('keeps user text out of the generated code', async () => {
    const evil = "'); throw new Error('injected'); ('"
    const f = compileExpr(await bind(`concat(a, '${evil.replace(/'/g, "''")}')`), ctx)
    expect(f(chunk([1]))).toEqual([`1${evil}`])
  })

  it('reads parameters and the statement clock from the context', async () => {
    const withParams: CompileContext = { params: [41], timezone: 'UTC', now: 1_700_000_000_000_000 }
    const p: BoundExpr = { kind: 'param', index: 0, type: T.int4 }
    expect(evalConst(p, withParams)).toBe(41)
    expect(evalConst(await bind('now()', withParams), withParams)).toBe(1_700_000_000_000_000)
    expect(evalConst(await bind("now() - interval '1 hour' < now()"), ctx)).toBe(true)
  })

  it('evaluates constant expressions and throws their errors', async () => {
    expect(evalConst(await bind('1 + 2 * 3'), ctx)).toBe(7)
    expect(evalConst(await bind("upper('x') || 'y'"), ctx)).toBe('Xy')
    await expect(async () => evalConst(await bind('1 / 0'), ctx)).rejects.toThrow('division by zero')
  })

  it('gives equal results for expressions compiled twice (shared compiled shape)', async () => {
    const x = compileExpr(await bind('a * 2 + 1'), ctx)
    const y = compileExpr(await bind('a * 3 + 5'), ctx)
    expect(x(chunk([1, 2]))).toEqual([3, 5])
    expect(y(chunk([1, 2]))).toEqual([8, 11])
  })
})

describe('compilePredicate', () => {
  it('selects rows where the predicate is TRUE (NULL and FALSE are 0)', async () => {
    const p = compilePredicate(await bind('a > 1'), ctx)
    expect([...p(chunk([0, 2, null, 5]))]).toEqual([0, 1, 0, 1])
  })

  it('deselects and records rows that fail', async () => {
    const p = compilePredicate(await bind('10 / a > 1'), ctx)
    const errors: RowErrors = { rows: [], errors: [] }
    expect([...p(chunk([1, 0, 20]), errors)]).toEqual([1, 0, 0])
    expect(errors.rows).toEqual([1])
  })

  it('handles IN lists with NULL items by SQL rules', async () => {
    const p = compileExpr(await bind('a NOT IN (1, NULL)'), ctx)
    expect(p(chunk([1, 2, null]))).toEqual([false, null, null])
  })
})
