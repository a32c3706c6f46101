/**
 * The Kafka sink through real `sluice` server processes restarted on the same data directory
 * (ARCHITECTURE.md invariant 2 for a transactional sink), read back read_committed:
 *
 * 1. A durable epoch whose commit failed: the sink's producer is fenced (a stray producer with
 *    its transactional id, which also leaves a half-done transaction holding copies of the rows),
 *    then the server stops; its last checkpoint logs the epoch, whose commit fails. The restarted
 *    server commits the logged epoch from its bytes: every row once, the stray copies never.
 * 2. kill -9 at random moments while tables are written, three times: an append-only sink and an
 *    upsert sink over a retracting view end equal to their queries over the tables.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kafka, logLevel, type Producer } from 'kafkajs'
import { ensureTestKafka, uniqueTopic } from './kafka.ts'
import { compacted, readTopic } from './kafka-read.ts'
import { SluiceProcess } from './sluice-process.ts'
import { TempDirs, rng, sleep } from './support.ts'

const dirs = new TempDirs('sluice-ksink-')
const procs: SluiceProcess[] = []
const producers: Producer[] = []

afterAll(async () => {
  for (const p of procs) await p.kill()
  for (const p of producers) await p.disconnect().catch(() => {})
  dirs.removeAll()
})

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/** Waits until a checkpoint taken after now has committed every sink's epochs. */
async function settled(sluice: SluiceProcess): Promise<void> {
  await sluice.query('FLUSH')
  const { rows } = await sluice.query('SELECT coalesce(max(epoch), 0) AS e FROM sluice_catalog.checkpoints')
  const after = Number(rows[0].e)
  await waitFor(
    'a later checkpoint',
    async () =>
      Number((await sluice.query('SELECT coalesce(max(epoch), 0) AS e FROM sluice_catalog.checkpoints')).rows[0].e) >
      after,
  )
  await waitFor('the sinks to commit', async () => {
    const sinks = await sluice.query('SELECT status, pending_epochs FROM sluice_catalog.sinks')
    return sinks.rows.every((r) => r.status === 'running' && Number(r.pending_epochs) === 0)
  })
}

describe('kafka sink across server restarts', () => {
  let brokers: string
  beforeAll(async () => {
    brokers = await ensureTestKafka()
  }, 300_000)

  it('commits an epoch logged before a stop whose commit failed, once, after the restart', async () => {
    const topic = uniqueTopic('ksink_proc')
    const sink = uniqueTopic('proc')
    const sluice = await SluiceProcess.create(dirs.make(), ['--checkpoint-interval', '3600000'])
    procs.push(sluice)
    await sluice.start()
    await sluice.query('CREATE TABLE t (id BIGINT, label TEXT) APPEND ONLY')
    await sluice.query("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    await sluice.query(
      `CREATE SINK ${sink} AS SELECT * FROM t WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}')`,
    )
    await waitFor('the first epoch', async () => (await readTopic(brokers, topic)).length === 2)

    await sluice.query("INSERT INTO t VALUES (3, 'c'), (4, 'd')")
    // A stray producer takes the sink's transactional id (fencing the server's producer) and
    // leaves a transaction open holding copies of the new rows.
    const kafka = new Kafka({ clientId: 'stray', brokers: [brokers], logLevel: logLevel.NOTHING })
    const stray = kafka.producer({ transactionalId: `sluice-sink:${sink}:${topic}`, maxInFlightRequests: 1 })
    producers.push(stray)
    await stray.connect()
    const tx = await stray.transaction()
    await tx.send({ topic, messages: [3, 4].map((id) => ({ value: JSON.stringify({ id, label: 'stray' }) })) })
    // The clean stop takes a last checkpoint (the new rows are now logged in it); its commit is fenced.
    await sluice.stop()
    expect(sluice.output).toMatch(/commit of epoch \d+ failed/)

    await sluice.start()
    await waitFor('the logged epoch', async () => (await readTopic(brokers, topic)).length >= 4)
    await waitFor('the sink to commit', async () => {
      const { rows } = await sluice.query('SELECT status, pending_epochs FROM sluice_catalog.sinks')
      return rows[0]?.status === 'running' && Number(rows[0]?.pending_epochs) === 0
    })
    const rows = (await readTopic(brokers, topic)).map((r) => r.value?.toString())
    expect(rows).toEqual([
      '{"id":1,"label":"a"}',
      '{"id":2,"label":"b"}',
      '{"id":3,"label":"c"}',
      '{"id":4,"label":"d"}',
    ])
    // The stray copies are in the log (aborted by the restarted server's producer): only a
    // read_uncommitted reader sees them.
    const all = (await readTopic(brokers, topic, { readUncommitted: true })).map((r) => r.value?.toString())
    expect(all.filter((v) => v?.includes('stray'))).toHaveLength(2)
    await sluice.stop()
  }, 180_000)

  it('ends equal to the tables after kill -9 at random moments, for an append and an upsert sink', async () => {
    const appendTopic = uniqueTopic('ksink_kill_app')
    const upsertTopic = uniqueTopic('ksink_kill_ups')
    const sluice = await SluiceProcess.create(dirs.make(), ['--checkpoint-interval', '200'])
    procs.push(sluice)
    await sluice.start()
    await sluice.query('CREATE TABLE e (id BIGINT, v BIGINT) APPEND ONLY')
    await sluice.query('CREATE TABLE t (id BIGINT PRIMARY KEY, k INT, v BIGINT)')
    await sluice.query(
      'CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n, sum(v)::bigint AS s FROM t GROUP BY k',
    )
    await sluice.query(
      `CREATE SINK ${uniqueTopic('app')} AS SELECT id, v FROM e WHERE v % 2 = 0 WITH (connector = 'kafka', topic = '${appendTopic}', brokers = '${brokers}')`,
    )
    await sluice.query(
      `CREATE SINK ${uniqueTopic('ups')} FROM per_k WITH (connector = 'kafka', topic = '${upsertTopic}', brokers = '${brokers}')`,
    )
    const random = rng(11)
    let nextE = 1
    let nextT = 1
    for (let crash = 0; crash < 3; crash++) {
      let stop = false
      const writer = (async () => {
        const c = await sluice.client()
        try {
          while (!stop) {
            const r = random()
            if (r < 0.4) {
              const rows = Array.from(
                { length: 1 + Math.floor(random() * 20) },
                () => `(${nextE++}, ${Math.floor(random() * 100)})`,
              )
              await c.query(`INSERT INTO e VALUES ${rows.join(', ')}`)
            } else if (r < 0.7) {
              const rows = Array.from(
                { length: 1 + Math.floor(random() * 10) },
                () => `(${nextT++}, ${Math.floor(random() * 8)}, ${Math.floor(random() * 1000)})`,
              )
              await c.query(`INSERT INTO t VALUES ${rows.join(', ')}`)
            } else if (r < 0.9) {
              await c.query(`UPDATE t SET v = v + 1, k = (k + 1) % 8 WHERE id % 5 = ${Math.floor(random() * 5)}`)
            } else {
              await c.query(`DELETE FROM t WHERE id % 11 = ${Math.floor(random() * 11)}`)
            }
          }
        } catch {
          // the connection died with the process
        } finally {
          await c.end().catch(() => {})
        }
      })()
      await sleep(400 + random() * 1200)
      await sluice.kill()
      stop = true
      await writer
      await sluice.start()
    }
    await settled(sluice)

    const appended = (await readTopic(brokers, appendTopic)).map((r) => r.value?.toString() ?? 'null').sort()
    const wantAppended = (await sluice.query('SELECT id, v FROM e WHERE v % 2 = 0')).rows
      .map((r) => JSON.stringify({ id: Number(r.id), v: Number(r.v) }))
      .sort()
    expect(appended).toEqual(wantAppended)
    expect(new Set(appended).size).toBe(appended.length) // nothing doubled

    const upserted = [...compacted(await readTopic(brokers, upsertTopic)).values()].sort()
    const wantUpserted = (await sluice.query('SELECT k, count(*) AS n, sum(v)::bigint AS s FROM t GROUP BY k')).rows
      .map((r) => JSON.stringify({ k: r.k, n: Number(r.n), s: Number(r.s) }))
      .sort()
    expect(upserted).toEqual(wantUpserted)
    expect(sluice.output).toMatch(/restored checkpoint \d+/)
    await sluice.stop()
  }, 240_000)
})
