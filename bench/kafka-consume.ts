/**
 * Kafka → view throughput against the raw consume rate of the Kafka clients on the same topic.
 *
 * Produces N small JSON records (default 1,000,000) to a fresh topic on the running broker, then
 * measures, each from the first offset to the last record:
 *   1. kafkajs alone: a consumer that only counts records (eachBatch), the ceiling of the
 *      connector as it is built today;
 *   2. @platformatic/kafka alone: the same count over its message stream (Buffer values);
 *   3. Sluice: CREATE SOURCE (format json) and a materialized view `count(*), sum(price)` over it,
 *      timed from the view's creation until it has counted all N (decoding, chunking and the
 *      aggregation included).
 * Prints records/s and Sluice's share of each raw rate. Run:
 *   npx tsx bench/kafka-consume.ts [records] [brokers]     # default 1000000 127.0.0.1:19092
 */
import { Kafka, logLevel } from 'kafkajs'
import { Consumer as PlatformaticConsumer, MessagesStreamModes } from '@platformatic/kafka'
import { randomBytes } from 'node:crypto'
import { Sluice } from '../engine/index.ts'
import { kafkaSourceFactory } from '../connectors/kafka/index.ts'

const N = Number(process.argv[2] ?? 1_000_000)
const BROKERS = process.argv[3] ?? '127.0.0.1:19092'
const PARTITIONS = 1
const topic = `bench_consume_${process.pid}_${Date.now().toString(36)}`

const kafka = new Kafka({ clientId: 'bench', brokers: [BROKERS], logLevel: logLevel.NOTHING })

function record(i: number): string {
  return `{"auction":${i % 1000},"price":${i % 997},"channel":"web","ts":${1704067200000 + i}}`
}

async function produce(): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({
    topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
    waitForLeaders: true,
  })
  await admin.disconnect()
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const batch = 5000 // one request stays below the broker's 1 MB message.max.bytes
  const started = performance.now()
  for (let i = 0; i < N; i += batch) {
    const messages = []
    for (let j = i; j < Math.min(N, i + batch); j++) messages.push({ value: record(j), partition: j % PARTITIONS })
    await producer.send({ topic, messages, acks: 1 })
  }
  await producer.disconnect()
  const s = (performance.now() - started) / 1000
  console.log(`produced ${N} records (${record(0).length} bytes each) in ${s.toFixed(1)} s`)
}

async function rawKafkajs(): Promise<number> {
  const consumer = kafka.consumer({
    groupId: `bench-${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 250,
    maxBytesPerPartition: 1 << 20,
    maxBytes: 8 << 20,
  })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let seen = 0
  let started = 0
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (started === 0) started = performance.now()
        seen += batch.messages.length
        if (seen >= N) resolve()
        await Promise.resolve()
      },
    })
  })
  const t0 = performance.now()
  await done
  const end = performance.now()
  await consumer.disconnect()
  return rate('kafkajs alone', end - t0, end - started)
}

async function rawPlatformatic(): Promise<number> {
  const consumer = new PlatformaticConsumer({
    groupId: `bench-${randomBytes(4).toString('hex')}`,
    clientId: 'bench',
    bootstrapBrokers: [BROKERS],
    maxWaitTime: 250,
    maxBytes: 8 << 20,
  })
  const t0 = performance.now()
  const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false })
  let seen = 0
  let started = 0
  await new Promise<void>((resolve, reject) => {
    stream.on('data', () => {
      if (started === 0) started = performance.now()
      if (++seen === N) resolve()
    })
    stream.on('error', reject)
  })
  const end = performance.now()
  await stream.close()
  await new Promise<void>((resolve, reject) => consumer.close(true, (e) => (e == null ? resolve() : reject(e))))
  return rate('@platformatic/kafka alone', end - t0, end - started)
}

async function sluice(): Promise<number> {
  const db = await Sluice.open({ dataDir: ':memory:', sources: [kafkaSourceFactory] })
  await db.sql(`CREATE SOURCE bench (auction BIGINT, price BIGINT, channel VARCHAR, ts TIMESTAMP)
    WITH (connector = 'kafka', topic = '${topic}', brokers = '${BROKERS}', format = 'json')`)
  const t0 = performance.now()
  await db.sql('CREATE MATERIALIZED VIEW bench_count AS SELECT count(*) AS n, sum(price) AS total FROM bench')
  let started = 0
  for (;;) {
    const [res] = await db.sql('SELECT n FROM bench_count')
    const n = res.rows?.[0]?.[0]
    if (started === 0 && typeof n === 'bigint' && n > 0n) started = performance.now()
    if (typeof n === 'bigint' && n >= BigInt(N)) break
    await new Promise((r) => setTimeout(r, 5))
  }
  const end = performance.now()
  await db.close()
  return rate('Sluice source → view', end - t0, end - started)
}

/** Prints the rate over the whole run (connect and group join included) and from the first batch. */
function rate(label: string, totalMs: number, fromFirstMs: number): number {
  const r = N / (totalMs / 1000)
  console.log(
    `${label.padEnd(28)} ${(r / 1000).toFixed(0).padStart(6)} k records/s (${(totalMs / 1000).toFixed(2)} s; from the first batch ${(((N / fromFirstMs) * 1000) / 1000).toFixed(0)} k/s)`,
  )
  return r
}

await produce()
const kjs = await rawKafkajs()
const plat = await rawPlatformatic()
const ours = await sluice()
console.log(
  `Sluice / kafkajs alone: ${((ours / kjs) * 100).toFixed(0)} %   Sluice / @platformatic/kafka alone: ${((ours / plat) * 100).toFixed(0)} %`,
)
const admin = kafka.admin()
await admin.connect()
await admin.deleteTopics({ topics: [topic] })
await admin.disconnect()
