/**
 * The real Kafka broker for tests: started on first use by whichever test process needs it
 * (a lock file keeps the forked vitest workers from starting two), stopped by the global
 * teardown if this run started it. A broker a user started with `npm run kafka` is reused and
 * left running.
 */
import { spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
// @ts-expect-error -- a plain JS module without types: only brokerAnswers is used.
import { brokerAnswers } from '../scripts/kafka/kafka.mjs'

export const TEST_BROKER = '127.0.0.1:19092'
const root = resolve(import.meta.dirname, '..')
const cache = join(root, '.cache', 'kafka')
const lock = join(cache, 'test-start.lock')
const marker = join(cache, 'started-by-tests')

const answers = brokerAnswers as (port: number) => Promise<boolean>

export async function ensureTestKafka(): Promise<string> {
  if (await answers(19092)) return TEST_BROKER
  mkdirSync(cache, { recursive: true })
  let fd: number | undefined
  try {
    fd = openSync(lock, 'wx')
  } catch {
    fd = undefined
  }
  if (fd !== undefined) {
    try {
      const r = spawnSync(process.execPath, [join(root, 'scripts', 'kafka', 'kafka.mjs'), 'start'], { stdio: 'inherit', timeout: 300_000 })
      if (r.status !== 0) throw new Error('could not start the test Kafka broker (see the output above)')
      writeFileSync(marker, String(Date.now()))
    } finally {
      closeSync(fd)
      rmSync(lock, { force: true })
    }
    return TEST_BROKER
  }
  const deadline = Date.now() + 300_000
  while (Date.now() < deadline) {
    if (await answers(19092)) return TEST_BROKER
    if (!existsSync(lock)) break
    await new Promise((r) => setTimeout(r, 500))
  }
  if (await answers(19092)) return TEST_BROKER
  throw new Error('the test Kafka broker did not come up')
}

export async function stopTestKafkaIfStarted(): Promise<void> {
  if (!existsSync(marker)) return
  rmSync(marker, { force: true })
  spawnSync(process.execPath, [join(root, 'scripts', 'kafka', 'kafka.mjs'), 'stop'], { stdio: 'inherit' })
}

function client(): Kafka {
  return new Kafka({ clientId: 'sluice-tests', brokers: [TEST_BROKER], logLevel: logLevel.NOTHING })
}

let counter = 0
export function uniqueTopic(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now()}_${counter++}`
}

export async function createTopic(topic: string, partitions: number): Promise<void> {
  const admin = client().admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
}

export async function produceJson(topic: string, messages: readonly unknown[], partition?: number): Promise<void> {
  await produceRaw(topic, messages.map((m) => JSON.stringify(m)), partition)
}

export async function produceRaw(topic: string, values: readonly string[], partition?: number): Promise<void> {
  const producer = client().producer({ allowAutoTopicCreation: false })
  await producer.connect()
  try {
    await producer.send({ topic, messages: values.map((value) => (partition === undefined ? { value } : { value, partition })) })
  } finally {
    await producer.disconnect()
  }
}
