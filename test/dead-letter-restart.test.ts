/**
 * Dead letters routed to a table and to a Kafka topic with checkpoints on, in process, step by step
 * (the chaos run, test/chaos-dead-letters.test.ts, covers random crash moments): FLUSH makes the
 * rejects visible in both destinations (a read_committed reader sees the topic's); a crash before
 * the next checkpoint loses none of the later ones and a restart writes none twice; a view's late
 * rows are routed alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kafka, logLevel } from 'kafkajs'
import { Sluice } from '../engine/index.ts'
import { kafkaSourceFactory } from '../connectors/kafka/index.ts'
import { createTopic, ensureTestKafka, produceRaw, uniqueTopic } from './kafka.ts'
import { readTopic } from './kafka-read.ts'
import { TempDirs, sleep } from './support.ts'

const dirs = new TempDirs('sluice-dl-restart-')
let brokers: string

beforeAll(async () => {
  brokers = await ensureTestKafka()
}, 300_000)
afterAll(() => dirs.removeAll())

/** Checkpoints only when the test (or FLUSH) takes them. */
const open = (dataDir: string): Promise<Sluice> =>
  Sluice.open({ dataDir, sources: [kafkaSourceFactory], checkpointIntervalMs: 3_600_000 })

async function tableRejects(db: Sluice): Promise<string[]> {
  const [r] = await db.sql('SELECT object, reason, origin, payload FROM rejects')
  return (r.rows ?? [])
    .map(([object, reason, origin, payload]) => `${String(object)} ${String(reason)} ${String(origin ?? payload)}`)
    .sort()
}

async function topicRejects(topic: string): Promise<string[]> {
  const records = await readTopic(brokers, topic)
  return records
    .map((r) => JSON.parse(r.value?.toString() ?? 'null') as Record<string, unknown>)
    .map(
      (l) =>
        `${String(l.object ?? l.source)} ${String(l.reason)} ${l.offset === undefined ? String(l.payload) : `topic=${String(l.topic)} partition=${String(l.partition)} offset=${String(l.offset)}`}`,
    )
    .sort()
}

/** Waits until the built-in dead letters of `object` number `n` (the source has polled that far). */
async function received(db: Sluice, object: string, n: number): Promise<void> {
  const deadline = Date.now() + 20_000
  for (;;) {
    const [r] = await db.sql(`SELECT count(*) FROM sluice_catalog.dead_letters WHERE object = '${object}'`)
    if (Number(r.rows?.[0]?.[0]) >= n) return
    if (Date.now() > deadline) throw new Error(`${object}: fewer than ${n} dead letters`)
    await sleep(50)
  }
}

describe('dead letters to a table and a topic, with checkpoints', () => {
  it('are visible after FLUSH and written once through a crash and a restart', async () => {
    const input = uniqueTopic('dl_restart_in')
    const dlq = uniqueTopic('dl_restart_out')
    await createTopic(input, 1)
    const dir = dirs.make()
    let db = await open(dir)
    const cols = "(id BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1 minute')"
    const kafka = `connector = 'kafka', topic = '${input}', brokers = '${brokers}', startup = 'earliest'`
    await db.sql(
      'CREATE TABLE rejects (object VARCHAR, reason VARCHAR, detail VARCHAR, payload VARCHAR, received_at TIMESTAMPTZ, origin VARCHAR) APPEND ONLY',
    )
    await db.sql(`CREATE SOURCE s_tab ${cols} WITH (${kafka}, dead_letter = 'rejects')`)
    await db.sql(`CREATE SOURCE s_top ${cols} WITH (${kafka}, dead_letter = '${dlq}')`)
    for (const s of ['s_tab', 's_top']) {
      await db.sql(
        `CREATE MATERIALIZED VIEW ${s}_w AS SELECT window_start, count(*) AS n FROM TUMBLE(${s}, ts, INTERVAL '1 minute') GROUP BY window_start`,
      )
    }
    // offset 0 good, 1 malformed, 2 good (moves the watermark to 10:09), 3 late, 4 malformed.
    await produceRaw(input, [
      '{"id": 0, "ts": "2024-01-01 10:00:00"}',
      '{"id": 1,',
      '{"id": 2, "ts": "2024-01-01 10:10:00"}',
    ])
    await db.sql('FLUSH') // a batch's rows are judged before its watermark moves: 3 must come later
    await produceRaw(input, ['{"id": 3, "ts": "2024-01-01 10:00:30"}', 'nope'])
    await db.sql('FLUSH')
    const first = (p: string): string[] =>
      [
        `${p} decode_error topic=${input} partition=0 offset=1`,
        `${p} decode_error topic=${input} partition=0 offset=4`,
        `${p}_w late ["3","2024-01-01 10:00:30"]`,
      ].sort()
    expect(await tableRejects(db)).toEqual(first('s_tab'))
    expect(await topicRejects(dlq)).toEqual(first('s_top'))

    // Rejects read after the last checkpoint, then kill -9 (no last checkpoint): they were in no
    // destination; the restart reads their records again and writes them once.
    await produceRaw(input, ['{"id": 5,', '{"id": 6, "ts": "2024-01-01 10:01:00"}'])
    await received(db, 's_tab', 3)
    await received(db, 's_top', 3)
    await db.close({ lastCheckpoint: false })
    db = await open(dir)
    await db.sql('FLUSH')
    const second = (p: string): string[] =>
      [
        ...first(p),
        `${p} decode_error topic=${input} partition=0 offset=5`,
        `${p}_w late ["6","2024-01-01 10:01:00"]`,
      ].sort()
    expect(await tableRejects(db)).toEqual(second('s_tab'))
    expect(await topicRejects(dlq)).toEqual(second('s_top'))

    // A checkpoint, then a crash at once (its commits may or may not have run): still once each.
    await produceRaw(input, ['{"id": 7,'])
    await received(db, 's_tab', 4)
    await received(db, 's_top', 4)
    await db.engine.checkpoints.checkpoint()
    await db.close({ lastCheckpoint: false })
    db = await open(dir)
    try {
      await db.sql('FLUSH')
      const third = (p: string): string[] =>
        [...second(p), `${p} decode_error topic=${input} partition=0 offset=7`].sort()
      expect(await tableRejects(db)).toEqual(third('s_tab'))
      expect(await topicRejects(dlq)).toEqual(third('s_top'))
    } finally {
      await db.close()
    }
  }, 120_000)

  it("keeps the original record's key and headers in the topic", async () => {
    const input = uniqueTopic('dl_headers_in')
    const dlq = uniqueTopic('dl_headers_out')
    await createTopic(input, 1)
    const db = await open(dirs.make())
    try {
      await db.sql(
        `CREATE SOURCE s_h (id BIGINT) WITH (connector = 'kafka', topic = '${input}', brokers = '${brokers}', dead_letter = '${dlq}')`,
      )
      await db.sql('CREATE MATERIALIZED VIEW s_h_v AS SELECT count(*) AS n FROM s_h')
      const kafka = new Kafka({ clientId: 'dl-headers', brokers: [brokers], logLevel: logLevel.NOTHING })
      const producer = kafka.producer()
      await producer.connect()
      await producer.send({
        topic: input,
        messages: [{ key: 'k1', value: '{"id":', headers: { trace: 'abc', tag: ['x', 'y'] } }],
      })
      await producer.disconnect()
      await db.sql('FLUSH')
      const [record] = await readTopic(brokers, dlq)
      expect(record.key?.toString()).toBe('k1')
      expect(record.headers).toEqual({ trace: Buffer.from('abc'), tag: [Buffer.from('x'), Buffer.from('y')] })
    } finally {
      await db.close()
    }
  })
})
