/**
 * State larger than memory (docs/design/state.md): a GROUP BY view over many distinct keys, or an
 * inner join of two streams, in a server process with a small heap, its state in LevelDB behind
 * the state cache.
 *
 * GROUP BY (the default): a datagen sequence source (n = 0, 1, 2, ... as fast as the view reads)
 * feeds `SELECT n % keys AS k, count(*) AS c, sum(n) AS s FROM seq GROUP BY n % keys`; the
 * checksum in closed form is the count of groups, the sum of counts and the sum of sums.
 *
 * `--join`: two sequence sources of `--rows` rows each, joined by
 * `a.n = (b.n * P) % rows` with P a prime near 0.618 × rows not dividing it, so each key matches
 * exactly once and b's row for a key arrives at a time unrelated to a's (every row stays in the
 * join's state: nothing retracts). The view is a global aggregate over the join (`count(*)`,
 * `sum(a.n)`, `sum(b.n)`), so it keeps one group instead of a copy of every joined row; the
 * checksum is rows, rows(rows-1)/2 and rows(rows-1)/2. The bench checks that EXPLAIN plans a
 * hash join on the equality.
 *
 * Both print the rows read each 2 s with RSS and the state's counters from sluice_catalog.state,
 * check the view against the checksum, then kill the server with SIGKILL after a checkpoint and
 * time the restart until the whole view is served again, checksum equal.
 *
 * Run: `npx tsx bench/state.ts [--keys N] [--events N] [--heap MB] [--cache SIZE]` (defaults:
 * 1,000,000 keys, 2,000,000 events, 1024 MB heap, the default cache: a quarter of the heap), or
 * `npx tsx bench/state.ts --join [--rows N] [--heap MB] [--cache SIZE]` (default 2,000,000 rows
 * per side). Issue 14's runs use `--heap 2048`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { SluiceProcess } from '../test/sluice-process.ts'

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    events: { type: 'string', default: '2000000' },
    join: { type: 'boolean', default: false },
    rows: { type: 'string', default: '2000000' },
    heap: { type: 'string', default: '1024' },
    cache: { type: 'string' },
  },
})

/** One workload: the DDL, the sources it reads, and its checksum in closed form. */
interface Workload {
  readonly title: string
  /** The CREATE SOURCE statements, then `create`, the view's. */
  readonly ddl: readonly string[]
  readonly create: string
  /** The sources and how many rows each produces. */
  readonly sources: readonly string[]
  readonly rowsPerSource: number
  readonly view: string
  /** What sluice_catalog.state's entries count here. */
  readonly entriesAre: string
  /** One row whose columns, in order, are the checksum's parts. */
  readonly checkSql: string
  /** The checksum computed independently of Sluice, in the order of checkSql's columns. */
  readonly expected: readonly bigint[]
}

function groupBy(keys: number, events: number): Workload {
  const n = BigInt(events)
  return {
    title: `GROUP BY: keys ${keys.toLocaleString('en-US')}, events ${events.toLocaleString('en-US')}`,
    ddl: [
      `CREATE SOURCE seq WITH (connector = 'datagen', generator = 'sequence', max_events = '${events}', paced = 'false')`,
    ],
    create: `CREATE MATERIALIZED VIEW agg AS SELECT n % ${keys} AS k, count(*) AS c, sum(n) AS s FROM seq GROUP BY n % ${keys}`,
    sources: ['seq'],
    rowsPerSource: events,
    view: 'agg',
    entriesAre: 'groups',
    checkSql: 'SELECT count(*) AS g, sum(c) AS c, sum(s) AS s FROM agg',
    // n runs over 0..events-1, k = n % keys, s sums n.
    expected: [BigInt(Math.min(keys, events)), n, (n * (n - 1n)) / 2n],
  }
}

/** The smallest prime at or above `from` that does not divide `n`. */
function primeNotDividing(from: number, n: number): number {
  for (let p = Math.max(2, from); ; p++) {
    let prime = true
    for (let d = 2; d * d <= p; d++) {
      if (p % d === 0) {
        prime = false
        break
      }
    }
    if (prime && n % p !== 0) return p
  }
}

function innerJoin(rows: number): Workload {
  // A multiplier near the golden ratio spreads b's keys over the whole range at every scale; a
  // prime not dividing rows makes (n * p) % rows a permutation of 0..rows-1.
  const p = primeNotDividing(Math.floor(rows * 0.618034), rows)
  const n = BigInt(rows)
  const source = (name: string): string =>
    `CREATE SOURCE ${name} WITH (connector = 'datagen', generator = 'sequence', max_events = '${rows}', paced = 'false')`
  return {
    title: `inner join: ${rows.toLocaleString('en-US')} rows per side, a.n = (b.n * ${p}) % ${rows}`,
    ddl: [source('a'), source('b')],
    create: `CREATE MATERIALIZED VIEW j AS SELECT count(*) AS c, sum(a.n) AS sa, sum(b.n) AS sb FROM a JOIN b ON a.n = (b.n * ${p}) % ${rows}`,
    sources: ['a', 'b'],
    rowsPerSource: rows,
    view: 'j',
    entriesAre: 'join rows + 1 group',
    checkSql: 'SELECT c, sa, sb FROM j',
    // Each of a's n in 0..rows-1 matches exactly one of b's, and b's n run over 0..rows-1 too.
    expected: [n, (n * (n - 1n)) / 2n, (n * (n - 1n)) / 2n],
  }
}

const work = args.join ? innerJoin(Number(args.rows)) : groupBy(Number(args.keys), Number(args.events))
const totalRows = work.rowsPerSource * work.sources.length

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return 0
  try {
    // /proc/<pid>/statm: size and resident, in pages.
    const statm = readFileSync(`/proc/${pid}/statm`, 'utf8')
    return (Number(statm.split(' ')[1]) * 4096) / 2 ** 20
  } catch {
    return 0
  }
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US')
const show = (v: readonly bigint[]): string => v.join(', ')
const same = (a: readonly bigint[], b: readonly bigint[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i])

const dataDir = mkdtempSync(join(tmpdir(), 'sluice-bench-state-'))
const extra = ['--checkpoint-interval', '1000', ...(args.cache === undefined ? [] : ['--state-cache', args.cache])]
const sluice = await SluiceProcess.create(dataDir, extra, [`--max-old-space-size=${args.heap}`])
let peakRss = 0
const sample = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(sluice.pid))), 200)
try {
  await sluice.start()
  const c = await sluice.client()
  for (const sql of work.ddl) await c.query(sql)
  if (args.join) {
    // The join's equality is on an expression: it must still be a hash join on the key.
    const plan = (await c.query(`EXPLAIN ${work.create}`)).rows.map((r: Record<string, string>) =>
      Object.values(r).join(''),
    )
    const hash = plan.find((l) => /HashJoin inner on #\d+ = #\d+/.test(l))
    if (hash === undefined) throw new Error(`the join is not planned as a hash join:\n${plan.join('\n')}`)
    console.log(`plan: ${hash.trim()}`)
  }
  await c.query(work.create)
  console.log(`${work.title}; heap ${args.heap} MB, cache ${args.cache ?? 'default'}, pid ${sluice.pid}`)
  const t0 = performance.now()
  const readRows = async (): Promise<number[]> => {
    const text = await (await fetch(`http://127.0.0.1:${sluice.httpPort}/metrics`)).text()
    return work.sources.map((s) =>
      Number(new RegExp(`^sluice_source_rows_total\\{source="${s}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0),
    )
  }
  for (let last = 0, lastAt = t0; last < totalRows;) {
    await new Promise((r) => setTimeout(r, 2000))
    const perSource = await readRows()
    const rows = perSource.reduce((a, b) => a + b, 0)
    const now = performance.now()
    // (undefined on a build without state tables, for comparing against one)
    const st = await c
      .query(
        `SELECT entries, cached_entries, cached_bytes, misses, evictions FROM sluice_catalog.state WHERE name = '${work.view}'`,
      )
      .catch(() => undefined)
    const s = st?.rows[0] as Record<string, string> | undefined
    // The last checkpoint: eviction runs after each durable one, so slow checkpoints let memory grow.
    const ck = (
      await c.query('SELECT epoch, duration_ms, size_bytes FROM sluice_catalog.checkpoints ORDER BY epoch DESC LIMIT 1')
    ).rows[0] as { epoch: string; duration_ms: number; size_bytes: string } | undefined
    console.log(
      `  ${((now - t0) / 1000).toFixed(0).padStart(5)} s ${perSource.map((r) => fmt(r).padStart(11)).join(' ')} rows  ` +
        `${fmt(((rows - last) * 1000) / (now - lastAt)).padStart(9)} rows/s  rss ${rssMiB(sluice.pid).toFixed(0)} MiB` +
        (s === undefined
          ? ''
          : `  ${work.entriesAre} ${s.entries} (in memory ${s.cached_entries}, ${(Number(s.cached_bytes) / 2 ** 20).toFixed(0)} MiB by the cache's estimate)  misses ${s.misses}  evictions ${s.evictions}`) +
        (ck === undefined
          ? ''
          : `  checkpoint ${ck.epoch} took ${(ck.duration_ms / 1000).toFixed(1)} s, ${(Number(ck.size_bytes) / 2 ** 20).toFixed(0)} MiB`),
    )
    last = rows
    lastAt = now
  }
  await c.query('FLUSH')
  const totalSec = (performance.now() - t0) / 1000
  const check = async (): Promise<bigint[]> => {
    const r = await sluice.query(work.checkSql)
    return Object.values(r.rows[0] as Record<string, string | null>).map((v) => BigInt(v ?? -1))
  }
  const got = await check()
  // 'dist' or 'sources' (bin/sluice.js runs the sources through tsx when dist/ is stale).
  const code = /"code":"(\w+)"/.exec(sluice.output)?.[1] ?? 'unknown'
  const ok = same(got, work.expected)
  console.log(
    `total ${fmt(totalRows / totalSec)} rows/s (${work.sources.length} source${work.sources.length > 1 ? 's' : ''}) over ${totalSec.toFixed(1)} s; ` +
      `peak rss ${peakRss.toFixed(0)} MiB; server code ${code}; checksum ${ok ? `equal (${show(got)})` : `DIFFERENT: got ${show(got)}, want ${show(work.expected)}`}`,
  )
  // Let a checkpoint cover everything, then kill -9 and time the restart.
  const epoch = async (): Promise<number> =>
    Number((await c.query('SELECT max(epoch) AS e FROM sluice_catalog.checkpoints')).rows[0].e ?? 0)
  const e0 = await epoch()
  while ((await epoch()) < e0 + 2) await new Promise((r) => setTimeout(r, 200))
  await c.end()
  const killed = performance.now()
  await sluice.kill()
  sluice.output = ''
  const answerSec = (await sluice.start()) / 1000
  const again = await check()
  const servedSec = (performance.now() - killed) / 1000
  const sameAgain = same(again, work.expected)
  const restored = /"msg":"(restored checkpoint \d+ in \d+ ms)"/.exec(sluice.output)?.[1] ?? 'no restore line'
  console.log(
    `restart: pgwire answered ${answerSec.toFixed(2)} s after spawn (${restored}); whole view served ${servedSec.toFixed(2)} s after kill -9; ` +
      `checksum ${sameAgain ? 'equal' : `DIFFERENT: got ${show(again)}`}; peak rss ${peakRss.toFixed(0)} MiB` +
      (peakRss > 3072 ? ' (OVER 3 GiB)' : ''),
  )
  if (!ok || !sameAgain) process.exitCode = 1
} catch (e) {
  // The server's own account (a heap limit, a crash) is the finding: print its last lines.
  console.error(`server output since the last start (last 6,000 characters):\n${sluice.output.slice(-6000)}`)
  throw e
} finally {
  clearInterval(sample)
  await sluice.kill()
  rmSync(dataDir, { recursive: true, force: true })
}
