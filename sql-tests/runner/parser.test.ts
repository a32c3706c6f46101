import { describe, it, expect } from 'vitest'
import { SltParseError, isSqlState, parseDuration, parseErrorPattern, parseSlt } from './parser.ts'

describe('parseSlt', () => {
  it('parses statements, queries and control records with their line positions', () => {
    const text = [
      '# a comment',
      '',
      'statement ok',
      'CREATE TABLE t (k INT)',
      '',
      'statement error 42P07',
      'CREATE TABLE t (k INT)',
      '',
      'statement error already exists',
      'CREATE TABLE t (k INT)',
      '',
      'skipif postgres',
      'onlyif sluice',
      'query IT rowsort my_label',
      'SELECT k, v',
      '  FROM t',
      '----',
      '1 a',
      '2 b',
      '',
      'hash-threshold 8',
      'sleep 500ms',
      'include other/*.slt',
      'halt',
    ].join('\n')
    const records = parseSlt(text, 'x.slt')
    expect(records.map((r) => r.kind)).toEqual([
      'statement',
      'statement',
      'statement',
      'query',
      'hash-threshold',
      'sleep',
      'include',
      'halt',
    ])
    const [ok, byCode, byRegex, query, threshold, sleep, include] = records
    expect(ok).toMatchObject({
      kind: 'statement',
      error: undefined,
      sql: 'CREATE TABLE t (k INT)',
      headerLine: 2,
      endLine: 4,
    })
    expect(byCode).toMatchObject({ error: { kind: 'sqlstate', code: '42P07' } })
    expect(byRegex).toMatchObject({ error: { kind: 'regex', source: 'already exists' } })
    expect(query).toMatchObject({
      kind: 'query',
      types: 'IT',
      sortMode: 'rowsort',
      label: 'my_label',
      sql: 'SELECT k, v\n  FROM t',
      expected: ['1 a', '2 b'],
      firstLine: 11,
      headerLine: 13,
      separatorLine: 16,
      endLine: 19,
      conditions: [
        { kind: 'skipif', engine: 'postgres' },
        { kind: 'onlyif', engine: 'sluice' },
      ],
    })
    expect(threshold).toMatchObject({ threshold: 8 })
    expect(sleep).toMatchObject({ ms: 500 })
    expect(include).toMatchObject({ pattern: 'other/*.slt' })
  })

  it('reads query error records and expected error messages', () => {
    const records = parseSlt(
      'query error 42703\nSELECT nope\n\nstatement error\nSELEC 1\n----\nsyntax error at or near "SELEC"\n',
    )
    expect(records[0]).toMatchObject({ kind: 'query', error: { kind: 'sqlstate', code: '42703' } })
    expect(records[1]).toMatchObject({
      kind: 'statement',
      error: { kind: 'any' },
      expected: ['syntax error at or near "SELEC"'],
    })
  })

  it('accepts a query without expected rows, CRLF line endings and a trailing comment', () => {
    const records = parseSlt('query I nosort # no rows\r\nSELECT 1 WHERE false\r\n')
    expect(records[0]).toMatchObject({
      kind: 'query',
      types: 'I',
      sortMode: 'nosort',
      label: undefined,
      sql: 'SELECT 1 WHERE false',
      separatorLine: undefined,
      expected: [],
    })
  })

  it('reports syntax errors with file and line', () => {
    const bad = (text: string): string => {
      try {
        parseSlt(text, 'bad.slt')
        return 'parsed'
      } catch (e) {
        expect(e).toBeInstanceOf(SltParseError)
        return (e as Error).message
      }
    }
    expect(bad('statement ok\nSELECT 1\n\nfrobnicate\n')).toBe('bad.slt:4: unknown record "frobnicate"')
    expect(bad('query X\nSELECT 1\n')).toMatch(/^bad.slt:1: unknown column type "X"/)
    expect(bad('query I randomsort\nSELECT 1\n')).toMatch(/^bad.slt:1: unknown sort mode/)
    expect(bad('statement ok\n\n')).toMatch(/^bad.slt:1: record has no SQL/)
    expect(bad('statement error (\nSELECT 1\n')).toMatch(/^bad.slt:1: invalid error regex/)
    expect(bad('statement ok\nSELECT 1\n----\n1\n')).toMatch(/^bad.slt:3: "statement ok" takes no expected output/)
    expect(bad('skipif sluice\n')).toMatch(/applies to no record/)
  })
})

describe('error patterns', () => {
  it('tells SQLSTATEs from regexes', () => {
    expect(isSqlState('42601')).toBe(true)
    expect(isSqlState('0A000')).toBe(true)
    expect(isSqlState('42P07')).toBe(true)
    expect(isSqlState('error')).toBe(false)
    expect(isSqlState('ERROR')).toBe(false)
    expect(isSqlState('426010')).toBe(false)
    expect(parseErrorPattern('')).toEqual({ kind: 'any' })
    expect(parseErrorPattern('does not exist').kind).toBe('regex')
  })
})

describe('parseDuration', () => {
  it('reads sleep durations', () => {
    expect(parseDuration('1s')).toBe(1000)
    expect(parseDuration('250ms')).toBe(250)
    expect(parseDuration('2m')).toBe(120_000)
    expect(parseDuration('1')).toBe(1000)
    expect(parseDuration('soon')).toBeUndefined()
  })
})
