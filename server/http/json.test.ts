// The JSON value rule of the HTTP API (json.ts header): which values stay JSON numbers and which
// become strings, per type.
import { describe, it, expect } from 'vitest'
import { T, arrayOf } from '../../engine/types/datatype.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { Interval } from '../../engine/types/interval.ts'
import { Jsonb } from '../../engine/types/jsonb.ts'
import { parseText } from '../../engine/types/text.ts'
import { toJson } from './json.ts'

const num = (s: string) => toJson(Decimal.fromString(s), T.numeric, 'UTC')

describe('toJson', () => {
  it('keeps bool and small integers as JSON', () => {
    expect(toJson(true, T.bool, 'UTC')).toBe(true)
    expect(toJson(false, T.bool, 'UTC')).toBe(false)
    expect(toJson(-32768, T.int2, 'UTC')).toBe(-32768)
    expect(toJson(2147483647, T.int4, 'UTC')).toBe(2147483647)
  })

  it('gives NULL as null for every type', () => {
    for (const t of [T.bool, T.int8, T.numeric, T.text, T.jsonb, T.timestamptz, arrayOf(T.int4)])
      expect(toJson(null, t, 'UTC')).toBeNull()
  })

  it('keeps int8 a number only while it is a safe integer', () => {
    expect(toJson(9007199254740991n, T.int8, 'UTC')).toBe(9007199254740991)
    expect(toJson(-9007199254740991n, T.int8, 'UTC')).toBe(-9007199254740991)
    expect(toJson(9007199254740992n, T.int8, 'UTC')).toBe('9007199254740992')
    expect(toJson(-9223372036854775808n, T.int8, 'UTC')).toBe('-9223372036854775808')
  })

  it('keeps numeric a number only when the JSON number is exactly the value', () => {
    expect(num('0.1')).toBe(0.1)
    expect(num('1.50')).toBe(1.5)
    expect(num('-42')).toBe(-42)
    expect(num('0.0025')).toBe(0.0025)
    expect(num('1.5000000000000000')).toBe(1.5)
    expect(num('9007199254740991')).toBe(9007199254740991)
    expect(num('9007199254740993')).toBe('9007199254740993')
    expect(num('12345678901234567.5')).toBe('12345678901234567.5')
    expect(num('0.12345678901234567890')).toBe('0.12345678901234567890')
    expect(num('0.00000001')).toBe('0.00000001')
    expect(num('100000000000000000000')).toBe('100000000000000000000')
  })

  it('writes floats as numbers and their specials as strings', () => {
    expect(toJson(1.25, T.float8, 'UTC')).toBe(1.25)
    expect(toJson(Math.fround(0.1), T.float4, 'UTC')).toBe(0.1)
    expect(toJson(Number.NaN, T.float8, 'UTC')).toBe('NaN')
    expect(toJson(Number.POSITIVE_INFINITY, T.float8, 'UTC')).toBe('Infinity')
    expect(toJson(Number.NEGATIVE_INFINITY, T.float4, 'UTC')).toBe('-Infinity')
  })

  it('writes temporal types, bytea and text as PostgreSQL text', () => {
    expect(toJson(parseText(T.timestamp, '2024-03-01 12:34:56.5'), T.timestamp, 'UTC')).toBe('2024-03-01 12:34:56.5')
    expect(toJson(parseText(T.timestamptz, '2024-03-01 12:00:00+00'), T.timestamptz, 'UTC')).toBe(
      '2024-03-01 12:00:00+00',
    )
    expect(toJson(parseText(T.timestamptz, '2024-03-01 12:00:00+00'), T.timestamptz, 'Europe/Paris')).toBe(
      '2024-03-01 13:00:00+01',
    )
    expect(toJson(parseText(T.date, '2024-02-29'), T.date, 'UTC')).toBe('2024-02-29')
    expect(toJson(parseText(T.time, '23:59:59'), T.time, 'UTC')).toBe('23:59:59')
    expect(toJson(Interval.parse('1 day 02:00:00'), T.interval, 'UTC')).toBe('1 day 02:00:00')
    expect(toJson(new Uint8Array([0xde, 0xad]), T.bytea, 'UTC')).toBe('\\xdead')
    expect(toJson('héllo', T.text, 'UTC')).toBe('héllo')
  })

  it('gives jsonb as the JSON value itself, JSON null included', () => {
    expect(toJson(new Jsonb({ a: [1, 'x', null] }), T.jsonb, 'UTC')).toEqual({ a: [1, 'x', null] })
    expect(toJson(new Jsonb(null), T.jsonb, 'UTC')).toBeNull()
    expect(toJson(new Jsonb('s'), T.jsonb, 'UTC')).toBe('s')
  })

  it('gives arrays as JSON arrays of converted elements', () => {
    expect(toJson([1n, null, 2n ** 60n], arrayOf(T.int8), 'UTC')).toEqual([1, null, '1152921504606846976'])
    expect(toJson([[true], [false]], arrayOf(arrayOf(T.bool)), 'UTC')).toEqual([[true], [false]])
  })
})
