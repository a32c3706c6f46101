/** The JSON record decoder: field mapping, conversions to engine values, and rejected records. */
import { describe, expect, it } from 'vitest'
import type { Column } from '../../engine/chunk.ts'
import type { ColumnSchema } from '../../engine/connector.ts'
import { T, arrayOf, type DataType } from '../../engine/types/datatype.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { Jsonb } from '../../engine/types/jsonb.ts'
import { formatText } from '../../engine/types/text.ts'
import { parseTimestamp, parseTimestamptz } from '../../engine/types/time.ts'
import { createJsonDecoder, topLevelRawValues } from './json.ts'

function cols(spec: Record<string, DataType>): ColumnSchema[] {
  return Object.entries(spec).map(([name, type]) => ({ name, type }))
}

function decodeAll(columns: readonly ColumnSchema[], records: readonly string[]) {
  const decoder = createJsonDecoder(columns)
  const out: Column[] = columns.map(() => [])
  const failures = records.map((r) => decoder.decode(r, out))
  return { out, failures }
}

describe('JSON decoder', () => {
  it('maps fields by name, then case-insensitively; missing fields and JSON null are NULL', () => {
    const { out, failures } = decodeAll(cols({ auction: T.int8, bidder: T.int4, eventtime: T.text, extra: T.text }), [
      '{"auction": 1, "bidder": 7, "eventTime": "x"}',
      '{"AUCTION": 2, "bidder": null}',
      '{"auction": 3, "Auction": 99}',
    ])
    expect(failures).toEqual([undefined, undefined, undefined])
    expect(out).toEqual([
      [1n, 2n, 3n],
      [7, null, null],
      ['x', null, null],
      [null, null, null],
    ])
  })

  it('converts numbers to every numeric type', () => {
    const { out, failures } = decodeAll(
      cols({ a: T.int2, b: T.int4, c: T.int8, d: T.float4, e: T.float8, f: T.numeric }),
      [
        '{"a": -32768, "b": 2147483647, "c": -5, "d": 0.1, "e": 0.1, "f": 12.345}',
        '{"a": "12", "b": "-7", "c": "9223372036854775807", "d": "NaN", "e": "-Infinity", "f": "1e3"}',
      ],
    )
    expect(failures).toEqual([undefined, undefined])
    expect(out[0]).toEqual([-32768, 12])
    expect(out[1]).toEqual([2147483647, -7])
    expect(out[2]).toEqual([-5n, 9223372036854775807n])
    expect(out[3]).toEqual([Math.fround(0.1), NaN])
    expect(out[4]).toEqual([0.1, -Infinity])
    expect(out[5].map((v) => formatText(T.numeric, v))).toEqual(['12.345', '1000'])
    expect(out[5][0]).toBeInstanceOf(Decimal)
  })

  it('keeps integers beyond 2^53 and numeric digits exactly as written', () => {
    const { out, failures } = decodeAll(cols({ id: T.int8, price: T.numeric, neg: T.int8 }), [
      '{"id": 9007199254740993, "price": 1.50, "neg": -9223372036854775808}',
      '{"note": "a \\"quoted\\" {brace", "price": 123456789012345678901234567890.123, "id": 12345678901234567890}',
    ])
    expect(out[0]).toEqual([9007199254740993n])
    expect(out[1].map((v) => formatText(T.numeric, v))).toEqual(['1.50'])
    expect(out[2]).toEqual([-9223372036854775808n])
    expect(failures[1]).toEqual({
      reason: 'type_error',
      detail: 'field "id": value 12345678901234567890 is out of range for type bigint',
    })
  })

  it('reads top-level raw values around strings, escapes and nesting', () => {
    const raw = topLevelRawValues('{ "a" : 1.50 , "b\\"x": {"c": [1, "}", 2]}, "d": "s,\\\\", "e": -2e3 }')
    expect([...raw]).toEqual([
      ['a', '1.50'],
      ['b"x', '{"c": [1, "}", 2]}'],
      ['d', '"s,\\\\"'],
      ['e', '-2e3'],
    ])
  })

  it('converts booleans, text, jsonb, arrays and timestamps', () => {
    const { out, failures } = decodeAll(
      cols({
        ok: T.bool,
        name: T.text,
        meta: T.jsonb,
        tags: arrayOf(T.text),
        ts: T.timestamp,
        tz: T.timestamptz,
        day: T.date,
      }),
      [
        '{"ok": true, "name": "bob", "meta": {"k": [1, 2]}, "tags": ["a", null], "ts": "2024-01-01 10:00:05", "tz": "2024-01-01T10:00:05+02:00", "day": "2024-02-29"}',
        '{"ok": "false", "name": {"nested": 1}, "meta": 5, "tags": [], "ts": 1704103205000, "tz": 1704103205123}',
        '{"name": 42.5}',
      ],
    )
    expect(failures).toEqual([undefined, undefined, undefined])
    expect(out[0]).toEqual([true, false, null])
    expect(out[1]).toEqual(['bob', '{"nested":1}', '42.5'])
    expect(out[2]).toEqual([new Jsonb({ k: [1, 2] }), new Jsonb(5), null])
    expect(out[3]).toEqual([['a', null], [], null])
    expect(out[4]).toEqual([parseTimestamp('2024-01-01 10:00:05'), parseTimestamp('2024-01-01 10:00:05'), null])
    expect(out[5]).toEqual([
      parseTimestamptz('2024-01-01 08:00:05Z'),
      parseTimestamptz('2024-01-01 10:00:05.123Z'),
      null,
    ])
    expect(formatText(T.date, out[6][0])).toBe('2024-02-29')
  })

  it('reports records that are not JSON objects as decode errors', () => {
    const { out, failures } = decodeAll(cols({ a: T.int4 }), ['{"a": 1', 'not json', '[1, 2]', '42', '{"a": 2}'])
    expect(failures.map((f) => f?.reason)).toEqual([
      'decode_error',
      'decode_error',
      'decode_error',
      'decode_error',
      undefined,
    ])
    expect(failures[2]?.detail).toBe('expected a JSON object, got array [1,2]')
    expect(out).toEqual([[2]])
  })

  it('reports a field of the wrong type as a type error naming the field, leaving columns untouched', () => {
    const { out, failures } = decodeAll(cols({ a: T.int4, b: T.int2, c: T.timestamp, d: T.bool }), [
      '{"a": 1, "b": 2, "c": "2024-01-01", "d": true}',
      '{"a": 1, "b": "two"}',
      '{"a": 1.5}',
      '{"a": 1, "b": 40000}',
      '{"a": 1, "c": "yesterday-ish"}',
      '{"a": 1, "d": 1}',
      '{"a": [1]}',
    ])
    expect(failures[0]).toBeUndefined()
    expect(failures.slice(1)).toEqual([
      { reason: 'type_error', detail: 'field "b": invalid input syntax for type smallint: "two"' },
      { reason: 'type_error', detail: 'field "a": expected integer, got number 1.5' },
      { reason: 'type_error', detail: 'field "b": value 40000 is out of range for type smallint' },
      { reason: 'type_error', detail: 'field "c": invalid input syntax for type timestamp: "yesterday-ish"' },
      { reason: 'type_error', detail: 'field "d": expected boolean, got number 1' },
      { reason: 'type_error', detail: 'field "a": expected integer, got array [1]' },
    ])
    expect(out.map((c) => c.length)).toEqual([1, 1, 1, 1])
  })

  it('does not read fields named like Object.prototype members from the prototype', () => {
    const { out } = decodeAll(cols({ constructor: T.text, tostring: T.text }), ['{"toString": "x"}'])
    expect(out).toEqual([[null], ['x']])
  })
})
