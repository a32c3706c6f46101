/**
 * The Kafka sink's record encoding without a broker: the JSON value rule (read back by Sluice's
 * own JSON decoder to the same values), Avro records (decoded with their schema), one epoch's
 * upsert compaction per key, the write-ahead layout, and the options' SQLSTATEs.
 */
import { describe, expect, it } from 'vitest'
import type { ColumnSchema, SinkSpec } from '../../engine/connector.ts'
import type { Chunk, Column } from '../../engine/chunk.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { chunkFromRows } from '../../engine/chunk.ts'
import { SluiceError } from '../../engine/errors.ts'
import { T, arrayOf } from '../../engine/types/datatype.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { Interval } from '../../engine/types/interval.ts'
import { Jsonb } from '../../engine/types/jsonb.ts'
import { parseTimestamp, parseTimestamptz } from '../../engine/types/time.ts'
import { createJsonDecoder } from '../formats/json.ts'
import { avroName, avroRowEncoder, avroSchema, patchSchemaId, sinkAvroType } from './sink-avro.ts'
import { EpochBuffer, decodeRecords, encodeRecords } from './sink-epoch.ts'
import { jsonRowEncoder, valueJson } from './sink-json.ts'
import { parseKafkaSinkOptions } from './sink-options.ts'

const columns: ColumnSchema[] = [
  { name: 'b', type: T.bool },
  { name: 'i', type: T.int4 },
  { name: 'big', type: T.int8 },
  { name: 'r', type: T.float4 },
  { name: 'd', type: T.float8 },
  { name: 'n', type: T.numeric },
  { name: 's', type: T.text },
  { name: 'ts', type: T.timestamp },
  { name: 'tz', type: T.timestamptz },
  { name: 'day', type: T.date },
  { name: 'tm', type: T.time },
  { name: 'iv', type: T.interval },
  { name: 'j', type: T.jsonb },
  { name: 'bin', type: T.bytea },
  { name: 'arr', type: arrayOf(T.int8) },
]

const row: Value[] = [
  true,
  42,
  9223372036854775807n,
  Math.fround(0.1),
  -2.5e-7,
  Decimal.fromString('12345678901234567.50'),
  'héllo "q"',
  parseTimestamp('2024-02-29 13:14:15.123456'),
  parseTimestamptz('2024-02-29 13:14:15.5+02'),
  19782,
  (3 * 3600 + 4 * 60 + 5.5) * 1e6,
  Interval.parse('1 day 02:00:00'),
  new Jsonb({ a: [1, 'x', null], b: { c: true } }),
  new Uint8Array([0xde, 0xad]),
  [1n, null, -3n],
]

describe('JSON records', () => {
  it('renders each type by the documented rule', () => {
    const text = jsonRowEncoder(
      columns,
      columns.map((_c, i) => i),
    )
      .encode(chunkFromRows(columns.length, [row]), 0)
      .toString('utf8')
    expect(JSON.parse(text)).toEqual({
      b: true,
      i: 42,
      big: '9223372036854775807',
      r: 0.1,
      d: -2.5e-7,
      n: '12345678901234567.50',
      s: 'héllo "q"',
      ts: '2024-02-29T13:14:15.123456',
      tz: '2024-02-29T11:14:15.5Z',
      day: '2024-02-29',
      tm: '03:04:05.5',
      iv: '1 day 02:00:00',
      j: { a: [1, 'x', null], b: { c: true } },
      bin: '\\xdead',
      arr: [1, null, -3],
    })
    expect(valueJson(12n, T.int8)).toBe('12')
    expect(valueJson(Decimal.fromString('1.50'), T.numeric)).toBe('1.5')
    expect(valueJson(Number.NaN, T.float8)).toBe('"NaN"')
    expect(valueJson(null, T.text)).toBe('null')
  })

  it('reads back to the same values through Sluice JSON decoding', () => {
    const text = jsonRowEncoder(
      columns,
      columns.map((_c, i) => i),
    )
      .encode(chunkFromRows(columns.length, [row]), 0)
      .toString('utf8')
    const out: Column[] = columns.map(() => [])
    expect(createJsonDecoder(columns).decode(text, out)).toBeUndefined()
    const back = out.map((c) => c[0])
    expect(back).toEqual(row)
  })
})

describe('Avro records', () => {
  it('writes the Confluent wire format with a schema derived from the columns', () => {
    const all = columns.map((_c, i) => i)
    const schema = avroSchema(columns, all, 'out_value')
    const record = avroRowEncoder(columns, all, schema).encode(chunkFromRows(columns.length, [row]), 0)
    expect([...record.subarray(0, 5)]).toEqual([0, 0, 0, 0, 0])
    patchSchemaId(record, 0x01020304)
    expect([...record.subarray(0, 5)]).toEqual([0, 1, 2, 3, 4])
    const datum = sinkAvroType(schema).fromBuffer(record.subarray(5)) as Record<string, unknown>
    expect(datum.big).toEqual({ long: 9223372036854775807n })
    expect(datum.n).toEqual({ string: '12345678901234567.50' })
    expect(datum.ts).toEqual({ long: BigInt(row[7] as number) })
    expect(datum.day).toEqual({ int: 19782 })
    expect(datum.tm).toEqual({ string: '03:04:05.5' })
    expect(datum.j).toEqual({ string: '{"a":[1,"x",null],"b":{"c":true}}' })
    expect(datum.arr).toEqual({ array: [{ long: 1n }, null, { long: -3n }] })
    expect(datum.bin).toEqual({ bytes: Buffer.from([0xde, 0xad]) })
    expect((schema.fields as { name: string; type: unknown }[]).find((f) => f.name === 'tz')?.type).toEqual([
      'null',
      { type: 'long', logicalType: 'timestamp-micros' },
    ])
  })

  it('turns column names into Avro names and refuses two that collide', () => {
    expect(avroName('?column?')).toBe('_column_')
    expect(avroName('1st')).toBe('_1st')
    const dup: ColumnSchema[] = [
      { name: 'a b', type: T.int4 },
      { name: 'a_b', type: T.int4 },
    ]
    expect(() => avroSchema(dup, [0, 1], 'x')).toThrow(expect.objectContaining({ code: '42701' }))
  })
})

describe('one epoch of records', () => {
  const cols: ColumnSchema[] = [
    { name: 'k', type: T.text },
    { name: 'v', type: T.int8 },
  ]
  const value = jsonRowEncoder(cols, [0, 1])
  const key = jsonRowEncoder(cols, [0])
  const chunk = (rows: [number, string, bigint][]) => {
    const c = chunkFromRows(
      2,
      rows.map(([, k, v]) => [k, v]),
    )
    return { ...c, ops: Int8Array.from(rows.map(([op]) => op)) }
  }
  const text = (b: Buffer | null) => (b === null ? null : b.toString('utf8'))
  const fail = (_c: unknown, row: number, e: unknown) => {
    throw new Error(`row ${row} refused: ${String(e)}`)
  }

  it('keeps the last state of each key in upsert mode, in the order of last change', () => {
    const buf = new EpochBuffer('upsert', key, value, fail)
    buf.write(
      chunk([
        [1, 'a', 1n],
        [1, 'b', 1n],
        [-1, 'a', 1n],
        [1, 'a', 2n],
      ]),
    )
    buf.write(
      chunk([
        [1, 'c', 5n],
        [-1, 'c', 5n],
      ]),
    ) // inserted and deleted: a tombstone
    buf.write(
      chunk([
        [1, 'd', 7n],
        [-1, 'd', 6n],
      ]),
    ) // +new before -old: the new row stands
    buf.write(chunk([[-1, 'e', 1n]])) // a delete of an earlier epoch's row
    const records = decodeRecords(buf.take()!)
    expect(records.map((r) => [text(r.key), text(r.value)])).toEqual([
      ['{"k":"b"}', '{"k":"b","v":1}'],
      ['{"k":"a"}', '{"k":"a","v":2}'],
      ['{"k":"c"}', null],
      ['{"k":"d"}', '{"k":"d","v":7}'],
      ['{"k":"e"}', null],
    ])
    expect(buf.take()).toBeUndefined()
  })

  it('writes every insert in append mode and skips (counts) retractions', () => {
    const buf = new EpochBuffer('append', undefined, value, fail)
    buf.write(
      chunk([
        [1, 'a', 1n],
        [1, 'a', 1n],
        [-1, 'a', 1n],
      ]),
    )
    expect(buf.skippedRetractions).toBe(1)
    const records = decodeRecords(buf.take()!)
    expect(records.map((r) => [r.key, text(r.value)])).toEqual([
      [null, '{"k":"a","v":1}'],
      [null, '{"k":"a","v":1}'],
    ])
  })

  it('skips a row its encoder refuses and says which, instead of throwing', () => {
    const refused: number[] = []
    const picky = {
      encode: (c: Chunk, row: number) =>
        row === 1
          ? (() => {
              throw new Error('no')
            })()
          : value.encode(c, row),
    }
    const buf = new EpochBuffer('append', undefined, picky, (_c, row) => refused.push(row))
    buf.write(
      chunk([
        [1, 'a', 1n],
        [1, 'b', 2n],
        [1, 'c', 3n],
      ]),
    )
    expect(refused).toEqual([1])
    expect(decodeRecords(buf.take()!).map((r) => text(r.value))).toEqual(['{"k":"a","v":1}', '{"k":"c","v":3}'])
  })

  it('round-trips the write-ahead layout, nulls included', () => {
    const recs = [
      { key: Buffer.from('k1'), value: Buffer.from('v1') },
      { key: null, value: Buffer.from('') },
      { key: Buffer.from('k3'), value: null },
    ]
    expect(decodeRecords(encodeRecords(recs))).toEqual(recs)
  })

  it('round-trips headers (dead-letter records keep the original record headers)', () => {
    const recs = [
      {
        key: null,
        value: Buffer.from('{}'),
        headers: [
          ['trace', Buffer.from('t1')] as const,
          ['trace', Buffer.from('')] as const,
          ['é', Buffer.from([0, 255])] as const,
        ],
      },
      { key: Buffer.from('k'), value: null },
    ]
    const bytes = encodeRecords(recs)
    expect(bytes[0]).toBe(2)
    expect(decodeRecords(bytes)).toEqual(recs)
  })
})

describe('Kafka sink options', () => {
  const cols: ColumnSchema[] = [
    { name: 'k', type: T.text },
    { name: 'v', type: T.int8 },
  ]
  const retracting: SinkSpec = { columns: cols, key: [0], appendOnly: false }
  const keyless: SinkSpec = { columns: cols, key: [], appendOnly: false }
  const appendOnly: SinkSpec = { columns: cols, key: [], appendOnly: true }
  const base = { connector: 'kafka', topic: 'out', brokers: '127.0.0.1:19092' }
  const parse = (spec: SinkSpec, o: Record<string, string>) =>
    parseKafkaSinkOptions(spec, new Map(Object.entries({ ...base, ...o })), 'out')
  const code = (spec: SinkSpec, o: Record<string, string>) => {
    try {
      parse(spec, o)
    } catch (e) {
      return e instanceof SluiceError ? e.code : String(e)
    }
    return 'accepted'
  }

  it('chooses exactly once, JSON, and the mode the input needs by default', () => {
    expect(parse(retracting, {})).toMatchObject({
      delivery: 'exactly_once',
      format: 'json',
      mode: 'upsert',
      key: [0],
      transactionalId: 'sluice-sink:out:out',
      progressTopic: '_sluice_sink_progress',
    })
    expect(parse(appendOnly, {})).toMatchObject({ mode: 'append', key: [] })
    expect(parse(keyless, { key: 'K' })).toMatchObject({ mode: 'upsert', key: [0] })
    expect(parse(appendOnly, { mode: 'UPSERT', key: 'v,k', delivery: 'at_least_once' })).toMatchObject({
      mode: 'upsert',
      key: [1, 0],
      delivery: 'at_least_once',
    })
  })

  it('refuses unknown or invalid options with 22023 and an impossible mode with 0A000', () => {
    expect(code(retracting, { colour: 'red' })).toBe('22023')
    expect(code(retracting, { format: 'xml' })).toBe('22023')
    expect(code(retracting, { format: 'avro' })).toBe('22023') // no schema.registry
    expect(code(retracting, { 'schema.registry': 'http://x:1' })).toBe('22023') // json
    expect(code(retracting, { delivery: 'maybe' })).toBe('22023')
    expect(code(retracting, { key: 'nope' })).toBe('22023')
    expect(code(retracting, { topic: 'bad topic' })).toBe('22023')
    expect(code(retracting, { brokers: 'nohostport' })).toBe('22023')
    expect(code(retracting, { 'progress.topic': 'out' })).toBe('22023')
    expect(code(retracting, { delivery: 'at_least_once', 'transactional.id': 'x' })).toBe('22023')
    expect(code(retracting, { mode: 'append' })).toBe('0A000')
    expect(code(keyless, {})).toBe('0A000')
    expect(code(appendOnly, { mode: 'upsert' })).toBe('0A000')
  })
})
