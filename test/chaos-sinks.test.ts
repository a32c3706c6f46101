/**
 * Exactly once end to end through kill -9 (ARCHITECTURE.md invariant 2, issue "exactly once
 * through crashes"): a Sluice server process consumes a real Kafka topic into a view and writes
 * it to a Kafka sink (exactly_once, upsert), every input row to a second Kafka sink
 * (exactly_once, append) and the view to a Redis sink, while a producer keeps writing. The
 * process is killed with SIGKILL at random moments, five times, and restarted on the same data
 * directory. At the end the view, both sink topics read with read_committed, and the Redis hashes
 * each equal what the produced events define, computed here independently: nothing missing,
 * nothing doubled.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { Kafka, logLevel } from 'kafkajs'
import { createClient } from 'redis'
import { createTopic, ensureTestKafka, produceJson, uniqueTopic } from './kafka.ts'
import { SluiceProcess } from './sluice-process.ts'
import { TempDirs, rng, sleep } from './support.ts'

const dirs = new TempDirs('sluice-chaos-')
const procs: SluiceProcess[] = []

afterAll(async () => {
  for (const p of procs) await p.kill()
  dirs.removeAll()
})

interface Expected {
  n: number
  s: number
}

/** Every record of `topic` a read_committed consumer sees, once the topic has been quiet for a while. */
async function readCommitted(
  brokers: string,
  topic: string,
  minRecords: number,
): Promise<{ key: string | null; value: string | null }[]> {
  const kafka = new Kafka({ clientId: 'chaos-check', brokers: [brokers], logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId: `chaos-check-${topic}-${Date.now()}`, readUncommitted: false })
  const out: { key: string | null; value: string | null }[] = []
  let last = Date.now()
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        out.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? null })
        last = Date.now()
      },
    })
    const deadline = Date.now() + 90_000
    // Quiet for 3 s after reaching the expected count (so duplicates would have shown up too).
    while (Date.now() < deadline && (out.length < minRecords || Date.now() - last < 3000)) await sleep(200)
  } finally {
    await consumer.disconnect()
  }
  return out
}

describe('exactly once through kill -9, with Kafka and Redis sinks', () => {
  let brokers: string
  beforeAll(async () => {
    brokers = await ensureTestKafka()
  }, 300_000)

  it('keeps the view, the sink topics and Redis exact through five SIGKILLs', async () => {
    const input = uniqueTopic('chaos_in')
    const upsertTopic = uniqueTopic('chaos_per_k')
    const appendTopic = uniqueTopic('chaos_rows')
    await createTopic(input, 3)
    const prefix = `chaos_${process.pid}_${Date.now().toString(36)}:`
    const dataDir = dirs.make()
    const sluice = await SluiceProcess.create(dataDir, ['--checkpoint-interval', '250'])
    procs.push(sluice)
    // What the server logged is what tells a failure here apart (a lost epoch, a crash loop).
    onTestFailed(() =>
      console.error(`sluice output (last 80 lines):\n${sluice.output.split('\n').slice(-80).join('\n')}`),
    )
    await sluice.start()
    await sluice.query(
      `CREATE SOURCE ev (id BIGINT, k INT, v BIGINT) WITH (connector = 'kafka', topic = '${input}', brokers = '${brokers}', format = 'json', startup = 'earliest')`,
    )
    await sluice.query(
      'CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n, sum(v)::bigint AS s FROM ev GROUP BY k',
    )
    await sluice.query(
      `CREATE SINK per_k_out FROM per_k WITH (connector = 'kafka', topic = '${upsertTopic}', brokers = '${brokers}', format = 'json', delivery = 'exactly_once')`,
    )
    await sluice.query(
      `CREATE SINK rows_out AS SELECT id, k, v FROM ev WITH (connector = 'kafka', topic = '${appendTopic}', brokers = '${brokers}', format = 'json', delivery = 'exactly_once')`,
    )
    await sluice.query(
      `CREATE SINK per_k_redis FROM per_k WITH (connector = 'redis', url = 'redis://127.0.0.1:6379', key_prefix = '${prefix}')`,
    )

    const expected = new Map<number, Expected>()
    const random = rng(2026)
    let id = 0
    let producing = true
    const producer = (async () => {
      while (producing) {
        const batch = Array.from({ length: 200 }, () => {
          const k = Math.floor(random() * 12)
          const v = Math.floor(random() * 1000)
          const e = expected.get(k) ?? { n: 0, s: 0 }
          e.n++
          e.s += v
          expected.set(k, e)
          return { id: id++, k, v }
        })
        await produceJson(input, batch)
        await sleep(30)
      }
    })()
    for (let crash = 0; crash < 5; crash++) {
      await sleep(700 + random() * 1500)
      await sluice.kill()
      await sluice.start()
    }
    producing = false
    await producer
    // Enough input to span the crashes (a loaded machine produces fewer batches meanwhile).
    expect(id).toBeGreaterThan(1000)

    // Everything produced is in the view; then wait until each sink committed a checkpoint taken after that.
    await sluice.query('FLUSH')
    const want = [...expected.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([k, e]) => ({ k, n: String(e.n), s: String(e.s) }))
    expect((await sluice.query('SELECT k, n, s FROM per_k ORDER BY k')).rows).toEqual(want)
    const epochNow = Number((await sluice.query('SELECT max(epoch) AS e FROM sluice_catalog.checkpoints')).rows[0].e)
    const deadline = Date.now() + 60_000
    for (;;) {
      const r = await sluice.query(
        "SELECT name, status, committed_epoch, pending_epochs FROM sluice_catalog.sinks WHERE name IN ('per_k_out', 'rows_out', 'per_k_redis')",
      )
      const done =
        r.rows.length === 3 &&
        r.rows.every(
          (s: { committed_epoch: string; pending_epochs: number }) =>
            Number(s.pending_epochs) === 0 && Number(s.committed_epoch) > 0,
        )
      const checkpointed =
        Number((await sluice.query('SELECT max(epoch) AS e FROM sluice_catalog.checkpoints')).rows[0].e) > epochNow + 1
      if (done && checkpointed) break
      if (Date.now() > deadline) throw new Error(`sinks did not catch up: ${JSON.stringify(r.rows)}`)
      await sleep(200)
    }
    expect(sluice.output).toMatch(/restored checkpoint \d+/)
    await sluice.stop()

    // The append sink: every input row exactly once.
    const rows = await readCommitted(brokers, appendTopic, id)
    const ids = rows.map((r) => Number((JSON.parse(r.value ?? '{}') as { id: number }).id)).sort((a, b) => a - b)
    expect(ids.length).toBe(id)
    expect(new Set(ids).size).toBe(id)

    // The upsert sink: the last value per key equals the view.
    const upserts = await readCommitted(brokers, upsertTopic, expected.size)
    const latest = new Map<string, string | null>()
    for (const r of upserts) latest.set(r.key ?? '', r.value)
    const fromTopic = [...latest.values()]
      .filter((v): v is string => v !== null)
      .map((v) => JSON.parse(v) as { k: number; n: number; s: number })
      .sort((a, b) => a.k - b.k)
      .map((r) => ({ k: r.k, n: String(r.n), s: String(r.s) }))
    expect(fromTopic).toEqual(want)

    // Redis: one hash per group, equal to the view.
    const redis = createClient({ url: 'redis://127.0.0.1:6379' })
    await redis.connect()
    try {
      const keys = (await redis.keys(`${prefix}*`)).filter((k) => !k.includes('progress')).sort()
      const hashes = await Promise.all(keys.map((k) => redis.hGetAll(k)))
      const fromRedis = hashes.map((h) => ({ k: Number(h.k), n: h.n, s: h.s })).sort((a, b) => a.k - b.k)
      expect(fromRedis).toEqual(want)
      if (keys.length > 0) await redis.del(keys)
    } finally {
      await redis.quit()
    }
  }, 300_000)
})
