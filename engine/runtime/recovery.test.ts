/**
 * Golden runs three ways (STYLE.md): the same seeded stream of table writes through the same
 * views, run straight through, with checkpoints taken along the way, and with crashes (the data
 * directory left as kill -9 leaves it: no last checkpoint) and restarts in between. All three
 * must end with the same rows in every view and the same dead letters, for every stateful
 * operator: aggregates, joins of every kind, top-N, dedup, windows, sessions, views over views.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Sluice } from '../index.ts'
import { encodeKey } from '../state/codec.ts'
import { T } from '../types/datatype.ts'
import type { StateWrite } from '../state/store.ts'
import { rng } from '../../test/support.ts'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const SCHEMA = [
  'CREATE TABLE t (id BIGINT PRIMARY KEY, k INT, v BIGINT, s TEXT)',
  'CREATE TABLE dim (k INT PRIMARY KEY, name TEXT)',
  "CREATE TABLE ev (k INT, v BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '2 minutes') APPEND ONLY",
  "CREATE TABLE ev2 (k INT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1 minute') APPEND ONLY",
]

/** View name → definition; each exercises an operator's checkpointed state. */
const VIEWS: Record<string, string> = {
  agg: "SELECT k, count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi, count(DISTINCT v % 7) AS d, string_agg(s, ',') AS ss, bool_or(v > 500) AS big FROM t GROUP BY k",
  with_having: 'SELECT k, avg(v) AS a FROM t GROUP BY k HAVING count(*) > 3',
  distinct_s: 'SELECT DISTINCT s FROM t',
  global: 'SELECT count(*) AS n, sum(v) AS total FROM t',
  inner_join: 'SELECT t.id, t.v, dim.name FROM t JOIN dim ON t.k = dim.k',
  left_join: 'SELECT t.id, dim.name FROM t LEFT JOIN dim ON t.k = dim.k',
  full_join: 'SELECT t.id, dim.k AS dk, dim.name FROM t FULL JOIN dim ON t.k = dim.k',
  lookup_join: 'SELECT e.k, e.v, d.name FROM ev e LEFT JOIN dim FOR SYSTEM_TIME AS OF PROCTIME() AS d ON e.k = d.k',
  top2: 'SELECT k, id, v, rn FROM (SELECT k, id, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM t) x WHERE rn <= 2',
  dedup:
    'SELECT k, v, ts FROM (SELECT k, v, ts, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts) AS rn FROM ev) x WHERE rn = 1',
  tumble:
    "SELECT window_start, k, count(*) AS n, sum(v) AS total FROM TUMBLE(ev, ts, INTERVAL '5 minutes') GROUP BY window_start, k",
  tumble_final:
    "SELECT window_start, k, count(*) AS n FROM TUMBLE(ev, ts, INTERVAL '5 minutes') GROUP BY window_start, k EMIT ON WINDOW CLOSE",
  hop: "SELECT window_start, window_end, count(*) AS n FROM HOP(ev, ts, INTERVAL '2 minutes', INTERVAL '6 minutes') GROUP BY window_start, window_end",
  sessions:
    "SELECT window_start, window_end, k, count(*) AS n, max(v) AS hi FROM SESSION(ev, ts, INTERVAL '3 minutes') GROUP BY window_start, window_end, k",
  sessions_final:
    "SELECT window_start, window_end, k, count(*) AS n FROM SESSION(ev, ts, INTERVAL '3 minutes') GROUP BY window_start, window_end, k EMIT ON WINDOW CLOSE",
  interval_join:
    "SELECT a.k, a.ts AS at, b.ts AS bt FROM ev a JOIN ev2 b ON a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '4 minutes'",
  unioned: 'SELECT k, v FROM t WHERE v < 100 UNION ALL SELECT k, v FROM ev WHERE v > 900',
  over_view: 'SELECT name, count(*) AS n, sum(v) AS total FROM inner_join GROUP BY name',
}

/** The seeded statements: writes to all four tables, event time mostly rising with some late rows. */
function script(seed: number, n: number): string[] {
  const random = rng(seed)
  const int = (m: number): number => Math.floor(random() * m)
  const out: string[] = []
  let id = 1
  let clock = Date.UTC(2024, 0, 1, 10, 0, 0)
  const ts = (): string => {
    clock += int(40_000)
    const t = clock - (random() < 0.1 ? int(600_000) : 0) // some rows behind the watermark
    return new Date(t).toISOString().replace('T', ' ').replace('Z', '')
  }
  for (let i = 0; i < n; i++) {
    const r = random()
    if (r < 0.35) {
      const rows = Array.from({ length: 1 + int(5) }, () => `(${id++}, ${int(6)}, ${int(1000)}, 's${int(4)}')`)
      out.push(`INSERT INTO t VALUES ${rows.join(', ')}`)
    } else if (r < 0.45) out.push(`UPDATE t SET v = v + ${1 + int(300)} WHERE id % 9 = ${int(9)}`)
    else if (r < 0.52) out.push(`DELETE FROM t WHERE id % 11 = ${int(11)}`)
    else if (r < 0.6)
      out.push(`INSERT INTO dim VALUES (${int(7)}, 'n${int(50)}') ON CONFLICT (k) DO UPDATE SET name = excluded.name`)
    else if (r < 0.63) out.push(`DELETE FROM dim WHERE k = ${int(7)}`)
    else if (r < 0.85) {
      const rows = Array.from({ length: 1 + int(4) }, () => `(${int(5)}, ${int(1000)}, '${ts()}')`)
      out.push(`INSERT INTO ev VALUES ${rows.join(', ')}`)
    } else {
      const rows = Array.from({ length: 1 + int(3) }, () => `(${int(5)}, '${ts()}')`)
      out.push(`INSERT INTO ev2 VALUES ${rows.join(', ')}`)
    }
  }
  return out
}

type Result = Record<string, string[]>

async function setUp(db: Sluice): Promise<void> {
  for (const sql of SCHEMA) await db.sql(sql)
  for (const [name, query] of Object.entries(VIEWS)) await db.sql(`CREATE MATERIALIZED VIEW ${name} AS ${query}`)
}

async function read(db: Sluice): Promise<Result> {
  await db.sql('FLUSH')
  const out: Result = {}
  for (const name of Object.keys(VIEWS)) {
    const [r] = await db.sql(`SELECT * FROM ${name}`)
    out[name] = (r.rows ?? [])
      .map((row) => JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))
      .sort()
  }
  const [dl] = await db.sql('SELECT object, reason, payload FROM sluice_catalog.dead_letters')
  out['dead letters'] = (dl.rows ?? []).map((row) => JSON.stringify(row)).sort()
  return out
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-recovery-'))
  dirs.push(d)
  return d
}

/** Checkpoints only when the test takes them. */
const open = (dataDir: string): Promise<Sluice> => Sluice.open({ dataDir, checkpointIntervalMs: 3_600_000 })

describe('recovery: straight, checkpointing and restored runs agree', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}`, async () => {
      const statements = script(seed, 260)

      const straight = await Sluice.open({ dataDir: ':memory:' })
      await setUp(straight)
      for (const sql of statements) await straight.sql(sql)
      const golden = await read(straight)
      await straight.close()
      expect(golden.agg.length).toBeGreaterThan(0)

      const checkpointing = await open(tempDir())
      await setUp(checkpointing)
      for (let i = 0; i < statements.length; i++) {
        await checkpointing.sql(statements[i])
        if (i % 17 === 0) await checkpointing.engine.checkpoints.checkpoint()
      }
      expect(await read(checkpointing)).toEqual(golden)
      await checkpointing.close()

      // Crashes at seeded points: some right after a checkpoint, some with writes after it.
      const random = rng(seed * 101)
      const dir = tempDir()
      let db = await open(dir)
      await setUp(db)
      let restarts = 0
      for (let i = 0; i < statements.length; i++) {
        await db.sql(statements[i])
        const r = random()
        if (r < 0.08) await db.engine.checkpoints.checkpoint()
        else if (r < 0.11) {
          await db.close({ lastCheckpoint: false })
          db = await open(dir)
          restarts++
        }
      }
      expect(restarts).toBeGreaterThan(3)
      const restored = await read(db)
      for (const name of Object.keys(VIEWS)) expect(restored[name], name).toEqual(golden[name])
      expect(restored).toEqual(golden)
      await db.close()
    }, 120_000)
  }
})

describe('recovery: an object that cannot be restored', () => {
  it('stops checkpoints, so the last durable checkpoint stays the recovery point', async () => {
    const dir = tempDir()
    let db = await open(dir)
    await db.sql('CREATE TABLE t (k INT, v BIGINT) APPEND ONLY')
    await db.sql('CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n FROM t GROUP BY k')
    await db.sql('INSERT INTO t VALUES (1, 1), (2, 2)')
    await db.engine.checkpoints.checkpoint()
    // Damage the view's checkpointed state (keys (-4, view id, operator, ...)).
    const view = db.engine.get('per_k')
    const prefix = encodeKey([-4n, BigInt(view?.id ?? -1)], [T.int8, T.int8])
    const damaged: StateWrite[] = []
    for await (const [key] of db.engine.store.scan(prefix))
      damaged.push({ type: 'put', key, value: new Uint8Array([99]) })
    expect(damaged.length).toBeGreaterThan(0)
    await db.engine.store.write(damaged)
    await db.close({ lastCheckpoint: false })

    db = await open(dir)
    try {
      const [cps] = await db.sql("SELECT status, error FROM sluice_catalog.checkpoints WHERE status = 'failed'")
      expect(String(cps.rows?.[0]?.[1])).toMatch(/could not restore materialized_view "per_k".*cannot decode/)
      expect(await db.engine.checkpoints.checkpoint()).toBeUndefined()
      await db.sql('INSERT INTO t VALUES (3, 3)')
      const [t] = await db.sql('SELECT count(*) FROM t')
      expect(t.rows).toEqual([[3n]])
    } finally {
      await db.close()
    }
  })
})
