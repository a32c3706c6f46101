/**
 * Exactly once through kill -9 (ARCHITECTURE.md invariant 2) for views: a Sluice server process
 * is killed with SIGKILL at random moments while it applies table writes and reads a Kafka topic,
 * restarted on the same data directory each time, and at the end every view equals what the
 * uninterrupted input defines: nothing lost, nothing doubled. The restarts resume from
 * checkpoints (the log says which epoch), not from a replay of everything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopic, ensureTestKafka, produceJson, uniqueTopic } from './kafka.ts'
import { SluiceProcess } from './sluice-process.ts'
import { TempDirs, rng, sleep } from './support.ts'

const dirs = new TempDirs('sluice-crash-')
const procs: SluiceProcess[] = []

afterAll(async () => {
  for (const p of procs) await p.kill()
  dirs.removeAll()
})

function sorted(rows: readonly Record<string, unknown>[]): string[] {
  return rows.map((r) => JSON.stringify(r)).sort()
}

describe('crash recovery', () => {
  let brokers: string
  beforeAll(async () => {
    brokers = await ensureTestKafka()
  }, 300_000)

  it('keeps views over tables exact through kill -9 during writes', async () => {
    const sluice = await SluiceProcess.create(dirs.make(), ['--checkpoint-interval', '200'])
    procs.push(sluice)
    await sluice.start()
    await sluice.query('CREATE TABLE t (id BIGINT PRIMARY KEY, k INT, v BIGINT)')
    await sluice.query('CREATE TABLE dim (k INT PRIMARY KEY, name TEXT)')
    await sluice.query('CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n, sum(v) AS s FROM t GROUP BY k')
    await sluice.query('CREATE MATERIALIZED VIEW named AS SELECT t.id, t.v, dim.name FROM t JOIN dim ON t.k = dim.k')
    await sluice.query("INSERT INTO dim VALUES (0, 'zero'), (1, 'one'), (2, 'two'), (3, 'three')")
    const random = rng(42)
    let nextId = 1
    for (let crash = 0; crash < 5; crash++) {
      // Writers run until the kill; a statement cut off by it may or may not have applied, the
      // table says which, and the views must agree with the table either way.
      let stop = false
      const writer = (async () => {
        const c = await sluice.client()
        try {
          while (!stop) {
            const r = random()
            if (r < 0.6) {
              const rows = Array.from(
                { length: 1 + Math.floor(random() * 20) },
                () => `(${nextId++}, ${Math.floor(random() * 6)}, ${Math.floor(random() * 1000)})`,
              )
              await c.query(`INSERT INTO t VALUES ${rows.join(', ')}`)
            } else if (r < 0.8) {
              await c.query(`UPDATE t SET v = v + 1 WHERE id % 7 = ${Math.floor(random() * 7)}`)
            } else if (r < 0.95) {
              await c.query(`DELETE FROM t WHERE id % 13 = ${Math.floor(random() * 13)}`)
            } else {
              await c.query(
                `UPDATE dim SET name = 'n${Math.floor(random() * 100)}' WHERE k = ${Math.floor(random() * 4)}`,
              )
            }
          }
        } catch {
          // the connection died with the process
        } finally {
          await c.end().catch(() => {})
        }
      })()
      await sleep(300 + random() * 900)
      await sluice.kill()
      stop = true
      await writer
      await sluice.start()
      await sluice.query('FLUSH')
      const perK = await sluice.query('SELECT k, n, s FROM per_k')
      const oracle = await sluice.query('SELECT k, count(*) AS n, sum(v) AS s FROM t GROUP BY k')
      expect(sorted(perK.rows)).toEqual(sorted(oracle.rows))
      const named = await sluice.query('SELECT id, v, name FROM named')
      const joined = await sluice.query('SELECT t.id, t.v, dim.name FROM t JOIN dim ON t.k = dim.k')
      expect(sorted(named.rows)).toEqual(sorted(joined.rows))
    }
    expect(sluice.output).toMatch(/restored checkpoint \d+/)
    await sluice.stop()
  }, 180_000)

  it('counts every Kafka record once through kill -9 while consuming', async () => {
    const topic = uniqueTopic('crash')
    await createTopic(topic, 3)
    const sluice = await SluiceProcess.create(dirs.make(), ['--checkpoint-interval', '200'])
    procs.push(sluice)
    await sluice.start()
    await sluice.query(
      `CREATE SOURCE ev (id BIGINT, k INT, v BIGINT) WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', format = 'json', startup = 'earliest')`,
    )
    await sluice.query(
      'CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n, sum(v) AS s, count(DISTINCT id) AS ids FROM ev GROUP BY k',
    )
    const expected = new Map<number, { n: number; s: number }>()
    const random = rng(7)
    let id = 0
    let producing = true
    const producer = (async () => {
      while (producing) {
        const batch = Array.from({ length: 500 }, () => {
          const k = Math.floor(random() * 10)
          const v = Math.floor(random() * 100)
          const e = expected.get(k) ?? { n: 0, s: 0 }
          e.n++
          e.s += v
          expected.set(k, e)
          return { id: id++, k, v }
        })
        await produceJson(topic, batch)
        await sleep(20)
      }
    })()
    for (let crash = 0; crash < 5; crash++) {
      await sleep(400 + random() * 800)
      await sluice.kill()
      await sluice.start()
    }
    producing = false
    await producer
    await sluice.query('FLUSH')
    const got = await sluice.query('SELECT k, n, s, ids FROM per_k ORDER BY k')
    const want = [...expected.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([k, e]) => ({ k, n: String(e.n), s: String(e.s), ids: String(e.n) }))
    expect(got.rows).toEqual(want)
    expect(id).toBeGreaterThan(2000)
    expect(sluice.output).toMatch(/restored checkpoint \d+/)
    await sluice.stop()
  }, 180_000)
})
