/**
 * Every format through the real test broker into views: Avro (Confluent wire format, a schema
 * registry, a schema that gains a field mid-stream, ADD COLUMN picked up without a restart),
 * CSV, JSON with JSONB, and Debezium change events into a PRIMARY KEY table whose view retracts.
 * Malformed records are mixed into good ones: every good record is counted, every bad one is a
 * dead letter with its reason, and the views keep going.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kafka, Partitioners, logLevel, type Producer } from 'kafkajs'
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry'
import { Sluice } from '../../engine/index.ts'
import { rowAt, type Chunk } from '../../engine/chunk.ts'
import type { ColumnSchema, DeadLetter, SourceReader } from '../../engine/connector.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { T } from '../../engine/types/datatype.ts'
import { createTopic, ensureTestKafka, uniqueTopic } from '../../test/kafka.ts'
import { startRegistryFixture, type RegistryFixture } from '../../test/registry-fixture.ts'
import { kafkaSourceFactory } from '../kafka/index.ts'
import { avroType } from './avro.ts'

let brokers: string
let producer: Producer
let fixture: RegistryFixture
let registry: SchemaRegistry
let db: Sluice

beforeAll(async () => {
  brokers = await ensureTestKafka()
  const kafka = new Kafka({ clientId: 'formats-tests', brokers: [brokers], logLevel: logLevel.NOTHING })
  producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  fixture = await startRegistryFixture()
  registry = new SchemaRegistry({ host: fixture.url })
  db = await Sluice.open({ dataDir: ':memory:', sources: [kafkaSourceFactory] })
}, 120_000)

afterAll(async () => {
  await db?.close()
  await producer?.disconnect()
  await fixture?.close()
})

async function send(topic: string, values: readonly (Buffer | string | null)[]): Promise<void> {
  await producer.send({ topic, messages: values.map((value) => ({ value, partition: 0 })) })
}

async function query(sql: string): Promise<Value[][]> {
  const results = await db.sql(sql)
  return (results[results.length - 1].rows ?? []).map((r) => [...r])
}

async function deadLetters(object: string): Promise<{ reason: string; detail: string }[]> {
  const rows = await query(`SELECT reason, detail FROM sluice_catalog.dead_letters WHERE object = '${object}'`)
  return rows.map(([reason, detail]) => ({ reason: reason as string, detail: detail as string }))
}

const v1 = {
  type: 'record',
  name: 'Bid',
  namespace: 'sluice.test',
  fields: [
    { name: 'auction', type: 'long' },
    { name: 'price', type: 'long' },
    { name: 'channel', type: 'string' },
  ],
}
const v2 = { ...v1, fields: [...v1.fields, { name: 'referrer', type: ['null', 'string'], default: null }] }

async function register(schema: object, subject: string): Promise<number> {
  return (await registry.register({ type: 'AVRO' as never, schema: JSON.stringify(schema) }, { subject })).id
}

describe('Avro with a schema registry', () => {
  it('counts good records across a schema change and dead-letters undecodable ones', async () => {
    const topic = uniqueTopic('avro_bids')
    await createTopic(topic, 1)
    const id1 = await register(v1, `${topic}-value`)
    await db.sql(`CREATE SOURCE avro_bids (auction BIGINT, price BIGINT, channel VARCHAR)
      WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', format = 'avro', schema.registry = '${fixture.url}')`)
    await db.sql(
      `CREATE MATERIALIZED VIEW avro_totals AS SELECT channel, count(*) AS n, sum(price) AS total FROM avro_bids GROUP BY channel`,
    )

    const good1 = await Promise.all(
      [1, 2, 3].map((i) => registry.encode(id1, { auction: i, price: 10 * i, channel: 'web' })),
    )
    await send(topic, [
      good1[0],
      Buffer.from([7, 0, 0, 0, id1, 2, 4]), // wrong magic byte
      good1[1],
      Buffer.concat([Buffer.from([0, 0, 0, 0x30, 0x39]), good1[0].subarray(5)]), // unknown id 12345
      good1[2].subarray(0, good1[2].length - 2), // truncated datum
      null, // a tombstone
    ])
    // The writer adds an optional field mid-stream: the reader's schema (the columns) resolves it away.
    const id2 = await register(v2, `${topic}-value`)
    expect(id2).not.toBe(id1)
    const good2 = await Promise.all(
      [4, 5].map((i) => registry.encode(id2, { auction: i, price: 10 * i, channel: 'app', referrer: 'r' })),
    )
    await send(topic, [good2[0], Buffer.from([0, 0]), good2[1]])
    await db.sql('FLUSH')
    // Good: two v1 records (the third is sent truncated) and two v2 records.
    expect(await query('SELECT channel, n, total::text FROM avro_totals ORDER BY channel')).toEqual([
      ['app', 2n, '90'],
      ['web', 2n, '30'],
    ])
    const letters = await deadLetters('avro_bids')
    expect(letters.map((l) => l.reason)).toEqual(Array(5).fill('decode_error'))
    expect(letters.map((l) => l.detail).join('\n')).toMatch(/wrong magic byte 7/)
    expect(letters.map((l) => l.detail).join('\n')).toMatch(/schema id 12345 is not registered/)
    expect(letters.map((l) => l.detail).join('\n')).toMatch(/truncated/)

    // An incompatible writer (a field's type changed) is refused by the registry; forced through
    // under compatibility NONE, its records are schema_mismatch dead letters, and the view goes on.
    const v3 = { ...v1, fields: v1.fields.map((f) => (f.name === 'price' ? { name: 'price', type: 'string' } : f)) }
    await expect(register(v3, `${topic}-value`)).rejects.toThrow(/incompatible/)
    await fetch(`${fixture.url}/config/${topic}-value`, {
      method: 'PUT',
      body: JSON.stringify({ compatibility: 'NONE' }),
    })
    const id3 = await register(v3, `${topic}-value`)
    await send(topic, [
      await registry.encode(id3, { auction: 6, price: 'sixty', channel: 'web' }),
      await registry.encode(id2, { auction: 7, price: 70, channel: 'web', referrer: null }),
    ])
    await db.sql('FLUSH')
    expect(await query('SELECT channel, n FROM avro_totals ORDER BY channel')).toEqual([
      ['app', 2n],
      ['web', 3n],
    ])
    const mismatch = (await deadLetters('avro_bids')).filter((l) => l.reason === 'schema_mismatch')
    expect(mismatch).toHaveLength(1)
    expect(mismatch[0].detail).toMatch(
      /field "price" has Avro type "string", which column "price" \(bigint\) cannot read/,
    )
  })

  it('picks up a column added to the reader without a restart (ALTER SOURCE ADD COLUMN)', async () => {
    const topic = uniqueTopic('avro_evolve')
    await createTopic(topic, 1)
    const id1 = await register(v1, `${topic}-value`)
    const id2 = await register(v2, `${topic}-value`)
    const columns: ColumnSchema[] = [
      { name: 'auction', type: T.int8 },
      { name: 'channel', type: T.text },
    ]
    const letters: DeadLetter[] = []
    // ALTER SOURCE ... ADD COLUMN reaches a running reader through addColumn.
    const reader: SourceReader & { addColumn?(column: ColumnSchema): void } = kafkaSourceFactory.create(
      columns,
      new Map(Object.entries({ topic, brokers, format: 'avro', 'schema.registry': fixture.url })),
      { name: 'evolve', deadLetter: (l) => letters.push(l), now: () => Date.now(), log: () => undefined },
    )
    const read = async (count: number): Promise<Value[][]> => {
      const rows: Value[][] = []
      const deadline = Date.now() + 20_000
      while (rows.length < count && Date.now() < deadline) {
        const chunk: Chunk | undefined = await reader.poll(100)
        if (chunk === undefined) await new Promise((r) => setTimeout(r, 20))
        else for (let i = 0; i < chunk.length; i++) rows.push(rowAt(chunk, i))
      }
      return rows
    }
    await reader.open()
    try {
      await send(topic, [
        await registry.encode(id1, { auction: 1, price: 1, channel: 'a' }),
        await registry.encode(id2, { auction: 2, price: 2, channel: 'b', referrer: 'x' }),
      ])
      expect(await read(2)).toEqual([
        [1n, 'a'],
        [2n, 'b'],
      ])
      expect('addColumn' in reader).toBe(true)
      reader.addColumn?.({ name: 'referrer', type: T.text })
      await send(topic, [
        await registry.encode(id2, { auction: 3, price: 3, channel: 'c', referrer: 'y' }),
        await registry.encode(id1, { auction: 4, price: 4, channel: 'd' }),
      ])
      expect(await read(2)).toEqual([
        [3n, 'c', 'y'],
        [4n, 'd', null],
      ])
      expect(letters).toEqual([])
    } finally {
      await reader.close()
    }
  })

  it('ALTER SOURCE ADD COLUMN fills the new column from the newer schema; a contradicting type is refused', async () => {
    const topic = uniqueTopic('avro_alter')
    await createTopic(topic, 1)
    const id1 = await register(v1, `${topic}-value`)
    await db.sql(`CREATE SOURCE avro_alter (auction BIGINT, channel VARCHAR)
      WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', format = 'avro', schema.registry = '${fixture.url}')`)
    await db.sql(`CREATE MATERIALIZED VIEW avro_alter_n AS SELECT count(*) AS n FROM avro_alter`)
    await send(topic, [await registry.encode(id1, { auction: 1, price: 1, channel: 'a' })])
    await db.sql('FLUSH')
    const id2 = await register(v2, `${topic}-value`)
    // The registry's latest schema has referrer as a string: a BIGINT column for it is refused.
    await expect(db.sql('ALTER SOURCE avro_alter ADD COLUMN referrer BIGINT')).rejects.toMatchObject({
      code: '42804',
      message: expect.stringContaining('field "referrer"'),
    })
    await db.sql('ALTER SOURCE avro_alter ADD COLUMN referrer VARCHAR')
    await db.sql(
      `CREATE MATERIALIZED VIEW avro_alter_ref AS SELECT referrer, count(*) AS n FROM avro_alter GROUP BY referrer`,
    )
    await send(topic, [
      await registry.encode(id2, { auction: 2, price: 2, channel: 'b', referrer: 'news' }),
      await registry.encode(id1, { auction: 3, price: 3, channel: 'c' }),
      await registry.encode(id2, { auction: 4, price: 4, channel: 'd', referrer: 'news' }),
    ])
    await db.sql('FLUSH')
    expect(await query('SELECT n FROM avro_alter_n')).toEqual([[4n]])
    expect(await query('SELECT referrer, n FROM avro_alter_ref ORDER BY referrer')).toEqual([
      ['news', 2n],
      [null, 1n],
    ])
    expect(await deadLetters('avro_alter')).toEqual([])
  })

  it('keeps BIGINT exact beyond 2^53 through the wire format', async () => {
    const topic = uniqueTopic('avro_big')
    await createTopic(topic, 1)
    const id = await register(v1, `${topic}-value`)
    await db.sql(`CREATE SOURCE avro_big (auction BIGINT, channel VARCHAR)
      WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', format = 'avro', schema.registry = '${fixture.url}')`)
    await db.sql(`CREATE MATERIALIZED VIEW avro_big_v AS SELECT auction, channel FROM avro_big`)
    const datum = avroType(v1).toBuffer({ auction: 9007199254740993n, price: 1n, channel: 'x' })
    await send(topic, [Buffer.concat([Buffer.from([0, 0, 0, 0, id]), datum])])
    await db.sql('FLUSH')
    expect(await query('SELECT auction::text, channel FROM avro_big_v')).toEqual([['9007199254740993', 'x']])
  })
})

describe('CSV', () => {
  it('counts good lines and dead-letters broken ones', async () => {
    const topic = uniqueTopic('csv_bids')
    await createTopic(topic, 1)
    await db.sql(`CREATE SOURCE csv_bids (auction BIGINT, price NUMERIC, channel VARCHAR)
      WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', format = 'csv', csv.delimiter = ';', csv.header = 'true')`)
    await db.sql(
      `CREATE MATERIALIZED VIEW csv_totals AS SELECT channel, count(*) AS n, sum(price) AS total FROM csv_bids GROUP BY channel`,
    )
    await send(topic, [
      'auction;price;channel',
      '1;1.50;web',
      '2;"2.50";"we""b"',
      '3;x;web', // not a number
      '4;1', // too few fields
      '5;1;"open', // unterminated quote
      '6;3;web',
    ])
    await db.sql('FLUSH')
    expect(await query('SELECT channel, n, total::text FROM csv_totals ORDER BY channel')).toEqual([
      ['we"b', 1n, '2.50'],
      ['web', 2n, '4.50'],
    ])
    expect((await deadLetters('csv_bids')).map((l) => l.reason)).toEqual(['type_error', 'decode_error', 'decode_error'])
  })
})

describe('JSON with JSONB', () => {
  it('stores a nested object in a JSONB column and reads it with ->> in a view', async () => {
    const topic = uniqueTopic('json_events')
    await createTopic(topic, 1)
    await db.sql(`CREATE SOURCE json_events (id BIGINT, payload JSONB)
      WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', format = 'json')`)
    await db.sql(`CREATE MATERIALIZED VIEW json_x AS
      SELECT payload->>'x' AS x, payload->'inner'->>'y' AS y, count(*) AS n FROM json_events GROUP BY 1, 2`)
    await send(topic, [
      JSON.stringify({ id: 1, payload: { x: 'a', inner: { y: 1 } } }),
      JSON.stringify({ id: 2, payload: { x: 'a', inner: { y: 1 } } }),
      JSON.stringify({ id: 3, payload: { x: 'b', inner: { y: [1, 2] } } }),
      '{"id": 4, "payload": ',
    ])
    await db.sql('FLUSH')
    expect(await query('SELECT x, y, n FROM json_x ORDER BY x')).toEqual([
      ['a', '1', 2n],
      ['b', '[1, 2]', 1n],
    ])
    expect((await deadLetters('json_events')).map((l) => l.reason)).toEqual(['decode_error'])
  })
})

describe('Debezium JSON into a PRIMARY KEY table', () => {
  it('applies c, r, u, d as inserts, updates and deletes; a view over the table retracts', async () => {
    const topic = uniqueTopic('dbz_users')
    await createTopic(topic, 1)
    await db.sql(`CREATE TABLE dbz_users (id BIGINT PRIMARY KEY, name VARCHAR, region VARCHAR)
      WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', format = 'debezium_json')`)
    await db.sql(`CREATE MATERIALIZED VIEW dbz_regions AS SELECT region, count(*) AS n FROM dbz_users GROUP BY region`)
    const ev = (op: string, before: object | null, after: object | null) =>
      JSON.stringify({ before, after, op, ts_ms: 1 })
    await send(topic, [
      ev('r', null, { id: 1, name: 'ann', region: 'eu' }),
      ev('r', null, { id: 2, name: 'bob', region: 'us' }),
      JSON.stringify({ schema: {}, payload: { before: null, after: { id: 3, name: 'cy', region: 'eu' }, op: 'c' } }),
      '{"before": null, "after": {"id": 9', // not JSON
      ev('u', { id: 1, name: 'ann', region: 'eu' }, { id: 1, name: 'ann', region: 'us' }),
      JSON.stringify({ after: { id: 8, name: 'x', region: 'eu' } }), // no op
      ev('d', { id: 2, name: null, region: null }, null),
      null, // the tombstone after a delete
      ev('x', null, { id: 7 }), // unknown op
      ev('u', null, { id: 3, name: 'cy', region: 'apac' }), // no before: still an upsert by key
      ev('c', null, null), // no after
      ev('d', { id: 42 }, null), // deleting a missing key is a no-op
    ])
    await db.sql('FLUSH')
    expect(await query('SELECT id, name, region FROM dbz_users ORDER BY id')).toEqual([
      [1n, 'ann', 'us'],
      [3n, 'cy', 'apac'],
    ])
    expect(await query('SELECT region, n FROM dbz_regions ORDER BY region')).toEqual([
      ['apac', 1n],
      ['us', 1n],
    ])
    expect((await deadLetters('dbz_users')).map((l) => l.reason)).toEqual(Array(4).fill('decode_error'))

    // A key changed twice in one batch applies in order; a replayed create is an upsert.
    await send(topic, [
      ev('c', null, { id: 5, name: 'eve', region: 'eu' }),
      ev('u', null, { id: 5, name: 'eve', region: 'us' }),
      ev('d', { id: 5 }, null),
      ev('c', null, { id: 5, name: 'eve', region: 'apac' }),
      ev('r', null, { id: 1, name: 'ann', region: 'us' }),
    ])
    await db.sql('FLUSH')
    expect(await query('SELECT region, n FROM dbz_regions ORDER BY region')).toEqual([
      ['apac', 2n],
      ['us', 1n],
    ])
  })

  it('refuses debezium_json on a source and a connector table without a key', async () => {
    await expect(
      db.sql(
        `CREATE SOURCE dbz_src (id BIGINT) WITH (connector = 'kafka', topic = 't', brokers = '${brokers}', format = 'debezium_json')`,
      ),
    ).rejects.toMatchObject({ code: '0A000' })
    await expect(
      db.sql(
        `CREATE TABLE dbz_nokey (id BIGINT) WITH (connector = 'kafka', topic = 't', brokers = '${brokers}', format = 'debezium_json')`,
      ),
    ).rejects.toMatchObject({ code: '0A000' })
    await expect(db.sql(`CREATE TABLE plain_opt (id BIGINT) WITH (colour = 'red')`)).rejects.toMatchObject({
      code: '22023',
    })
  })
})
