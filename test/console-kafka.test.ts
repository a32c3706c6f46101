/**
 * The console overview over a real Kafka source: consumer lag per partition (from
 * sluice_catalog.lag), the watermark's delay behind wall-clock time, and events/s from the
 * in-process history once records arrive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { Sluice } from '../engine/index.ts'
import { kafkaSourceFactory } from '../connectors/kafka/index.ts'
import { buildHttpApp } from '../server/http/app.ts'
import { createTopic, ensureTestKafka, produceJson, uniqueTopic } from './kafka.ts'

let db: Sluice
let app: FastifyInstance
let brokers = ''

beforeAll(async () => {
  brokers = await ensureTestKafka()
  db = await Sluice.open({ dataDir: ':memory:', sources: [kafkaSourceFactory] })
  app = buildHttpApp({ db })
  await app.ready()
})

afterAll(async () => {
  await app?.close()
  await db?.close()
})

interface OverviewSource {
  name: string
  state: string
  rate: number | null
  watermarkDelay: number | null
  lag: { partition: number | null; lag: number | null }[]
}

async function source(name: string): Promise<OverviewSource | undefined> {
  const body = (await app.inject({ method: 'GET', url: '/console/api/overview' })).json<{ objects: OverviewSource[] }>()
  return body.objects.find((o) => o.name === name)
}

describe('the console overview with Kafka', () => {
  it('shows lag per partition, watermark delay and events/s', async () => {
    const topic = uniqueTopic('console')
    await createTopic(topic, 2)
    const now = Date.now()
    const rows = (p: number) =>
      Array.from({ length: 50 }, (_x, i) => ({ id: p * 100 + i, at: new Date(now - 60_000).toISOString() }))
    await produceJson(topic, rows(0), 0)
    await produceJson(topic, rows(1), 1)
    await db.sql(
      `CREATE SOURCE clicks (id BIGINT, at TIMESTAMPTZ, WATERMARK FOR at AS at - INTERVAL '1 second') WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', startup = 'earliest')`,
    )
    await db.sql(`CREATE MATERIALIZED VIEW clicks_n AS SELECT count(*) AS n FROM clicks`)
    await expect
      .poll(async () => (await db.sql('SELECT n FROM clicks_n'))[0].rows?.[0]?.[0], { timeout: 30_000 })
      .toBe(100n)
    await expect
      .poll(async () => (await source('clicks'))?.lag.map((p) => p.partition).sort(), { timeout: 30_000 })
      .toEqual([0, 1])
    const s = await source('clicks')
    expect(s?.state).toBe('running')
    for (const p of s?.lag ?? []) expect(p.lag).toBe(0)
    // Events a minute old: the watermark is about a minute behind wall-clock time (from the
    // sampler's next reading of the gauge).
    await expect
      .poll(async () => (await source('clicks'))?.watermarkDelay ?? 0, { timeout: 30_000 })
      .toBeGreaterThan(50)
    // More records while the sampler runs: a rate shows up.
    await produceJson(topic, rows(2), 0)
    await expect.poll(async () => (await source('clicks'))?.rate ?? 0, { timeout: 30_000 }).toBeGreaterThan(0)
  })
})
