/**
 * The engine's shard threads (pool.ts): a thread boots and warms once, then hosts the shards of
 * any number of views, each on its own port; a shard that fails fails alone, and threads never
 * hold the process open themselves.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import type { FromShard, ShardInit, ToShard } from './protocol.ts'
import { T } from '../types/datatype.ts'
import { ShardThreads, type Placed } from './pool.ts'

/** One-shard views (a GROUP BY over a bounded, unpaced sequence). */
function inits(
  n: number,
  sql = 'CREATE MATERIALIZED VIEW v AS SELECT n % 4 AS k, count(*) AS c FROM seq GROUP BY n % 4',
): ShardInit[] {
  return Array.from({ length: n }, () => ({
    view: 'v',
    shard: 0,
    shards: 1,
    sql,
    timezone: 'UTC',
    now: Date.UTC(2024, 0, 1) * 1000,
    fuseWindows: true,
    sources: [
      {
        name: 'seq',
        connector: 'datagen',
        module: new URL('../../connectors/datagen/index.ts', import.meta.url).href,
        exportName: 'datagenSourceFactory',
        options: [
          ['generator', 'sequence'],
          ['max_events', '100'],
          ['paced', 'false'],
          ['base_time', '2024-01-01T00:00:00Z'],
        ],
        columns: [{ name: 'n', type: T.int8 }],
        watermark: undefined,
      },
    ],
    views: [],
    peers: [undefined],
    restore: undefined,
    state: undefined,
    maxBatchRows: 4096,
  }))
}

/** Resolves with the shard's first answer (`ready` or `failed`). */
function answer(p: Placed): Promise<FromShard> {
  return new Promise<FromShard>((resolve) => {
    const first = (m: FromShard): void => {
      if (m.t !== 'ready' && m.t !== 'failed') return
      p.port.off('message', first)
      resolve(m)
    }
    p.port.on('message', first)
  })
}

/** Sends `m` and resolves with the first answer of type `t`. */
function ask(p: Placed, m: ToShard, t: FromShard['t']): Promise<FromShard> {
  return new Promise<FromShard>((resolve) => {
    const on = (a: FromShard): void => {
      if (a.t !== t) return
      p.port.off('message', on)
      resolve(a)
    }
    p.port.on('message', on)
    p.port.postMessage(m)
  })
}

async function stop(p: Placed): Promise<void> {
  await ask(p, { t: 'stop' }, 'stopped')
  p.release()
  p.port.close()
}

const noLoss = (): void => {
  throw new Error('a thread was lost')
}

describe('ShardThreads', () => {
  it('hosts the shards of many views on one thread each, warm or still booting', async () => {
    const opening = performance.now()
    const pool = await ShardThreads.open(2, false)
    expect(pool.running).toBe(0)
    try {
      // Placed at once: the thread boots, and the init waits in its queue until it is warm.
      const [a, b, c] = inits(3)
      const early = pool.place(a, [], noLoss)
      expect((await answer(early)).t).toBe('ready')
      const cold = performance.now() - opening
      await pool.settled()
      // Shard 0 of every view goes to thread 0: one thread for three views.
      const placing = performance.now()
      const more = [pool.place(b, [], noLoss), pool.place(c, [], noLoss)]
      expect((await Promise.all(more.map(answer))).map((m) => m.t)).toEqual(['ready', 'ready'])
      const warm = performance.now() - placing
      console.log(`place → ready: booting ${cold.toFixed(0)} ms, warm (two views) ${warm.toFixed(0)} ms`)
      expect(more.map((p) => p.thread)).toEqual([0, 0])
      expect(pool.running).toBe(1)
      // One view stops; the others on the same thread still answer.
      await stop(early)
      for (const p of more)
        expect((await ask(p, { t: 'flush', id: 1, timeoutMs: 10_000 }, 'caught_up')).t).toBe('caught_up')
      await Promise.all(more.map(stop))
    } finally {
      await pool.close()
    }
    expect(pool.running).toBe(0)
  })

  it('a shard that fails fails alone: its thread hosts the next one', async () => {
    const pool = await ShardThreads.open(1, false)
    try {
      const [bad] = inits(1, 'CREATE MATERIALIZED VIEW v AS SELECT nosuchcolumn, count(*) FROM seq GROUP BY 1')
      const failing = pool.place(bad, [], noLoss)
      const m = await answer(failing)
      expect(m.t).toBe('failed')
      await stop(failing)
      const [good] = inits(1)
      const next = pool.place(good, [], noLoss)
      expect((await answer(next)).t).toBe('ready')
      await stop(next)
    } finally {
      await pool.close()
    }
  })

  it('a thread that cannot boot is lost: its shards are told, and the next place() boots a new one', async () => {
    const broken = new ShardThreads(1, new URL('./no-such-entry.ts', import.meta.url).href, false)
    const [a, b] = inits(2)
    const lost = (): Promise<string> => new Promise<string>((resolve) => broken.place(a, [], resolve))
    expect(await lost()).toMatch(/no-such-entry/)
    expect(broken.running).toBe(0)
    // A new thread, which fails as well.
    expect(await new Promise<string>((resolve) => broken.place(b, [], resolve))).toMatch(/no-such-entry/)
    await broken.close()
  })

  it('threads, booting or warm, do not keep the process alive', () => {
    const script = `
      import { ShardThreads } from ${JSON.stringify(new URL('./pool.ts', import.meta.url).href)}
      const pool = await ShardThreads.open(1)
      const keep = setInterval(() => {}, 1000)
      await pool.settled()
      clearInterval(keep)
      console.log('warm', pool.warm)
      // And one still booting.
      await ShardThreads.open(1)
    `
    // A file, not -e: a worker inherits the parent's execArgv, and --input-type fails it.
    const file = join(mkdtempSync(join(tmpdir(), 'sluice-pool-')), 'idle.mjs')
    writeFileSync(file, script)
    const run = spawnSync(process.execPath, ['--import', 'tsx', file], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      encoding: 'utf8',
      timeout: 30_000,
    })
    rmSync(dirname(file), { recursive: true })
    expect(run.stderr).toBe('')
    expect(run.stdout.trim()).toBe('warm 1')
    expect(run.status).toBe(0)
  })
})
