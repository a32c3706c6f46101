/**
 * The CSV, Avro (Confluent wire format, schema registry, resolution) and Debezium decoders on
 * their own, and the format option checks; the Kafka path is in formats-kafka.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry'
import type { Column } from '../../engine/chunk.ts'
import type { ColumnSchema } from '../../engine/connector.ts'
import type { SluiceError } from '../../engine/errors.ts'
import { T, arrayOf, type DataType } from '../../engine/types/datatype.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { Jsonb } from '../../engine/types/jsonb.ts'
import { parseTimestamp } from '../../engine/types/time.ts'
import { startRegistryFixture, type RegistryFixture } from '../../test/registry-fixture.ts'
import { createDecoder, parseFormatConfig, type DecodeResult, type RecordDecoder } from './decoder.ts'
import { splitCsvLine } from './csv.ts'
import { avroType } from './avro.ts'

function cols(spec: Record<string, DataType>): ColumnSchema[] {
  return Object.entries(spec).map(([name, type]) => ({ name, type }))
}

function decoder(
  columns: readonly ColumnSchema[],
  options: Record<string, string>,
  target: 'source' | 'table' = 'source',
): RecordDecoder {
  const opts = new Map(Object.entries(options))
  const t = target === 'table' ? { kind: 'table' as const, primaryKey: [0] } : { kind: 'source' as const }
  return createDecoder(parseFormatConfig('kafka', opts, t, 'topic1'), columns, t)
}

function run(
  d: RecordDecoder,
  width: number,
  values: readonly (Uint8Array | string | null)[],
): { out: Column[]; results: DecodeResult[] } {
  const out: Column[] = Array.from({ length: width }, () => [])
  const results = values.map((v) => d.decode(typeof v === 'string' ? Buffer.from(v) : v, out))
  return { out, results }
}

describe('format options', () => {
  it('rejects unknown formats, options of another format, and debezium_json outside a keyed table', () => {
    const parse =
      (o: Record<string, string>, target: 'source' | 'table' = 'source') =>
      () =>
        parseFormatConfig(
          'kafka',
          new Map(Object.entries(o)),
          target === 'table' ? { kind: 'table', primaryKey: [0] } : { kind: 'source' },
          't',
        )
    expect(parse({ format: 'xml' })).toThrow(/unknown format "xml"/)
    expect(parse({ format: 'json', 'csv.delimiter': ';' })).toThrow(/does not apply to format json/)
    expect(parse({ format: 'avro' })).toThrow(/needs the option "schema.registry"/)
    expect(parse({ format: 'avro', 'schema.registry': 'ftp://x' })).toThrow(/invalid URL/)
    expect(parse({ format: 'csv', 'csv.delimiter': ';;' })).toThrow(/csv.delimiter/)
    expect(parse({ format: 'csv', 'csv.header': 'maybe' })).toThrow(/csv.header/)
    try {
      parse({ format: 'debezium_json' })()
      expect.unreachable()
    } catch (e) {
      expect((e as SluiceError).code).toBe('0A000')
    }
    expect(parse({ format: 'debezium_json' }, 'table')().format).toBe('debezium_json')
    expect(parse({ format: 'AVRO', 'schema.registry': 'http://r:8081' })().subject).toBe('t-value')
  })
})

describe('CSV decoder', () => {
  it('splits RFC 4180 lines: quotes, doubled quotes, empty fields, custom delimiters', () => {
    expect(splitCsvLine('1,"a, ""b""",,""\r\n', 0x2c)).toEqual(['1', 'a, "b"', undefined, ''])
    expect(splitCsvLine('x|y', 0x7c)).toEqual(['x', 'y'])
    expect(splitCsvLine('', 0x2c)).toEqual([undefined])
    expect(splitCsvLine('"open', 0x2c)).toMatch(/unterminated/)
    expect(splitCsvLine('"a"b', 0x2c)).toMatch(/after a quoted field/)
    expect(splitCsvLine('a"b', 0x2c)).toMatch(/quote inside/)
  })

  it('reads fields by position with text input rules; bad lines are decode_error, bad fields type_error', () => {
    const columns = cols({ id: T.int8, price: T.numeric, name: T.text, at: T.timestamp, ok: T.bool })
    const d = decoder(columns, { format: 'csv', 'csv.delimiter': ';', 'csv.header': 'true' })
    const { out, results } = run(d, 5, [
      'ID;Price;name;at;ok',
      '1;1.50;ann;2024-01-01 10:00:00;t',
      '2;;"b;c";;false',
      '3;x;ann;2024-01-01;t',
      '4;1',
      '5;1;"oops;2024-01-01;t',
      null,
    ])
    expect(results.slice(0, 3)).toEqual([0, 1, 1])
    expect(results[3]).toMatchObject({ reason: 'type_error', detail: expect.stringContaining('column "price"') })
    expect(results[4]).toMatchObject({ reason: 'decode_error', detail: 'expected 5 CSV fields, got 2' })
    expect(results[5]).toMatchObject({ reason: 'decode_error', detail: expect.stringContaining('unterminated') })
    expect(results[6]).toMatchObject({ reason: 'decode_error' })
    expect(out).toEqual([
      [1n, 2n],
      [Decimal.fromString('1.50'), null],
      ['ann', 'b;c'],
      [parseTimestamp('2024-01-01 10:00:00'), null],
      [true, false],
    ])
  })
})

describe('Debezium JSON decoder', () => {
  const columns = cols({ id: T.int8, name: T.text })
  const d = () => decoder(columns, { format: 'debezium_json' }, 'table')

  it('c, r and u upsert the after image; d deletes the before image; tombstones carry no row', () => {
    const { out, results } = run(d(), 2, [
      JSON.stringify({ before: null, after: { id: 1, name: 'a' }, op: 'c' }),
      JSON.stringify({ schema: { type: 'struct' }, payload: { before: null, after: { id: 2, name: 'b' }, op: 'r' } }),
      JSON.stringify({ before: { id: 1, name: 'a' }, after: { id: 1, name: 'a2' }, op: 'u' }),
      JSON.stringify({ before: { id: 2, name: null }, after: null, op: 'd' }),
      null,
    ])
    expect(results).toEqual([1, 1, 1, -1, 0])
    expect(out).toEqual([
      [1n, 2n, 1n, 2n],
      ['a', 'b', 'a2', null],
    ])
  })

  it('refuses broken envelopes as decode_error', () => {
    const { out, results } = run(d(), 2, [
      '{not json',
      '[1]',
      JSON.stringify({ after: { id: 1 } }),
      JSON.stringify({ op: 'x', after: { id: 1 } }),
      JSON.stringify({ op: 'c', after: null }),
      JSON.stringify({ op: 'd', before: null }),
      JSON.stringify({ op: 'c', after: { name: 'no key' } }),
    ])
    expect(results.map((r) => (typeof r === 'number' ? r : r.reason))).toEqual(Array(7).fill('decode_error'))
    expect(results[3]).toMatchObject({ detail: 'unsupported Debezium op "x" (expected c, r, u or d)' })
    expect(results[6]).toMatchObject({ detail: expect.stringContaining('key column "id"') })
    expect(out).toEqual([[], []])
  })
})

describe('Avro decoder with a schema registry', () => {
  let fixture: RegistryFixture
  let registry: SchemaRegistry
  const subject = 'topic1-value'
  const v1 = {
    type: 'record',
    name: 'Bid',
    namespace: 'sluice.test',
    fields: [
      { name: 'auction', type: 'long' },
      { name: 'price', type: 'int' },
      { name: 'channel', type: ['null', 'string'], default: null },
      { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
      {
        name: 'meta',
        type: {
          type: 'record',
          name: 'Meta',
          fields: [
            { name: 'k', type: 'string' },
            { name: 'n', type: 'long' },
          ],
        },
      },
    ],
  }
  const v2 = { ...v1, fields: [...v1.fields, { name: 'referrer', type: ['null', 'string'], default: null }] }
  const columns = cols({
    auction: T.int8,
    price: T.numeric,
    channel: T.text,
    at: T.timestamp,
    meta: T.jsonb,
    missing: arrayOf(T.int4),
  })

  beforeAll(async () => {
    fixture = await startRegistryFixture()
    registry = new SchemaRegistry({ host: fixture.url })
  })
  afterAll(async () => {
    await fixture.close()
  })

  it('decodes the Confluent wire format by resolution into the columns; evolves with setColumns', async () => {
    const { id: id1 } = await registry.register({ type: 'AVRO' as never, schema: JSON.stringify(v1) }, { subject })
    const { id: id2 } = await registry.register({ type: 'AVRO' as never, schema: JSON.stringify(v2) }, { subject })
    const big = 9007199254740993n
    // The Confluent client's Avro longs are JS numbers; the exact 2^53 + 1 is framed by hand.
    const header = Buffer.from([0, 0, 0, 0, id1])
    const r1 = Buffer.concat([
      header,
      avroType(v1).toBuffer({ auction: big, price: 7, channel: null, at: 1704103200000, meta: { k: 'x', n: 3n } }),
    ])
    const r2 = await registry.encode(id2, {
      auction: 2,
      price: 8,
      channel: 'web',
      at: 1704103201000,
      meta: { k: 'y', n: 4 },
      referrer: 'ref',
    })
    const d = decoder(columns, { format: 'avro', 'schema.registry': fixture.url })
    const bad = [
      Buffer.from([1, 0, 0, 0, 1, 2]), // wrong magic byte
      Buffer.from([0, 0, 0]), // too short
      Buffer.concat([Buffer.from([0, 0, 0, 3, 231]), r1.subarray(5)]), // unknown id 999
      r1.subarray(0, r1.length - 3), // truncated datum
      Buffer.concat([r1, Buffer.from([1, 2])]), // trailing bytes
    ]
    await d.prepare?.([r1, r2, ...bad])
    const { out, results } = run(d, columns.length, [r1, r2, ...bad])
    expect(results.slice(0, 2)).toEqual([1, 1])
    expect(results.slice(2).map((r) => (typeof r === 'number' ? r : r.reason))).toEqual(Array(5).fill('decode_error'))
    expect(results[2]).toMatchObject({ detail: expect.stringContaining('magic byte') })
    expect(results[4]).toMatchObject({ detail: expect.stringContaining('schema id 999 is not registered') })
    expect(out[0]).toEqual([big, 2n])
    expect(out[1]).toEqual([Decimal.fromString('7'), Decimal.fromString('8')])
    expect(out[2]).toEqual([null, 'web'])
    expect(out[3]).toEqual([parseTimestamp('2024-01-01 10:00:00'), parseTimestamp('2024-01-01 10:00:01')])
    expect(out[4]).toEqual([new Jsonb({ k: 'x', n: 3 }), new Jsonb({ k: 'y', n: 4 })])
    expect(out[5]).toEqual([null, null])

    // A new column picks up the field the newer schema added; records of the old schema read its default.
    const evolved = [...columns, { name: 'referrer', type: T.text }]
    d.setColumns(evolved)
    const after = run(d, evolved.length, [r2, r1])
    expect(after.results).toEqual([1, 1])
    expect(after.out[6]).toEqual(['ref', null])
    await expect(d.checkColumns?.(evolved)).resolves.toBeUndefined()
  })

  it('refuses a writer field its column cannot read as schema_mismatch, naming the field', async () => {
    const bad = {
      ...v1,
      fields: v1.fields.map((f) => (f.name === 'auction' ? { name: 'auction', type: 'string' } : f)),
    }
    // The registry itself refuses the incompatible change under BACKWARD compatibility.
    await expect(
      registry.register({ type: 'AVRO' as never, schema: JSON.stringify(bad) }, { subject }),
    ).rejects.toThrow(/incompatible/)
    await fetch(`${fixture.url}/config/other-value`, { method: 'PUT', body: JSON.stringify({ compatibility: 'NONE' }) })
    const { id } = await registry.register(
      { type: 'AVRO' as never, schema: JSON.stringify(bad) },
      { subject: 'other-value' },
    )
    const rec = await registry.encode(id, { auction: 'one', price: 10, channel: null, at: 0, meta: { k: 'x', n: 1 } })
    const d = decoder(columns, { format: 'avro', 'schema.registry': fixture.url })
    await d.prepare?.([rec])
    const { results, out } = run(d, columns.length, [rec])
    expect(results[0]).toMatchObject({
      reason: 'schema_mismatch',
      detail: expect.stringContaining(
        'field "auction" has Avro type "string", which column "auction" (bigint) cannot read',
      ),
    })
    expect(out[0]).toEqual([])
    // A column list that contradicts the subject's latest schema is refused (42804).
    const wrong = decoder(cols({ auction: T.int8, channel: T.int8 }), {
      format: 'avro',
      'schema.registry': fixture.url,
    })
    await expect(wrong.checkColumns?.(cols({ auction: T.int8, channel: T.int8 }))).rejects.toMatchObject({
      code: '42804',
    })
  })
})
