/**
 * The Kafka sink when its broker goes away, against a private broker this test starts and stops
 * (the shared test broker stays up for everyone else): commits reject instead of hanging or
 * crashing, the epochs stay pending and the sink shows unhealthy (sluice_sink_errors_total
 * counts the failures), and once a broker answers again the next checkpoint commits the pending
 * epochs in order, once, from a new producer. The broker comes back empty (fresh storage), so
 * the topic then holds exactly the epochs that were pending.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SinkObject } from '../engine/catalog/objects.ts'
import { Sluice } from '../engine/index.ts'
import { kafkaSinkFactory } from '../connectors/kafka/sink.ts'
import { start, stop } from '../scripts/kafka/kafka.mjs'
import { readTopic } from './kafka-read.ts'
import { uniqueTopic } from './kafka.ts'

/** A port no other test uses (the broker's controller takes the next one). */
const PORT = 39092
const BROKERS = `127.0.0.1:${PORT}`

let db: Sluice | undefined

beforeAll(async () => {
  await start({ port: PORT })
}, 300_000)

afterAll(async () => {
  await db?.close()
  await stop({ port: PORT })
}, 120_000)

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('kafka sink, broker outage', () => {
  it('keeps failed epochs pending while the broker is down and commits them once when it is back', async () => {
    const sluice = await Sluice.open({
      dataDir: ':memory:',
      sinks: [kafkaSinkFactory],
      checkpointIntervalMs: 3_600_000,
    })
    db = sluice
    const topic = uniqueTopic('ksink_outage')
    const sink = uniqueTopic('outage')
    await sluice.sql('CREATE TABLE t (id BIGINT, label TEXT) APPEND ONLY')
    await sluice.sql("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    await sluice.sql(
      `CREATE SINK ${sink} AS SELECT * FROM t WITH (connector = 'kafka', topic = '${topic}', brokers = '${BROKERS}')`,
    )
    const obj = sluice.engine.get(sink) as SinkObject
    const pending = (): number => sluice.engine.checkpoints.pendingEpochs(obj.id)
    await waitFor('the first epoch', () => pending() === 0 && obj.lastError === undefined)
    // The broker writes a transaction's commit markers after the commit returns, and a
    // read_committed read ends at the last stable offset: poll until the records are readable.
    const ids = async (expected: number): Promise<number[]> => {
      let read: number[] = []
      await waitFor(`${expected} committed records`, async () => {
        read = (await readTopic(BROKERS, topic)).map((r) => (JSON.parse(r.value!.toString()) as { id: number }).id)
        return read.length >= expected
      })
      return read
    }
    expect(await ids(2)).toEqual([1, 2])

    await stop({ port: PORT })
    await sluice.sql("INSERT INTO t VALUES (3, 'c'), (4, 'd')")
    await sluice.engine.checkpoints.checkpoint()
    await waitFor('the commit to fail', () => obj.lastError !== undefined)
    const [row] =
      (await sluice.sql(`SELECT status, pending_epochs FROM sluice_catalog.sinks WHERE name = '${sink}'`))[0].rows ?? []
    expect(row).toEqual(['unhealthy', 1])
    await sluice.sql("INSERT INTO t VALUES (5, 'e')")
    await sluice.engine.checkpoints.checkpoint() // the pending epoch is retried and fails again
    const errors = async (): Promise<number> =>
      (await sluice.engine.metrics.sinkErrors.get()).values.find((v) => v.labels.sink === sink)?.value ?? 0
    await waitFor('a second failed commit', async () => (await errors()) >= 2)
    expect(pending()).toBe(2)

    await start({ port: PORT })
    await sluice.engine.checkpoints.checkpoint() // an empty epoch; the pending ones are retried
    await waitFor('the pending epochs to commit', () => pending() === 0 && obj.lastError === undefined)
    expect(await ids(3)).toEqual([3, 4, 5])
    expect(obj.committedEpoch).toBeGreaterThan(0)
  }, 300_000)
})
