/**
 * Pooled shard threads (pool.ts): a thread boots and warms while idle, becomes a shard on its
 * init message (peers' ports transferred with it), and idle threads never hold the process open.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { MessagePort, Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import type { FromShard, ShardInit } from './protocol.ts'
import type { ToPooled } from './pool.ts'
import { T } from '../types/datatype.ts'
import { ShardThreads } from './pool.ts'

/** Two one-shard views (a GROUP BY over a bounded, unpaced sequence). */
function inits(): ShardInit[] {
  return [0, 1].map(() => ({
    view: 'v',
    shard: 0,
    shards: 1,
    sql: 'CREATE MATERIALIZED VIEW v AS SELECT n % 4 AS k, count(*) AS c FROM seq GROUP BY n % 4',
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

/** Sends the init as the host will, and resolves with the shard's first answer. */
function start(worker: Worker, init: ShardInit): Promise<FromShard> {
  const answer = new Promise<FromShard>((resolve, reject) => {
    const first = (m: FromShard): void => {
      if (m.t !== 'ready' && m.t !== 'failed') return
      worker.off('message', first)
      resolve(m)
    }
    worker.on('message', first)
    worker.once('error', reject)
  })
  const transfer = init.peers.filter((p): p is MessagePort => p !== undefined)
  worker.postMessage({ t: 'init', init } satisfies ToPooled, transfer)
  return answer
}

async function stop(worker: Worker): Promise<void> {
  const stopped = new Promise<void>((resolve) => {
    worker.on('message', (m: FromShard) => {
      if (m.t === 'stopped') resolve()
    })
    worker.once('exit', () => resolve())
  })
  worker.postMessage({ t: 'stop' })
  await stopped
  await worker.terminate()
}

describe('ShardThreads', () => {
  it('hands out threads that become shards on their init, warm or still booting', async () => {
    const opening = performance.now()
    const pool = await ShardThreads.open(2)
    const keep = setInterval(() => {}, 1000)
    try {
      // Taken at once: still booting, its init waits in the queue until it is.
      const early = pool.take()
      const [a, b] = inits()
      const first = await start(early, a)
      const cold = performance.now() - opening
      expect(first.t).toBe('ready')
      await pool.settled()
      expect(pool.warm).toBeGreaterThanOrEqual(1)

      const taking = performance.now()
      const warm = pool.take()
      const second = await start(warm, b)
      const takeToReady = performance.now() - taking
      expect(second.t).toBe('ready')
      console.log(`take → ready: booting ${cold.toFixed(0)} ms, warm ${takeToReady.toFixed(0)} ms`)
      // A replacement starts once a taken thread has answered.
      expect(pool.idleCount).toBe(2)
      await Promise.all([stop(early), stop(warm)])
    } finally {
      clearInterval(keep)
      await pool.close()
    }
    expect(pool.idleCount).toBe(0)
  })

  it('a thread that cannot boot is dropped, and take() falls back to a new one', async () => {
    const broken = new ShardThreads(1, new URL('./no-such-entry.ts', import.meta.url).href)
    // Idle threads hold nothing open: keep this process busy while the thread fails.
    const keep = setInterval(() => {}, 1000)
    await broken.settled()
    clearInterval(keep)
    expect(broken.idleCount).toBe(0)
    // A new thread, which fails as well: now the taker's to handle.
    const fresh = broken.take()
    const failed = new Promise<Error>((resolve) => fresh.once('error', resolve))
    expect((await failed).message).toMatch(/no-such-entry/)
    await broken.close()
    await fresh.terminate()
  })

  it('idle threads, booting or warm, do not keep the process alive', () => {
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
