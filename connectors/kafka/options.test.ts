/** Kafka source options: what CREATE SOURCE accepts and the SQLSTATE of what it refuses. */
import { describe, expect, it } from 'vitest'
import { parseKafkaSourceOptions } from './options.ts'

const base = { topic: 'bids', brokers: '127.0.0.1:19092' }
const parse = (o: Record<string, string>) => parseKafkaSourceOptions(new Map(Object.entries(o)))
const refusal = (o: Record<string, string>) => {
  try {
    parse(o)
  } catch (e) {
    return e
  }
  throw new Error('accepted')
}

describe('Kafka source options', () => {
  it('accepts the documented options with their defaults', () => {
    expect(parse(base)).toEqual({
      topic: 'bids',
      brokers: ['127.0.0.1:19092'],
      startup: { kind: 'earliest' },
      format: 'json',
      formatConfig: { format: 'json', options: expect.any(Map), subject: undefined },
      target: { kind: 'source' },
      groupId: undefined,
      idleTimeoutMicros: undefined,
      deadLetterTopic: undefined,
    })
    const all = parse({
      ...base,
      startup: 'LATEST',
      format: 'JSON',
      'group.id': 'dash',
      idle_timeout: '30s',
      dead_letter: 'dlq',
    })
    expect(all).toMatchObject({
      startup: { kind: 'latest' },
      groupId: 'dash',
      idleTimeoutMicros: 30_000_000,
      deadLetterTopic: 'dlq',
    })
  })

  it('refuses a bad idle_timeout or dead_letter topic with 22023', () => {
    expect(refusal({ ...base, idle_timeout: 'soon' })).toMatchObject({
      code: '22023',
      message: expect.stringContaining('idle_timeout'),
    })
    expect(refusal({ ...base, idle_timeout: '0s' })).toMatchObject({ code: '22023' })
    expect(refusal({ ...base, dead_letter: 'bad name!' })).toMatchObject({
      code: '22023',
      message: expect.stringContaining('dead_letter'),
    })
    expect(refusal({ ...base, dead_letter: 'bids' })).toMatchObject({
      code: '22023',
      message: expect.stringContaining('the topic the source reads'),
    })
  })

  it('takes properties.bootstrap.server as brokers, and several brokers', () => {
    expect(parse({ topic: 't', 'properties.bootstrap.server': 'a:1, b:2' }).brokers).toEqual(['a:1', 'b:2'])
  })

  it('reads startup as an ISO timestamp or epoch milliseconds', () => {
    expect(parse({ ...base, startup: '2024-01-01T00:00:01Z' }).startup).toEqual({
      kind: 'timestamp',
      epochMs: 1704067201000,
    })
    expect(parse({ ...base, startup: '1704067201000' }).startup).toEqual({ kind: 'timestamp', epochMs: 1704067201000 })
  })

  it('refuses unknown, missing and invalid options with 22023', () => {
    expect(refusal({ ...base, partitions: '3' })).toMatchObject({
      code: '22023',
      message: 'unknown option "partitions" for connector kafka',
    })
    expect(refusal({ brokers: 'h:1' })).toMatchObject({
      code: '22023',
      message: 'connector kafka requires the option "topic"',
    })
    expect(refusal({ topic: 't' })).toMatchObject({
      code: '22023',
      message: 'connector kafka requires the option "brokers"',
    })
    expect(refusal({ ...base, startup: 'yesterday' })).toMatchObject({ code: '22023' })
    expect(refusal({ ...base, brokers: 'no-port' })).toMatchObject({ code: '22023' })
    expect(refusal({ ...base, format: 'xml' })).toMatchObject({
      code: '22023',
      message: 'unknown format "xml" for connector kafka',
    })
  })

  it('takes every format with its own options; debezium_json only for keyed tables (0A000)', () => {
    expect(parse({ ...base, format: 'csv', 'csv.delimiter': '|' }).format).toBe('csv')
    expect(parse({ ...base, format: 'avro', 'schema.registry': 'http://127.0.0.1:8081' }).formatConfig.subject).toBe(
      'bids-value',
    )
    expect(refusal({ ...base, format: 'avro' })).toMatchObject({ code: '22023' })
    expect(refusal({ ...base, 'csv.delimiter': '|' })).toMatchObject({ code: '22023' })
    expect(refusal({ ...base, format: 'debezium_json' })).toMatchObject({ code: '0A000' })
    const table = parseKafkaSourceOptions(new Map(Object.entries({ ...base, format: 'debezium_json' })), {
      kind: 'table',
      primaryKey: [0],
    })
    expect(table.format).toBe('debezium_json')
  })
})
