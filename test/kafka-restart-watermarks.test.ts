/**
 * A restart equals an uninterrupted run for event time (docs/design/watermarks.md, "What a
 * restart keeps"): a 3-partition topic where partitions 0 and 1 run ahead and partition 2 lags
 * and then goes quiet. Before a kill -9 the lagging partition holds the source's watermark back;
 * after the restart it must still do so (its event-time high mark is part of the checkpoint, not
 * only its offset), its next record is counted rather than dead-lettered as late, and with
 * `idle_timeout` its quiet time resumes where it stood instead of starting over or expiring.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopic, ensureTestKafka, produceJson, uniqueTopic } from './kafka.ts'
import { SluiceProcess } from './sluice-process.ts'
import { TempDirs, sleep } from './support.ts'

const dirs = new TempDirs('sluice-restart-wm-')
const procs: SluiceProcess[] = []

afterAll(async () => {
  for (const p of procs) await p.kill()
  dirs.removeAll()
})

const BASE = Date.UTC(2024, 0, 1) / 1000
const WINDOW = 60

/** An event `s` seconds after BASE, as the source reads it. */
function event(id: number, s: number): { id: number; ts: string } {
  return { id, ts: new Date((BASE + s) * 1000).toISOString().replace('T', ' ').replace('Z', '') }
}

/** Counts per 1-minute window of the given event times, for windows that end at or before `closedUpTo`. */
function expected(times: readonly number[], closedUpTo: number): string[] {
  const counts = new Map<number, number>()
  for (const s of times) {
    const start = Math.floor(s / WINDOW) * WINDOW
    if (start + WINDOW <= closedUpTo) counts.set(start, (counts.get(start) ?? 0) + 1)
  }
  return [...counts].sort((a, b) => a[0] - b[0]).map(([start, n]) => `${start}:${n}`)
}

async function windows(sluice: SluiceProcess, view: string): Promise<string[]> {
  const r = await sluice.query(`SELECT extract(epoch FROM window_start)::bigint AS s, n FROM ${view} ORDER BY 1`)
  return r.rows.map((row: { s: string; n: string }) => `${Number(row.s) - BASE}:${row.n}`)
}

/** Waits until a checkpoint completes after this call, so a kill -9 restarts from what was flushed. */
async function checkpointed(sluice: SluiceProcess): Promise<void> {
  const epoch = async (): Promise<number> => {
    const r = await sluice.query(
      "SELECT coalesce(max(epoch), 0) AS e FROM sluice_catalog.checkpoints WHERE status = 'completed'",
    )
    return Number((r.rows[0] as { e: string }).e)
  }
  const first = await epoch()
  const deadline = Date.now() + 20_000
  while ((await epoch()) <= first + 1) {
    if (Date.now() > deadline) throw new Error('no checkpoint completed')
    await sleep(50)
  }
}

async function lateLetters(sluice: SluiceProcess): Promise<number> {
  const r = await sluice.query("SELECT count(*) AS n FROM sluice_catalog.dead_letters WHERE reason = 'late'")
  return Number((r.rows[0] as { n: string }).n)
}

describe('event time through kill -9', () => {
  let brokers: string
  beforeAll(async () => {
    brokers = await ensureTestKafka()
  }, 300_000)

  /** Partitions 0 and 1 run to 780 s; partition 2 stops at 130 s. Returns every event time sent. */
  async function skewedInput(topic: string): Promise<number[]> {
    const times: number[] = []
    let id = 0
    const send = async (partition: number, seconds: readonly number[]): Promise<void> => {
      await produceJson(
        topic,
        seconds.map((s) => event(id++, s)),
        partition,
      )
      times.push(...seconds)
    }
    await send(2, [10, 70, 130])
    await send(
      0,
      Array.from({ length: 40 }, (_, i) => i * 20),
    )
    await send(
      1,
      Array.from({ length: 26 }, (_, i) => 15 + i * 30),
    )
    return times
  }

  it('keeps a lagging partition holding windows open, and counts its next record', async () => {
    const topic = uniqueTopic('restart_wm')
    await createTopic(topic, 3)
    const sluice = await SluiceProcess.create(dirs.make(), ['--checkpoint-interval', '200'])
    procs.push(sluice)
    await sluice.start()
    // Produced first, so every partition's end is known when the reader opens: a partition whose
    // records arrive only after the reader saw it empty may find them late (docs/sql.md).
    const times = await skewedInput(topic)
    await sluice.query(`CREATE SOURCE bids (id BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5 seconds')
      WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}')`)
    await sluice.query(`CREATE MATERIALIZED VIEW per_minute AS SELECT window_start, count(*) AS n
      FROM TUMBLE(bids, ts, INTERVAL '1 minute') GROUP BY window_start EMIT ON WINDOW CLOSE`)
    await sluice.query('FLUSH')
    // The watermark is min(780, 765, 130) - 5 = 125 s: windows ending at 60 and 120 are closed.
    const before = await windows(sluice, 'per_minute')
    expect(before).toEqual(expected(times, 125))
    await checkpointed(sluice)

    await sluice.kill()
    await sluice.start()
    await sluice.query('FLUSH')
    await sleep(500)
    // Partition 2 has nothing new to read; it still holds the watermark at 125 s.
    expect(await windows(sluice, 'per_minute')).toEqual(before)

    // Its next record (190 s, in the window [180, 240)) is on time, and moves the watermark to 185 s.
    await produceJson(topic, [event(1000, 190)], 2)
    times.push(190)
    await sluice.query('FLUSH')
    expect(await windows(sluice, 'per_minute')).toEqual(expected(times, 185))
    expect(await lateLetters(sluice)).toBe(0)

    // Partition 2 catches up: every window up to 760 s closes, each counted as without the kill.
    await produceJson(topic, [event(1001, 800)], 2)
    times.push(800)
    await sluice.query('FLUSH')
    expect(await windows(sluice, 'per_minute')).toEqual(expected(times, 760))
    expect(await lateLetters(sluice)).toBe(0)
  })

  it('resumes idle_timeout where it stood: no window closes until the quiet partition has been idle that long', async () => {
    const topic = uniqueTopic('restart_idle')
    await createTopic(topic, 3)
    const sluice = await SluiceProcess.create(dirs.make(), ['--checkpoint-interval', '200'])
    procs.push(sluice)
    await sluice.start()
    const times = await skewedInput(topic)
    await sluice.query(`CREATE SOURCE bids (id BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5 seconds')
      WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', idle_timeout = '8s')`)
    await sluice.query(`CREATE MATERIALIZED VIEW per_minute AS SELECT window_start, count(*) AS n
      FROM TUMBLE(bids, ts, INTERVAL '1 minute') GROUP BY window_start EMIT ON WINDOW CLOSE`)
    await sluice.query('FLUSH')
    const sent = Date.now()
    const before = await windows(sluice, 'per_minute')
    expect(before).toEqual(expected(times, 125))
    await checkpointed(sluice)

    await sluice.kill()
    const killedAfter = Date.now() - sent
    await sluice.start()
    await sluice.query('FLUSH')
    // Not idle yet (the process being down does not count as quiet time): nothing more closed.
    const quietSoFar = killedAfter + 200
    if (quietSoFar < 6000) expect(await windows(sluice, 'per_minute')).toEqual(before)
    // Once every partition has been quiet for 8 s of observed time, the watermark is the maximum
    // (780 - 5 = 775 s) and every window up to it closes, with the counts of an uninterrupted run.
    const deadline = Date.now() + 30_000
    let rows = await windows(sluice, 'per_minute')
    while (rows.length === before.length && Date.now() < deadline) {
      await sleep(200)
      rows = await windows(sluice, 'per_minute')
    }
    expect(rows).toEqual(expected(times, 775))
    expect(await lateLetters(sluice)).toBe(0)
  })
})
