/**
 * State larger than memory (docs/design/state.md): a GROUP BY view over many distinct keys in a
 * server process with a small heap, its state in LevelDB behind the state cache.
 *
 * A datagen sequence source (n = 0, 1, 2, ... as fast as the view reads) feeds
 * `SELECT n % keys AS k, count(*) AS c, sum(n) AS s FROM seq GROUP BY n % keys`. Prints events/s
 * each second with RSS and the cache's counters, then checks the view against the checksum
 * computed here in closed form (count of groups, sum of counts, sum of sums), kills the server
 * with SIGKILL and times the restart until the whole view is served again, checksum equal.
 *
 * Run: `npx tsx bench/state.ts [--keys N] [--events N] [--heap MB] [--cache SIZE]` (defaults:
 * 1,000,000 keys, 2,000,000 events, 1024 MB heap, the default cache).
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
    heap: { type: 'string', default: '1024' },
    cache: { type: 'string' },
  },
})
const KEYS = Number(args.keys)
const EVENTS = Number(args.events)

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

/** The view's expected checksum, computed independently of Sluice. */
function expected(): { groups: bigint; count: bigint; sum: bigint } {
  // n runs over 0..EVENTS-1, k = n % KEYS, s sums n.
  const n = BigInt(EVENTS)
  return { groups: BigInt(Math.min(KEYS, EVENTS)), count: n, sum: (n * (n - 1n)) / 2n }
}

const dataDir = mkdtempSync(join(tmpdir(), 'sluice-bench-state-'))
const extra = ['--checkpoint-interval', '1000', ...(args.cache === undefined ? [] : ['--state-cache', args.cache])]
const sluice = await SluiceProcess.create(dataDir, extra, [`--max-old-space-size=${args.heap}`])
let peakRss = 0
const sample = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(sluice.pid))), 200)
try {
  await sluice.start()
  const c = await sluice.client()
  await c.query(
    `CREATE SOURCE seq WITH (connector = 'datagen', generator = 'sequence', max_events = '${EVENTS}', paced = 'false')`,
  )
  await c.query(
    `CREATE MATERIALIZED VIEW agg AS SELECT n % ${KEYS} AS k, count(*) AS c, sum(n) AS s FROM seq GROUP BY n % ${KEYS}`,
  )
  console.log(
    `keys ${KEYS.toLocaleString('en-US')}, events ${EVENTS.toLocaleString('en-US')}, heap ${args.heap} MB, cache ${args.cache ?? 'default'}`,
  )
  const t0 = performance.now()
  const readRows = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${sluice.httpPort}/metrics`)).text()
    return Number(/^sluice_source_rows_total\{source="seq"\} (\d+)/m.exec(text)?.[1] ?? 0)
  }
  for (let last = 0, lastAt = t0; last < EVENTS;) {
    await new Promise((r) => setTimeout(r, 2000))
    const rows = await readRows()
    const now = performance.now()
    // (undefined on a build without state tables, for comparing against one)
    const st = await c
      .query("SELECT entries, cached_entries, misses, evictions FROM sluice_catalog.state WHERE name = 'agg'")
      .catch(() => undefined)
    const s = st?.rows[0] as Record<string, string> | undefined
    console.log(
      `  ${rows.toLocaleString('en-US').padStart(13)} events  ${Math.round(((rows - last) * 1000) / (now - lastAt))
        .toLocaleString('en-US')
        .padStart(9)} ev/s  rss ${rssMiB(sluice.pid).toFixed(0)} MiB` +
        (s === undefined
          ? ''
          : `  groups ${s.entries} (in memory ${s.cached_entries})  misses ${s.misses}  evictions ${s.evictions}`),
    )
    last = rows
    lastAt = now
  }
  await c.query('FLUSH')
  const totalSec = (performance.now() - t0) / 1000
  const check = async (): Promise<{ groups: bigint; count: bigint; sum: bigint }> => {
    const r = await sluice.query('SELECT count(*) AS g, sum(c) AS c, sum(s) AS s FROM agg')
    const row = r.rows[0] as { g: string; c: string; s: string }
    return { groups: BigInt(row.g), count: BigInt(row.c), sum: BigInt(row.s) }
  }
  const want = expected()
  const got = await check()
  const ok = got.groups === want.groups && got.count === want.count && got.sum === want.sum
  console.log(
    `total ${Math.round(EVENTS / totalSec).toLocaleString('en-US')} ev/s over ${totalSec.toFixed(1)} s; peak rss ${peakRss.toFixed(0)} MiB; checksum ${ok ? 'equal' : `DIFFERENT: got ${JSON.stringify(got, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`}`,
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
  const same = again.groups === want.groups && again.count === want.count && again.sum === want.sum
  const restored = /"msg":"(restored checkpoint \d+ in \d+ ms)"/.exec(sluice.output)?.[1] ?? 'no restore line'
  console.log(
    `restart: pgwire answered ${answerSec.toFixed(2)} s after spawn (${restored}); whole view served ${servedSec.toFixed(2)} s after kill -9; checksum ${same ? 'equal' : 'DIFFERENT'}; peak rss ${peakRss.toFixed(0)} MiB`,
  )
  if (!ok || !same) process.exitCode = 1
} finally {
  clearInterval(sample)
  await sluice.kill()
  rmSync(dataDir, { recursive: true, force: true })
}
