/**
 * Backpressure end to end (ARCHITECTURE.md invariant 3): a producer bursts records into a topic
 * far faster than a deliberately slow stage in the Sluice process can take them. The Kafka source
 * pauses the partitions it cannot take, the lag rises and then drains, the process's memory stays
 * under a bound much smaller than the burst, and every record is counted exactly once.
 *
 * Sluice runs in a child process (test/fixtures/backpressure-child.ts) so that its memory is
 * measured alone, not mixed with the producer's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { createTopic, ensureTestKafka, uniqueTopic } from './kafka.ts'

interface Report {
  readonly kind: 'report'
  readonly rss: number
  readonly heapUsed: number
  readonly count: number
  readonly ids: number
  readonly lag: number
  readonly paused: boolean
}

const RECORDS = 150_000
const PAD = 'x'.repeat(700)
/** The slow stage's cost: 100 µs per row, about 10,000 rows/s, several times slower than the burst. */
const US_PER_ROW = 100
/** RSS growth allowed over the child's idle footprint: below the ~108 MB the burst holds. */
const RSS_GROWTH_BOUND = 96 * 1024 * 1024
/** The child's V8 heap limit: an unbounded queue of the burst would not fit (the child would die). */
const HEAP_LIMIT_MB = 96

let brokers: string
let child: ChildProcess | undefined

beforeAll(async () => {
  brokers = await ensureTestKafka()
})

afterAll(() => {
  child?.kill('SIGKILL')
})

describe('backpressure', () => {
  it('pauses partitions when a slow stage falls behind: lag rises and drains, memory stays bounded, nothing is lost', async () => {
    const topic = uniqueTopic('backpressure')
    await createTopic(topic, 3)
    const script = fileURLToPath(new URL('./fixtures/backpressure-child.ts', import.meta.url))
    const proc = fork(script, [brokers, topic, String(US_PER_ROW)], {
      execArgv: ['--import', 'tsx', `--max-old-space-size=${HEAP_LIMIT_MB}`],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    child = proc
    const reports: Report[] = []
    const errors: string[] = []
    const ready = new Promise<void>((resolve, reject) => {
      proc.on('message', (m: { kind: string; message?: string }) => {
        if (m.kind === 'ready') resolve()
        else if (m.kind === 'report') reports.push(m as unknown as Report)
        else if (m.kind === 'error') errors.push(m.message ?? '')
      })
      proc.on('exit', (code) => reject(new Error(`child exited with ${code}`)))
    })
    await ready
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
    await sleep(1000) // the idle footprint, once the reader is up
    const baseline = Math.max(...reports.slice(-5).map((r) => r.rss))

    const producer = new Kafka({ clientId: 'bp-producer', brokers: [brokers], logLevel: logLevel.NOTHING }).producer()
    await producer.connect()
    const started = Date.now()
    for (let i = 0; i < RECORDS; i += 1000) {
      await producer.send({
        topic,
        messages: Array.from({ length: 1000 }, (_, j) => ({
          partition: (i + j) % 3,
          value: `{"id":${i + j},"pad":"${PAD}"}`,
        })),
      })
    }
    const burstMs = Date.now() - started
    await producer.disconnect()

    const deadline = Date.now() + 60_000
    while (
      Date.now() < deadline &&
      !(reports.length > 0 && reports[reports.length - 1].count === RECORDS && reports[reports.length - 1].lag === 0)
    )
      await sleep(100)
    proc.send({ kind: 'stop' })

    const last = reports[reports.length - 1]
    const during = reports.filter((r) => r.rss > 0)
    const peakRss = Math.max(...during.map((r) => r.rss))
    const peakLag = Math.max(...during.map((r) => r.lag))
    console.log(
      `backpressure: burst of ${RECORDS} records (~${Math.round((RECORDS * (PAD.length + 20)) / 1e6)} MB) in ${burstMs} ms; ` +
        `peak lag ${peakLag}; idle RSS ${(baseline / 1e6).toFixed(0)} MB, peak ${(peakRss / 1e6).toFixed(0)} MB; ` +
        `peak heap ${(Math.max(...during.map((r) => r.heapUsed)) / 1e6).toFixed(0)} MB`,
    )
    expect(errors).toEqual([])
    // Nothing lost, nothing doubled.
    expect(last).toMatchObject({ count: RECORDS, ids: RECORDS, lag: 0 })
    // The consumer fell behind and paused, then caught up.
    // (the lag grew well past the 3,000 records the reader may queue: the rest waited in Kafka)
    expect(peakLag).toBeGreaterThan(4 * 3000)
    expect(during.some((r) => r.paused)).toBe(true)
    expect(last.paused).toBe(false)
    // Memory did not grow with the burst.
    expect(peakRss - baseline).toBeLessThan(RSS_GROWTH_BOUND)
  }, 120_000)
})
