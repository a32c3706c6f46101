/**
 * The real Kafka broker for tests (127.0.0.1:19092, see scripts/kafka/kafka.mjs), started on first
 * use by whichever test process needs it, and helpers to create topics and produce records.
 *
 * Vitest runs test files in several forked workers at once, so starting is guarded by a lock file
 * (exclusive create, holding the starter's pid): one worker starts the broker, the others wait for
 * it to answer. A marker file records that tests started it; the global teardown (in vitest's main
 * process) stops it then, unless another test run still uses it. A broker the user started with
 * `npm run kafka` has no marker and is left running.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { Kafka, Partitioners, logLevel, type Producer } from 'kafkajs'
import { DEFAULT_PORT, brokerAnswers, paths, start, stop } from '../scripts/kafka/kafka.mjs'

/** The test broker's port: 19092, or SLUICE_KAFKA_PORT (e.g. to try the start path beside a running broker). */
const PORT = process.env.SLUICE_KAFKA_PORT === undefined ? DEFAULT_PORT : Number(process.env.SLUICE_KAFKA_PORT)

/** Bootstrap address of the test broker. */
export const TEST_BROKER = `127.0.0.1:${PORT}`

const cache = paths(PORT).cache
const lockFile = join(cache, `test-start-${PORT}.lock`)
const marker = join(cache, `started-by-tests-${PORT}`)
/** One file per test run (named by vitest's main-process pid) that uses the broker. */
const runsDir = join(cache, `test-runs-${PORT}`)
const WAIT_MS = 300_000

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Forked vitest workers are children of the main process, whose teardown stops the broker. */
function registerRun(): void {
  mkdirSync(runsDir, { recursive: true })
  writeFileSync(join(runsDir, String(process.ppid)), String(Date.now()))
}

function tryLock(): boolean {
  try {
    const fd = openSync(lockFile, 'wx')
    writeSync(fd, String(process.pid))
    closeSync(fd)
    return true
  } catch {
    return false
  }
}

/** Removes a lock whose holder died mid-start (a crashed or killed worker). */
function clearStaleLock(): void {
  try {
    const pid = Number(readFileSync(lockFile, 'utf8'))
    // An empty file is a lock being written right now: not stale.
    if (Number.isInteger(pid) && pid > 0 && !alive(pid)) rmSync(lockFile, { force: true })
  } catch {
    // gone already
  }
}

/**
 * Returns the test broker's bootstrap address, starting the broker (fetching its jars on the very
 * first run) if nothing answers on the port yet.
 */
export async function ensureTestKafka(): Promise<string> {
  mkdirSync(cache, { recursive: true })
  registerRun()
  if (await brokerAnswers(PORT)) return TEST_BROKER
  const deadline = Date.now() + WAIT_MS
  while (Date.now() < deadline) {
    if (tryLock()) {
      try {
        if (!(await brokerAnswers(PORT))) {
          const { started } = await start({ port: PORT })
          if (started) writeFileSync(marker, String(process.ppid))
        }
        return TEST_BROKER
      } finally {
        rmSync(lockFile, { force: true })
      }
    }
    await sleep(500)
    if (await brokerAnswers(PORT)) return TEST_BROKER
    clearStaleLock()
  }
  throw new Error(
    `the test Kafka broker did not come up on ${TEST_BROKER} within ${WAIT_MS / 1000} s (see ${paths(PORT).log})`,
  )
}

/**
 * For the vitest global teardown: stops the broker if tests started it and no other test run is
 * still using it. Leaves a broker started with `npm run kafka` alone.
 */
export async function stopTestKafkaIfStarted(): Promise<void> {
  rmSync(join(runsDir, String(process.pid)), { force: true })
  const others: string[] = []
  for (const f of existsSync(runsDir) ? readdirSync(runsDir) : []) {
    if (alive(Number(f))) others.push(f)
    else rmSync(join(runsDir, f), { force: true }) // a run that died without its teardown
  }
  if (!existsSync(marker)) return
  if (others.length > 0) return // the last run to finish stops it
  rmSync(marker, { force: true })
  await stop({ port: PORT })
}

let kafka: Kafka | undefined
function client(): Kafka {
  kafka ??= new Kafka({ clientId: 'sluice-tests', brokers: [TEST_BROKER], logLevel: logLevel.NOTHING })
  return kafka
}

let counter = 0
/** A topic name no other test (in any worker or run) uses: `prefix_pid_time_n`. */
export function uniqueTopic(prefix: string): string {
  return `${prefix.replace(/[^a-zA-Z0-9._-]/g, '_')}_${process.pid}_${Date.now().toString(36)}_${counter++}`
}

/** Creates a topic and waits until every partition has a leader. */
export async function createTopic(topic: string, partitions: number): Promise<void> {
  const admin = client().admin()
  await admin.connect()
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: true,
    })
  } finally {
    await admin.disconnect()
  }
}

async function withProducer(fn: (p: Producer) => Promise<void>): Promise<void> {
  const producer = client().producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  await producer.connect()
  try {
    await fn(producer)
  } finally {
    await producer.disconnect()
  }
}

/** Produces each message as one JSON record, to `partition` or spread by the default partitioner. */
export async function produceJson(topic: string, messages: readonly object[], partition?: number): Promise<void> {
  await produceRaw(
    topic,
    messages.map((m) => JSON.stringify(m)),
    partition,
  )
}

/** Produces raw record values (null = a tombstone), e.g. malformed JSON for dead-letter tests. */
export async function produceRaw(topic: string, values: readonly (string | null)[], partition?: number): Promise<void> {
  await withProducer(async (producer) => {
    await producer.send({
      topic,
      messages: values.map((value) => (partition === undefined ? { value } : { value, partition })),
    })
  })
}
