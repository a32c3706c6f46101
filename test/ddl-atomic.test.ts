/**
 * DDL is all or nothing, and a view over a Kafka topic that does not exist yet waits for it
 * (docs/sql.md, "Sources are shared and start with their first view"): the README's example on a
 * fresh broker creates its view, which shows `waiting` with the reason (topic and brokers) until
 * the first record creates the topic, then reads from the beginning. A CREATE that fails leaves
 * SHOW unchanged, and the same CREATE succeeds once its cause is fixed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sluice } from '../engine/index.ts'
import type { Value } from '../engine/types/datatype.ts'
import { kafkaSourceFactory } from '../connectors/kafka/index.ts'
import { postgresSinkFactory } from '../connectors/postgres/sink.ts'
import { createTopic, ensureTestKafka, produceJson, uniqueTopic } from './kafka.ts'
import { TempDirs, sleep } from './support.ts'

const dirs = new TempDirs('sluice-ddl-')
let brokers: string
let db: Sluice

beforeAll(async () => {
  brokers = await ensureTestKafka()
  db = await Sluice.open({ dataDir: dirs.make(), sources: [kafkaSourceFactory], sinks: [postgresSinkFactory] })
}, 300_000)

afterAll(async () => {
  await db?.close()
  dirs.removeAll()
})

async function rows(sql: string): Promise<Value[][]> {
  const results = await db.sql(sql)
  return (results[results.length - 1].rows ?? []).map((r) => [...r])
}

async function eventually(sql: string, done: (r: Value[][]) => boolean): Promise<Value[][]> {
  const deadline = Date.now() + 30_000
  let r = await rows(sql)
  while (!done(r) && Date.now() < deadline) {
    await sleep(200)
    r = await rows(sql)
  }
  return r
}

describe('the README example on a topic that does not exist yet', () => {
  it('creates the view, which waits with the reason and reads from the start once the topic exists', async () => {
    const topic = uniqueTopic('readme_bids')
    // The README's statements, with the topic and broker of this test.
    await db.sql(`CREATE SOURCE bids (auction BIGINT, price BIGINT, event_time TIMESTAMP,
      WATERMARK FOR event_time AS event_time - INTERVAL '5 seconds')
    WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', format = 'json')`)
    await db.sql(`CREATE MATERIALIZED VIEW bids_per_minute AS
      SELECT auction, count(*) AS n, max(price) AS top
      FROM bids GROUP BY TUMBLE(event_time, '1m'), auction
      WATERMARK 30s`)
    const [[status, error]] = await rows(
      "SELECT status, error FROM sluice_catalog.views WHERE name = 'bids_per_minute'",
    )
    expect(status).toBe('waiting')
    expect(String(error)).toContain(`"${topic}"`)
    expect(String(error)).toContain(brokers)
    const [[lastError]] = await rows("SELECT last_error FROM sluice_catalog.sources WHERE name = 'bids'")
    expect(String(lastError)).toMatch(/does not exist/)

    // The topic appears (created by its producer's tooling) and gets records; the source starts at earliest.
    await createTopic(topic, 1)
    await produceJson(topic, [
      { auction: 1, price: 10, event_time: '2024-01-01 10:00:01' },
      { auction: 1, price: 30, event_time: '2024-01-01 10:00:05' },
      { auction: 2, price: 20, event_time: '2024-01-01 10:00:09' },
    ])
    const running = await eventually(
      "SELECT status FROM sluice_catalog.views WHERE name = 'bids_per_minute'",
      (r) => r[0]?.[0] === 'running',
    )
    expect(running).toEqual([['running']])
    await db.sql('FLUSH')
    expect(await rows('SELECT auction, n, top FROM bids_per_minute ORDER BY n DESC LIMIT 10')).toEqual([
      [1n, 2n, 30n],
      [2n, 1n, 20n],
    ])
  })
})

describe('a CREATE that fails leaves nothing behind', () => {
  it('keeps SHOW unchanged, and the same CREATE succeeds once its cause is fixed', async () => {
    await db.sql('CREATE TABLE totals_src (k INT PRIMARY KEY, v BIGINT)')
    await db.sql('CREATE MATERIALIZED VIEW totals AS SELECT k, sum(v) AS s FROM totals_src GROUP BY k')
    const before = {
      objects: await rows('SHOW MATERIALIZED VIEWS'),
      sinks: await rows('SHOW SINKS'),
      catalog: await rows('SELECT name FROM sluice_catalog.sinks'),
    }
    // A PostgreSQL that does not listen there: the sink cannot open.
    const create = (port: number): Promise<unknown> =>
      db.sql(
        `CREATE SINK totals_out FROM totals WITH (connector = 'postgres', url = 'postgres://postgres@127.0.0.1:${port}/postgres', table = 'sluice_ddl_atomic_totals')`,
      )
    await expect(create(1)).rejects.toMatchObject({ code: expect.stringMatching(/^(08|57|58)/) })
    expect({
      objects: await rows('SHOW MATERIALIZED VIEWS'),
      sinks: await rows('SHOW SINKS'),
      catalog: await rows('SELECT name FROM sluice_catalog.sinks'),
    }).toEqual(before)
    await create(5432)
    expect(await rows("SELECT name FROM sluice_catalog.sinks WHERE name = 'totals_out'")).toEqual([['totals_out']])
    await db.sql('DROP SINK totals_out')
  })
})
