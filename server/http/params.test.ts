// JSON request parameters as engine values, by the types the statement describes (params.ts).
import { describe, it, expect } from 'vitest'
import { SluiceError } from '../../engine/errors.ts'
import { T, arrayOf } from '../../engine/types/datatype.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { Jsonb } from '../../engine/types/jsonb.ts'
import { parseText } from '../../engine/types/text.ts'
import { paramValue, paramsFromJson } from './params.ts'

function codeOf(f: () => unknown): string | undefined {
  try {
    f()
  } catch (e) {
    return e instanceof SluiceError ? e.code : 'not a SluiceError'
  }
  return undefined
}

describe('paramValue', () => {
  it('reads strings as PostgreSQL text input', () => {
    expect(paramValue('42', T.int4, 'UTC')).toBe(42)
    expect(paramValue('9223372036854775807', T.int8, 'UTC')).toBe(9223372036854775807n)
    expect(paramValue('1.50', T.numeric, 'UTC')).toEqual(Decimal.fromString('1.50'))
    expect(paramValue('2024-01-01 10:00', T.timestamp, 'UTC')).toBe(parseText(T.timestamp, '2024-01-01 10:00'))
    expect(paramValue('2024-01-01 10:00', T.timestamptz, 'Europe/Paris')).toBe(
      parseText(T.timestamptz, '2024-01-01 09:00+00'),
    )
    expect(paramValue('{1,2}', arrayOf(T.int4), 'UTC')).toEqual([1, 2])
    expect(paramValue('{"a": 1}', T.jsonb, 'UTC')).toEqual(new Jsonb({ a: 1 }))
  })

  it('takes numbers for number types, integers only for integer types', () => {
    expect(paramValue(7, T.int2, 'UTC')).toBe(7)
    expect(paramValue(7, T.int8, 'UTC')).toBe(7n)
    expect(paramValue(0.1, T.numeric, 'UTC')).toEqual(Decimal.fromString('0.1'))
    expect(paramValue(0.1, T.float4, 'UTC')).toBe(Math.fround(0.1))
    expect(paramValue(2.5, T.float8, 'UTC')).toBe(2.5)
    expect(paramValue(3, T.text, 'UTC')).toBe('3')
    expect(codeOf(() => paramValue(1.5, T.int4, 'UTC'))).toBe('22P02')
    expect(codeOf(() => paramValue(40000, T.int2, 'UTC'))).toBe('22003')
  })

  it('takes booleans, null and JSON structures', () => {
    expect(paramValue(true, T.bool, 'UTC')).toBe(true)
    expect(paramValue(false, T.text, 'UTC')).toBe('false')
    expect(paramValue(null, T.int4, 'UTC')).toBeNull()
    expect(paramValue({ a: [1] }, T.jsonb, 'UTC')).toEqual(new Jsonb({ a: [1] }))
    expect(paramValue(null, T.jsonb, 'UTC')).toBeNull()
    expect(paramValue([1, null, 3], arrayOf(T.int8), 'UTC')).toEqual([1n, null, 3n])
    expect(paramValue({ a: 1 }, T.text, 'UTC')).toBe('{"a": 1}')
    expect(codeOf(() => paramValue({ a: 1 }, T.int4, 'UTC'))).toBe('42804')
    expect(codeOf(() => paramValue(true, T.int4, 'UTC'))).toBe('22P02')
  })
})

describe('paramsFromJson', () => {
  it('converts each parameter by its type', () => {
    expect(paramsFromJson([1, 'x', null], [T.int4, T.text, T.date], 'UTC')).toEqual([1, 'x', null])
  })

  it('refuses a count that does not match the statement', () => {
    expect(codeOf(() => paramsFromJson([1], [T.int4, T.int4], 'UTC'))).toBe('08P01')
  })

  it('names the parameter that failed', () => {
    try {
      paramsFromJson([1, 'nope'], [T.int4, T.int4], 'UTC')
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(SluiceError)
      expect((e as SluiceError).code).toBe('22P02')
      expect((e as SluiceError).message).toBe('invalid input syntax for type integer: "nope"')
      expect((e as SluiceError).detail).toBe('in parameter $2')
    }
  })
})
