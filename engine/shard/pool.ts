/**
 * Shard threads booted ahead of need (docs/design/shards.md). A shard thread spends most of a
 * second before it can plan a view: importing the engine (~350 ms from dist/, more through tsx)
 * and the parser's WASM (~100 ms at the first parse). A pooled thread does both while idle, then
 * waits for the one message that makes it a shard:
 *
 *   worker.postMessage({ t: 'init', init } satisfies ToPooled, ports of init.peers)
 *
 * after which it runs as a thread started with the ShardInit as workerData (worker.ts).
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { ShardInit } from './protocol.ts'

/** workerData of a pooled thread (worker-boot.mjs imports `entry`; worker.ts reads the rest). */
export interface PooledData {
  readonly entry: string
  readonly pooled: true
  /** Where the thread says `{ t: 'pooled' }` once warm: kept off parentPort, the shard protocol's. */
  readonly warm: MessagePort
}

/** The one message a pooled thread waits for (its peers' ports go in the transfer list). */
export interface ToPooled {
  readonly t: 'init'
  readonly init: ShardInit
}

let entry: Promise<string> | undefined

/**
 * The shard thread's entry module: the compiled one when this runs from dist/, or when dist/ is
 * current (scripts/dist-status.mjs) while this runs from the sources (tests, benchmarks): a
 * thread compiling the engine's TypeScript costs most of a CPU-second at every start.
 */
export function workerEntry(): Promise<string> {
  entry ??= (async () => {
    if (import.meta.url.endsWith('.js')) return new URL('./worker.js', import.meta.url).href
    const sources = new URL('./worker.ts', import.meta.url).href
    if (process.env.SLUICE_FROM_SOURCES === '1') return sources
    const root = fileURLToPath(new URL('../../', import.meta.url))
    try {
      const status = (await import(pathToFileURL(`${root}scripts/dist-status.mjs`).href)) as {
        distIsCurrent(root: string): boolean
      }
      return status.distIsCurrent(root) ? pathToFileURL(`${root}dist/engine/shard/worker.js`).href : sources
    } catch {
      return sources
    }
  })()
  return entry
}

const BOOT = new URL('./worker-boot.mjs', import.meta.url)

/** A thread not yet taken. */
interface Idle {
  readonly worker: Worker
  warm: boolean
  /** Detaches the pool's listeners (when taken, or when the thread is dropped). */
  readonly release: () => void
}

/**
 * Keeps `size` idle shard threads booted. Idle threads do not keep the process alive; a thread
 * taken is ref()'d again, as a thread the caller created itself would be.
 */
export class ShardThreads {
  private readonly idle: Idle[] = []
  private readonly waiters: (() => void)[] = []
  private closed = false

  constructor(
    readonly size: number,
    private readonly entry: string,
  ) {
    for (let i = 0; i < size; i++) this.idle.push(this.boot())
  }

  /** A pool booting threads of the entry workerEntry() picks. */
  static async open(size: number): Promise<ShardThreads> {
    return new ShardThreads(size, await workerEntry())
  }

  /** Idle threads that are warm (imported the engine and parsed once). */
  get warm(): number {
    return this.idle.filter((t) => t.warm).length
  }

  /** Idle threads, warm or still booting. */
  get idleCount(): number {
    return this.idle.length
  }

  /**
   * Resolves once no idle thread is still booting (warm, or dropped after failing to boot). The
   * idle threads do not keep the process alive meanwhile: something else must.
   */
  settled(): Promise<void> {
    if (this.idle.every((t) => t.warm)) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /**
   * A thread for one shard: the warmest idle one (a thread still booting is further along than
   * a new one), else a new one. It handles the `init` message once booted (messages queue
   * until then). A replacement starts once this one answers its init (or ends), so the two do
   * not compete for a core while the shard plans its view.
   */
  take(): Worker {
    const i = this.idle.findIndex((t) => t.warm)
    const taken = i >= 0 ? this.idle.splice(i, 1)[0] : (this.idle.shift() ?? this.boot())
    taken.release()
    this.wake()
    const worker = taken.worker
    worker.ref()
    if (!this.closed) {
      // Any message after the init is the shard's answer (`ready`, `failed`, or output first).
      const refill = (): void => {
        worker.off('message', refill)
        worker.off('exit', refill)
        if (!this.closed && this.idle.length < this.size) this.idle.push(this.boot())
      }
      worker.on('message', refill)
      worker.on('exit', refill)
    }
    return worker
  }

  /** Ends the idle threads (threads taken belong to their taker). */
  async close(): Promise<void> {
    this.closed = true
    const idle = this.idle.splice(0)
    for (const t of idle) t.release()
    this.wake()
    await Promise.all(idle.map((t) => t.worker.terminate()))
  }

  private boot(): Idle {
    const { port1, port2 } = new MessageChannel()
    const data: PooledData = { entry: this.entry, pooled: true, warm: port2 }
    const worker = new Worker(BOOT, { workerData: data, transferList: [port2] })
    // An idle thread must not hold the process open. No 'message' listener on the worker while
    // idle: one would ref its port again.
    worker.unref()
    const t: Idle = {
      worker,
      warm: false,
      release: () => {
        port1.close()
        worker.off('error', drop)
        worker.off('exit', drop)
      },
    }
    // A thread that fails to boot (or ends) is dropped, not replaced: a build that cannot load
    // would fail again. take() starts new ones.
    const drop = (): void => {
      t.release()
      const i = this.idle.indexOf(t)
      if (i >= 0) this.idle.splice(i, 1)
      void worker.terminate()
      this.wake()
    }
    port1.on('message', (m: { readonly t: string }) => {
      if (m.t !== 'pooled') return
      t.warm = true
      port1.close()
      this.wake()
    })
    port1.unref()
    worker.on('error', drop)
    worker.on('exit', drop)
    return t
  }

  private wake(): void {
    if (!this.idle.every((t) => t.warm)) return
    for (const w of this.waiters.splice(0)) w()
  }
}
