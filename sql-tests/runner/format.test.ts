import { describe, it, expect } from 'vitest'
import {
  comparisonLines,
  formatRows,
  formatValue,
  hashLine,
  hashValues,
  isHashLine,
  normalize,
  resultLines,
  sortRows,
} from './format.ts'
import { lineDiff } from './diff.ts'

describe('formatValue', () => {
  it('prints NULL and the empty string as sqllogictest does', () => {
    expect(formatValue(null, 'T')).toBe('NULL')
    expect(formatValue('', 'T')).toBe('(empty)')
    expect(formatValue(null, 'R')).toBe('NULL')
  })

  it('keeps T, I, B values verbatim', () => {
    expect(formatValue('2.5000000000000000', 'T')).toBe('2.5000000000000000')
    expect(formatValue('-42', 'I')).toBe('-42')
    expect(formatValue('t', 'B')).toBe('t')
    expect(formatValue('2024-01-01 00:00:00', 'P')).toBe('2024-01-01 00:00:00')
  })

  it('prints R with three decimals', () => {
    expect(formatValue('2.5', 'R')).toBe('2.500')
    expect(formatValue('0.3333333333333333', 'R')).toBe('0.333')
    expect(formatValue('-2.25', 'R')).toBe('-2.250')
    expect(formatValue('1e+20', 'R')).toBe('100000000000000000000.000')
    expect(formatValue('-0.0001', 'R')).toBe('0.000')
    expect(formatValue('NaN', 'R')).toBe('NaN')
    expect(formatValue('Infinity', 'R')).toBe('Infinity')
  })
})

describe('rows', () => {
  const rows = [
    ['b', '2', null],
    ['a', '10', ''],
  ]

  it('formats by type letter and joins values with single spaces', () => {
    expect(resultLines(formatRows(rows, 'TRT'))).toEqual(['b 2.000 NULL', 'a 10.000 (empty)'])
  })

  it('treats missing type letters as T', () => {
    expect(formatRows([['x', '1.5']], 'T')).toEqual([['x', '1.5']])
  })

  it('normalises whitespace like sqllogictest-rs', () => {
    expect(normalize('  hello   world \t 7 ')).toBe('hello world 7')
  })

  it('sorts rows and values', () => {
    const f = formatRows(rows, 'TIT')
    expect(sortRows(f, 'nosort')).toEqual(f)
    expect(sortRows(f, 'rowsort')).toEqual([
      ['a', '10', '(empty)'],
      ['b', '2', 'NULL'],
    ])
    expect(sortRows(f, 'valuesort')).toEqual([['(empty)'], ['10'], ['2'], ['NULL'], ['a'], ['b']])
  })

  it('compares rowsort and valuesort results whatever the order in the file', () => {
    expect(comparisonLines(['b  1', 'a 2'], 'rowsort')).toEqual(comparisonLines(['a 2', 'b 1'], 'rowsort'))
    expect(comparisonLines(['3 1', '2'], 'valuesort')).toEqual(['1', '2', '3'])
    expect(comparisonLines(['b 1', 'a 2'], 'nosort')).toEqual(['b 1', 'a 2'])
  })
})

describe('hashing', () => {
  it('is md5 over each value followed by a newline', () => {
    // printf '1\n2\n3\n4\n' | md5sum
    expect(hashValues(['1', '2', '3', '4'])).toBe('302c28003d487124d97c242de94da856')
    expect(hashValues([])).toBe('d41d8cd98f00b204e9800998ecf8427e')
  })

  it('prints the sqllogictest hash line over the sorted values', () => {
    const sorted = sortRows(formatRows([['4'], ['2'], ['3'], ['1']], 'I'), 'rowsort')
    expect(hashLine(sorted)).toBe('4 values hashing to 302c28003d487124d97c242de94da856')
    expect(isHashLine(['4 values hashing to 302c28003d487124d97c242de94da856'])).toBe(true)
    expect(isHashLine(['4 values'])).toBe(false)
  })
})

describe('lineDiff', () => {
  it('marks removed and added lines', () => {
    expect(lineDiff(['a', 'b', 'c'], ['a', 'x', 'c'])).toBe('  a\n- b\n+ x\n  c')
    expect(lineDiff([], ['x'])).toBe('+ x')
  })
})
