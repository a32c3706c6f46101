/**
 * A Kafka broker restart in the middle of a stream: a Sluice server process reads a topic while
 * the broker is killed and started again (its log kept), more records arrive after the restart,
 * and the view ends complete and exact: every record counted once, per key, nothing lost or
 * doubled. Meanwhile the server keeps answering over pgwire and shows the outage as the source's
 * last_error, which clears once records flow again.
 *
 * A second case drives the reader alone, with a short `stuckMs`: the outage outlasts it, the
 * reader drops its consumer and builds a new one (in a worker thread and in its own thread) that
 * seeks to the reader's own offsets, so the records come exactly once.
 *
 * The broker is a second one on its own port (not the shared test broker on 19092, which other
 * test files use at the same time), started with scripts/kafka/kafka.mjs and restarted with
 * `keepData` so that its topics and records survive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, Partitioners, logLevel } from 'kafkajs'
import { brokerPid, paths, start, stop } from '../scripts/kafka/kafka.mjs'
import { SluiceProcess } from './sluice-process.ts'
import type { Chunk } from '../engine/chunk.ts'
import type { ConnectorContext } from '../engine/connector.ts'
import { T } from '../engine/types/datatype.ts'
import { KafkaSourceReader, parseKafkaSourceOptions } from '../connectors/kafka/index.ts'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}

/** A port whose next port is free too (the broker's controller listens there). */
async function brokerPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + 2 * Math.floor(Math.random() * 4000)
    if ((await portFree(port)) && (await portFree(port + 1))) return port
  }
}

let port: number
let dataDir: string
let sluice: SluiceProcess | undefined

beforeAll(async () => {
  port = await brokerPort()
  await start({ port })
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-broker-restart-'))
}, 180_000)

afterAll(async () => {
  await sluice?.kill()
  await stop({ port })
  const p = paths(port)
  for (const f of [p.data, p.properties, p.log, p.pid]) rmSync(f, { recursive: true, force: true })
  rmSync(dataDir, { recursive: true, force: true })
}, 60_000)

/** Stops the broker at once (kill -9): no controlled shutdown, so the view is surely mid-stream. */
async function killBroker(): Promise<void> {
  const pid = brokerPid(port)
  if (pid === undefined) throw new Error(`no broker runs on port ${port}`)
  process.kill(pid, 'SIGKILL')
  for (;;) {
    try {
      process.kill(pid, 0)
    } catch {
      return
    }
    await sleep(50)
  }
}

/** Polls `check` until it returns a value other than undefined, or fails after `ms`. */
async function eventually<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(200)
  }
}

describe('Kafka broker restart', () => {
  it('reads on through a broker restart mid-stream: the view ends complete and exact, the outage shows and clears', async () => {
    const brokers = `127.0.0.1:${port}`
    const topic = 'restart_events'
    const kafka = new Kafka({ clientId: 'restart-test', brokers: [brokers], logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true })
    await admin.disconnect()

    // What was produced, per key: the oracle. Records are produced only while the broker is up
    // and each send is awaited, so every record is in the log exactly once.
    const expected = new Map<number, { n: number; s: number }>()
    let nextId = 0
    async function produce(records: number): Promise<void> {
      const producer = kafka.producer({
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      })
      await producer.connect()
      for (let sent = 0; sent < records; sent += 5000) {
        const messages = []
        for (let i = 0; i < Math.min(5000, records - sent); i++) {
          const id = nextId++
          const k = id % 10
          const v = id % 97
          const e = expected.get(k) ?? { n: 0, s: 0 }
          expected.set(k, { n: e.n + 1, s: e.s + v })
          messages.push({ partition: id % 3, value: JSON.stringify({ id, k, v }) })
        }
        await producer.send({ topic, messages })
      }
      await producer.disconnect()
    }

    await produce(200_000)
    sluice = await SluiceProcess.create(dataDir, ['--checkpoint-interval', '500'])
    await sluice.start()
    await sluice.query(
      `CREATE SOURCE ev (id BIGINT, k INT, v BIGINT) WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', startup = 'earliest')`,
    )
    // count(DISTINCT id) equal to count(*) says no record came twice (and keeps the view busy
    // enough that the broker dies while it is still reading).
    await sluice.query(
      'CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n, sum(v) AS s, count(DISTINCT id) AS ids FROM ev GROUP BY k',
    )
    const counted = async (): Promise<number> =>
      Number((await sluice!.query('SELECT coalesce(sum(n), 0)::BIGINT AS n FROM per_k')).rows[0].n)
    // Kill the broker as soon as the view has started counting: mid-stream (the count at the kill
    // is printed). Every record was acknowledged before, so the restarted broker still has it
    // (the page cache outlives the process).
    await eventually('the first rows', 60_000, async () => ((await counted()) > 0 ? true : undefined))
    await killBroker()
    const atStop = await counted()
    console.log(`broker killed with ${atStop} of 200000 records counted`)

    // The server goes on answering, and shows why the source does not read.
    const lastError = await eventually('the outage in sluice_catalog.sources', 60_000, async () => {
      const r = await sluice!.query(`SELECT running, last_error FROM sluice_catalog.sources WHERE name = 'ev'`)
      return r.rows[0]?.last_error ?? undefined
    })
    expect(lastError).toContain('cannot read topic "restart_events"')
    expect(await counted()).toBeLessThanOrEqual(200_000)

    await start({ port, keepData: true })
    await produce(30_000)
    // FLUSH waits for the source to reach the topic's end; the reader may still be reconnecting.
    await eventually('FLUSH', 90_000, async () => {
      try {
        await sluice!.query('FLUSH')
        return true
      } catch (e) {
        if ((e as { code?: string }).code === '57014') return undefined
        throw e
      }
    })

    const rows = (await sluice.query('SELECT k, n, s, ids FROM per_k ORDER BY k')).rows.map((r) => [
      Number(r.k),
      Number(r.n),
      Number(r.s),
      Number(r.ids),
    ])
    expect(rows).toEqual([...expected].sort(([a], [b]) => a - b).map(([k, e]) => [k, e.n, e.s, e.n]))
    expect(rows.reduce((t, r) => t + r[1], 0)).toBe(230_000)
    const after = await sluice.query(`SELECT running, last_error FROM sluice_catalog.sources WHERE name = 'ev'`)
    expect(after.rows[0]).toEqual({ running: true, last_error: null })
    // The log says when the source lost the broker and when it read again (JSON-escaped quotes).
    expect(sluice.output).toMatch(/Kafka source \\?"ev\\?" lost its brokers/)
    expect(sluice.output).toMatch(/Kafka source \\?"ev\\?" reaches topic \\?"restart_events\\?" again/)
    await sluice.stop()
  }, 240_000)

  for (const fetchThread of ['worker', 'main'] as const) {
    it(`builds a new consumer during a long outage and reads on at its own offsets (fetcher in the ${fetchThread} thread)`, async () => {
      const brokers = `127.0.0.1:${port}`
      const topic = `rebuild_${fetchThread}`
      const kafka = new Kafka({ clientId: 'rebuild-test', brokers: [brokers], logLevel: logLevel.NOTHING })
      const admin = kafka.admin()
      await admin.connect()
      await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true })
      await admin.disconnect()
      const produce = async (from: number, to: number): Promise<void> => {
        const producer = kafka.producer({
          allowAutoTopicCreation: false,
          createPartitioner: Partitioners.DefaultPartitioner,
        })
        await producer.connect()
        await producer.send({
          topic,
          messages: Array.from({ length: to - from }, (_, i) => ({
            partition: (from + i) % 2,
            value: JSON.stringify({ id: from + i }),
          })),
        })
        await producer.disconnect()
      }
      const logs: string[] = []
      const ctx: ConnectorContext = {
        name: 'rebuild',
        deadLetter: () => {},
        now: () => Date.now(),
        log: (_level, message) => logs.push(message),
      }
      const options = parseKafkaSourceOptions(
        new Map([
          ['topic', topic],
          ['brokers', brokers],
        ]),
      )
      const reader = new KafkaSourceReader([{ name: 'id', type: T.int8 }], options, ctx, {
        fetchThread,
        stuckMs: 3000,
        staleMs: 1000,
      })
      const ids: bigint[] = []
      const errors: string[] = []
      const read = async (until: number): Promise<void> => {
        const deadline = Date.now() + 90_000
        while (ids.length < until && Date.now() < deadline) {
          let chunk: Chunk | undefined
          try {
            chunk = await reader.poll(500)
          } catch (e) {
            errors.push((e as Error).message)
          }
          if (chunk === undefined) await sleep(50)
          else for (let i = 0; i < chunk.length; i++) ids.push(chunk.columns[0][i] as bigint)
        }
      }
      try {
        await produce(0, 1000)
        await reader.open()
        await read(1000)
        await killBroker()
        // Disconnected: poll fails with the reason once the queue is drained.
        await eventually('the reader to notice', 30_000, async () => (reader.stats().connected ? undefined : true))
        await eventually('poll to fail', 30_000, async () => {
          try {
            await reader.poll(500)
          } catch (e) {
            errors.push((e as Error).message)
          }
          return errors.length > 0 ? true : undefined
        })
        // Without a fetch for stuckMs, the consumer is dropped and a new one built, with backoff.
        await eventually('the consumer to be rebuilt', 60_000, async () =>
          logs.some((l) => /stopped \(no fetch for \d+ s\); reconnecting in \d+ ms/.test(l)) ? true : undefined,
        )
        await start({ port, keepData: true })
        await produce(1000, 2000)
        await read(2000)
        await sleep(500) // nothing more may come
        const more = await reader.poll(500)
        expect(more).toBeUndefined()
        expect(errors[0]).toContain(`cannot read topic "${topic}"`)
        expect(ids.length).toBe(2000)
        expect(new Set(ids).size).toBe(2000)
        expect(reader.offsets()).toEqual({ [`${topic}/0`]: '1000', [`${topic}/1`]: '1000' })
        expect(reader.stats().connected).toBe(true)
      } finally {
        await reader.close()
      }
    }, 180_000)
  }
})
