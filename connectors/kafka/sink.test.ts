/**
 * The Kafka sink's writer against the real broker, through every crash window of
 * docs/design/checkpoints.md, read back as a downstream consumer would (read_committed):
 *
 * - an epoch is one transaction; committing it again (a restart after the commit, before the
 *   log entry was dropped) writes nothing;
 * - a writer that crashed mid-commit (its transaction begun, records and progress sent, never
 *   committed) is fenced by the next writer with the same transactional id: its records are never
 *   visible to read_committed readers, and the new writer commits the logged epoch exactly once;
 * - two sinks' commits cut off together and aborted in the other order never pass for committed
 *   (the progress is read from transactional offsets, not through kafkajs's read_committed filter);
 * - a fenced producer makes commit reject; the next attempt reconnects and commits once;
 * - at_least_once writes without transactions and keeps no progress;
 * - an unreachable broker makes open and commit reject (retryable), never hang or crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kafka, logLevel, type Producer, type Transaction } from 'kafkajs'
import type { ColumnSchema, ConnectorContext, SinkSpec, SinkWriter } from '../../engine/connector.ts'
import { chunkFromRows } from '../../engine/chunk.ts'
import { T } from '../../engine/types/datatype.ts'
import { ensureTestKafka, uniqueTopic } from '../../test/kafka.ts'
import { readTopic } from '../../test/kafka-read.ts'
import { KafkaSinkWriter, kafkaSinkFactory } from './sink.ts'
import { decodeRecords } from './sink-epoch.ts'
import { DEFAULT_PROGRESS_TOPIC, defaultTransactionalId, parseKafkaSinkOptions } from './sink-options.ts'
import { PROGRESS_PARTITION, progressGroup, progressOffsets, progressKey, progressValue } from './sink-progress.ts'

let brokers: string
let kafka: Kafka
const writers: SinkWriter[] = []
const producers: Producer[] = []

beforeAll(async () => {
  brokers = await ensureTestKafka()
  kafka = new Kafka({ clientId: 'sink-tests', brokers: [brokers], logLevel: logLevel.NOTHING })
}, 300_000)

afterAll(async () => {
  for (const w of writers) await w.close().catch(() => {})
  for (const p of producers) await p.disconnect().catch(() => {})
})

const columns: ColumnSchema[] = [
  { name: 'id', type: T.int8 },
  { name: 'label', type: T.text },
]
const spec: SinkSpec = { columns, key: [], appendOnly: true }

function ctx(name: string): ConnectorContext {
  return { name, deadLetter: () => {}, now: () => Date.now(), log: () => {} }
}

function writer(name: string, options: Record<string, string>): SinkWriter {
  const w = kafkaSinkFactory.create(
    spec,
    new Map(Object.entries({ connector: 'kafka', brokers, ...options })),
    ctx(name),
  )
  writers.push(w)
  return w
}

function rows(...ids: number[]) {
  return chunkFromRows(
    2,
    ids.map((id) => [BigInt(id), `row ${id}`]),
  )
}

/** What a sink's transaction writes besides its records: the progress record and offset of `epoch`. */
async function sendProgress(tx: Transaction, id: string, sink: string, topic: string, epoch: number): Promise<void> {
  await tx.send({
    topic: DEFAULT_PROGRESS_TOPIC,
    messages: [{ key: progressKey(id), value: progressValue({ sink, epoch, topic }), partition: PROGRESS_PARTITION }],
  })
  await tx.sendOffsets({ consumerGroupId: progressGroup(id), topics: [progressOffsets(DEFAULT_PROGRESS_TOPIC, epoch)] })
}

/** The ids of the JSON records in `topic`, read_committed unless told otherwise. */
async function ids(topic: string, readUncommitted = false): Promise<number[]> {
  const records = await readTopic(brokers, topic, { readUncommitted })
  return records.map((r) => (JSON.parse(r.value?.toString('utf8') ?? 'null') as { id: number }).id)
}

describe('kafka sink, exactly once', () => {
  it('commits one transaction per epoch; repeats are no-ops; a crashed writer never shows and its epoch lands once', async () => {
    const topic = uniqueTopic('ksink_eo')
    const name = uniqueTopic('eo')
    const w1 = writer(name, { topic, format: 'json' })
    await w1.open()
    expect(await w1.committedEpoch()).toBe(0)

    w1.write(rows(1, 2, 3))
    const e1 = w1.preCommit(1)
    expect(w1.preCommit(2)).toBeUndefined() // an epoch without output logs nothing
    await w1.commit(1, e1)
    await w1.commit(1, e1) // committed again (e.g. after a restart): nothing written
    expect(await ids(topic)).toEqual([1, 2, 3])

    // Epoch 3 is durable in the checkpoint's log. The process crashes in the middle of its commit:
    // the transaction is begun, its records and its progress record sent, and never committed.
    w1.write(rows(4, 5))
    const e3 = w1.preCommit(3)!
    const zombie = kafka.producer({ transactionalId: defaultTransactionalId(name, topic), maxInFlightRequests: 1 })
    producers.push(zombie)
    await zombie.connect()
    const half = await zombie.transaction()
    await half.send({ topic, messages: decodeRecords(e3).map((r) => ({ key: r.key, value: r.value })) })
    await sendProgress(half, defaultTransactionalId(name, topic), name, topic, 3)

    // The restarted process: its writer fences the crashed one (the broker aborts the open
    // transaction), reads progress 1, and commits the logged epoch 3 from its bytes.
    const w2 = writer(name, { topic, format: 'json' })
    await w2.open()
    expect(await w2.committedEpoch()).toBe(1)
    await w2.commit(3, e3)
    await expect(half.commit()).rejects.toThrow() // the crashed writer cannot come back
    expect(await ids(topic)).toEqual([1, 2, 3, 4, 5])
    // The aborted copies are in the log, only a read_uncommitted reader sees them.
    expect((await ids(topic, true)).sort()).toEqual([1, 2, 3, 4, 4, 5, 5])

    // Crash after the commit, before the log entry was dropped: the next writer finds progress 3.
    const w3 = writer(name, { topic, format: 'json' })
    await w3.open()
    expect(await w3.committedEpoch()).toBe(3)
    await w3.commit(3, e3)
    await w3.commit(1, e1)
    w3.write(rows(6))
    await w3.commit(4, w3.preCommit(4))
    expect(await ids(topic)).toEqual([1, 2, 3, 4, 5, 6])
  }, 120_000)

  it('never takes an aborted epoch for committed when two crashed commits are aborted in the other order', async () => {
    // One crash cuts off the commits of two sinks: two transactions, each with records and a
    // progress record in the shared progress topic, interleaved there. The restarted writers fence
    // them in the opposite order. (kafkajs's read_committed filter then returns the first one's
    // aborted progress record: reading progress from the topic would skip that epoch.)
    const sinks = [uniqueTopic('x'), uniqueTopic('y')].map((name) => ({ name, topic: uniqueTopic(`ksink_${name}`) }))
    const halves: Transaction[] = []
    for (const { name, topic } of sinks) {
      const w = writer(name, { topic })
      await w.open()
      w.write(rows(1))
      await w.commit(1, w.preCommit(1))
      await w.close()
      const zombie = kafka.producer({ transactionalId: defaultTransactionalId(name, topic), maxInFlightRequests: 1 })
      producers.push(zombie)
      await zombie.connect()
      halves.push(await zombie.transaction())
    }
    const logged = sinks.map(({ name, topic }, i) => {
      const w = writer(name, { topic })
      w.write(rows(2, 3))
      return { w, bytes: w.preCommit(2)!, half: halves[i], name, topic }
    })
    for (const { half, bytes, topic } of logged) {
      await half.send({ topic, messages: decodeRecords(bytes).map((r) => ({ key: r.key, value: r.value })) })
    }
    for (const { half, name, topic } of logged)
      await sendProgress(half, defaultTransactionalId(name, topic), name, topic, 2)
    for (const { w, bytes, topic } of [...logged].reverse()) {
      await w.open() // fences (aborts) its sink's half-done transaction
      expect(await w.committedEpoch()).toBe(1)
      await w.commit(2, bytes)
      expect(await ids(topic)).toEqual([1, 2, 3])
    }
  }, 120_000)

  it('reads its progress while another transaction stays open on the progress topic', async () => {
    // Sinks share the progress topic; a stray transaction is left open on it (a crashed commit of
    // another sink). B's later progress record sits behind it, so a read_committed reader of the
    // topic could not see it until the broker aborts the stray one; B's progress read does not wait.
    const topicA = uniqueTopic('ksink_a')
    const topicB = uniqueTopic('ksink_b')
    const nameB = uniqueTopic('b')
    const a = writer(uniqueTopic('a'), { topic: topicA })
    const b = writer(nameB, { topic: topicB })
    await a.open()
    await b.open()
    a.write(rows(1))
    await a.commit(1, a.preCommit(1))
    const open = kafka.producer({
      transactionalId: uniqueTopic('stray'),
      maxInFlightRequests: 1,
      transactionTimeout: 60_000,
    })
    producers.push(open)
    await open.connect()
    const stray = await open.transaction()
    await stray.send({
      topic: DEFAULT_PROGRESS_TOPIC,
      messages: [{ key: 'stray', value: '{}', partition: PROGRESS_PARTITION }],
    })
    b.write(rows(2))
    await b.commit(7, b.preCommit(7))
    const b2 = writer(nameB, { topic: topicB })
    await b2.open()
    expect(await b2.committedEpoch()).toBe(7)
    await stray.abort()
  }, 120_000)
})

describe('kafka sink, a failed commit', () => {
  it('rejects while fenced, then reconnects at the next attempt and commits the epoch once', async () => {
    const topic = uniqueTopic('ksink_retry')
    const name = uniqueTopic('retry')
    const w = writer(name, { topic })
    await w.open()
    w.write(rows(1))
    await w.commit(1, w.preCommit(1))
    // Another producer takes the transactional id: the writer's producer is fenced and unusable.
    const thief = kafka.producer({ transactionalId: defaultTransactionalId(name, topic), maxInFlightRequests: 1 })
    producers.push(thief)
    await thief.connect()
    const tx = await thief.transaction()
    await tx.abort()
    w.write(rows(2, 3))
    const e2 = w.preCommit(2)
    await expect(w.commit(2, e2)).rejects.toMatchObject({
      code: '58030',
      retryable: true,
      hint: expect.stringContaining('transactional.id'),
    })
    // The coordinator retries the pending epoch at the next checkpoint: a new producer, which
    // fences the other one in turn, reads progress 1, and commits.
    await w.commit(2, e2)
    expect(await w.committedEpoch()).toBe(2)
    expect(await ids(topic)).toEqual([1, 2, 3])
  }, 120_000)
})

describe('kafka sink, at least once', () => {
  it('sends and acknowledges each epoch at commit, without transactions; a restart may send an epoch again', async () => {
    const topic = uniqueTopic('ksink_alo')
    const name = uniqueTopic('alo')
    const w = writer(name, { topic, delivery: 'at_least_once' })
    await w.open()
    w.write(rows(1, 2))
    const e1 = w.preCommit(1)
    await w.commit(1, e1)
    await w.commit(1, e1) // the same writer knows it sent epoch 1
    w.write(rows(3))
    await w.commit(2, w.preCommit(2))
    expect(await ids(topic)).toEqual([1, 2, 3])
    // A restarted writer keeps no progress: an epoch still logged is sent again.
    const again = writer(name, { topic, delivery: 'at_least_once' })
    await again.open()
    expect(await again.committedEpoch()).toBe(0)
    await again.commit(1, e1)
    expect(await ids(topic)).toEqual([1, 2, 3, 1, 2])
  }, 120_000)
})

describe('kafka sink, broker unreachable', () => {
  it('rejects open with a retryable external error, and commit likewise', async () => {
    const opts = new Map(Object.entries({ connector: 'kafka', topic: 'nowhere', brokers: '127.0.0.1:1' }))
    const w = new KafkaSinkWriter(spec, parseKafkaSinkOptions(spec, opts, 'down'), ctx('down'), { retries: 1 })
    writers.push(w)
    await expect(w.open()).rejects.toMatchObject({ code: '58030', domain: 'external', retryable: true })
    w.write(rows(1))
    await expect(w.commit(1, w.preCommit(1))).rejects.toMatchObject({ code: '58030', retryable: true })
  }, 60_000)
})
