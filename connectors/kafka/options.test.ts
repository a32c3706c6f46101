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
      groupId: undefined,
      idleTimeoutMicros: undefined,
      deadLetter: undefined,
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
      deadLetter: 'dlq',
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

  it('refuses the planned formats with 0A000', () => {
    for (const format of ['avro', 'csv', 'debezium_json']) {
      expect(refusal({ ...base, format })).toMatchObject({
        code: '0A000',
        message: `format "${format}" is not supported yet for connector kafka`,
      })
    }
  })
})
