/**
 * A full disk (docs/operations.md, "Disk full"): the data directory of a real server is a small
 * tmpfs, filled up while a datagen-fed GROUP BY view runs. Checkpoints fail with ENOSPC; the view
 * shows `halted` with the reason, the sources pause, the server keeps answering; once the filler
 * is deleted the failed checkpoints are written with the next one, the sources resume, and the
 * view ends exactly at the closed-form result, also after a kill -9 and after a clean restart.
 *
 * Needs root (mount); skipped with the reason otherwise.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, openSync, closeSync, rmSync, rmdirSync, unlinkSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { SluiceProcess } from './sluice-process.ts'

const EVENTS = 120_000
const KEYS = 20_000
const RATE = 4000
const PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres'
/**
 * The PostgreSQL sink's table, of a view over buckets of 100 consecutive events: a bucket is
 * complete within one or two epochs, so an epoch's output that went missing (the failed ones')
 * would leave buckets short.
 */
const PG_TABLE = 'sluice_disk_full_buckets'
const BUCKET = 100
const REJECT_EVERY = 1000

/** Mounts a 40 MB tmpfs; the reason when it cannot. */
function mountTmpfs(): { dir: string } | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: 'not root: cannot mount a tmpfs to fill' }
  const dir = mkdtempSync(join(tmpdir(), 'sluice-disk-full-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', dir], { stdio: 'pipe' })
    return { dir }
  } catch (e) {
    rmdirSync(dir)
    return { skip: `mount -t tmpfs failed: ${e instanceof Error ? e.message : String(e)}` }
  }
}

const mounted = mountTmpfs()
if ('skip' in mounted) console.warn(`disk-full test skipped: ${mounted.skip}`)
const mnt = 'dir' in mounted ? mounted.dir : ''
let sluice: SluiceProcess | undefined
let pgc: pg.Client | undefined

afterAll(async () => {
  await sluice?.kill()
  await pgc?.end().catch(() => {})
  if (mnt === '') return
  try {
    execFileSync('umount', [mnt], { stdio: 'pipe' })
  } catch {
    execFileSync('umount', ['-l', mnt], { stdio: 'pipe' })
  }
  rmSync(mnt, { recursive: true, force: true })
})

/** Writes zeros to `path` until the file system is full (1 MB, then 4 KB pieces); returns the bytes written. */
function fill(path: string): number {
  const fd = openSync(path, 'w')
  let bytes = 0
  try {
    for (const size of [1 << 20, 4096, 512]) {
      const buf = Buffer.alloc(size)
      for (;;) {
        try {
          bytes += writeSync(fd, buf)
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break
          throw e
        }
      }
    }
  } finally {
    closeSync(fd)
  }
  return bytes
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  state?: () => Promise<unknown>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) {
      const seen = state === undefined ? '' : ` (last seen: ${JSON.stringify(await state())})`
      throw new Error(`timed out waiting for ${what}${seen}\n${sluice?.output.slice(-3000) ?? ''}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** Rows both sources read so far. */
async function sourceRows(s: SluiceProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text()
  let n = 0
  for (const m of text.matchAll(/^sluice_source_rows_total\{source="seq2?"\} (\d+)/gm)) n += Number(m[1])
  return n
}

async function viewStatus(s: SluiceProcess): Promise<{ status: string; error: string | null }> {
  const r = await s.query("SELECT status, error FROM sluice_catalog.views WHERE name = 'agg'")
  return r.rows[0] as { status: string; error: string | null }
}

/** Events counted by the view so far. */
async function counted(s: SluiceProcess): Promise<number> {
  const r = await s.query('SELECT coalesce(sum(c), 0) AS c FROM agg')
  return Number((r.rows[0] as { c: string }).c)
}

/** Every group of the finished view: n runs over 0..EVENTS-1, k = n % KEYS. */
async function expectExact(s: SluiceProcess): Promise<void> {
  const r = await s.query('SELECT k, c, s FROM agg')
  const per = EVENTS / KEYS
  const wrong: unknown[] = []
  const seen = new Set<number>()
  for (const row of r.rows as { k: string; c: string; s: string }[]) {
    const k = Number(row.k)
    seen.add(k)
    // sum over i < per of (k + KEYS * i)
    const want = per * k + (KEYS * per * (per - 1)) / 2
    if (Number(row.c) !== per || Number(row.s) !== want) wrong.push(row)
  }
  expect(wrong.slice(0, 5)).toEqual([])
  expect(r.rows.length).toBe(KEYS)
  expect(seen.size).toBe(KEYS)
}

/** The dead-letter table holds each reject exactly once. */
async function expectRejectsOnce(s: SluiceProcess): Promise<void> {
  const r = await s.query(
    "SELECT count(*) AS n, count(DISTINCT payload) AS d FROM rejects WHERE object = 'bad' AND reason = 'eval_error'",
  )
  expect(r.rows[0]).toEqual({ n: String(EVENTS / REJECT_EVERY), d: String(EVENTS / REJECT_EVERY) })
}

function logLines(output: string): { level?: string; msg?: string }[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level?: string; msg?: string })
}

describe.skipIf('skip' in mounted)('a full disk', () => {
  it('halts the view with the reason, keeps serving, resumes when space returns, loses nothing', async () => {
    sluice = await SluiceProcess.create(join(mnt, 'data'), [
      '--checkpoint-interval',
      '300',
      // Small, so groups are evicted to the store and read back (docs/design/state.md).
      '--state-cache',
      '1MB',
    ])
    await sluice.start()
    const s = sluice
    const db = new pg.Client({ connectionString: PG_URL })
    pgc = db
    await db.connect()
    await db.query(`DROP TABLE IF EXISTS ${PG_TABLE}`)
    await s.query(
      `CREATE SOURCE seq WITH (connector = 'datagen', generator = 'sequence', rate = '${RATE}', max_events = '${EVENTS}')`,
    )
    await s.query(
      'CREATE TABLE rejects (object VARCHAR, reason VARCHAR, detail VARCHAR, payload VARCHAR, received_at TIMESTAMPTZ, origin VARCHAR) APPEND ONLY',
    )
    // The same sequence again (a view created over a running source would miss its first events);
    // its rejects go to a table: each one once, also those of the epochs whose checkpoints failed.
    await s.query(
      `CREATE SOURCE seq2 (n BIGINT) WITH (connector = 'datagen', generator = 'sequence', rate = '${RATE}', max_events = '${EVENTS}', dead_letter = 'rejects')`,
    )
    await s.query(
      `CREATE MATERIALIZED VIEW agg AS SELECT n % ${KEYS} AS k, count(*) AS c, sum(n) AS s FROM seq GROUP BY n % ${KEYS}`,
    )
    await s.query(
      `CREATE MATERIALIZED VIEW buckets AS SELECT n / ${BUCKET} AS b, count(*) AS c, sum(n) AS s FROM seq2 GROUP BY n / ${BUCKET}`,
    )
    // Division by zero for every (n + 1) % REJECT_EVERY = 0: a reject each (the condition never
    // holds). Not at n = 0: this view is created after buckets started seq2's reader, and a view
    // sees a source's records from its creation on (with shard threads booting meanwhile, the
    // first events can be gone by then).
    await s.query(
      `CREATE MATERIALIZED VIEW bad AS SELECT n FROM seq2 WHERE ${REJECT_EVERY} / ((n + 1) % ${REJECT_EVERY}) = 0`,
    )
    await s.query(
      `CREATE SINK buckets_out FROM buckets WITH (connector = 'postgres', url = '${PG_URL}', table = '${PG_TABLE}')`,
    )
    await s.query('CREATE TABLE t (a INT)')
    await until('some input', async () => ((await counted(s)) >= 20_000 ? true : undefined), 60_000)

    const filler = join(mnt, 'filler')
    const filled = fill(filler)
    console.log(`filler: ${(filled / 1e6).toFixed(1)} MB`)

    const halted = await until(
      'the view to halt',
      async () => {
        const v = await viewStatus(s)
        return v.status === 'halted' ? v : undefined
      },
      30_000,
    )
    expect(halted.error).toMatch(/^disk full: .*No space left on device/)
    const failed = await s.query(
      "SELECT epoch, error FROM sluice_catalog.checkpoints WHERE status = 'failed' ORDER BY epoch",
    )
    expect(failed.rows.length).toBeGreaterThan(0)
    expect(String((failed.rows[0] as { error: string }).error)).toMatch(/No space left on device/)

    // Paused: the source reads nothing more (a poll in flight may still land), the server answers.
    await new Promise((r) => setTimeout(r, 500))
    const before = await sourceRows(s)
    const countedBefore = await counted(s)
    await new Promise((r) => setTimeout(r, 2000))
    expect(await sourceRows(s)).toBe(before)
    expect(await counted(s)).toBe(countedBefore)
    expect(before).toBeLessThan(2 * EVENTS)
    // Retried every interval: more failed attempts, still one log line for the episode.
    const attempts = await s.query("SELECT count(*) AS n FROM sluice_catalog.checkpoints WHERE status = 'failed'")
    expect(Number((attempts.rows[0] as { n: string }).n)).toBeGreaterThan(failed.rows.length)
    // A write outside checkpoints fails with the reason; reads still work.
    await expect(s.query('INSERT INTO t VALUES (100)')).rejects.toThrow(/No space left on device/)
    expect((await s.query('SELECT count(*) AS n FROM agg')).rows.length).toBe(1)

    unlinkSync(filler)
    await until(
      'the view to resume',
      async () => ((await viewStatus(s)).status === 'running' ? true : undefined),
      30_000,
    )
    const episode = await s.query("SELECT count(*) AS n FROM sluice_catalog.checkpoints WHERE status = 'failed'")
    const state = await s.query(
      "SELECT entries, cached_entries, evictions, misses FROM sluice_catalog.state WHERE name = 'agg'",
    )
    console.log(
      `failed attempts: ${(episode.rows[0] as { n: string }).n}; state: ${JSON.stringify(state.rows[0])}; events read: ${await sourceRows(s)}`,
    )
    // Groups were evicted to the store during the run: the spill path was under test.
    expect(Number((state.rows[0] as { evictions: string }).evictions)).toBeGreaterThan(0)
    const lines = logLines(s.output)
    expect(lines.filter((l) => l.msg?.startsWith('checkpoint failed: disk full') === true).length).toBe(1)
    expect(lines.filter((l) => l.msg?.startsWith('disk space available again') === true).length).toBe(1)

    // Writes acknowledged after the episode survive a crash: LevelDB's log after the failed write
    // is not appended to (the store is reopened first, engine/state/leveldb.ts).
    await s.query('INSERT INTO t VALUES (1), (2), (3)')
    expect((await s.query('SELECT sum(a) AS n FROM t')).rows).toEqual([{ n: '6' }])

    // Every bucket complete in the view gets to PostgreSQL, also those completed in the epochs
    // whose checkpoints failed (their output was logged with the carried batch).
    await until('more input', async () => ((await counted(s)) > countedBefore + 10_000 ? true : undefined), 60_000)
    const complete = (await s.query(`SELECT b FROM buckets WHERE c = ${BUCKET}`)).rows.map((r: { b: string }) => r.b)
    expect(complete.length).toBeGreaterThan(countedBefore / BUCKET)
    await until(
      'the sink to have every complete bucket',
      async () => {
        const r = await db.query(
          `SELECT count(*) AS n FROM ${PG_TABLE} WHERE c = ${BUCKET} AND b = ANY($1::bigint[])`,
          [complete],
        )
        return Number((r.rows[0] as { n: string }).n) === complete.length ? true : undefined
      },
      15_000,
    )

    // kill -9 while the source catches up: recovery from a checkpoint written after the episode.
    console.log(`kill -9 at ${await counted(s)} events counted`)
    await s.kill()
    await s.start()
    expect((await s.query('SELECT sum(a) AS n FROM t')).rows).toEqual([{ n: '6' }])
    await until('every event', async () => ((await counted(s)) >= EVENTS ? true : undefined), 120_000)
    await expectExact(s)
    // The sink's table: the epochs logged with the failed checkpoints were committed once.
    await until(
      'the sink to commit every event',
      async () => {
        const r = await db.query(`SELECT coalesce(sum(c), 0) AS c FROM ${PG_TABLE}`)
        return Number((r.rows[0] as { c: string }).c) >= EVENTS ? true : undefined
      },
      30_000,
      async () => ({
        sink: (await db.query(`SELECT count(*) AS n, sum(c) AS c, max(b) AS b FROM ${PG_TABLE}`)).rows[0],
        view: (await s.query('SELECT count(*) AS n, sum(c) AS c, max(b) AS b FROM buckets')).rows[0],
        short: (await s.query(`SELECT b, c FROM buckets WHERE c <> ${BUCKET}`)).rows,
        paused: countedBefore,
        sinks: (await s.query('SELECT * FROM sluice_catalog.sinks')).rows,
      }),
    )
    await until(
      'every reject in its table',
      async () => {
        const r = await s.query('SELECT count(*) AS n FROM rejects')
        return Number((r.rows[0] as { n: string }).n) >= EVENTS / REJECT_EVERY ? true : undefined
      },
      30_000,
      async () => ({
        rejects: (
          await s.query(
            'SELECT object, reason, count(*) AS n, min(payload) AS lo, max(payload) AS hi FROM rejects GROUP BY 1, 2',
          )
        ).rows,
        bad: (await s.query('SELECT count(*) AS n FROM bad')).rows,
        seq2: (await s.query("SELECT * FROM sluice_catalog.lag WHERE source = 'seq2'")).rows,
        letters: (await s.query('SELECT object, reason, count(*) AS n FROM sluice_catalog.dead_letters GROUP BY 1, 2'))
          .rows,
      }),
    )
    await expectRejectsOnce(s)
    const sunk = await db.query(`SELECT b, c, s FROM ${PG_TABLE}`)
    const short = (sunk.rows as { b: string; c: string; s: string }[]).filter(
      (r) => Number(r.c) !== BUCKET || Number(r.s) !== BUCKET * BUCKET * Number(r.b) + (BUCKET * (BUCKET - 1)) / 2,
    )
    expect(short.slice(0, 5)).toEqual([])
    expect(sunk.rows.length).toBe(EVENTS / BUCKET)

    // A clean restart restores the same result.
    await s.stop()
    await s.start()
    await until('the view restored', async () => ((await counted(s)) >= EVENTS ? true : undefined), 60_000)
    await expectExact(s)
    await expectRejectsOnce(s)
    expect((await viewStatus(s)).status).toBe('running')
  }, 300_000)
})
