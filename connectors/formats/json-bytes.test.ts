/**
 * The JSON decoder's byte path (decodeBytes, read by ./json-scan.ts without JSON.parse for flat
 * records) against its text path (decode, JSON.parse): the same rows and the same rejections for
 * every record, whether the scanner takes it or hands it back. Random records mix matching and
 * case-folded keys, repeats, every kind of JSON value and broken text.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { Column } from '../../engine/chunk.ts'
import type { ColumnSchema } from '../../engine/connector.ts'
import { T, type DataType } from '../../engine/types/datatype.ts'
import { createJsonDecoder, type JsonDecoderOptions } from './json.ts'
import { FlatJsonScanner } from './json-scan.ts'

function cols(spec: Record<string, DataType>): ColumnSchema[] {
  return Object.entries(spec).map(([name, type]) => ({ name, type }))
}

const COLUMNS = cols({
  auction: T.int8,
  price: T.numeric,
  qty: T.int4,
  small: T.int2,
  ratio: T.float8,
  f4: T.float4,
  channel: T.text,
  eventtime: T.timestamp,
  tstz: T.timestamptz,
  ok: T.bool,
  doc: T.jsonb,
  constructor: T.text,
})

/** Decodes each record both ways into separate columns and returns both results. */
function both(columns: readonly ColumnSchema[], records: readonly string[], options: JsonDecoderOptions = {}) {
  const decoder = createJsonDecoder(columns, options)
  const textOut: Column[] = columns.map(() => [])
  const byteOut: Column[] = columns.map(() => [])
  const text = records.map((r) => decoder.decode(r, textOut))
  // Records side by side in one buffer, as the Kafka source hands them over.
  const parts = records.map((r) => Buffer.from(r, 'utf8'))
  const all = Buffer.concat(parts.flatMap((p) => [Buffer.from('#'), p]))
  let at = 0
  const bytes = parts.map((p) => {
    at += 1
    const r = decoder.decodeBytes(all, at, at + p.length, byteOut)
    at += p.length
    return r
  })
  return { text, bytes, textOut, byteOut }
}

const keys = [
  'auction',
  'Auction',
  'AUCTION',
  'price',
  'qty',
  'small',
  'ratio',
  'f4',
  'channel',
  'Channel',
  'eventTime',
  'eventtime',
  'eventtimes',
  'auctio',
  'tstz',
  'TSTZ',
  'ok',
  'doc',
  'constructor',
  'toString',
  'other',
  'päd',
  'a\\u0062',
]
const scalar = fc.oneof(
  fc.integer({ min: -40000, max: 40000 }).map(String),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc.constantFrom('0', '-0', '1.50', '1e3', '1E-2', '-12.5e+2', '01', '1.', '.5', '+1', '-', '1e', '9007199254740993'),
  fc.string().map((s) => JSON.stringify(s)),
  fc.constantFrom(
    '"web"',
    '"héllo"',
    '"a\\"b"',
    '"\\u00e9"',
    '"\\x"',
    '"2024-01-01 10:00:00"',
    '"2024-01-01 00:00:00.004"',
    '"2024-02-29T23:59:59.999999Z"',
    '"2024-01-01T10:00:00.5+05:30"',
    '"2024-01-01T10:00-0800"',
    '"2024-01-01 10:00:00+02"',
    '"2023-02-29 00:00:00"',
    '"2024-01-01 24:00:00"',
    '"2024-01-01 24:00:01"',
    '"2024-01-01 00:00:00.1234567"',
    '"2024-01-01  10:00:00"',
    '"2024-01-01 10:00:00 UTC"',
    '"2024-01-01 10:00:00+05:"',
    '"2024-01-01"',
    '"0000-01-01 00:00:00"',
    '"NaN"',
    '"42"',
    '"tab\there"',
  ),
  fc.constantFrom('true', 'false', 'null', 'nul', 'tru', '{"x":1}', '[1,2]', '[]', '{}'),
)
const field = fc.tuple(fc.constantFrom(...keys), scalar, fc.constantFrom('', ' ', '\n\t'))
const record = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .array(field, { maxLength: 8 })
      .map((fs) => `{${fs.map(([k, v, ws]) => `${ws}"${k}"${ws}:${ws}${v}${ws}`).join(',')}}`),
  },
  { weight: 1, arbitrary: fc.string() },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.array(field, { maxLength: 4 }), fc.constantFrom('', ',', '}', ' x', '\ufeff', '{', ']'), fc.boolean())
      .map(([fs, junk, front]) => {
        const body = `{${fs.map(([k, v]) => `"${k}":${v}`).join(',')}}`
        return front ? junk + body : body + junk
      }),
  },
)

describe('JSON decoder, bytes against text', () => {
  it('gives the same rows and rejections for random records', () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 20 }), (records) => {
        const r = both(COLUMNS, records)
        expect(r.bytes).toEqual(r.text)
        expect(r.byteOut).toEqual(r.textOut)
      }),
      { numRuns: 2000 },
    )
  })

  it('gives the same rows with a session zone for timestamptz fields without an offset', () => {
    const columns = cols({ tstz: T.timestamptz })
    const records = [
      '{"tstz": "2024-03-10 02:30:00"}',
      '{"tstz": "2024-07-01T12:00:00.25"}',
      '{"tstz": "2024-07-01T12:00:00Z"}',
      '{"tstz": "2024-07-01 12:00:00-04:00"}',
    ]
    const r = both(columns, records, { timeZone: 'America/New_York' })
    expect(r.byteOut).toEqual(r.textOut)
    expect(r.byteOut[0][1]).toBe(Date.UTC(2024, 6, 1, 16, 0, 0, 250) * 1000)
  })

  it('reads records whose fields come in the declared order, another order, or with unknown fields', () => {
    const columns = cols({ auction: T.int8, price: T.float8, channel: T.text, date_time: T.timestamp })
    const r = both(columns, [
      '{"auction":1000,"price":611,"channel":"Baidu","date_time":"2024-01-01 00:00:00.004"}',
      '{"date_time":"2024-01-01 00:00:01","channel":"Google","price":-0,"auction":1001}',
      '{"auction":1025,"extra":"x","auctions":7,"price":1.5,"channel":"h\u00e9","date_time":"2024-01-01T00:00:02Z"}',
      '{"auction":1,"price":2,"channel":"Apple","date_time":1704067200000}',
      '{"auction":1000,"price":3,"channel":"Baidu","date_time":"2024-01-01 00:00:00.004"}',
    ])
    expect(r.byteOut).toEqual(r.textOut)
    expect(r.byteOut).toEqual([
      [1000n, 1001n, 1025n, 1n, 1000n],
      [611, -0, 1.5, 2, 3],
      ['Baidu', 'Google', 'hé', 'Apple', 'Baidu'],
      [1704067200004000, 1704067201000000, 1704067202000000, 1704067200000000, 1704067200004000],
    ])
  })

  it('reads flat records itself and hands nested or odd ones back', () => {
    const scanner = new FlatJsonScanner(['a', 'b'], true)
    const scan = (t: string): boolean => {
      const b = Buffer.from(t)
      return scanner.scan(b, 0, b.length)
    }
    expect(scan('{"a":1,"b":"x"}')).toBe(true)
    expect(scan(' { } ')).toBe(true)
    expect(scan('{"A":-1.5e3,"b":null,"c":true}')).toBe(true)
    expect(scan('{"a":{"x":1}}')).toBe(false)
    expect(scan('{"\\u0061":1}')).toBe(false)
    expect(scan('{"a":1,}')).toBe(false)
    expect(scan('{"a":01}')).toBe(false)
    expect(scan('{"a":1} x')).toBe(false)
  })

  it('matches case-insensitively like the text path: exact wins, then the first distinct key', () => {
    const columns = cols({ id: T.int8, name: T.text })
    const r = both(columns, [
      '{"ID": 1, "id": 2}',
      '{"Id": 3, "ID": 4, "Id": 5}',
      '{"NAME": "a", "Name": "b", "name": null}',
    ])
    expect(r.byteOut).toEqual(r.textOut)
    expect(r.byteOut).toEqual([
      [2n, 5n, null],
      [null, null, null],
    ])
  })

  it('keeps big integers and numeric digits exact from the bytes', () => {
    const columns = cols({ id: T.int8, price: T.numeric })
    const r = both(columns, ['{"id": 9007199254740993, "price": 1.50}', '{"id": 12345678901234567890, "price": 1}'])
    expect(r.byteOut).toEqual(r.textOut)
    expect(r.byteOut[0][0]).toBe(9007199254740993n)
    expect(r.bytes[1]).toMatchObject({ reason: 'type_error' })
  })

  it('leaves columns whose names differ only in case to the text path', () => {
    expect(new FlatJsonScanner(['a', 'A'], true).usable).toBe(false)
    expect(new FlatJsonScanner(['a', 'A'], false).usable).toBe(true)
    expect(new FlatJsonScanner(['päd'], true).usable).toBe(false)
  })
})
