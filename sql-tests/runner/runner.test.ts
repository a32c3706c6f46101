/**
 * The runner against a real PostgreSQL (scratch schema): failures name file:line with a diff,
 * --complete rewrites only expected output, a single record can be selected by line, and
 * include / halt / skipif / onlyif / labels / hash-threshold behave as in sqllogictest.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SqlClient } from './client.ts'
import type { ScratchSchema } from './scratch-schema.ts'
import { createScratchSchema } from './scratch-schema.ts'
import { applyEdits, runSltFile } from './runner.ts'

let schema: ScratchSchema
let client: SqlClient
let dir: string
let n = 0

beforeAll(async () => {
  schema = await createScratchSchema('slt_runner')
  client = await schema.client()
  dir = mkdtempSync(join(tmpdir(), 'slt-runner-'))
})

afterAll(async () => {
  await client?.close()
  await schema?.drop()
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

function file(text: string, name = `t${++n}.slt`): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

describe('runSltFile', () => {
  it('passes matching records and counts them', async () => {
    const path = file(
      "statement ok\nCREATE TABLE pass_t (k INT, v TEXT)\n\nstatement ok\nINSERT INTO pass_t VALUES (2, 'b'), (1, NULL)\n\nquery IT rowsort\nSELECT * FROM pass_t\n----\n1 NULL\n2 b\n",
    )
    const result = await runSltFile(path, client, { engine: 'postgres' })
    expect(result).toMatchObject({ passed: 3, failed: 0, skipped: 0, failures: [] })
  })

  it('reports failures as file:LINE with expected, actual and a diff', async () => {
    const text = [
      'query I', // line 1
      'SELECT 1',
      '----',
      '2',
      '',
      'statement ok', // line 6
      'SELECT * FROM no_such_table_here',
      '',
      'statement error 42601', // line 9
      'SELECT 1',
      '',
      'statement error 42601', // line 12
      'SELECT * FROM no_such_table_here',
      '',
      'query II', // line 15
      'SELECT 1',
      '----',
      '1',
      '',
    ].join('\n')
    const path = file(text)
    const result = await runSltFile(path, client, { engine: 'postgres' })
    expect(result.passed).toBe(0)
    expect(result.failed).toBe(5)
    const [wrong, failedOk, succeeded, wrongCode, columns] = result.failures
    expect(wrong).toMatchObject({ file: path, line: 1, sql: 'SELECT 1', expected: '2', actual: '1' })
    expect(wrong.message).toBe(`${path}:1: query result mismatch\n- 2\n+ 1`)
    expect(failedOk.message).toMatch(
      new RegExp(`^${path}:6: statement failed: 42P01: relation "no_such_table_here" does not exist`),
    )
    expect(succeeded.message).toBe(`${path}:9: expected SQLSTATE 42601, but the statement succeeded`)
    expect(wrongCode.message).toMatch(/:12: expected SQLSTATE 42601, got 42P01/)
    expect(columns.message).toMatch(/:15: expected 2 columns \(II\), got 1/)
  })

  it('matches errors by regex on the message and by an expected message block', async () => {
    const path = file(
      'statement error does not exist\nSELECT * FROM nope_t\n\nquery error\nSELECT 1/0\n----\ndivision by zero\n\nstatement error ^wrong\nSELECT * FROM nope_t\n',
    )
    const result = await runSltFile(path, client, { engine: 'postgres' })
    expect(result.passed).toBe(2)
    expect(result.failures.map((f) => f.line)).toEqual([9])
  })

  it('hashes results above the threshold and accepts the one-value-per-line layout', async () => {
    const path = file(
      [
        'hash-threshold 3',
        '',
        'query I rowsort',
        'SELECT * FROM generate_series(1, 4)',
        '----',
        '4 values hashing to 302c28003d487124d97c242de94da856',
        '',
        'hash-threshold 0',
        '',
        'query II',
        'SELECT 1, 2',
        '----',
        '1',
        '2',
        '',
      ].join('\n'),
    )
    expect(await runSltFile(path, client, { engine: 'postgres' })).toMatchObject({ passed: 2, failed: 0 })
  })

  it('applies skipif/onlyif, compares labelled results and stops at halt', async () => {
    const text = [
      'onlyif sluice',
      'statement ok',
      'FLUSH',
      '',
      'skipif postgres',
      'statement ok',
      'not sql at all',
      '',
      'query I nosort same',
      'SELECT 6',
      '----',
      '6',
      '',
      'query I nosort same',
      'SELECT 7',
      '----',
      '7',
      '',
      'halt',
      '',
      'statement ok',
      'not sql either',
      '',
    ].join('\n')
    const result = await runSltFile(file(text), client, { engine: 'postgres' })
    expect(result.skipped).toBe(2)
    expect(result.passed).toBe(1)
    expect(result.failures.map((f) => [f.line, f.message.split(': ').slice(1).join(': ')])).toEqual([
      [14, 'result differs from an earlier query labelled "same"'],
    ])
  })

  it('includes other files relative to the including one', async () => {
    file('statement ok\nCREATE TABLE inc_t (k INT)\n', 'inc_a.slt')
    file('statement ok\nINSERT INTO inc_t VALUES (1)\n', 'inc_b.slt')
    const main = file('include inc_*.slt\n\nquery I\nSELECT count(*) FROM inc_t\n----\n1\n')
    expect(await runSltFile(main, client, { engine: 'postgres' })).toMatchObject({ passed: 3, failed: 0 })
  })

  it('checks only the record at a given line, running the earlier ones as setup', async () => {
    const text =
      'statement ok\nCREATE TABLE line_t (k INT)\n\nquery I\nSELECT 99\n----\n0\n\n# comment\nquery I\nSELECT count(*) FROM line_t\n----\n0\n\nstatement ok\nnot sql\n'
    const path = file(text)
    expect(await runSltFile(path, client, { engine: 'postgres', line: 11 })).toMatchObject({ passed: 1, failed: 0 })
    // A comment line selects the record after it.
    expect(await runSltFile(path, client, { engine: 'postgres', line: 9 })).toMatchObject({ passed: 1, failed: 0 })
    expect((await runSltFile(path, client, { engine: 'postgres', line: 5 })).failures.map((f) => f.line)).toEqual([4])
  })
})

describe('complete mode', () => {
  it('rewrites expected output and keeps every other byte', async () => {
    const before = [
      '# header comment',
      '',
      'statement ok',
      'CREATE TABLE comp_t (k INT, v TEXT)',
      '',
      'statement ok',
      "INSERT INTO comp_t VALUES (1, 'a'), (2, '')",
      '',
      '# stale rows',
      'query IT rowsort',
      'SELECT * FROM comp_t',
      '----',
      '9 z',
      '',
      'query I',
      'SELECT count(*) FROM comp_t',
      '',
      'query IT   nosort',
      'SELECT 1, NULL',
      '----',
      '1 NULL',
      '',
      'query I',
      'SELECT k, v FROM comp_t WHERE k = 2',
      '----',
      '',
      'statement ok',
      'SELECT * FROM comp_missing',
      '',
      'statement error 42P01',
      'SELECT 1',
      '',
      'query I',
      'SELECT 1/0',
      '----',
      '1',
      '',
    ].join('\n')
    const path = file(before)
    const result = await runSltFile(path, client, { engine: 'postgres', complete: true })
    expect(result.rewritten).toEqual([path])
    const after = readFileSync(path, 'utf8')
    expect(after).toBe(
      [
        '# header comment',
        '',
        'statement ok',
        'CREATE TABLE comp_t (k INT, v TEXT)',
        '',
        'statement ok',
        "INSERT INTO comp_t VALUES (1, 'a'), (2, '')",
        '',
        '# stale rows',
        'query IT rowsort',
        'SELECT * FROM comp_t',
        '----',
        '1 a',
        '2 (empty)',
        '',
        'query I',
        'SELECT count(*) FROM comp_t',
        '----',
        '2',
        '',
        'query IT   nosort',
        'SELECT 1, NULL',
        '----',
        '1 NULL',
        '',
        'query IT nosort',
        'SELECT k, v FROM comp_t WHERE k = 2',
        '----',
        '2 (empty)',
        '',
        'statement error 42P01',
        'SELECT * FROM comp_missing',
        '',
        'statement ok',
        'SELECT 1',
        '',
        'query error 22012',
        'SELECT 1/0',
        '',
      ].join('\n'),
    )
    // The rewritten file passes as it stands (its table exists by now, so start over).
    await client.run('DROP TABLE comp_t')
    expect(await runSltFile(path, client, { engine: 'postgres' })).toMatchObject({ failed: 0 })
  })

  it('leaves a passing file untouched', async () => {
    const path = file('query I\nSELECT 1\n----\n1\n')
    const result = await runSltFile(path, client, { engine: 'postgres', complete: true })
    expect(result.rewritten).toEqual([])
    expect(readFileSync(path, 'utf8')).toBe('query I\nSELECT 1\n----\n1\n')
  })
})

describe('applyEdits', () => {
  it('keeps CRLF line endings and the final newline', () => {
    expect(applyEdits('a\r\nb\r\nc\r\n', [{ start: 1, end: 2, lines: ['x', 'y'] }])).toBe('a\r\nx\r\ny\r\nc\r\n')
    expect(applyEdits('a\nb', [{ start: 2, end: 2, lines: ['c'] }])).toBe('a\nb\nc')
  })
})
