/**
 * The Kafka source through SQL against the real broker: per-partition watermarks with an idle
 * partition (idle_timeout lets windows close), INCLUDE metadata columns, 10,000 malformed records
 * mixed into good ones (every good one counted, every bad one dead-lettered with its reason, to a
 * Kafka topic and to a table), ALTER SOURCE ADD COLUMN without a restart and after one, and
 * sluice_catalog.lag.
 *
 * The malformed cases are a table (`BAD_RECORDS`): a format's own cases (e.g. Avro) add rows there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, Partitioners, logLevel, type Producer } from 'kafkajs'
import { Sluice } from '../engine/index.ts'
import type { Value } from '../engine/types/datatype.ts'
import { kafkaSourceFactory } from '../connectors/kafka/index.ts'
import { createTopic, ensureTestKafka, uniqueTopic } from './kafka.ts'

let brokers: string
let kafka: Kafka
let producer: Producer
let db: Sluice

beforeAll(async () => {
  brokers = await ensureTestKafka()
  kafka = new Kafka({ clientId: 'kafka-source-sql', brokers: [brokers], logLevel: logLevel.NOTHING })
  producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  db = await Sluice.open({ dataDir: ':memory:', sources: [kafkaSourceFactory] })
}, 120_000)

afterAll(async () => {
  await db?.close()
  await producer?.disconnect()
})

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function query(sql: string, on: Sluice = db): Promise<Value[][]> {
  const results = await on.sql(sql)
  return (results[results.length - 1].rows ?? []).map((r) => [...r])
}

async function refusal(sql: string, on: Sluice = db): Promise<{ code: string; message: string }> {
  try {
    await on.sql(sql)
  } catch (e) {
    return e as { code: string; message: string }
  }
  throw new Error(`accepted: ${sql}`)
}

/** Polls `sql` until `done` holds of its rows (or 20 s pass); returns the last rows. */
async function eventually(sql: string, done: (rows: Value[][]) => boolean, on: Sluice = db): Promise<Value[][]> {
  const deadline = Date.now() + 20_000
  let rows = await query(sql, on)
  while (!done(rows) && Date.now() < deadline) {
    await sleep(100)
    rows = await query(sql, on)
  }
  return rows
}

async function send(topic: string, partition: number, values: readonly (string | null)[]): Promise<void> {
  await producer.send({ topic, messages: values.map((value) => ({ value, partition })) })
}

const json = (o: object): string => JSON.stringify(o)

describe('per-partition watermarks', () => {
  it('takes the minimum over partitions, and idle_timeout lets an idle partition stop holding windows open', async () => {
    const topic = uniqueTopic('wm_idle')
    await createTopic(topic, 3)
    const cols = `(k BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1 second')`
    await db.sql(
      `CREATE SOURCE wm_strict ${cols} WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}')`,
    )
    await db.sql(
      `CREATE SOURCE wm_idle ${cols} WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', idle_timeout = '1s')`,
    )
    for (const s of ['wm_strict', 'wm_idle']) {
      await db.sql(`CREATE MATERIALIZED VIEW ${s}_w AS SELECT window_start, count(*) AS n FROM TUMBLE(${s}, ts, INTERVAL '10 seconds')
        GROUP BY window_start EMIT ON WINDOW CLOSE`)
    }
    // Partition 2 never gets data: it holds nothing back. Partitions 0 and 1 both start in 10:00:00.
    await send(topic, 0, [json({ k: 1, ts: '2024-01-01 10:00:01' })])
    await send(topic, 1, [json({ k: 2, ts: '2024-01-01 10:00:02' })])
    await db.sql('FLUSH')
    // Partition 0 runs ahead; partition 1 goes quiet at 10:00:02.
    await send(topic, 0, [json({ k: 3, ts: '2024-01-01 10:00:30' })])
    await db.sql('FLUSH')
    expect(await query('SELECT n FROM wm_strict_w')).toEqual([])
    // The idle source closes 10:00:00 once partition 1 has been silent for a second.
    const closed = await eventually('SELECT window_start, n FROM wm_idle_w', (r) => r.length > 0)
    expect(closed.map(([, n]) => n)).toEqual([2n])
    // The strict source still waits for partition 1: its minimum is 10:00:02.
    expect(await query('SELECT n FROM wm_strict_w')).toEqual([])
    // A record on partition 1 moves the minimum: the strict view closes the window too.
    await send(topic, 1, [json({ k: 4, ts: '2024-01-01 10:00:40' })])
    const strict = await eventually('SELECT n FROM wm_strict_w', (r) => r.length > 0)
    expect(strict).toEqual([[2n]])
  })
})

describe('INCLUDE metadata columns', () => {
  it('exposes key, partition, offset, timestamp and a header as columns', async () => {
    const topic = uniqueTopic('include')
    await createTopic(topic, 2)
    await db.sql(`CREATE SOURCE inc (v BIGINT)
      INCLUDE key AS k INCLUDE partition AS p INCLUDE offset AS o INCLUDE timestamp AS t INCLUDE header 'trace' AS h
      WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}')`)
    const describe = await query('DESCRIBE inc')
    expect(describe.map((r) => [r[0], r[1]])).toEqual([
      ['v', 'bigint'],
      ['k', 'character varying'],
      ['p', 'integer'],
      ['o', 'bigint'],
      ['t', 'timestamp with time zone'],
      ['h', 'character varying'],
    ])
    await db.sql('CREATE MATERIALIZED VIEW inc_v AS SELECT v, k, p, o, t, h FROM inc')
    await producer.send({
      topic,
      messages: [
        { partition: 1, key: 'user-7', value: json({ v: 1 }), timestamp: '1704103200000', headers: { trace: 'abc' } },
        { partition: 1, key: null, value: json({ v: 2 }), timestamp: '1704103201000' },
      ],
    })
    await db.sql('FLUSH')
    const rows = await query('SELECT v, k, p, o, t::text, h FROM inc_v ORDER BY v')
    expect(rows).toEqual([
      [1n, 'user-7', 1, 0n, '2024-01-01 10:00:00+00', 'abc'],
      [2n, null, 1, 1n, '2024-01-01 10:00:01+00', null],
    ])
  })

  it('refuses INCLUDE of an unknown item with 42601 and INCLUDE on a connector without metadata with 0A000', async () => {
    expect(
      await refusal(
        `CREATE SOURCE inc_bad (v BIGINT) INCLUDE colour AS c WITH (connector = 'kafka', topic = 't', brokers = '${brokers}')`,
      ),
    ).toMatchObject({ code: '42601' })
    expect(
      await refusal(`CREATE SOURCE inc_gen (v BIGINT) INCLUDE key AS k WITH (connector = 'nonesuch')`),
    ).toMatchObject({ code: '42704' })
  })
})

/** One kind of malformed record: its value and the dead-letter reason it must get. */
interface BadRecord {
  readonly value: (i: number) => string | null
  readonly reason: string
}

/** Extend with more cases (a format's own) — each is mixed in with the same share. */
const BAD_RECORDS: readonly BadRecord[] = [
  { value: (i) => `{"id": ${i}, "amount": `, reason: 'decode_error' }, // truncated JSON
  { value: (i) => `not json ${i}`, reason: 'decode_error' },
  { value: () => null, reason: 'decode_error' }, // a tombstone
  { value: (i) => json({ id: `id-${i}`, amount: 1 }), reason: 'type_error' }, // text for a BIGINT
  { value: (i) => json({ id: i, amount: 1, at: 'the day after tomorrow' }), reason: 'type_error' },
]

describe('dead letters', () => {
  it('counts every good record among 10,000 malformed ones and dead-letters every bad one with its reason, to a topic and to a table', async () => {
    const topic = uniqueTopic('dlq_mixed')
    const dlqTopic = uniqueTopic('dlq_out')
    await createTopic(topic, 3)
    await db.sql(
      `CREATE TABLE mixed_rejects (object VARCHAR, reason VARCHAR, detail VARCHAR, payload VARCHAR, received_at TIMESTAMPTZ, origin VARCHAR) APPEND ONLY`,
    )
    const cols = '(id BIGINT, amount BIGINT, at TIMESTAMP)'
    await db.sql(
      `CREATE SOURCE mixed_t ${cols} WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', dead_letter = '${dlqTopic}')`,
    )
    await db.sql(
      `CREATE SOURCE mixed_tab ${cols} WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', dead_letter = 'mixed_rejects')`,
    )
    await db.sql(
      'CREATE MATERIALIZED VIEW mixed_t_v AS SELECT count(*) AS n, sum(amount)::BIGINT AS total FROM mixed_t',
    )
    await db.sql(
      'CREATE MATERIALIZED VIEW mixed_tab_v AS SELECT count(*) AS n, sum(amount)::BIGINT AS total FROM mixed_tab',
    )

    const bad = 10_000
    const good = 20_000
    const expectedReasons = new Map<string, number>()
    let goodTotal = 0n
    const values: { partition: number; value: string | null }[] = []
    for (let i = 0, b = 0, g = 0; b < bad || g < good; i++) {
      // Two good ones, then one bad one, spread over the three partitions.
      if (i % 3 === 2 && b < bad) {
        const kind = BAD_RECORDS[b % BAD_RECORDS.length]
        values.push({ partition: i % 3, value: kind.value(b) })
        expectedReasons.set(kind.reason, (expectedReasons.get(kind.reason) ?? 0) + 1)
        b++
      } else if (g < good) {
        values.push({ partition: i % 3, value: json({ id: g, amount: g % 7, at: '2024-01-01 10:00:00' }) })
        goodTotal += BigInt(g % 7)
        g++
      } else {
        const kind = BAD_RECORDS[b % BAD_RECORDS.length]
        values.push({ partition: i % 3, value: kind.value(b) })
        expectedReasons.set(kind.reason, (expectedReasons.get(kind.reason) ?? 0) + 1)
        b++
      }
    }
    for (let i = 0; i < values.length; i += 2000) await producer.send({ topic, messages: values.slice(i, i + 2000) })
    await db.sql('FLUSH')

    // The views never stop: every good record is counted by both.
    expect(await query('SELECT n, total FROM mixed_t_v')).toEqual([[BigInt(good), goodTotal]])
    expect(await query('SELECT n, total FROM mixed_tab_v')).toEqual([[BigInt(good), goodTotal]])

    // Metrics count every dead letter by object and reason.
    const metrics = await db.metrics.getSingleMetricAsString('sluice_dead_letters_total')
    for (const [reason, n] of expectedReasons) {
      expect(metrics).toContain(`sluice_dead_letters_total{object="mixed_t",reason="${reason}"} ${n}`)
      expect(metrics).toContain(`sluice_dead_letters_total{object="mixed_tab",reason="${reason}"} ${n}`)
    }

    // The table route: every reject as a row with its reason, origin and payload.
    const byReason = await query(
      `SELECT reason, count(*) FROM mixed_rejects WHERE object = 'mixed_tab' GROUP BY reason ORDER BY reason`,
    )
    expect(byReason).toEqual(
      [...expectedReasons].sort(([a], [b]) => a.localeCompare(b)).map(([r, n]) => [r, BigInt(n)]),
    )
    const typed = await query(
      `SELECT detail, payload, origin FROM mixed_rejects WHERE reason = 'type_error' AND payload LIKE '%"id-3"%'`,
    )
    expect(typed[0]?.[0]).toMatch(/id/)
    expect(typed[0]?.[2]).toMatch(new RegExp(`^topic=${topic} partition=\\d offset=\\d+$`))

    // sluice_catalog.dead_letters holds them too (its ring keeps the newest 10,000 over all objects).
    const recent = await query(
      `SELECT count(*) FROM sluice_catalog.dead_letters WHERE object IN ('mixed_t', 'mixed_tab')`,
    )
    expect(Number(recent[0][0])).toBeGreaterThan(0)

    // The topic route: one JSON record per reject with the original bytes, position, reason and error.
    const letters = await readTopic(dlqTopic, bad)
    expect(letters).toHaveLength(bad)
    const topicReasons = new Map<string, number>()
    for (const l of letters) topicReasons.set(l.reason as string, (topicReasons.get(l.reason as string) ?? 0) + 1)
    expect(topicReasons).toEqual(expectedReasons)
    const positions = new Set(letters.map((l) => `${l.partition as number}/${l.offset as string}`))
    expect(positions.size).toBe(bad)
    const truncated = letters.find((l) => typeof l.payload === 'string' && l.payload.startsWith('{"id": 0,'))
    expect(truncated).toMatchObject({
      source: 'mixed_t',
      topic,
      reason: 'decode_error',
      payload: '{"id": 0, "amount": ',
    })
    expect(Buffer.from(truncated?.payload_base64 as string, 'base64').toString()).toBe('{"id": 0, "amount": ')
    const tombstone = letters.find((l) => l.payload_base64 === null)
    expect(tombstone).toMatchObject({ reason: 'decode_error', error: expect.stringContaining('tombstone') })
  }, 120_000)

  it("routes the rows a source's views reject as late to the source's dead-letter table and topic", async () => {
    const topic = uniqueTopic('dlq_late')
    const dlqTopic = uniqueTopic('dlq_late_out')
    await createTopic(topic, 1)
    await db.sql(
      'CREATE TABLE late_rejects (object VARCHAR, reason VARCHAR, detail VARCHAR, payload VARCHAR, received_at TIMESTAMPTZ) APPEND ONLY',
    )
    const cols = `(k BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1 second')`
    await db.sql(
      `CREATE SOURCE late_src ${cols} WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', dead_letter = 'late_rejects')`,
    )
    await db.sql(
      `CREATE SOURCE late_src_t ${cols} WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', dead_letter = '${dlqTopic}')`,
    )
    await db.sql(
      `CREATE MATERIALIZED VIEW late_v AS SELECT window_start, count(*) AS n FROM TUMBLE(late_src, ts, INTERVAL '10 seconds') GROUP BY window_start`,
    )
    await db.sql(
      `CREATE MATERIALIZED VIEW late_vt AS SELECT window_start, count(*) AS n FROM TUMBLE(late_src_t, ts, INTERVAL '10 seconds') GROUP BY window_start`,
    )
    await send(topic, 0, [json({ k: 1, ts: '2024-01-01 10:00:01' }), json({ k: 2, ts: '2024-01-01 10:00:30' })])
    await db.sql('FLUSH')
    await send(topic, 0, [json({ k: 3, ts: '2024-01-01 10:00:02' })])
    await db.sql('FLUSH')
    expect(await query(`SELECT object, reason FROM late_rejects`)).toEqual([['late_v', 'late']])
    const letters = await readTopic(dlqTopic, 1)
    expect(letters).toEqual([expect.objectContaining({ source: 'late_src_t', object: 'late_vt', reason: 'late' })])
    // The table now has a writer: dropping it needs CASCADE.
    expect(await refusal('DROP TABLE late_rejects')).toMatchObject({ code: '2BP01' })
  })

  it('refuses a dead-letter table without the dead-letter columns, or with a primary key', async () => {
    await db.sql('CREATE TABLE not_rejects (object VARCHAR, reason VARCHAR) APPEND ONLY')
    await db.sql(
      'CREATE TABLE keyed_rejects (id BIGINT PRIMARY KEY, object VARCHAR, reason VARCHAR, detail VARCHAR, payload VARCHAR, received_at TIMESTAMPTZ)',
    )
    const topic = uniqueTopic('dlq_refuse')
    await createTopic(topic, 1)
    const create = (dl: string): string =>
      `CREATE SOURCE dl_${dl} (v BIGINT) WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', dead_letter = '${dl}')`
    expect(await refusal(create('not_rejects'))).toMatchObject({
      code: '42703',
      message: expect.stringContaining('"detail"'),
    })
    expect(await refusal(create('keyed_rejects'))).toMatchObject({ code: '0A000' })
  })
})

/** Reads `count` JSON records from `topic` from its beginning (or what arrives in 30 s). */
async function readTopic(topic: string, count: number): Promise<Record<string, unknown>[]> {
  const consumer = kafka.consumer({ groupId: uniqueTopic('dlq_reader') })
  const out: Record<string, unknown>[] = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        out.push(JSON.parse(message.value?.toString() ?? 'null') as Record<string, unknown>)
      },
    })
    const deadline = Date.now() + 30_000
    while (out.length < count && Date.now() < deadline) await sleep(100)
  } finally {
    await consumer.disconnect()
  }
  return out
}

describe('ALTER SOURCE ADD COLUMN', () => {
  it('adds a column without a restart: old views keep their columns, new views see it, and a restart keeps it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-alter-'))
    const topic = uniqueTopic('alter_src')
    await createTopic(topic, 1)
    let local = await Sluice.open({ dataDir, sources: [kafkaSourceFactory] })
    try {
      await local.sql(
        `CREATE SOURCE evolving (a BIGINT) WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}')`,
      )
      await local.sql('CREATE MATERIALIZED VIEW old_v AS SELECT * FROM evolving')
      await send(topic, 0, [json({ a: 1, c: 'x' })])
      await local.sql('FLUSH')
      await local.sql('ALTER SOURCE evolving ADD COLUMN c VARCHAR')
      await local.sql('CREATE MATERIALIZED VIEW new_v AS SELECT a, c FROM evolving')
      await send(topic, 0, [
        json({ a: 2, c: 'y' }),
        json({ a: 3 }),
        json({ a: 4, c: { nested: true } }),
        json({ a: 5, c: 7 }),
      ])
      await local.sql('FLUSH')
      expect(await query('SELECT * FROM old_v ORDER BY a', local)).toEqual([[1n], [2n], [3n], [4n], [5n]])
      expect(await query('SELECT a, c FROM new_v ORDER BY a', local)).toEqual([
        [2n, 'y'],
        [3n, null],
        [4n, '{"nested":true}'],
        [5n, '7'],
      ])
      expect((await query('DESCRIBE evolving', local)).map((r) => r[0])).toEqual(['a', 'c'])

      // Incompatible changes are refused and change nothing.
      expect(await refusal('ALTER SOURCE evolving ADD COLUMN c BIGINT', local)).toMatchObject({ code: '42701' })
      expect(await refusal('ALTER SOURCE evolving DROP COLUMN c', local)).toMatchObject({ code: '0A000' })
      expect(await refusal('ALTER SOURCE evolving ALTER COLUMN c TYPE BIGINT', local)).toMatchObject({ code: '0A000' })
      expect(await refusal('ALTER SOURCE evolving ADD COLUMN d BIGINT NOT NULL', local)).toMatchObject({
        code: '0A000',
      })
      expect(await refusal('ALTER SOURCE nowhere ADD COLUMN d BIGINT', local)).toMatchObject({ code: '42P01' })
      await local.sql('CREATE TABLE plain (x BIGINT)')
      expect(await refusal('ALTER SOURCE plain ADD COLUMN d BIGINT', local)).toMatchObject({ code: '42809' })

      // A value of the wrong type for the new column is a type_error dead letter; the view goes on.
      await local.sql('ALTER SOURCE evolving ADD COLUMN n BIGINT')
      await local.sql('CREATE MATERIALIZED VIEW n_v AS SELECT a, n FROM evolving')
      await send(topic, 0, [json({ a: 6, n: 'six' }), json({ a: 7, n: 7 })])
      await local.sql('FLUSH')
      expect(await query('SELECT a, n FROM n_v', local)).toEqual([[7n, 7n]])
      const letters = await query(
        `SELECT reason, detail FROM sluice_catalog.dead_letters WHERE object = 'evolving'`,
        local,
      )
      expect(letters).toEqual([['type_error', expect.stringContaining('n')]])
      expect(String((await query('SHOW CREATE SOURCE evolving', local))[0][1])).toMatch(
        /ALTER SOURCE evolving ADD COLUMN n BIGINT$/,
      )
    } finally {
      await local.close()
    }

    // After a restart the source has both added columns, and views over them keep working.
    local = await Sluice.open({ dataDir, sources: [kafkaSourceFactory] })
    try {
      expect((await query('DESCRIBE evolving', local)).map((r) => r[0])).toEqual(['a', 'c', 'n'])
      await send(topic, 0, [json({ a: 8, c: 'w', n: 8 })])
      await local.sql('FLUSH')
      expect(await query('SELECT a, c FROM new_v WHERE a = 8', local)).toEqual([[8n, 'w']])
      expect(await query('SELECT a, n FROM n_v WHERE a = 8', local)).toEqual([[8n, 8n]])
    } finally {
      await local.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 60_000)
})

describe('sluice_catalog.lag', () => {
  it('shows each partition with its offset, end and lag', async () => {
    const topic = uniqueTopic('lag')
    await createTopic(topic, 2)
    await send(topic, 0, [json({ v: 1 }), json({ v: 2 })])
    await send(topic, 1, [json({ v: 3 })])
    await db.sql(
      `CREATE SOURCE lagged (v BIGINT) WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}')`,
    )
    await db.sql('CREATE MATERIALIZED VIEW lagged_v AS SELECT count(*) AS n FROM lagged')
    await db.sql('FLUSH')
    const rows = await query(
      `SELECT topic, partition, "offset", high_watermark, lag, paused FROM sluice_catalog.lag WHERE source = 'lagged' ORDER BY partition`,
    )
    expect(rows).toEqual([
      [topic, 0, 2n, 2n, 0n, false],
      [topic, 1, 1n, 1n, 0n, false],
    ])
    const metrics = await db.metrics.getSingleMetricAsString('sluice_source_lag_records')
    expect(metrics).toContain(`sluice_source_lag_records{source="lagged",partition="0"} 0`)
  })
})
