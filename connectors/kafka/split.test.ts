/**
 * Kafka source splits (ConnectorContext.split), what a sharded view's shards read, against the
 * real test broker: the splits of a topic together return every record exactly once, each with
 * only its own partitions' offsets, ends, lag, clocks and watermarks; a split with no partition
 * opens, stays healthy, polls nothing and has no watermarks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rowAt } from '../../engine/chunk.ts'
import type { ColumnSchema, ConnectorContext } from '../../engine/connector.ts'
import { SluiceError } from '../../engine/errors.ts'
import { T, type Value } from '../../engine/types/datatype.ts'
import { parseTimestamp } from '../../engine/types/time.ts'
import { createTopic, ensureTestKafka, produceJson, uniqueTopic } from '../../test/kafka.ts'
import { parseKafkaSourceOptions } from './options.ts'
import type { KafkaReaderTuning } from './reader-tuning.ts'
import { KafkaSourceReader } from './source.ts'

const COLUMNS: ColumnSchema[] = [
  { name: 'auction', type: T.int8 },
  { name: 'event_time', type: T.timestamp },
]

type Split = { readonly index: number; readonly count: number }

/** Warnings of every reader: a batch of another split's partition would be one. */
const warnings: string[] = []

function context(split: Split): ConnectorContext {
  const log = (level: string, message: string) => {
    if (level === 'warn' || level === 'error') warnings.push(message)
  }
  return { name: 'bids', split, deadLetter: () => {}, now: () => Date.now(), log }
}

let brokers: string

function reader(topic: string, split: Split, tuning: Partial<KafkaReaderTuning> = {}): KafkaSourceReader {
  const options = new Map(Object.entries({ topic, brokers, format: 'json' }))
  return new KafkaSourceReader(COLUMNS, parseKafkaSourceOptions(options), context(split), tuning)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls until the reader has everything up to its end offsets now. */
async function flush(r: KafkaSourceReader): Promise<Value[][]> {
  const end = await r.endOffsets()
  const rows: Value[][] = []
  const deadline = Date.now() + 20_000
  while (!r.reached(end) && Date.now() < deadline) {
    const chunk = await r.poll(1000)
    if (chunk === undefined) await sleep(20)
    else for (let i = 0; i < chunk.length; i++) rows.push(rowAt(chunk, i))
  }
  expect(r.reached(end)).toBe(true)
  return rows
}

/** Record i of partition p: auction p*100+i, at second p*10+i. */
const record = (p: number, i: number) => ({
  auction: p * 100 + i,
  event_time: `2024-01-01 10:00:${String(p * 10 + i).padStart(2, '0')}`,
})
const auctions = (rows: Value[][]) => rows.map((r) => Number(r[0])).sort((a, b) => a - b)

describe('Kafka source splits', () => {
  const open: KafkaSourceReader[] = []
  const track = (r: KafkaSourceReader) => (open.push(r), r)

  beforeAll(async () => {
    brokers = await ensureTestKafka()
  })

  afterAll(async () => {
    for (const r of open) await r.close()
  })

  it('splits 0 and 1 of 2 together return every record of a 3-partition topic exactly once', async () => {
    const topic = uniqueTopic('split_two')
    await createTopic(topic, 3)
    const records = (p: number, from: number, to: number) =>
      Array.from({ length: to - from }, (_, k) => record(p, from + k))
    await Promise.all([0, 1, 2].map((p) => produceJson(topic, records(p, 1, 6), p)))
    // Both fetcher placements: split 0 fetches in a worker thread, split 1 in this one.
    const even = track(reader(topic, { index: 0, count: 2 }))
    const odd = track(reader(topic, { index: 1, count: 2 }, { fetchThread: 'main' }))
    await Promise.all([even.open(), odd.open()])
    const [evenRows, oddRows] = await Promise.all([flush(even), flush(odd)])
    expect(auctions(evenRows)).toEqual([1, 2, 3, 4, 5, 201, 202, 203, 204, 205])
    expect(auctions(oddRows)).toEqual([101, 102, 103, 104, 105])

    // Everything per partition is the split's own.
    expect(even.offsets()).toEqual({ [`${topic}/0`]: '5', [`${topic}/2`]: '5' })
    expect(odd.offsets()).toEqual({ [`${topic}/1`]: '5' })
    expect(Object.keys(await even.endOffsets()).sort()).toEqual([`${topic}/0`, `${topic}/2`])
    expect(Object.keys(await odd.endOffsets())).toEqual([`${topic}/1`])
    expect(Object.keys(even.clocks()).sort()).toEqual([`${topic}/0`, `${topic}/2`])
    expect(even.lag().map((l) => l.partition)).toEqual([0, 2])
    expect(odd.lag().map((l) => l.partition)).toEqual([1])
    // The minimum over the split's partitions of their max event time.
    expect(even.watermarks()).toEqual([{ kind: 'watermark', column: 1, value: parseTimestamp('2024-01-01 10:00:05') }])
    expect(odd.watermarks()).toEqual([{ kind: 'watermark', column: 1, value: parseTimestamp('2024-01-01 10:00:15') }])

    // Restored from its own offsets, a split reader returns only its partitions' newer records.
    await Promise.all([0, 1, 2].map((p) => produceJson(topic, records(p, 6, 8), p)))
    const saved = even.offsets()
    await even.close()
    const again = track(reader(topic, { index: 0, count: 2 }))
    await again.open(saved, even.clocks())
    expect(auctions(await flush(again))).toEqual([6, 7, 206, 207])
    expect(auctions(await flush(odd))).toEqual([106, 107])
    // The consumers were assigned their split's partitions only: nothing else was fetched.
    expect(warnings.filter((w) => w.includes("not its split's"))).toEqual([])
  })

  it('a split with no partition opens, stays healthy, polls nothing and has no watermarks', async () => {
    const topic = uniqueTopic('split_empty')
    await createTopic(topic, 2)
    await Promise.all([0, 1].map((p) => produceJson(topic, [record(p, 1), record(p, 2)], p)))
    // staleMs short: a fetcher that never fetched would be reported disconnected (poll throws).
    const r = track(reader(topic, { index: 2, count: 4 }, { staleMs: 500 }))
    await r.open()
    expect(r.offsets()).toEqual({})
    const end = await r.endOffsets()
    expect(end).toEqual({})
    expect(r.reached(end)).toBe(true)
    const until = Date.now() + 2000
    while (Date.now() < until) {
      expect(await r.poll(1000)).toBeUndefined()
      await sleep(50)
    }
    expect(r.stats().connected).toBe(true)
    expect(r.watermarks()).toEqual([])
    expect(r.lag()).toEqual([])
    expect(r.clocks()).toEqual({})
    expect(r.offsets()).toEqual({})
  })

  it('rejects a split that is not one of count', () => {
    const options = parseKafkaSourceOptions(new Map(Object.entries({ topic: 't', brokers: 'x:1', format: 'json' })))
    for (const split of [
      { index: 4, count: 4 },
      { index: -1, count: 2 },
      { index: 0, count: 0 },
    ]) {
      expect(() => new KafkaSourceReader(COLUMNS, options, context(split))).toThrow(SluiceError)
    }
  })
})
