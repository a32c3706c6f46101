/**
 * Dead letters exactly once through kill -9 (issue 15: "a crash replay never writes a reject
 * twice"): a Sluice server process reads one Kafka topic with malformed records and late rows mixed
 * in, through two sources: one routes its rejects to a table (`dead_letter = 'rejects'`), the other
 * to a Kafka topic. Each source has a windowed view, whose late rows go to the same destination.
 * The process is killed with SIGKILL at random moments, five times, while a producer keeps
 * writing, and restarted on the same data directory. At the end every reject is in the table once
 * and in the topic (read with read_committed) once: decode errors by topic/partition/offset, late
 * rows by their id; nothing missing, nothing doubled.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { createTopic, ensureTestKafka, produceRaw, uniqueTopic } from './kafka.ts'
import { readTopic } from './kafka-read.ts'
import { SluiceProcess } from './sluice-process.ts'
import { TempDirs, rng, sleep } from './support.ts'

const dirs = new TempDirs('sluice-chaos-dl-')
const procs: SluiceProcess[] = []

afterAll(async () => {
  for (const p of procs) await p.kill()
  dirs.removeAll()
})

/** How many times each identity occurs. */
function counts(ids: readonly string[]): Map<string, number> {
  const out = new Map<string, number>()
  for (const id of ids) out.set(id, (out.get(id) ?? 0) + 1)
  return out
}

/** The identities seen more than once, for a readable failure. */
function doubled(ids: readonly string[]): string[] {
  return [...counts(ids)].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`)
}

describe('dead letters exactly once through kill -9, to a table and to a Kafka topic', () => {
  let brokers: string
  beforeAll(async () => {
    brokers = await ensureTestKafka()
  }, 300_000)

  it('has every reject once in the table and once in the topic after five SIGKILLs', async () => {
    const input = uniqueTopic('chaos_dl_in')
    const dlq = uniqueTopic('chaos_dl_out')
    await createTopic(input, 3)
    const dataDir = dirs.make()
    const sluice = await SluiceProcess.create(dataDir, ['--checkpoint-interval', '250'])
    procs.push(sluice)
    onTestFailed(() =>
      console.error(`sluice output (last 80 lines):\n${sluice.output.split('\n').slice(-80).join('\n')}`),
    )
    await sluice.start()
    const cols = "(id BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1 hour')"
    const kafka = `connector = 'kafka', topic = '${input}', brokers = '${brokers}', format = 'json', startup = 'earliest'`
    await sluice.query(
      'CREATE TABLE rejects (object VARCHAR, reason VARCHAR, detail VARCHAR, payload VARCHAR, received_at TIMESTAMPTZ, origin VARCHAR) APPEND ONLY',
    )
    await sluice.query(`CREATE SOURCE to_table ${cols} WITH (${kafka}, dead_letter = 'rejects')`)
    await sluice.query(`CREATE SOURCE to_topic ${cols} WITH (${kafka}, dead_letter = '${dlq}')`)
    const perMinute = (source: string): string =>
      `SELECT window_start, count(*) AS n FROM TUMBLE(${source}, ts, INTERVAL '1 minute') GROUP BY window_start`
    await sluice.query(`CREATE MATERIALIZED VIEW table_windows AS ${perMinute('to_table')}`)
    await sluice.query(`CREATE MATERIALIZED VIEW topic_windows AS ${perMinute('to_topic')}`)

    // Good rows' event time rises slowly (never late under the 1 hour delay); a late row is from
    // 2000, behind the watermark once the first batch is in; a malformed record is cut-off JSON.
    const random = rng(1515)
    let id = 0
    let malformed = 0
    const lateIds: number[] = []
    const at = (n: number): string =>
      new Date(Date.UTC(2024, 0, 1, 10) + n * 100).toISOString().replace('T', ' ').replace('Z', '')
    const batch = (withBad: boolean): string[] =>
      Array.from({ length: 150 }, () => {
        const n = id++
        const r = random()
        if (withBad && r < 0.08) {
          malformed++
          return `{"id": ${n}, "ts": "${at(n)}"`
        }
        if (withBad && r < 0.12) {
          lateIds.push(n)
          return JSON.stringify({ id: n, ts: '2000-01-01 00:00:00' })
        }
        return JSON.stringify({ id: n, ts: at(n) })
      })
    await produceRaw(input, batch(false))
    await sluice.query('FLUSH')

    let producing = true
    const producer = (async () => {
      while (producing) {
        await produceRaw(input, batch(true))
        await sleep(40)
      }
    })()
    for (let crash = 0; crash < 5; crash++) {
      await sleep(800 + random() * 1500)
      await sluice.kill()
      await sluice.start()
    }
    producing = false
    await producer
    expect(malformed).toBeGreaterThan(50)
    expect(lateIds.length).toBeGreaterThan(20)

    // FLUSH: every record applied, and the rejects committed to both destinations.
    await sluice.query('FLUSH')
    expect(sluice.output).toMatch(/restored checkpoint \d+/)

    // The table: each reject once, by origin (decode errors) or by row id (late rows).
    const rows = (await sluice.query('SELECT object, reason, payload, origin FROM rejects')).rows as {
      object: string
      reason: string
      payload: string
      origin: string | null
    }[]
    const tableDecode = rows.filter((r) => r.reason === 'decode_error').map((r) => r.origin ?? '')
    const tableLate = rows
      .filter((r) => r.reason === 'late')
      .map((r) => `${r.object} ${String((JSON.parse(r.payload) as unknown[])[0])}`)
    expect(doubled(tableDecode)).toEqual([])
    expect(doubled(tableLate)).toEqual([])
    expect(tableDecode).toHaveLength(malformed)
    expect(tableDecode.every((o) => new RegExp(`^topic=${input} partition=\\d offset=\\d+$`).test(o))).toBe(true)
    expect(tableLate.sort()).toEqual(lateIds.map((n) => `table_windows ${n}`).sort())
    expect(rows.filter((r) => r.reason !== 'decode_error' && r.reason !== 'late')).toEqual([])
    await sluice.stop()

    // The topic, read_committed: the same rejects once each, the source's by partition/offset.
    const records = (await readTopic(brokers, dlq)).map(
      (r) => JSON.parse(r.value?.toString() ?? 'null') as Record<string, unknown>,
    )
    const topicDecode = records
      .filter((r) => r.reason === 'decode_error')
      .map((r) => `topic=${String(r.topic)} partition=${String(r.partition)} offset=${String(r.offset)}`)
    const topicLate = records
      .filter((r) => r.reason === 'late')
      .map((r) => `${String(r.object)} ${String((JSON.parse(String(r.payload)) as unknown[])[0])}`)
    expect(doubled(topicDecode)).toEqual([])
    expect(doubled(topicLate)).toEqual([])
    expect(topicDecode.sort()).toEqual([...tableDecode].sort())
    expect(topicLate.sort()).toEqual(lateIds.map((n) => `topic_windows ${n}`).sort())
    expect(records).toHaveLength(malformed + lateIds.length)
  }, 300_000)
})
