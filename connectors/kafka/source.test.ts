/**
 * The Kafka source against the real test broker: every partition read and decoded, restarts from
 * saved offsets, bad records to dead letters, end offsets for FLUSH, startup modes, backpressure,
 * and transactional topics (aborted records hidden, markers skipped).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kafka, logLevel } from 'kafkajs'
import { rowAt, type Chunk } from '../../engine/chunk.ts'
import type { ColumnSchema, ConnectorContext, DeadLetter } from '../../engine/connector.ts'
import { T, type Value } from '../../engine/types/datatype.ts'
import { formatText } from '../../engine/types/text.ts'
import { parseTimestamp } from '../../engine/types/time.ts'
import { createTopic, ensureTestKafka, produceJson, produceRaw, uniqueTopic } from '../../test/kafka.ts'
import { parseKafkaSourceOptions } from './options.ts'
import { KafkaSourceReader, kafkaSourceFactory } from './source.ts'
import type { KafkaReaderTuning } from './reader-tuning.ts'

const COLUMNS: ColumnSchema[] = [
  { name: 'auction', type: T.int8 },
  { name: 'price', type: T.numeric },
  { name: 'bidder', type: T.text },
  { name: 'event_time', type: T.timestamp },
]

interface TestContext extends ConnectorContext {
  readonly letters: DeadLetter[]
  readonly logs: string[]
}

function context(name = 'bids'): TestContext {
  const letters: DeadLetter[] = []
  const logs: string[] = []
  return {
    name,
    letters,
    logs,
    deadLetter: (l) => letters.push(l),
    now: () => Date.now(),
    log: (level, message) => logs.push(`${level}: ${message}`),
  }
}

let brokers: string

function reader(
  topic: string,
  ctx: ConnectorContext,
  extra: Record<string, string> = {},
  tuning: Partial<KafkaReaderTuning> = {},
): KafkaSourceReader {
  const options = new Map(Object.entries({ topic, brokers, format: 'json', ...extra }))
  return new KafkaSourceReader(COLUMNS, parseKafkaSourceOptions(options), ctx, tuning)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls until `count` rows arrived (or 20 s passed) and returns them. */
async function readRows(r: KafkaSourceReader, count: number, maxRows = 1000): Promise<Value[][]> {
  const rows: Value[][] = []
  const deadline = Date.now() + 20_000
  while (rows.length < count && Date.now() < deadline) {
    const chunk: Chunk | undefined = await r.poll(maxRows)
    if (chunk === undefined) await sleep(20)
    else for (let i = 0; i < chunk.length; i++) rows.push(rowAt(chunk, i))
  }
  return rows
}

/** Polls until the reader has everything up to the topic's end offsets now. */
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

const bid = (i: number) => ({
  auction: i,
  price: `${i}.50`,
  bidder: `b${i}`,
  event_time: `2024-01-01 10:00:${String(i % 60).padStart(2, '0')}`,
})
const byAuction = (rows: Value[][]) => [...rows].sort((a, b) => Number(a[0]) - Number(b[0]))

describe('Kafka source', () => {
  const open: KafkaSourceReader[] = []
  const track = (r: KafkaSourceReader) => (open.push(r), r)

  beforeAll(async () => {
    brokers = await ensureTestKafka()
  })

  afterAll(async () => {
    for (const r of open) await r.close()
  })

  it('reads every partition of a topic and converts the values', async () => {
    const topic = uniqueTopic('src_all')
    await createTopic(topic, 3)
    await Promise.all([0, 1, 2].map((p) => produceJson(topic, [bid(p * 10 + 1), bid(p * 10 + 2)], p)))
    const r = track(reader(topic, context()))
    await r.open()
    const rows = byAuction(await flush(r))
    expect(rows.map((row) => row[0])).toEqual([1n, 2n, 11n, 12n, 21n, 22n])
    expect(formatText(T.numeric, rows[0][1])).toBe('1.50')
    expect(rows[0][2]).toBe('b1')
    expect(rows[0][3]).toBe(parseTimestamp('2024-01-01 10:00:01'))
    expect(r.offsets()).toEqual({ [`${topic}/0`]: '2', [`${topic}/1`]: '2', [`${topic}/2`]: '2' })
  })

  it('restarts from saved offsets and returns only newer records', async () => {
    const topic = uniqueTopic('src_restart')
    await createTopic(topic, 3)
    await produceJson(topic, [1, 2, 3, 4, 5, 6].map(bid))
    const first = track(reader(topic, context()))
    await first.open()
    expect(await flush(first)).toHaveLength(6)
    const saved = first.offsets()
    await first.close()

    await produceJson(topic, [7, 8, 9].map(bid))
    const second = track(reader(topic, context()))
    await second.open(saved)
    expect(byAuction(await flush(second)).map((row) => row[0])).toEqual([7n, 8n, 9n])
  })

  it('sends malformed records to dead letters and reads the good ones', async () => {
    const topic = uniqueTopic('src_bad')
    await createTopic(topic, 1)
    await produceRaw(
      topic,
      [
        JSON.stringify(bid(1)),
        '{"auction": 2, "price": ',
        JSON.stringify({ auction: 'three' }),
        null,
        JSON.stringify(bid(4)),
      ],
      0,
    )
    const ctx = context('bad_bids')
    const r = track(reader(topic, ctx))
    await r.open()
    expect((await flush(r)).map((row) => row[0])).toEqual([1n, 4n])
    expect(ctx.letters).toHaveLength(3)
    expect(ctx.letters[0]).toMatchObject({
      object: 'bad_bids',
      reason: 'decode_error',
      payload: '{"auction": 2, "price": ',
      origin: `topic=${topic} partition=0 offset=1`,
    })
    expect(ctx.letters[1]).toMatchObject({
      reason: 'type_error',
      detail: 'field "auction": invalid input syntax for type bigint: "three"',
      origin: `topic=${topic} partition=0 offset=2`,
    })
    expect(ctx.letters[2]).toMatchObject({
      reason: 'decode_error',
      payload: null,
      origin: `topic=${topic} partition=0 offset=3`,
    })
    expect(r.offsets()).toEqual({ [`${topic}/0`]: '5' })
  })

  it('reports end offsets and whether they are reached', async () => {
    const topic = uniqueTopic('src_end')
    await createTopic(topic, 2)
    const r = track(reader(topic, context()))
    await r.open()
    expect(await r.endOffsets()).toEqual({ [`${topic}/0`]: '0', [`${topic}/1`]: '0' })
    expect(r.reached(await r.endOffsets())).toBe(true)
    await produceJson(topic, [bid(1), bid(2), bid(3)], 1)
    const end = await r.endOffsets()
    expect(end).toEqual({ [`${topic}/0`]: '0', [`${topic}/1`]: '3' })
    expect(r.reached(end)).toBe(false)
    expect(await readRows(r, 3)).toHaveLength(3)
    expect(r.reached(end)).toBe(true)
  })

  it('starts at the end with startup = latest', async () => {
    const topic = uniqueTopic('src_latest')
    await createTopic(topic, 3)
    await produceJson(topic, [1, 2, 3].map(bid))
    const r = track(reader(topic, context(), { startup: 'latest' }))
    await r.open()
    await produceJson(topic, [4, 5].map(bid))
    expect(byAuction(await flush(r)).map((row) => row[0])).toEqual([4n, 5n])
  })

  it('starts at a timestamp', async () => {
    const topic = uniqueTopic('src_time')
    await createTopic(topic, 1)
    const kafka = new Kafka({ clientId: 'src-time', brokers: [brokers], logLevel: logLevel.NOTHING })
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({
      topic,
      messages: [1, 2, 3].map((i) => ({
        value: JSON.stringify(bid(i)),
        timestamp: String(1_700_000_000_000 + i * 1000),
      })),
    })
    await producer.disconnect()
    const r = track(reader(topic, context(), { startup: String(1_700_000_000_000 + 2000) }))
    await r.open()
    expect((await flush(r)).map((row) => row[0])).toEqual([2n, 3n])
  })

  it('pauses the consumer when its queue is full and resumes as poll drains it', async () => {
    const topic = uniqueTopic('src_backpressure')
    await createTopic(topic, 1)
    // 30 sends make 30 record batches; a fetch returns whole batches, so this lets fetches stay small.
    const producer = new Kafka({ clientId: 'src-bp', brokers: [brokers], logLevel: logLevel.NOTHING }).producer()
    await producer.connect()
    for (let b = 0; b < 30; b++) {
      await producer.send({
        topic,
        messages: Array.from({ length: 10 }, (_, i) => ({ partition: 0, value: JSON.stringify(bid(b * 10 + i)) })),
      })
    }
    await producer.disconnect()
    const r = track(reader(topic, context(), {}, { queueMax: 20, maxBytesPerPartition: 1024 }))
    await r.open()
    const deadline = Date.now() + 10_000
    while (!r.stats().paused && Date.now() < deadline) await sleep(20)
    await sleep(500) // a paused consumer fetches no more
    expect(r.stats().paused).toBe(true)
    expect(r.stats().queued).toBeLessThan(60)
    const rows = await readRows(r, 300, 7)
    expect(rows.map((row) => row[0])).toEqual(Array.from({ length: 300 }, (_, i) => BigInt(i)))
  })

  it('hides aborted transactions and moves past transaction markers', async () => {
    const topic = uniqueTopic('src_tx')
    await createTopic(topic, 1)
    const kafka = new Kafka({ clientId: 'src-tx', brokers: [brokers], logLevel: logLevel.NOTHING })
    const producer = kafka.producer({ transactionalId: `${topic}-tx`, idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const committed = await producer.transaction()
    await committed.send({ topic, messages: [{ value: JSON.stringify(bid(1)) }, { value: JSON.stringify(bid(2)) }] })
    await committed.commit()
    const aborted = await producer.transaction()
    await aborted.send({ topic, messages: [{ value: JSON.stringify(bid(99)) }] })
    await aborted.abort()
    await producer.disconnect()

    const r = track(reader(topic, context()))
    await r.open()
    // 2 records, a commit marker, 1 aborted record and an abort marker: the end is offset 5.
    expect(await r.endOffsets()).toEqual({ [`${topic}/0`]: '5' })
    expect((await flush(r)).map((row) => row[0])).toEqual([1n, 2n])
    expect(r.offsets()).toEqual({ [`${topic}/0`]: '5' })
  })

  it('fails to open on a topic that does not exist, naming it', async () => {
    const topic = uniqueTopic('src_missing')
    const r = track(reader(topic, context()))
    await expect(r.open()).rejects.toMatchObject({
      code: '42704',
      message: expect.stringContaining(`cannot read Kafka topic "${topic}"`),
    })
  })

  it('is built by the connector factory from WITH options', async () => {
    const topic = uniqueTopic('src_factory')
    await createTopic(topic, 1)
    await produceJson(topic, [bid(1)])
    const r = kafkaSourceFactory.create(
      COLUMNS,
      new Map([
        ['topic', topic],
        ['properties.bootstrap.server', brokers],
      ]),
      context(),
    )
    await r.open()
    try {
      const end = await r.endOffsets!()
      const deadline = Date.now() + 20_000
      while (!r.reached!(end) && Date.now() < deadline) if ((await r.poll(10)) === undefined) await sleep(20)
      expect(r.offsets()).toEqual({ [`${topic}/0`]: '1' })
    } finally {
      await r.close()
    }
  })
})
