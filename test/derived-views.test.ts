/**
 * A GROUP BY view over many keys with a state cache of one byte (issue 14): its groups are
 * evicted to the store at each checkpoint, the view keeps no copy of its rows ('derived') and
 * serves them from the aggregate's state. SELECT *, a WHERE on the key, count(*), a view over the
 * view, SUBSCRIBE and a restart give the answers of the same engine with the default cache, and
 * the answers PostgreSQL gives for the same rows (computed here).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Sluice } from '../engine/index.ts'
import type { Value } from '../engine/types/datatype.ts'
import type { ChangeSubscription } from '../engine/index.ts'
import type { BlackholeWriter } from '../connectors/blackhole/sink.ts'
import { blackholeSinkFactory } from '../connectors/blackhole/sink.ts'
import { buildHttpApp } from '../server/http/app.ts'
import { formatText } from '../engine/types/text.ts'
import pg from 'pg'
import { rng } from './support.ts'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const KEYS = 3000
const ROWS = 13_000

const open = (dataDir: string, stateCacheBytes?: number): Promise<Sluice> =>
  Sluice.open({ dataDir, checkpointIntervalMs: 3_600_000, stateCacheBytes, sinks: [blackholeSinkFactory] })

/** Rows (k, v): k = i % KEYS, v = i. */
function inserts(from: number, to: number): string {
  const values: string[] = []
  for (let i = from; i < to; i++) values.push(`(${i % KEYS}, ${i})`)
  return `INSERT INTO t VALUES ${values.join(',')}`
}

/** What PostgreSQL answers for `SELECT k, count(*), sum(v) FROM t GROUP BY k` over rows 0..n-1. */
function expectedGroups(n: number): Map<number, [number, number]> {
  const out = new Map<number, [number, number]>()
  for (let i = 0; i < n; i++) {
    const g = out.get(i % KEYS) ?? [0, 0]
    out.set(i % KEYS, [g[0] + 1, g[1] + i])
  }
  return out
}

async function rows(db: Sluice, sql: string): Promise<string[]> {
  const [r] = await db.sql(sql)
  return (r.rows ?? []).map((row: readonly Value[]) => row.map((v) => String(v)).join('|')).sort()
}

const QUERIES = [
  'SELECT * FROM g',
  'SELECT * FROM g WHERE k = 17',
  'SELECT * FROM g WHERE k = 17 AND n = 5',
  'SELECT * FROM g WHERE k = 99999',
  'SELECT * FROM g WHERE n = 5 AND k < 40',
  'SELECT k, s FROM g WHERE k = 1234 AND n = 4',
  'SELECT count(*) FROM g',
  'SELECT n, count(*) FROM g GROUP BY n',
  'SELECT * FROM g WHERE n > 4 ORDER BY k LIMIT 5',
  'SELECT * FROM big',
  'SELECT count(*) FROM big',
  'SELECT * FROM over_g',
  'SELECT * FROM g JOIN over_g ON g.k = over_g.k WHERE g.k < 10',
]

async function answers(db: Sluice): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  for (const q of QUERIES) out[q] = await rows(db, q)
  return out
}

/** Reads a subscription until `n` rows came, snapshot first. */
async function take(s: ChangeSubscription, n: number): Promise<{ snapshot: string[]; changes: string[] }> {
  const snapshot: string[] = []
  const changes: string[] = []
  while (snapshot.length + changes.length < n) {
    const b = await s.next()
    if (b === undefined) break
    for (let i = 0; i < b.chunk.length; i++) {
      const row = `${b.chunk.ops[i] > 0 ? '+' : '-'}${b.chunk.columns.map((c) => String(c[i])).join('|')}`
      ;(b.snapshot ? snapshot : changes).push(row)
    }
  }
  return { snapshot: snapshot.sort(), changes }
}

/** SSE over HTTP: the snapshot's rows up to its `event: snapshot` marker, then `changes` more events. */
async function sseSnapshot(
  db: Sluice,
  view: string,
  changes: () => Promise<void>,
): Promise<{ rows: number; after: string[] }> {
  const app = buildHttpApp({ db, heartbeatMs: 50 })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const abort = new AbortController()
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v1/subscribe/${view}`, {
      headers: { accept: 'text/event-stream' },
      signal: abort.signal,
    })
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    let rows = 0
    let marker = false
    const after: string[] = []
    while (after.length < 2) {
      const cut = buffer.indexOf('\n\n')
      if (cut < 0) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += decoder.decode(value, { stream: true })
        continue
      }
      const block = buffer.slice(0, cut)
      buffer = buffer.slice(cut + 2)
      if (block.includes('event: snapshot')) {
        marker = true
        await changes()
      } else if (block.includes('data: {"position"')) {
        if (marker) after.push(block.slice(block.indexOf('"op"')))
        else rows++
      }
    }
    return { rows, after }
  } finally {
    abort.abort()
    await app.close()
  }
}

function viewOf(db: Sluice, name: string): { derived: boolean; onDisk: boolean; rowCount: number } {
  const obj = db.engine.get(name)
  if (obj?.kind !== 'materialized_view') throw new Error(`${name} is not a view`)
  const derived = obj.materialize.derived
  return {
    derived: derived !== undefined,
    onDisk: derived !== undefined && !derived.inMemory(),
    rowCount: obj.materialize.rowCount,
  }
}

async function build(db: Sluice): Promise<void> {
  await db.sql('CREATE TABLE t (k BIGINT, v BIGINT) APPEND ONLY')
  await db.sql('CREATE MATERIALIZED VIEW g AS SELECT k, count(*) AS n, sum(v) AS s FROM t GROUP BY k')
  await db.sql('CREATE MATERIALIZED VIEW big AS SELECT k, count(*) AS n FROM t GROUP BY k HAVING count(*) > 4')
  await db.sql(inserts(0, ROWS / 2))
  await db.engine.checkpoints.checkpoint()
  await db.engine.checkpoints.checkpoint()
  // Over views whose groups are on disk (with the tiny cache): backfilled from their scans.
  await db.sql('CREATE MATERIALIZED VIEW over_g AS SELECT k, s FROM g WHERE n > 4')
  // On a group key the aggregate's state serves the lookups; on another column queries scan.
  await db.sql('CREATE INDEX g_n ON g (n)')
  await db.sql('CREATE INDEX g_k ON g (k)')
  await db.sql(inserts(ROWS / 2, ROWS))
  await db.engine.checkpoints.checkpoint()
  await db.engine.checkpoints.checkpoint()
}

describe('a GROUP BY view whose groups are on disk', () => {
  it('answers as with every group in memory, and as PostgreSQL, also after a restart', async () => {
    const smallDir = mkdtempSync(join(tmpdir(), 'sluice-derived-small-'))
    const fullDir = mkdtempSync(join(tmpdir(), 'sluice-derived-full-'))
    dirs.push(smallDir, fullDir)

    const full = await open(fullDir, 1 << 30)
    await build(full)
    const reference = await answers(full)
    expect(viewOf(full, 'g')).toMatchObject({ derived: true, onDisk: false, rowCount: KEYS })
    await full.close()

    // PostgreSQL's answers over the same rows.
    const groups = expectedGroups(ROWS)
    const all = [...groups].map(([k, [n, s]]) => `${k}|${n}|${s}`).sort()
    expect(reference['SELECT * FROM g']).toEqual(all)
    expect(reference['SELECT * FROM g WHERE k = 17']).toEqual([`17|${groups.get(17)![0]}|${groups.get(17)![1]}`])
    expect(reference['SELECT * FROM g WHERE k = 17 AND n = 5']).toEqual(
      [`17|${groups.get(17)![0]}|${groups.get(17)![1]}`].filter(() => groups.get(17)![0] === 5),
    )
    expect(reference['SELECT * FROM g WHERE k = 99999']).toEqual([])
    expect(reference['SELECT * FROM g WHERE n = 5 AND k < 40']).toEqual(
      all.filter((r) => Number(r.split('|')[0]) < 40 && r.split('|')[1] === '5'),
    )
    expect(reference['SELECT * FROM g WHERE n = 5 AND k < 40']).toHaveLength(40)
    expect(reference['SELECT k, s FROM g WHERE k = 1234 AND n = 4']).toEqual([`1234|${groups.get(1234)![1]}`])
    expect(reference['SELECT count(*) FROM g']).toEqual([String(KEYS)])
    const bigRows = [...groups].filter(([, [n]]) => n > 4)
    expect(reference['SELECT count(*) FROM big']).toEqual([String(bigRows.length)])
    expect(reference['SELECT * FROM over_g']).toEqual(bigRows.map(([k, [, s]]) => `${k}|${s}`).sort())

    const small = await open(smallDir, 1)
    await build(small)
    expect(viewOf(small, 'g')).toMatchObject({ derived: true, onDisk: true, rowCount: KEYS })
    expect(viewOf(small, 'big')).toMatchObject({ derived: true, onDisk: true, rowCount: bigRows.length })
    expect(await answers(small)).toEqual(reference)

    // A sink over the view reads its groups from disk.
    await small.sql("CREATE SINK drop_g FROM g WITH (connector = 'blackhole')")
    await small.engine.checkpoints.checkpoint()
    const sink = small.engine.get('drop_g')
    expect(sink?.kind === 'sink' && (sink.writer as BlackholeWriter).rows).toBe(KEYS)

    // SUBSCRIBE to a query over the view: its dataflow backfills from the scan.
    const [q] = await small.sql('SUBSCRIBE TO (SELECT k, n FROM g WHERE k < 50)')
    const fromQuery = await take(q.subscription!, 50)
    expect(fromQuery.snapshot).toEqual(
      [...groups]
        .filter(([k]) => k < 50)
        .map(([k, [n]]) => `+${k}|${n}`)
        .sort(),
    )
    q.subscription!.close()

    const [plan] = await small.sql('EXPLAIN SELECT * FROM g WHERE k = 17')
    expect(plan.rows!.map((r) => String(r[0])).join('\n')).toMatch(/Scan g \(lookup via g_k on k\)/)

    // A subquery inside an expression cannot await the disk: a clear error, not a wrong answer.
    await expect(small.sql('SELECT (SELECT count(*) FROM g) AS n')).rejects.toMatchObject({ code: '0A000' })
    // By the group key it reads one group, synchronously.
    expect(await rows(small, 'SELECT (SELECT n FROM g WHERE k = 17) AS n')).toEqual([String(groups.get(17)![0])])

    // SUBSCRIBE: the snapshot from disk, then the changes, in order.
    const sub = small.subscribe('g')
    await small.sql('INSERT INTO t VALUES (5, 1000000)')
    const got = await take(sub, KEYS + 2)
    expect(got.snapshot).toEqual(all.map((r) => `+${r}`).sort())
    const five = groups.get(5)!
    expect(got.changes).toEqual([`-5|${five[0]}|${five[1]}`, `+5|${five[0] + 1}|${five[1] + 1_000_000}`])
    sub.close()

    // The same over HTTP (SSE): the snapshot read from disk ends with its marker, changes follow.
    const http = await sseSnapshot(small, 'g', async () => {
      await small.sql('INSERT INTO t VALUES (6, 1)')
    })
    expect(http.rows).toBe(KEYS)
    expect(http.after).toHaveLength(2)
    expect(http.after[0]).toMatch(/^"op":"delete","row":\{"k":6,/)
    expect(http.after[1]).toMatch(/^"op":"insert","row":\{"k":6,/)
    await small.close()

    // Restarted: nothing loaded, the same answers (with the change above).
    const again = await open(smallDir, 1)
    expect(viewOf(again, 'g')).toMatchObject({ derived: true, onDisk: true, rowCount: KEYS })
    expect(viewOf(again, 'big').rowCount).toBe(bigRows.length)
    const after = await answers(again)
    const fullAgain = await open(fullDir, 1 << 30)
    await fullAgain.sql('INSERT INTO t VALUES (5, 1000000)')
    await fullAgain.sql('INSERT INTO t VALUES (6, 1)')
    expect(after).toEqual(await answers(fullAgain))
    // A view created after the restart reads the groups from disk.
    await again.sql('CREATE MATERIALIZED VIEW over_g2 AS SELECT k, n FROM g WHERE k < 100')
    await fullAgain.sql('CREATE MATERIALIZED VIEW over_g2 AS SELECT k, n FROM g WHERE k < 100')
    expect(await rows(again, 'SELECT * FROM over_g2')).toEqual(await rows(fullAgain, 'SELECT * FROM over_g2'))
    expect(await rows(again, 'SELECT * FROM over_g2')).toHaveLength(100)
    await fullAgain.close()
    await again.close()
  }, 120_000)
})

/** Views over a keyed table: [Sluice, the same for PostgreSQL] where they differ (a view over a view). */
const ORACLE_VIEWS: Record<string, readonly [string, string]> = {
  a: same('SELECT k, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi FROM t GROUP BY k'),
  b: same('SELECT k, sum(v) AS s FROM t GROUP BY k HAVING count(*) > 2'),
  c: same('SELECT k * 10 AS k10, count(*) + 1 AS n1, k FROM t GROUP BY k'),
  d: ['SELECT k, hi FROM a WHERE hi > 50', 'SELECT k, max(v) AS hi FROM t GROUP BY k HAVING max(v) > 50'],
}

function same(q: string): readonly [string, string] {
  return [q, q]
}

describe('derived views under inserts, updates and deletes', () => {
  it('equal PostgreSQL with every group evicted at each checkpoint, across restarts', async () => {
    const schema = `sluice_derived_${process.pid}`
    const oracle = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' })
    await oracle.connect()
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-derived-oracle-'))
    dirs.push(dataDir)
    let db = await open(dataDir, 1)
    try {
      await oracle.query(
        `DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}; SET search_path = ${schema}`,
      )
      const ddl = 'CREATE TABLE t (id BIGINT PRIMARY KEY, k INT, v BIGINT)'
      await db.sql(ddl)
      await oracle.query(ddl)
      for (const [name, [q]] of Object.entries(ORACLE_VIEWS)) await db.sql(`CREATE MATERIALIZED VIEW ${name} AS ${q}`)
      const random = rng(7)
      const live = new Set<number>()
      let nextId = 1
      for (let batch = 0; batch < 10; batch++) {
        const statements: string[] = []
        for (let s = 0; s < 6; s++) {
          const r = random()
          const ids = [...live]
          if (r < 0.5 || ids.length < 10) {
            const rows: string[] = []
            for (let n = 0; n < 40; n++) {
              const id = nextId++
              live.add(id)
              rows.push(
                `(${id}, ${Math.floor(random() * 150)}, ${random() < 0.05 ? 'NULL' : Math.floor(random() * 100)})`,
              )
            }
            statements.push(`INSERT INTO t VALUES ${rows.join(', ')}`)
          } else if (r < 0.7) {
            const id = ids[Math.floor(random() * ids.length)]
            statements.push(
              `UPDATE t SET v = ${Math.floor(random() * 100)}, k = ${Math.floor(random() * 150)} WHERE id = ${id}`,
            )
          } else if (r < 0.8) {
            statements.push(`UPDATE t SET v = v + 1 WHERE k = ${Math.floor(random() * 150)}`)
          } else {
            for (let n = 0; n < 5; n++) {
              const id = ids[Math.floor(random() * ids.length)]
              live.delete(id)
              statements.push(`DELETE FROM t WHERE id = ${id}`)
            }
          }
        }
        for (const s of statements) {
          await db.sql(s)
          await oracle.query(s)
        }
        // Evicts every group (cache of one byte): the next batch reads them back from the store.
        await db.engine.checkpoints.checkpoint()
        await db.engine.checkpoints.checkpoint()
        if (batch % 4 === 3) {
          await db.close()
          db = await open(dataDir, 1)
        }
        for (const [name, [, q]] of Object.entries(ORACLE_VIEWS)) {
          const theirs = await oracle.query({
            text: q,
            rowMode: 'array',
            types: { getTypeParser: () => (x: string) => x },
          })
          const expected = (theirs.rows as (string | null)[][])
            .map((row) => row.map((v) => v ?? 'NULL').join('|'))
            .sort()
          const [mine] = await db.sql(`SELECT * FROM ${name}`)
          const got = (mine.rows ?? [])
            .map((row) => row.map((v, c) => (v === null ? 'NULL' : formatText(mine.columns![c].type, v))).join('|'))
            .sort()
          expect(got, `view ${name} after batch ${batch}`).toEqual(expected)
          expect(viewOf(db, name).rowCount, `rows of ${name} after batch ${batch}`).toBe(expected.length)
          // A point read by the group key.
          if (expected.length > 0 && name !== 'c') {
            const key = expected[Math.floor(random() * expected.length)].split('|')[0]
            const [one] = await db.sql(`SELECT * FROM ${name} WHERE k = ${key}`)
            expect(one.rows?.length, `${name} where k = ${key}`).toBe(1)
          }
        }
        expect(viewOf(db, 'a')).toMatchObject({ derived: true, onDisk: true })
      }
    } finally {
      await db.close()
      await oracle.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await oracle.end()
    }
  }, 120_000)
})
