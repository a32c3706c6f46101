/**
 * The Redis sink against the real Redis on 127.0.0.1:6379: a view with retractions kept as
 * hashes that equal `SELECT * FROM view` after each committed checkpoint (deleted groups gone,
 * NULL columns absent, values as Sluice prints them over pgwire); a top-N view as sorted sets a
 * dashboard reads with ZREVRANGE; repeated and old epochs change nothing; an unreachable Redis
 * leaves the sink unhealthy until it comes back, then it catches up; bad options are 22023;
 * and a real server process killed with SIGKILL recovers its logged epochs, committed once.
 * Every test uses its own sink names and key prefixes and deletes its keys afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from 'redis'
import type { ConnectorContext, SinkSpec } from '../../engine/connector.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { Sluice } from '../../engine/index.ts'
import { chunkFromRows } from '../../engine/chunk.ts'
import { scalar } from '../../engine/types/datatype.ts'
import { formatText } from '../../engine/types/text.ts'
import { SluiceProcess } from '../../test/sluice-process.ts'
import { TcpProxy } from '../upsert/tcp-proxy.ts'
import { codeOf, commitsObserved } from '../upsert/test-support.ts'
import { redisSinkFactory } from './sink.ts'

const REDIS_URL = 'redis://127.0.0.1:6379'
const RUN = `t${process.pid.toString(36)}${Date.now().toString(36)}`
let seq = 0
/** A name no other test (or earlier run) uses: sink names key the progress, prefixes the data. */
const unique = (stem: string): string => `${stem}_${RUN}_${++seq}`

const redis = createClient({ url: REDIS_URL })
redis.on('error', () => {})
const dirs: string[] = []
const dbs: Sluice[] = []
const proxies: TcpProxy[] = []

beforeAll(async () => {
  await redisSinkFactory.prepare?.()
  await redis.connect()
})

afterAll(async () => {
  for (const db of dbs) await db.close().catch(() => {})
  for (const p of proxies) await p.close()
  for (const pattern of [`*${RUN}*`])
    for await (const keys of redis.scanIterator({ MATCH: pattern, COUNT: 1000 }))
      if (keys.length > 0) await redis.del(keys)
  redis.destroy()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-redis-'))
  dirs.push(d)
  return d
}

async function openDb(dataDir = tempDir()): Promise<Sluice> {
  const db = await Sluice.open({ dataDir, sinks: [redisSinkFactory], checkpointIntervalMs: 3_600_000 })
  dbs.push(db)
  return db
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

interface SinkRow {
  status: string
  lastError: string | null
  committed: bigint
  pending: number
}

async function sinkRow(db: Sluice, name: string): Promise<SinkRow> {
  const [r] = await db.sql(
    `SELECT status, last_error, committed_epoch, pending_epochs FROM sluice_catalog.sinks WHERE name = '${name}'`,
  )
  const row = r.rows?.[0]
  if (row === undefined) throw new Error(`no sink ${name}`)
  return {
    status: row[0] as string,
    lastError: row[1] as string | null,
    committed: row[2] as bigint,
    pending: row[3] as number,
  }
}

/** FLUSH, take a checkpoint, and wait until the sink has committed every epoch up to it. */
async function settle(db: Sluice, sink: string): Promise<void> {
  await db.sql('FLUSH')
  const cp = await db.engine.checkpoints.checkpoint()
  expect(cp?.status).toBe('completed')
  await waitFor(`sink ${sink} to commit`, async () => {
    const s = await sinkRow(db, sink)
    return s.pending === 0 && s.status === 'running'
  })
}

/** Every hash under `prefix`: key → fields. */
async function hashes(prefix: string): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {}
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    for (const k of keys) if ((await redis.type(k)) === 'hash') out[k] = await redis.hGetAll(k)
  }
  return out
}

/** The view's rows as the sink should have written them: text as pgwire prints it, NULL fields absent. */
async function expectedHashes(
  db: Sluice,
  view: string,
  key: readonly string[],
  prefix: string,
): Promise<Record<string, Record<string, string>>> {
  const [r] = await db.sql(`SELECT * FROM ${view}`)
  const cols = r.columns ?? []
  const out: Record<string, Record<string, string>> = {}
  for (const row of r.rows ?? []) {
    const fields: Record<string, string> = {}
    cols.forEach((c, i) => {
      if (row[i] !== null) fields[c.name] = formatText(c.type, row[i], 'UTC')
    })
    const k = key.map((name) => {
      const i = cols.findIndex((c) => c.name === name)
      return row[i] === null ? '\\N' : formatText(cols[i].type, row[i], 'UTC')
    })
    out[prefix + k.join(':')] = fields
  }
  return out
}

/** How many epoch commits `sluice_sink_commit_seconds{sink}` has observed for a sink. */
describe('redis sink', () => {
  it('keeps a GROUP BY view with updates and deletes as hashes equal to SELECT * FROM view', async () => {
    const db = await openDb()
    const sink = unique('by_region')
    const prefix = `${sink}:`
    await db.sql('CREATE TABLE orders (id BIGINT PRIMARY KEY, region TEXT, amount NUMERIC, note TEXT, at TIMESTAMPTZ)')
    await db.sql(`INSERT INTO orders VALUES
      (1, 'eu', 10.50, 'first', '2026-12-02 10:00:00+00'),
      (2, 'eu', 2.25, NULL, '2026-12-02 11:30:00.123456+00'),
      (3, 'us', 99999999999999999999.99, NULL, '2026-12-02 09:00:00+00'),
      (4, 'apac', 1, 'x', '2026-12-01 00:00:00+00')`)
    await db.sql(`CREATE MATERIALIZED VIEW by_region AS
      SELECT region, count(*) AS n, sum(amount) AS total, max(note) AS last_note, max(at) AS last_at, sum(id) AS ids
      FROM orders GROUP BY region`)
    await db.sql(`CREATE SINK ${sink} FROM by_region WITH (connector = 'redis', url = '${REDIS_URL}')`)
    // The view's current rows are the sink's first epoch, committed by the checkpoint CREATE SINK takes.
    await settle(db, sink)
    expect(Object.keys(await hashes(prefix)).sort()).toEqual([`${prefix}apac`, `${prefix}eu`, `${prefix}us`])
    expect(await hashes(prefix)).toEqual(await expectedHashes(db, 'by_region', ['region'], prefix))
    // Exact text: NUMERIC digits, microseconds, NULL as an absent field.
    expect(await redis.hGetAll(`${prefix}us`)).toEqual({
      region: 'us',
      n: '1',
      total: '99999999999999999999.99',
      last_at: '2026-12-02 09:00:00+00',
      ids: '3',
    })

    await db.sql("UPDATE orders SET region = 'us', note = 'moved' WHERE id = 1")
    await db.sql('DELETE FROM orders WHERE id = 4') // the apac group is gone
    await db.sql("INSERT INTO orders VALUES (5, 'latam', -3.5, NULL, '2026-12-03 00:00:00+00')")
    await db.sql("UPDATE orders SET amount = amount + 1 WHERE region = 'eu'")
    await settle(db, sink)
    const got = await hashes(prefix)
    expect(Object.keys(got).sort()).toEqual([`${prefix}eu`, `${prefix}latam`, `${prefix}us`])
    expect(got).toEqual(await expectedHashes(db, 'by_region', ['region'], prefix))
    // eu's note went NULL (its only noted order moved): the field is gone, the hash is not.
    expect(got[`${prefix}eu`].last_note).toBeUndefined()
    expect(await redis.get(`_sluice:sink:${sink}:progress`)).toBe(String(db.engine.checkpoints.epoch))
    // Write latency: one observation per committed epoch, labelled with the sink.
    expect(await commitsObserved(db, sink)).toBe(2)
  })

  it('keeps a top-N view as sorted sets per group that a dashboard reads with ZREVRANGE', async () => {
    const db = await openDb()
    const sink = unique('top3')
    const zkey = unique('leaders')
    await db.sql('CREATE TABLE bids (id BIGINT PRIMARY KEY, category TEXT, auction BIGINT, price BIGINT)')
    const rows: string[] = []
    let id = 0
    // category a: auction 1 ×5, 2 ×4, 3 ×3, 4 ×2; category b: auction 7 ×2, 8 ×1
    for (const [cat, auction, n] of [
      ['a', 1, 5],
      ['a', 2, 4],
      ['a', 3, 3],
      ['a', 4, 2],
      ['b', 7, 2],
      ['b', 8, 1],
    ] as const) {
      for (let i = 0; i < n; i++) rows.push(`(${++id}, '${cat}', ${auction}, ${100 + id})`)
    }
    await db.sql(`INSERT INTO bids VALUES ${rows.join(', ')}`)
    await db.sql(
      'CREATE MATERIALIZED VIEW per_auction AS SELECT category, auction, count(*) AS n, max(price) AS top FROM bids GROUP BY category, auction',
    )
    await db.sql(`CREATE MATERIALIZED VIEW top3 AS SELECT * FROM (
      SELECT category, auction, n, top, ROW_NUMBER() OVER (PARTITION BY category ORDER BY n DESC) AS rn FROM per_auction) r WHERE rn <= 3`)
    await db.sql(`CREATE SINK ${sink} FROM top3 WITH (connector = 'redis', url = '${REDIS_URL}', key = 'category, auction',
      zset = 'n', zset_group = 'category', zset_key = '${zkey}')`)
    // The view's own key (category, rn): a hash per rank, the auctions named as members.
    const ranks = unique('ranks')
    await db.sql(
      `CREATE SINK ${ranks} FROM top3 WITH (connector = 'redis', url = '${REDIS_URL}', zset = 'n', zset_group = 'category', zset_member = 'auction')`,
    )
    await settle(db, sink)
    await settle(db, ranks)

    const board = async (cat: string, set = zkey): Promise<string[]> =>
      (await redis.zRangeWithScores(`${set}:${cat}`, 0, -1, { REV: true })).map((e) => `${e.value}=${e.score}`)
    const sameBoards = async (): Promise<void> => {
      for (const cat of ['a', 'b']) expect(await board(cat, `${ranks}:by_n`)).toEqual(await board(cat))
      expect(await hashes(`${ranks}:`)).toEqual(await expectedHashes(db, 'top3', ['category', 'rn'], `${ranks}:`))
    }
    const fromView = async (cat: string): Promise<string[]> => {
      const [r] = await db.sql(`SELECT auction, n FROM top3 WHERE category = '${cat}' ORDER BY rn`)
      return (r.rows ?? []).map((row) => `${String(row[0])}=${String(row[1])}`)
    }
    expect(await board('a')).toEqual(['1=5', '2=4', '3=3'])
    expect(await board('a')).toEqual(await fromView('a'))
    expect(await board('b')).toEqual(['7=2', '8=1'])
    // What a dashboard reads: the leaders with scores, then a leader's row.
    expect(await redis.sendCommand(['ZREVRANGE', `${zkey}:a`, '0', '2', 'WITHSCORES'])).toEqual([
      ['1', 5],
      ['2', 4],
      ['3', 3],
    ])
    expect(await redis.hGetAll(`${sink}:a:1`)).toEqual({ category: 'a', auction: '1', n: '5', top: '105', rn: '1' })
    await sameBoards()

    // Auction 4 overtakes 2 and 3 (ranks swap: the top-N emits +row before -row of one key),
    // auction 1 drops to 2 bids and out of the top 3, category b loses auction 8 altogether.
    const more = Array.from({ length: 3 }, () => `(${++id}, 'a', 4, 500)`)
    await db.sql(`INSERT INTO bids VALUES ${more.join(', ')}`)
    await db.sql('DELETE FROM bids WHERE id IN (1, 2, 3)')
    await db.sql("DELETE FROM bids WHERE category = 'b' AND auction = 8")
    await settle(db, sink)
    expect(await board('a')).toEqual(['4=5', '2=4', '3=3'])
    expect(await board('a')).toEqual(await fromView('a'))
    expect(await board('b')).toEqual(['7=2'])
    // Auction 1 left the top 3: its hash and its member are gone; 8 too.
    expect(await redis.exists([`${sink}:a:1`, `${sink}:b:8`])).toBe(0)
    expect(await hashes(`${sink}:`)).toEqual(await expectedHashes(db, 'top3', ['category', 'auction'], `${sink}:`))
    await settle(db, ranks)
    await sameBoards()

    // The last row of a group goes: its set is gone (an empty sorted set does not exist).
    await db.sql("DELETE FROM bids WHERE category = 'b'")
    await settle(db, sink)
    await settle(db, ranks)
    expect(await redis.exists([`${zkey}:b`, `${ranks}:by_n:b`])).toBe(0)
    await sameBoards()
  })

  it('applies an epoch as its net change per key and repeats or replays old epochs as no-ops', async () => {
    const name = unique('writer')
    const spec: SinkSpec = {
      columns: [
        { name: 'k', type: scalar('int8') },
        { name: 'v', type: scalar('text') },
        { name: 'score', type: scalar('float8') },
        { name: 'doc', type: scalar('jsonb') },
      ],
      key: [0],
      appendOnly: false,
    }
    const ctx: ConnectorContext = { name, deadLetter: () => {}, now: () => 0, log: () => {} }
    const w = redisSinkFactory.create(
      spec,
      new Map([
        ['url', REDIS_URL],
        ['zset', 'score'],
      ]),
      ctx,
    )
    await w.open()
    expect(await w.committedEpoch()).toBe(0)
    const rows = (op: 1 | -1, ...rs: Value[][]): ReturnType<typeof chunkFromRows> => chunkFromRows(4, rs, op)
    w.write(rows(1, [1n, 'one', 1.5, null], [2n, 'two', 2, null], [3n, 'three', 3, null]))
    const e1 = w.preCommit(1)
    await w.commit(1, e1)
    expect(await redis.hGetAll(`${name}:2`)).toEqual({ k: '2', v: 'two', score: '2' })

    // Epoch 2: an update of 1 (−old +new), 2 deleted then inserted again, 3 inserted again and
    // then deleted (ends deleted), 4 inserted and deleted (never exists), NaN and ±Infinity scores.
    w.write(rows(-1, [1n, 'one', 1.5, null], [2n, 'two', 2, null]))
    w.write(
      rows(1, [1n, 'uno', Infinity, null], [2n, 'dos', 2, null], [4n, 'four', 4, null], [5n, 'five', Number.NaN, null]),
    )
    w.write(rows(-1, [3n, 'three', 3, null], [4n, 'four', 4, null]))
    const e2 = w.preCommit(2)
    expect(w.preCommit(3)).toBeUndefined() // nothing written since
    await w.commit(2, e2)
    const after2 = {
      1: await redis.hGetAll(`${name}:1`),
      2: await redis.hGetAll(`${name}:2`),
      set: await redis.zRangeWithScores(`${name}:by_score`, 0, -1),
    }
    expect(after2[1]).toEqual({ k: '1', v: 'uno', score: 'Infinity' })
    expect(after2[2]).toEqual({ k: '2', v: 'dos', score: '2' })
    expect(await redis.exists([`${name}:3`, `${name}:4`])).toBe(0)
    expect(after2.set.map((e) => `${e.value}=${e.score}`)).toEqual(['2=2', '1=Infinity'])
    expect(await redis.hGetAll(`${name}:5`)).toEqual({ k: '5', v: 'five', score: 'NaN' }) // no score: in no set

    // The same epoch again, and an older one: no effect (epoch 1 would bring back 'one' and 3).
    await w.commit(2, e2)
    await w.commit(1, e1)
    expect(await redis.hGetAll(`${name}:1`)).toEqual(after2[1])
    expect(await redis.exists(`${name}:3`)).toBe(0)
    expect(await redis.get(`_sluice:sink:${name}:progress`)).toBe('2')

    // A fresh writer (a restart) sees the progress and skips the epoch it already committed.
    const again = redisSinkFactory.create(
      spec,
      new Map([
        ['url', REDIS_URL],
        ['zset', 'score'],
      ]),
      ctx,
    )
    await again.open()
    expect(await again.committedEpoch()).toBe(2)
    await again.commit(1, e1)
    expect(await redis.exists(`${name}:3`)).toBe(0)
    await again.close()
    await w.close()
  })

  it('keeps an epoch pending when Redis refuses part of it (a key of another type) and applies it once fixed', async () => {
    const name = unique('wrongtype')
    const spec: SinkSpec = {
      columns: [
        { name: 'k', type: scalar('int8') },
        { name: 'v', type: scalar('text') },
      ],
      key: [0],
      appendOnly: false,
    }
    const ctx: ConnectorContext = { name, deadLetter: () => {}, now: () => 0, log: () => {} }
    const w = redisSinkFactory.create(spec, new Map([['url', REDIS_URL]]), ctx)
    await w.open()
    w.write(chunkFromRows(2, [[1n, 'a']]))
    await w.commit(1, w.preCommit(1))
    await redis.set(`${name}:2`, 'not a hash')
    w.write(
      chunkFromRows(2, [
        [2n, 'b'],
        [3n, 'c'],
      ]),
    )
    const e2 = w.preCommit(2)
    await expect(w.commit(2, e2)).rejects.toMatchObject({
      code: '42804',
      message: expect.stringContaining('WRONGTYPE'),
    })
    // EXEC applied the rest, but the progress was put back: the epoch is still to be committed.
    expect(await w.committedEpoch()).toBe(1)
    await redis.del(`${name}:2`)
    await w.commit(2, e2)
    expect(await w.committedEpoch()).toBe(2)
    expect([await redis.hGetAll(`${name}:2`), await redis.hGetAll(`${name}:3`)]).toEqual([
      { k: '2', v: 'b' },
      { k: '3', v: 'c' },
    ])
    await w.close()
  })

  it('shows the sink unhealthy while Redis is unreachable and catches up when it is back', async () => {
    const proxy = new TcpProxy('127.0.0.1', 6379)
    proxies.push(proxy)
    await proxy.open()
    const db = await openDb()
    const sink = unique('flaky')
    await db.sql('CREATE TABLE t (id BIGINT PRIMARY KEY, g TEXT, v BIGINT)')
    await db.sql("INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2)")
    await db.sql('CREATE MATERIALIZED VIEW per_g AS SELECT g, sum(v) AS s FROM t GROUP BY g')
    await db.sql(`CREATE SINK ${sink} FROM per_g WITH (connector = 'redis', url = 'redis://127.0.0.1:${proxy.port}')`)
    await settle(db, sink)

    await proxy.close()
    await db.sql("INSERT INTO t VALUES (3, 'c', 3)")
    await db.engine.checkpoints.checkpoint()
    await db.sql("DELETE FROM t WHERE g = 'a'")
    await db.engine.checkpoints.checkpoint()
    await waitFor('the sink to turn unhealthy', async () => (await sinkRow(db, sink)).status === 'unhealthy')
    const down = await sinkRow(db, sink)
    expect(down.lastError).toContain('unreachable')
    expect(down.pending).toBeGreaterThanOrEqual(1)
    expect(await hashes(`${sink}:`)).toEqual({ [`${sink}:a`]: { g: 'a', s: '1' }, [`${sink}:b`]: { g: 'b', s: '2' } })

    await proxy.open()
    await settle(db, sink)
    expect(await hashes(`${sink}:`)).toEqual(await expectedHashes(db, 'per_g', ['g'], `${sink}:`))
    expect(Object.keys(await hashes(`${sink}:`)).sort()).toEqual([`${sink}:b`, `${sink}:c`])
  })

  it("writes the first rows of a sink created, past its name's progress, while a checkpoint is in flight", async () => {
    const db = await openDb()
    const sink = unique('late_floor')
    const prefix = `${sink}:`
    await db.sql('CREATE TABLE kv (k TEXT PRIMARY KEY, v INT)')
    await db.sql("INSERT INTO kv VALUES ('a', 1), ('b', 2)")
    await db.sql('CREATE MATERIALIZED VIEW kv_view AS SELECT k, v FROM kv')
    // An earlier sink of this name committed up to epoch 50 (a dropped sink, a wiped data dir).
    await redis.set(`_sluice:sink:${sink}:progress`, '50')
    // A checkpoint chooses its epoch, then waits (here for the shards' barrier) ...
    const hosts = db.engine.shardHosts
    const barrier = hosts.barrier.bind(hosts)
    let release = (): void => {}
    const gate = new Promise<void>((resolve) => (release = resolve))
    hosts.barrier = async (epoch) => {
      await gate
      return barrier(epoch)
    }
    const inFlight = db.engine.checkpoints.checkpoint()
    // ... while CREATE SINK skips to 51 and the sink's dataflow emits the view's rows (its own
    // checkpoint then queues behind the one in flight).
    const created = db.sql(`CREATE SINK ${sink} FROM kv_view WITH (connector = 'redis', url = '${REDIS_URL}')`)
    await waitFor('the sink to be registered', () => db.engine.get(sink) !== undefined)
    hosts.barrier = barrier
    release()
    expect((await inFlight)?.status).toBe('completed')
    await created
    await settle(db, sink)
    expect(await hashes(prefix)).toEqual({ [`${prefix}a`]: { k: 'a', v: '1' }, [`${prefix}b`]: { k: 'b', v: '2' } })
    expect(Number(await redis.get(`_sluice:sink:${sink}:progress`))).toBeGreaterThan(50)
  })

  it("writes the rows of a sink restored without checkpoint state past its name's progress", async () => {
    const dir = tempDir()
    let db = await openDb(dir)
    const sink = unique('fresh_restore')
    const prefix = `${sink}:`
    await db.sql('CREATE TABLE kv (k TEXT PRIMARY KEY, v INT)')
    await db.sql("INSERT INTO kv VALUES ('a', 1), ('b', 2)")
    await db.sql('CREATE MATERIALIZED VIEW kv_view AS SELECT k, v FROM kv')
    expect((await db.engine.checkpoints.checkpoint())?.status).toBe('completed')
    // An earlier sink of this name committed up to epoch 50 (a dropped sink, a wiped data dir).
    await redis.set(`_sluice:sink:${sink}:progress`, '50')
    // A crash after CREATE SINK, before the checkpoint it takes: the catalog has the sink, no
    // checkpoint has its state.
    db.engine.checkpoints.checkpoint = () => Promise.resolve(undefined)
    await db.sql(`CREATE SINK ${sink} FROM kv_view WITH (connector = 'redis', url = '${REDIS_URL}')`)
    await db.close({ lastCheckpoint: false })
    db = await openDb(dir)
    // Restored, it starts over from the view, and must not number its epochs at or below 50.
    const want = { [`${prefix}a`]: { k: 'a', v: '1' }, [`${prefix}b`]: { k: 'b', v: '2' } }
    // (SCAN returns keys in any order: compared as sorted entries)
    const canonical = (h: Record<string, Record<string, string>>): string =>
      JSON.stringify(
        Object.keys(h)
          .sort()
          .map((k) => [k, Object.entries(h[k]).sort()]),
      )
    await waitFor('the restored sink to write the view', async () => {
      await settle(db, sink)
      return canonical(await hashes(prefix)) === canonical(want)
    })
    expect(Number(await redis.get(`_sluice:sink:${sink}:progress`))).toBeGreaterThan(50)
  })

  it('refuses bad options with 22023', async () => {
    const db = await openDb()
    await db.sql('CREATE TABLE t (id BIGINT PRIMARY KEY, g TEXT, v BIGINT)')
    await db.sql('CREATE MATERIALIZED VIEW per_g AS SELECT g, sum(v) AS s FROM t GROUP BY g')
    await db.sql('CREATE TABLE nokey (a BIGINT, b TEXT)')
    const create = (withClause: string, from = 'per_g'): Promise<unknown> =>
      db.sql(`CREATE SINK ${unique('bad')} FROM ${from} WITH (connector = 'redis', ${withClause})`)
    expect(await codeOf(create(`url = '${REDIS_URL}', colour = 'red'`))).toBe('22023')
    expect(await codeOf(create(`URL = '${REDIS_URL}', Key_Prefix = 'x:', Zset = 'nope'`))).toBe('22023') // keys are case-insensitive: zset's column is what is wrong
    expect(await codeOf(create("key = 'g'"))).toBe('22023')
    expect(await codeOf(create("url = 'http://127.0.0.1:6379'"))).toBe('22023')
    expect(await codeOf(create("url = 'not a url'"))).toBe('22023')
    expect(await codeOf(create(`url = '${REDIS_URL}', key = 'missing'`))).toBe('22023')
    expect(await codeOf(create(`url = '${REDIS_URL}', zset = 'g'`))).toBe('22023') // not numeric
    expect(await codeOf(create(`url = '${REDIS_URL}', zset_group = 'g'`))).toBe('22023') // needs zset
    expect(await codeOf(create(`url = '${REDIS_URL}'`, 'nokey'))).toBe('22023') // no key to derive
    // Valid options but nothing listening: CREATE fails with the reason, and no sink is left.
    expect(await codeOf(create("url = 'redis://127.0.0.1:1'"))).toBe('58030')
    expect((await db.sql('SHOW SINKS'))[0].rows).toEqual([])
    // A named key makes a keyless input sinkable.
    const ok = unique('nokey')
    await db.sql(`CREATE SINK ${ok} FROM nokey WITH (connector = 'redis', url = '${REDIS_URL}', key = 'a')`)
    expect((await db.sql('SHOW SINKS'))[0].rows).toEqual([[ok]])
  })
})

describe('redis sink in a server process killed with SIGKILL', () => {
  it('commits logged epochs once after each restart and ends equal to the view', async () => {
    const proxy = new TcpProxy('127.0.0.1', 6379)
    proxies.push(proxy)
    await proxy.open()
    const sink = unique('crash')
    const prefix = `${sink}:`
    const sluice = await SluiceProcess.create(tempDir(), ['--checkpoint-interval', '100'])
    try {
      await sluice.start()
      await sluice.query('CREATE TABLE t (id BIGINT PRIMARY KEY, g INT, v BIGINT)')
      await sluice.query('CREATE MATERIALIZED VIEW per_g AS SELECT g, count(*) AS n, sum(v) AS s FROM t GROUP BY g')
      await sluice.query(
        `CREATE SINK ${sink} FROM per_g WITH (connector = 'redis', url = 'redis://127.0.0.1:${proxy.port}')`,
      )
      let nextId = 1
      let random = 7
      const rand = (n: number): number => {
        random = (Math.imul(random, 1664525) + 1013904223) >>> 0
        return random % n
      }
      for (let round = 0; round < 3; round++) {
        const c = await sluice.client()
        for (let i = 0; i < 30; i++) {
          const r = rand(10)
          if (r < 6)
            await c.query(
              `INSERT INTO t VALUES ${Array.from({ length: 5 }, () => `(${nextId++}, ${rand(8)}, ${rand(100)})`).join(', ')}`,
            )
          else if (r < 8) await c.query(`UPDATE t SET v = v + 1, g = (g + 1) % 8 WHERE id % 5 = ${rand(5)} AND g < 8`)
          else await c.query(`DELETE FROM t WHERE g = ${rand(8)}`)
        }
        if (round === 1) {
          // Redis goes away: epochs become durable in checkpoints but cannot commit. Group 100
          // exists only in them (no later statement touches it).
          await proxy.close()
          await c.query(`INSERT INTO t VALUES (${nextId++}, 100, 1)`)
          await c.query('DELETE FROM t WHERE g = 0')
          await waitFor('logged epochs to pile up', async () => {
            const r = await sluice.query(
              `SELECT status, pending_epochs FROM sluice_catalog.sinks WHERE name = '${sink}'`,
            )
            return r.rows[0]?.status === 'unhealthy' && Number(r.rows[0]?.pending_epochs) >= 2
          })
        }
        await c.end().catch(() => {})
        await sluice.kill()
        if (round === 1) await proxy.open()
        await sluice.start()
      }
      // No more writes: wait for a checkpoint after FLUSH and for the sink to commit through it.
      await sluice.query('FLUSH')
      const last = Number(
        (await sluice.query('SELECT coalesce(max(epoch), 0) AS e FROM sluice_catalog.checkpoints')).rows[0].e,
      )
      await waitFor(
        'a later checkpoint committed by the sink',
        async () => {
          const cp = Number(
            (await sluice.query('SELECT coalesce(max(epoch), 0) AS e FROM sluice_catalog.checkpoints')).rows[0].e,
          )
          const s = await sluice.query(`SELECT status, pending_epochs FROM sluice_catalog.sinks WHERE name = '${sink}'`)
          return cp > last && s.rows[0]?.status === 'running' && Number(s.rows[0]?.pending_epochs) === 0
        },
        60_000,
      )
      // The view over pgwire, in text as a client sees it.
      const c = await sluice.client()
      const view = await c.query({
        text: 'SELECT g, n, s FROM per_g',
        rowMode: 'array',
        types: { getTypeParser: () => (v: string) => v },
      })
      await c.end()
      const expected: Record<string, Record<string, string>> = {}
      for (const [g, n, s] of view.rows as string[][]) expected[`${prefix}${g}`] = { g, n, s }
      expect(Object.keys(expected).length).toBeGreaterThan(0)
      expect(await hashes(prefix)).toEqual(expected)
      expect(expected[`${prefix}100`]).toEqual({ g: '100', n: '1', s: '1' })
    } finally {
      await sluice.kill()
    }
  }, 180_000)
})
