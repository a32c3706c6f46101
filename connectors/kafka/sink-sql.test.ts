/**
 * CREATE SINK ... WITH (connector = 'kafka') end to end in an in-process Sluice, read back from
 * the real broker as a read_committed consumer:
 *
 * - a view with retractions (GROUP BY over a table with UPDATE and DELETE) in upsert mode: after
 *   each checkpoint's commit, the topic compacted per key (tombstone = absent) equals the view;
 * - an append-only sink (a filter over a Kafka source) writes each row exactly once;
 * - Avro through a schema registry (value and key schemas registered, records decoded with them);
 * - at_least_once; option errors (22023, 0A000) and an unreachable broker (58030) at CREATE;
 * - a commit that keeps failing leaves its epochs logged; after a restart they are committed once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry'
import type { SinkObject } from '../../engine/catalog/objects.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { Sluice } from '../../engine/index.ts'
import { createTopic, ensureTestKafka, produceJson, produceRaw, uniqueTopic } from '../../test/kafka.ts'
import { compacted, readTopic } from '../../test/kafka-read.ts'
import { startRegistryFixture, type RegistryFixture } from '../../test/registry-fixture.ts'
import { kafkaSourceFactory } from './index.ts'
import { kafkaSinkFactory } from './sink.ts'

let brokers: string
let fixture: RegistryFixture
const dbs: Sluice[] = []
const dirs: string[] = []

beforeAll(async () => {
  brokers = await ensureTestKafka()
  fixture = await startRegistryFixture()
}, 300_000)

afterAll(async () => {
  for (const db of dbs) await db.close().catch(() => {})
  await fixture?.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

async function open(dataDir = ':memory:'): Promise<Sluice> {
  const db = await Sluice.open({
    dataDir,
    sources: [kafkaSourceFactory],
    sinks: [kafkaSinkFactory],
    checkpointIntervalMs: 3_600_000,
  })
  dbs.push(db)
  return db
}

async function query(db: Sluice, sql: string): Promise<Value[][]> {
  const results = await db.sql(sql)
  return (results[results.length - 1].rows ?? []).map((r) => [...r])
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

function sinkObject(db: Sluice, name: string): SinkObject {
  const obj = db.engine.get(name)
  if (obj?.kind !== 'sink') throw new Error(`no sink ${name}`)
  return obj
}

/** Takes a checkpoint and waits until the sink committed everything logged so far. */
async function checkpointAndCommit(db: Sluice, sink: string): Promise<void> {
  await db.engine.checkpoints.checkpoint()
  const obj = sinkObject(db, sink)
  await waitFor(
    `sink ${sink} to commit (last error: ${obj.lastError})`,
    () => db.engine.checkpoints.pendingEpochs(obj.id) === 0 && obj.lastError === undefined,
  )
}

/** The view's rows as the JSON objects the sink writes (BIGINT as numbers). */
function asJson(columns: readonly string[], rows: readonly Value[][]): string[] {
  return rows
    .map((r) =>
      JSON.stringify(Object.fromEntries(columns.map((c, i) => [c, typeof r[i] === 'bigint' ? Number(r[i]) : r[i]]))),
    )
    .sort()
}

describe('kafka sink over SQL', () => {
  it('keeps an upsert topic equal to a retracting view, epoch after epoch', async () => {
    const db = await open()
    const topic = uniqueTopic('ksql_upsert')
    const sink = uniqueTopic('per_k_out')
    await db.sql('CREATE TABLE t (id BIGINT PRIMARY KEY, k TEXT, v BIGINT)')
    await db.sql("INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20), (3, 'a', 5), (4, NULL, 1)")
    await db.sql('CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n, sum(v)::bigint AS s FROM t GROUP BY k')
    await db.sql(
      `CREATE SINK ${sink} FROM per_k WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', format = 'json', delivery = 'exactly_once')`,
    )

    const check = async (): Promise<void> => {
      await db.sql('FLUSH')
      await checkpointAndCommit(db, sink)
      const topicState = compacted(await readTopic(brokers, topic))
      for (const [key, value] of topicState) {
        const k = (JSON.parse(key) as { k: unknown }).k
        expect((JSON.parse(value) as { k: unknown }).k).toEqual(k) // the key is the row's key columns
      }
      expect([...topicState.values()].sort()).toEqual(
        asJson(['k', 'n', 's'], await query(db, 'SELECT k, n, s FROM per_k')),
      )
    }
    await check()
    // Several changes to one key inside one epoch, a group that disappears (a tombstone), one that returns.
    await db.sql('UPDATE t SET v = v + 1 WHERE id = 1')
    await db.sql('UPDATE t SET v = v + 1 WHERE id = 1')
    await db.sql("DELETE FROM t WHERE k = 'b'")
    await db.sql("INSERT INTO t VALUES (5, 'c', 7)")
    await check()
    await db.sql("INSERT INTO t VALUES (6, 'b', 1)")
    await db.sql("UPDATE t SET k = 'c' WHERE id = 3")
    await db.sql('DELETE FROM t WHERE k IS NULL')
    await check()
    expect(compacted(await readTopic(brokers, topic)).has('{"k":null}')).toBe(false)
  }, 120_000)

  it('writes each row of an append-only filter over a Kafka source exactly once', async () => {
    const db = await open()
    const src = uniqueTopic('ksql_bids')
    const out = uniqueTopic('ksql_big_bids')
    await createTopic(src, 2)
    await db.sql(
      `CREATE SOURCE bids (auction BIGINT, price BIGINT, channel VARCHAR) WITH (connector = 'kafka', topic = '${src}', brokers = '${brokers}', format = 'json')`,
    )
    const sink = uniqueTopic('big')
    await db.sql(
      `CREATE SINK ${sink} AS SELECT * FROM bids WHERE price > 1000 WITH (connector = 'kafka', topic = '${out}', brokers = '${brokers}', format = 'json', delivery = 'exactly_once')`,
    )
    const bids = Array.from({ length: 200 }, (_v, i) => ({ auction: i, price: (i * 37) % 2000, channel: `c${i % 3}` }))
    await produceJson(src, bids.slice(0, 120))
    await db.sql('FLUSH')
    await checkpointAndCommit(db, sink)
    await produceJson(src, bids.slice(120))
    await db.sql('FLUSH')
    await checkpointAndCommit(db, sink)
    const written = (await readTopic(brokers, out)).map((r) => r.value?.toString('utf8') ?? 'null')
    expect(written.sort()).toEqual(
      bids
        .filter((b) => b.price > 1000)
        .map((b) => JSON.stringify(b))
        .sort(),
    )
  }, 120_000)

  it('writes Avro records in the Confluent wire format, keyed, with schemas in the registry', async () => {
    const db = await open()
    const topic = uniqueTopic('ksql_avro')
    await db.sql('CREATE TABLE t (id BIGINT PRIMARY KEY, k TEXT, v BIGINT, at TIMESTAMP)')
    await db.sql("INSERT INTO t VALUES (1, 'a', 10, '2024-01-01 10:00:00'), (2, 'b', 20, '2024-01-01 11:00:00.5')")
    await db.sql('CREATE MATERIALIZED VIEW latest AS SELECT k, max(at) AS at, sum(v)::bigint AS s FROM t GROUP BY k')
    const sink = uniqueTopic('av')
    await db.sql(
      `CREATE SINK ${sink} FROM latest WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', format = 'avro', schema.registry = '${fixture.url}')`,
    )
    await db.sql('UPDATE t SET v = 11 WHERE id = 1')
    await db.sql('DELETE FROM t WHERE id = 2')
    await checkpointAndCommit(db, sink)
    const registry = new SchemaRegistry({ host: fixture.url })
    const state = new Map<string, unknown>()
    for (const r of await readTopic(brokers, topic)) {
      expect(r.key?.[0]).toBe(0) // magic byte
      const key = JSON.stringify(await registry.decode(r.key!))
      if (r.value === null) state.delete(key)
      else state.set(key, await registry.decode(r.value))
    }
    expect([...state]).toEqual([['{"k":"a"}', { k: 'a', at: Date.UTC(2024, 0, 1, 10) * 1000, s: 11 }]])
    const subjects = (await (await fetch(`${fixture.url}/subjects`)).json()) as string[]
    expect(subjects).toEqual(expect.arrayContaining([`${topic}-value`, `${topic}-key`]))
  }, 120_000)

  it('writes at least once without transactions', async () => {
    const db = await open()
    const topic = uniqueTopic('ksql_alo')
    await db.sql('CREATE TABLE t (id BIGINT, label TEXT) APPEND ONLY')
    const sink = uniqueTopic('alo')
    await db.sql(
      `CREATE SINK ${sink} FROM t WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', delivery = 'at_least_once', key = 'id')`,
    )
    await db.sql("INSERT INTO t VALUES (1, 'x'), (2, 'y')")
    await checkpointAndCommit(db, sink)
    const records = await readTopic(brokers, topic)
    expect(records.map((r) => [r.key?.toString(), r.value?.toString()]).sort()).toEqual([
      ['{"id":1}', '{"id":1,"label":"x"}'],
      ['{"id":2}', '{"id":2,"label":"y"}'],
    ])
  }, 120_000)

  it('refuses bad options (22023), a retracting input in append mode (0A000), an unreachable broker (58030) and an incompatible schema (42804)', async () => {
    const db = await open()
    await db.sql('CREATE TABLE t (id BIGINT PRIMARY KEY, k TEXT)')
    await db.sql('CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n FROM t GROUP BY k')
    const base = `connector = 'kafka', topic = 'x', brokers = '${brokers}'`
    await expect(db.sql(`CREATE SINK s FROM per_k WITH (${base}, colour = 'red')`)).rejects.toMatchObject({
      code: '22023',
    })
    await expect(db.sql(`CREATE SINK s FROM per_k WITH (${base}, format = 'xml')`)).rejects.toMatchObject({
      code: '22023',
    })
    await expect(db.sql(`CREATE SINK s FROM per_k WITH (${base}, delivery = 'twice')`)).rejects.toMatchObject({
      code: '22023',
    })
    await expect(db.sql(`CREATE SINK s FROM per_k WITH (${base}, format = 'avro')`)).rejects.toMatchObject({
      code: '22023',
    })
    await expect(db.sql(`CREATE SINK s FROM per_k WITH (${base}, mode = 'append')`)).rejects.toMatchObject({
      code: '0A000',
      hint: expect.stringContaining('upsert'),
    })
    await expect(db.sql(`CREATE SINK s AS SELECT count(*) AS n FROM t WITH (${base})`)).rejects.toMatchObject({
      code: '0A000',
      hint: expect.stringContaining('key'),
    })
    await expect(
      db.sql("CREATE SINK s FROM per_k WITH (connector = 'kafka', topic = 'x', brokers = '127.0.0.1:1')"),
    ).rejects.toMatchObject({ code: '58030' })
    // A subject whose latest schema the sink's cannot read back (BACKWARD): the registry says 409.
    const taken = uniqueTopic('ksql_taken')
    await new SchemaRegistry({ host: fixture.url }).register(
      {
        type: SchemaType.AVRO,
        schema: JSON.stringify({ type: 'record', name: 'old', fields: [{ name: 'k', type: 'boolean' }] }),
      },
      { subject: `${taken}-value` },
    )
    await expect(
      db.sql(
        `CREATE SINK s FROM per_k WITH (connector = 'kafka', topic = '${taken}', brokers = '${brokers}', format = 'avro', schema.registry = '${fixture.url}')`,
      ),
    ).rejects.toMatchObject({ code: '42804' })
    expect(await query(db, 'SHOW SINKS')).toEqual([])
  }, 120_000)

  it('numbers the epochs of a sink created again under its name above the progress Kafka has for it', async () => {
    // A fresh engine (its epochs start at 1) creates a sink whose identity already committed
    // epochs: CREATE reads that progress first, so the new epochs are not mistaken for old ones.
    const topic = uniqueTopic('ksql_again')
    const sink = uniqueTopic('again')
    const ddl = `CREATE SINK ${sink} AS SELECT * FROM t WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}')`
    const first = await open()
    await first.sql('CREATE TABLE t (id BIGINT, label TEXT) APPEND ONLY')
    await first.sql(ddl)
    for (const id of [1, 2, 3]) {
      await first.sql(`INSERT INTO t VALUES (${id}, 'first')`)
      await checkpointAndCommit(first, sink)
    }
    const progress = sinkObject(first, sink).committedEpoch
    expect(progress).toBeGreaterThanOrEqual(3)
    await first.close()
    const second = await open()
    await second.sql('CREATE TABLE t (id BIGINT, label TEXT) APPEND ONLY')
    await second.sql(ddl)
    await second.sql("INSERT INTO t VALUES (4, 'second')")
    await checkpointAndCommit(second, sink)
    expect(sinkObject(second, sink).committedEpoch).toBeGreaterThan(progress)
    const labels = (await readTopic(brokers, topic)).map((r) => r.value?.toString())
    expect(labels).toEqual([
      '{"id":1,"label":"first"}',
      '{"id":2,"label":"first"}',
      '{"id":3,"label":"first"}',
      '{"id":4,"label":"second"}',
    ])
  }, 120_000)

  it('commits epochs logged while Kafka was unreachable after a restart, exactly once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-kafka-sink-'))
    dirs.push(dataDir)
    const topic = uniqueTopic('ksql_restart')
    const sink = uniqueTopic('restart')
    let db = await open(dataDir)
    await db.sql('CREATE TABLE t (id BIGINT, label TEXT) APPEND ONLY')
    await db.sql("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    await db.sql(
      `CREATE SINK ${sink} AS SELECT * FROM t WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}')`,
    )
    await checkpointAndCommit(db, sink)
    // The writer loses Kafka: commits reject, their epochs stay logged and pending, the sink is unhealthy.
    await sinkObject(db, sink).writer.close()
    await db.sql("INSERT INTO t VALUES (3, 'c'), (4, 'd')")
    await db.engine.checkpoints.checkpoint()
    await waitFor(
      'the sink to be unhealthy',
      async () =>
        (await query(db, `SELECT status, pending_epochs FROM sluice_catalog.sinks WHERE name = '${sink}'`))[0]?.[0] ===
        'unhealthy',
    )
    expect(await query(db, `SELECT pending_epochs FROM sluice_catalog.sinks WHERE name = '${sink}'`)).toEqual([[1]])
    await db.sql("INSERT INTO t VALUES (5, 'e')")
    await db.close() // its last checkpoint logs epoch with row 5; that commit fails too
    const ids = async (): Promise<number[]> =>
      (await readTopic(brokers, topic)).map((r) => (JSON.parse(r.value!.toString()) as { id: number }).id)
    expect(await ids()).toEqual([1, 2])

    db = await open(dataDir)
    const obj = sinkObject(db, sink)
    await waitFor(
      'the logged epochs to commit',
      () => db.engine.checkpoints.pendingEpochs(obj.id) === 0 && obj.lastError === undefined,
    )
    expect(await ids()).toEqual([1, 2, 3, 4, 5])
    await db.sql("INSERT INTO t VALUES (6, 'f')")
    await checkpointAndCommit(db, sink)
    expect(await ids()).toEqual([1, 2, 3, 4, 5, 6])
  }, 120_000)
})

describe("a source's dead-letter topic", () => {
  it('gets the rejects of a source restored without checkpoint state, past the progress its name has', async () => {
    // The topic's transactional progress outlives a data directory: a source created again under
    // its name numbers its epochs above it (CREATE), and so must one restored after a crash that
    // came before any checkpoint had it.
    const input = uniqueTopic('dl_restore_in')
    const dlq = uniqueTopic('dl_restore_out')
    const source = uniqueTopic('dl_restore')
    await createTopic(input, 1)
    const ddl = [
      `CREATE SOURCE ${source} (v BIGINT) WITH (connector = 'kafka', topic = '${input}', brokers = '${brokers}', dead_letter = '${dlq}')`,
      `CREATE MATERIALIZED VIEW ${source}_n AS SELECT count(*) AS n FROM ${source}`,
    ]
    const lettered = async (db: Sluice, marker: string): Promise<boolean> => {
      await db.engine.checkpoints.checkpoint()
      const letters = await readTopic(brokers, dlq).catch(() => [])
      return letters.some((r) => r.value?.toString().includes(marker) === true)
    }
    const tempDir = (): string => {
      const d = mkdtempSync(join(tmpdir(), 'sluice-kafka-dl-'))
      dirs.push(d)
      return d
    }
    const first = await open(tempDir())
    for (const sql of ddl) await first.sql(sql)
    for (const bad of ['bad-1', 'bad-2', 'bad-3']) {
      await produceRaw(input, [bad])
      await waitFor(`the reject ${bad}`, () => lettered(first, bad))
    }
    await first.close()
    // A new data directory: CREATE SOURCE skips past that progress, then a crash before any
    // checkpoint (the ones its statements take are suppressed).
    const dir = tempDir()
    let second = await open(dir)
    second.engine.checkpoints.checkpoint = () => Promise.resolve(undefined)
    for (const sql of ddl) await second.sql(sql)
    await second.close({ lastCheckpoint: false })
    second = await open(dir)
    await produceRaw(input, ['bad-4'])
    await waitFor('the reject after the restore', () => lettered(second, 'bad-4'))
  }, 120_000)
})
