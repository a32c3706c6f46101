/**
 * Kafka → view throughput against the raw consume rate of the Kafka clients on the same topic.
 *
 * Produces N small JSON records (default 1,000,000) to a fresh topic on the running broker (or
 * reuses `--topic`), then runs rounds; each round measures every contender once, each in a fresh
 * child process (so no contender runs with another's JIT warm-up or garbage), in an order that
 * rotates from round to round (so a burst of load elsewhere does not always hit the same one):
 *   kafkajs       kafkajs alone: a consumer that only counts records (eachBatch), the ceiling;
 *   platformatic  @platformatic/kafka 1.x alone: the same count over its message stream;
 *   sluice        CREATE SOURCE (format json) and a materialized view `count(*), sum(price)` over
 *                 it, timed from the view's creation until it has counted all N (fetching,
 *                 decoding, chunking and the aggregation included); the fetcher in a worker thread;
 *   sluice-main   the same with the fetcher in the engine's thread.
 * Each prints records/s over the whole run (connect and group join included), from the first
 * batch, and CPU time per record (all threads). The summary gives min / median / max per
 * contender and Sluice's share of kafkajs alone, per round (same load) and of the medians.
 *
 *   npx tsx bench/kafka-consume.ts [records] [brokers] [--rounds 5] [--topic t] [--only a,b]
 *       [--reader-module path]   # a KafkaSourceReader from another file (e.g. an older copy), as "sluice-alt"
 *       [--nexmark events]       # the Nexmark bid topic of that many events (bench/nexmark/events.ts,
 *                                # made once and reused) and the suite's bid source, instead of small records
 *
 * `SLUICE_BENCH_PROF=dir` runs each child under `--cpu-prof --cpu-prof-dir=dir`.
 */
import { Kafka, logLevel } from 'kafkajs'
import { Consumer as PlatformaticConsumer, MessagesStreamModes } from '@platformatic/kafka'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'
import { Sluice } from '../engine/index.ts'
import type { SourceFactory, SourceReader } from '../engine/connector.ts'
import { KafkaSourceReader, parseKafkaSourceOptions, type KafkaReaderTuning } from '../connectors/kafka/index.ts'
import { ensureTopics, rowCounts, topicOf, type EventSpec } from './nexmark/events.ts'
import { sourceStatements } from './nexmark/sluice-sources.ts'

/** The Nexmark spec of `--nexmark events` (bench/nexmark/run.ts's defaults). */
function nexmarkSpec(events: number): EventSpec {
  return { events, rate: 1000, seed: 42, baseTime: '2024-01-01T00:00:00Z' }
}

/** The source statement of a child: the suite's bid source, or the small records' one. */
function sourceStatement(topic: string, brokers: string, nexmark: number | undefined): string {
  if (nexmark !== undefined) {
    const bid = sourceStatements('kafka', nexmarkSpec(nexmark), brokers, '').find((s) =>
      s.startsWith('CREATE SOURCE bid'),
    )
    return (bid ?? '')
      .replace(/topic = '[^']*'/, `topic = '${topic}'`)
      .replace('CREATE SOURCE bid', 'CREATE SOURCE bench')
  }
  return `CREATE SOURCE bench (auction BIGINT, price BIGINT, channel VARCHAR, ts TIMESTAMP)
    WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', format = 'json')`
}

interface Result {
  readonly contender: string
  /** Records/s over the whole run. */
  readonly rate: number
  /** Records/s from the first record seen. */
  readonly steady: number
  /** CPU µs per record, every thread of the process. */
  readonly cpuPerRecord: number
}

const ALL = ['kafkajs', 'platformatic', 'sluice', 'sluice-main'] as const

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  if (i < 0) return undefined
  const v = args[i + 1]
  args.splice(i, 2)
  return v
}

function record(i: number): string {
  return `{"auction":${i % 1000},"price":${i % 997},"channel":"web","ts":${1704067200000 + i}}`
}

async function produce(kafka: Kafka, topic: string, n: number): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true })
  await admin.disconnect()
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const batch = 5000 // one request stays below the broker's 1 MB message.max.bytes
  const started = performance.now()
  for (let i = 0; i < n; i += batch) {
    const messages = []
    for (let j = i; j < Math.min(n, i + batch); j++) messages.push({ value: record(j) })
    await producer.send({ topic, messages, acks: 1 })
  }
  await producer.disconnect()
  console.log(
    `produced ${n} records (${record(0).length} bytes each) to ${topic} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  )
}

/** Times `run` (which resolves with the time its first record arrived) and the CPU it took. */
async function measure(contender: string, n: number, run: () => Promise<number>): Promise<Result> {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const first = await run()
  const end = performance.now()
  const cpu = process.cpuUsage(cpu0)
  return {
    contender,
    rate: n / ((end - t0) / 1000),
    steady: n / ((end - first) / 1000),
    cpuPerRecord: (cpu.user + cpu.system) / n,
  }
}

async function rawKafkajs(brokers: string, topic: string, n: number): Promise<number> {
  const kafka = new Kafka({ clientId: 'bench', brokers: [brokers], logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({
    groupId: `bench-${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 250,
    maxBytesPerPartition: 1 << 20,
    maxBytes: 8 << 20,
  })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let seen = 0
  let first = 0
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (first === 0) first = performance.now()
        seen += batch.messages.length
        if (seen >= n) resolve()
      },
    })
  })
  void consumer.disconnect()
  return first
}

async function rawPlatformatic(brokers: string, topic: string, n: number): Promise<number> {
  const consumer = new PlatformaticConsumer({
    groupId: `bench-${randomBytes(4).toString('hex')}`,
    clientId: 'bench',
    bootstrapBrokers: [brokers],
    maxWaitTime: 250,
    maxBytes: 8 << 20,
  })
  const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false })
  let seen = 0
  let first = 0
  await new Promise<void>((resolve, reject) => {
    stream.on('data', () => {
      if (first === 0) first = performance.now()
      if (++seen === n) resolve()
    })
    stream.on('error', reject)
  })
  void stream.close()
  return first
}

type ReaderClass = new (...args: ConstructorParameters<typeof KafkaSourceReader>) => SourceReader

async function sluice(
  brokers: string,
  topic: string,
  n: number,
  tuning: Partial<KafkaReaderTuning>,
  Reader: ReaderClass,
  nexmark: number | undefined,
): Promise<number> {
  const factory: SourceFactory = {
    connector: 'kafka',
    create: (columns, options, ctx) => new Reader(columns, parseKafkaSourceOptions(options), ctx, tuning),
  }
  const db = await Sluice.open({ dataDir: ':memory:', sources: [factory] })
  await db.sql(sourceStatement(topic, brokers, nexmark))
  await db.sql('CREATE MATERIALIZED VIEW bench_count AS SELECT count(*) AS n, sum(price) AS total FROM bench')
  let first = 0
  for (;;) {
    const [res] = await db.sql('SELECT n FROM bench_count')
    const seen = res.rows?.[0]?.[0]
    if (first === 0 && typeof seen === 'bigint' && seen > 0n) first = performance.now()
    if (typeof seen === 'bigint' && seen >= BigInt(n)) break
    await new Promise((r) => setTimeout(r, 5))
  }
  void db.close()
  return first
}

/** One measurement in this (child) process; prints its result as one JSON line. */
async function child(
  contender: string,
  brokers: string,
  topic: string,
  n: number,
  readerModule: string | undefined,
  nexmark: number | undefined,
): Promise<void> {
  let run: () => Promise<number>
  if (contender === 'kafkajs') run = () => rawKafkajs(brokers, topic, n)
  else if (contender === 'platformatic') run = () => rawPlatformatic(brokers, topic, n)
  else if (contender === 'sluice') run = () => sluice(brokers, topic, n, {}, KafkaSourceReader, nexmark)
  else if (contender === 'sluice-main')
    run = () => sluice(brokers, topic, n, { fetchThread: 'main' }, KafkaSourceReader, nexmark)
  else if (contender === 'sluice-alt' && readerModule !== undefined) {
    const mod = (await import(resolve(readerModule))) as { KafkaSourceReader: ReaderClass }
    run = () => sluice(brokers, topic, n, {}, mod.KafkaSourceReader, nexmark)
  } else throw new Error(`unknown contender ${contender}`)
  const result = await measure(contender, n, run)
  console.log(JSON.stringify(result))
  process.exit(0)
}

function stats(xs: readonly number[]): string {
  const s = [...xs].sort((a, b) => a - b)
  const k = (v: number): string => (v / 1000).toFixed(0)
  return `${k(s[0])} / ${k(s[s.length >> 1])} / ${k(s[s.length - 1])}`
}

async function main(argv: string[]): Promise<void> {
  const args = [...argv]
  if (args[0] === '--child') {
    const [, contender, brokers, topic, n] = args
    const nexmark = flag(args, '--nexmark')
    return child(
      contender,
      brokers,
      topic,
      Number(n),
      flag(args, '--reader-module'),
      nexmark === undefined ? undefined : Number(nexmark),
    )
  }
  const rounds = Number(flag(args, '--rounds') ?? 5)
  const given = flag(args, '--topic')
  const only = flag(args, '--only')
  const readerModule = flag(args, '--reader-module')
  const nexmarkText = flag(args, '--nexmark')
  const nexmark = nexmarkText === undefined ? undefined : Number(nexmarkText)
  let n = Number(args[0] ?? 1_000_000)
  const brokers = args[1] ?? '127.0.0.1:19092'
  const contenders: string[] = only?.split(',') ?? [...ALL]
  if (readerModule !== undefined && !contenders.includes('sluice-alt')) contenders.push('sluice-alt')
  const kafka = new Kafka({ clientId: 'bench', brokers: [brokers], logLevel: logLevel.NOTHING })
  let topic = given ?? `bench_consume_${process.pid}_${Date.now().toString(36)}`
  if (nexmark !== undefined) {
    // The bid topic stays for the next run (the suite's topics are named by their spec).
    const spec = nexmarkSpec(nexmark)
    topic = topicOf(await ensureTopics(brokers, spec, (line) => console.log(line)), 'bid')
    n = rowCounts(spec).bid
    console.log(`${n} bids in ${topic}`)
  } else if (given === undefined) await produce(kafka, topic, n)

  const self = fileURLToPath(import.meta.url)
  const results = new Map<string, Result[]>(contenders.map((c) => [c, []]))
  const shares: number[] = []
  for (let r = 0; r < rounds; r++) {
    const order = contenders.map((_, i) => contenders[(i + r) % contenders.length])
    const line: string[] = []
    const round = new Map<string, Result>()
    for (const c of order) {
      const extra = readerModule === undefined ? [] : ['--reader-module', readerModule]
      if (nexmark !== undefined) extra.push('--nexmark', String(nexmark))
      const prof = process.env.SLUICE_BENCH_PROF
      const profArgs = prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`]
      const out = execFileSync(
        process.execPath,
        [...profArgs, ...process.execArgv, self, '--child', c, brokers, topic, String(n), ...extra],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      )
      const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Result
      results.get(c)?.push(result)
      round.set(c, result)
      line.push(
        `${c} ${(result.rate / 1000).toFixed(0)}k (${(result.steady / 1000).toFixed(0)}k, ${result.cpuPerRecord.toFixed(2)} µs cpu)`,
      )
    }
    const ours = round.get('sluice')
    const base = round.get('kafkajs')
    if (ours !== undefined && base !== undefined) shares.push(ours.rate / base.rate)
    console.log(`round ${r + 1}: ${line.join('  ')}`)
  }
  console.log('\nk records/s, min / median / max over the whole run; from the first record; CPU µs per record (median)')
  for (const [c, rs] of results) {
    const cpu = rs.map((x) => x.cpuPerRecord).sort((a, b) => a - b)[rs.length >> 1]
    console.log(
      `${c.padEnd(14)} ${stats(rs.map((x) => x.rate)).padEnd(18)} ${stats(rs.map((x) => x.steady)).padEnd(18)} ${cpu.toFixed(2)}`,
    )
  }
  if (shares.length > 0) {
    const pct = shares.map((s) => `${(s * 100).toFixed(0)}%`)
    const median = [...shares].sort((a, b) => a - b)[shares.length >> 1]
    console.log(`Sluice / kafkajs alone, per round: ${pct.join(' ')}  (median ${(median * 100).toFixed(0)}%)`)
  }
  if (given === undefined && nexmark === undefined) {
    const admin = kafka.admin()
    await admin.connect()
    await admin.deleteTopics({ topics: [topic] })
    await admin.disconnect()
  }
}

await main(process.argv.slice(2))
