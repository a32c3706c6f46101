/**
 * Golden runs three ways (STYLE.md) over partitioned sources: straight through, checkpointing,
 * and crashed and restored (the data directory left as kill -9 leaves it) must end with the same
 * rows in every view and the same dead letters in every destination. The input is built to
 * exercise what a restart must keep besides offsets (docs/design/watermarks.md, "What a restart
 * keeps"): a partition that lags in event time and goes quiet, an idle timeout on the injected
 * clock, late rows, malformed records routed to a dead-letter table, and views with a ttl on the
 * processing clock. Each run is repeated with source batches of 1, 7 and 1000 rows.
 *
 * The clock moves only between steps, and a crash happens only in a step that took a checkpoint
 * before its writes: time that passes between a checkpoint and a crash is not replayed (the
 * processing clock resumes from the checkpoint's reading), so only such crashes can be compared
 * row for row with a run that did not crash. Each crash is followed by a minute of downtime on
 * the injected clock, longer than the ttl and the idle timeout: neither may count it.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Sluice } from '../engine/index.ts'
import type { Value } from '../engine/types/datatype.ts'
import { rng, sleep } from './support.ts'
import { defineScript, scriptedSourceFactory, type Script, type ScriptedRecord } from './scripted-source.ts'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-recovery-p-'))
  dirs.push(d)
  return d
}

const VIEWS: Record<string, string> = {
  closed:
    "SELECT window_start, count(*) AS n, sum(v) AS total FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY window_start EMIT ON WINDOW CLOSE",
  changing:
    "SELECT window_start, k, count(*) AS n FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY window_start, k",
  hopping:
    "SELECT window_start, window_end, count(*) AS n FROM HOP(clicks, ts, INTERVAL '30 seconds', INTERVAL '2 minutes') GROUP BY window_start, window_end EMIT ON WINDOW CLOSE",
  sessions:
    "SELECT window_start, window_end, k, count(*) AS n FROM SESSION(clicks, ts, INTERVAL '45 seconds') GROUP BY window_start, window_end, k EMIT ON WINDOW CLOSE",
  paired:
    "SELECT a.k, a.ts AS at, b.ts AS bt FROM clicks a JOIN impressions b ON a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '30 seconds'",
  per_k_ttl: 'SELECT k, count(*) AS n, sum(v) AS total FROM clicks GROUP BY k',
  top_ttl:
    'SELECT k, v FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM clicks) x WHERE rn = 1',
  joined_ttl: 'SELECT c.k, c.v, d.name FROM clicks c JOIN dim d ON c.k = d.k',
}
const TTL = new Set(['per_k_ttl', 'top_ttl', 'joined_ttl'])

/** One step of input: how far the clock moves first, then records per partition of each source. */
interface Step {
  readonly advanceMs: number
  readonly clicks: ScriptedRecord[][]
  readonly views: ScriptedRecord[][]
  readonly dim: string | undefined
}

const BASE_US = Date.UTC(2024, 0, 1, 10) * 1000

/**
 * The seeded input: partition 0 runs ahead in event time, partition 1 follows, partition 2 lags
 * far behind and is silent for stretches (long enough for the idle timeout of 5 s); some rows are
 * behind the watermark, some records malformed.
 */
function input(seed: number, steps: number): Step[] {
  const random = rng(seed)
  const int = (m: number): number => Math.floor(random() * m)
  const at = [0, 0, 0]
  const speed = [20_000_000, 12_000_000, 5_000_000]
  let quiet = 0
  const out: Step[] = []
  for (let s = 0; s < steps; s++) {
    const clicks: ScriptedRecord[][] = [[], [], []]
    const views: ScriptedRecord[][] = [[], []]
    if (quiet > 0) quiet--
    else if (random() < 0.15) quiet = 2 + int(4)
    for (let p = 0; p < 3; p++) {
      if (p === 2 && quiet > 0) continue
      for (let i = int(4); i > 0; i--) {
        at[p] += int(speed[p])
        const late = random() < 0.08 ? int(240_000_000) : 0
        if (random() < 0.04) clicks[p].push(`{"broken": ${s}`)
        else clicks[p].push([int(6), BigInt(int(1000)), BASE_US + at[p] - late])
      }
    }
    for (let p = 0; p < 2; p++) {
      for (let i = int(3); i > 0; i--) views[p].push([int(6), BASE_US + Math.max(at[0], at[1]) - int(60_000_000)])
    }
    const dim =
      random() < 0.2
        ? `INSERT INTO dim VALUES (${int(6)}, 'n${int(20)}') ON CONFLICT (k) DO UPDATE SET name = excluded.name`
        : undefined
    out.push({ advanceMs: int(4) * 1000, clicks, views, dim })
  }
  return out
}

/** A run: its own scripts (same content fed the same way), its clock, its database. */
class Run {
  now = Date.UTC(2026, 0, 1)
  db!: Sluice
  readonly clicks: Script
  readonly views: Script

  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly batchRows: number,
  ) {
    this.clicks = defineScript(`${name}_clicks`, 3)
    this.views = defineScript(`${name}_views`, 2)
  }

  async open(create: boolean): Promise<void> {
    this.db = await Sluice.open({
      dataDir: this.dataDir,
      checkpointIntervalMs: this.dataDir === ':memory:' ? 0 : 3_600_000,
      sources: [scriptedSourceFactory],
      now: () => this.now,
      maxBatchRows: this.batchRows,
    })
    if (!create) return
    const sql = (s: string): Promise<unknown> => this.db.sql(s)
    await sql(
      'CREATE TABLE rejects (object VARCHAR, reason VARCHAR, detail VARCHAR, payload VARCHAR, received_at TIMESTAMPTZ, origin VARCHAR) APPEND ONLY',
    )
    await sql('CREATE TABLE dim (k INT PRIMARY KEY, name TEXT)')
    await sql(`CREATE SOURCE clicks (k INT, v BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1 minute')
      WITH (connector = 'scripted', script = '${this.name}_clicks', idle_timeout_ms = '5000', dead_letter = 'rejects')`)
    await sql(`CREATE SOURCE impressions (k INT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1 minute')
      WITH (connector = 'scripted', script = '${this.name}_views')`)
    for (const [name, query] of Object.entries(VIEWS)) {
      await sql(`CREATE MATERIALIZED VIEW ${name} ${TTL.has(name) ? "WITH (ttl = '20s') " : ''}AS ${query}`)
    }
  }

  /** Moves the clock, and lets every source poll with it (idle partitions, ttl expiry) before new input. */
  async advance(ms: number): Promise<void> {
    this.now += ms
    this.db.engine.tick()
    await this.idlePolls()
  }

  async idlePolls(): Promise<void> {
    for (const script of [this.clicks, this.views]) {
      const seen = script.polls
      while (script.polls < seen + 2) await sleep(1)
    }
  }

  async feed(step: Step): Promise<void> {
    step.clicks.forEach((records, p) => this.clicks.append(p, records))
    step.views.forEach((records, p) => this.views.append(p, records))
    if (step.dim !== undefined) await this.db.sql(step.dim)
    await this.db.sql('FLUSH')
  }

  async read(): Promise<Record<string, string[]>> {
    await this.db.sql('FLUSH')
    const out: Record<string, string[]> = {}
    const text = (rows: readonly (readonly Value[])[] | undefined): string[] =>
      (rows ?? [])
        .map((row) => JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))
        .sort()
    for (const name of Object.keys(VIEWS)) out[name] = text((await this.db.sql(`SELECT * FROM ${name}`))[0].rows)
    out['dead letters'] = text(
      (await this.db.sql('SELECT object, reason, payload FROM sluice_catalog.dead_letters'))[0].rows,
    )
    out['rejects table'] = text((await this.db.sql('SELECT object, reason, payload, origin FROM rejects'))[0].rows)
    return out
  }
}

async function straight(steps: readonly Step[], batchRows: number): Promise<Record<string, string[]>> {
  const run = new Run(`straight_${batchRows}`, ':memory:', batchRows)
  await run.open(true)
  for (const step of steps) {
    await run.advance(step.advanceMs)
    await run.feed(step)
  }
  const result = await run.read()
  await run.db.close()
  return result
}

describe('recovery over partitioned sources: straight, checkpointing and restored runs agree', () => {
  for (const batchRows of [1, 7, 1000]) {
    it(`batches of ${batchRows}`, async () => {
      const steps = input(batchRows, 70)
      const golden = await straight(steps, batchRows)
      expect(golden.closed.length).toBeGreaterThan(3)
      expect(golden['dead letters'].some((l) => l.includes('"late"'))).toBe(true)
      expect(golden['rejects table'].length).toBeGreaterThan(0)

      const checkpointing = new Run(`checkpointing_${batchRows}`, tempDir(), batchRows)
      await checkpointing.open(true)
      for (let i = 0; i < steps.length; i++) {
        await checkpointing.advance(steps[i].advanceMs)
        if (i % 5 === 0) await checkpointing.db.engine.checkpoints.checkpoint()
        await checkpointing.feed(steps[i])
      }
      const checkpointed = await checkpointing.read()
      for (const name of Object.keys(golden)) expect(checkpointed[name], name).toEqual(golden[name])
      await checkpointing.db.close()

      const random = rng(batchRows * 31)
      const crashing = new Run(`crashing_${batchRows}`, tempDir(), batchRows)
      await crashing.open(true)
      let restarts = 0
      for (let i = 0; i < steps.length; i++) {
        await crashing.advance(steps[i].advanceMs)
        const checkpoint = random() < 0.3
        if (checkpoint) await crashing.db.engine.checkpoints.checkpoint()
        await crashing.feed(steps[i])
        if (checkpoint && random() < 0.5) {
          await crashing.db.close({ lastCheckpoint: false })
          // A minute of downtime: neither ttl nor idle_timeout counts it (nothing was observed).
          crashing.now += 60_000
          await crashing.open(false)
          restarts++
        }
      }
      expect(restarts).toBeGreaterThan(3)
      const restored = await crashing.read()
      for (const name of Object.keys(golden)) expect(restored[name], name).toEqual(golden[name])
      await crashing.db.close()
    }, 180_000)
  }
})
