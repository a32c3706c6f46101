/**
 * The engine's shard threads (docs/design/shards.md, "Threads"): a fixed set of `--workers`
 * threads that every sharded view shares. Shard s of any view runs on thread s % size, so a
 * thread holds at most one shard of each view, and fifty views with two shards each run on two
 * threads, not a hundred.
 *
 * A thread spends most of a second before it can plan a view: importing the engine (~350 ms
 * from dist/, more through tsx) and the parser's WASM (~100 ms at the first parse). It does both
 * once, when booted (ahead of need with `warm`), then hosts shards as they come:
 *
 *   thread.postMessage({ t: 'shard', init, port } satisfies ToThread, [port, ...init's ports])
 *
 * Each shard talks to the main thread over its own port (`port`, the main thread keeps the
 * other end), so its messages need no view tag and a view's shards stop without the thread.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { ShardInit } from './protocol.ts'

/** workerData of a shard thread (worker-boot.mjs imports `entry`; worker.ts reads the rest). */
export interface ThreadData {
  readonly entry: string
  /** Where the thread says `{ t: 'warm' }` once it has imported the engine and parsed once. */
  readonly warm: MessagePort
}

/** What the main thread sends a shard thread: a shard to host, and the port it answers on. */
export interface ToThread {
  readonly t: 'shard'
  readonly init: ShardInit
  readonly port: MessagePort
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

/** Told when the thread a shard runs on fails or ends: every shard on it is gone. */
export type ThreadLost = (message: string, stack: string | undefined) => void

/** A booted thread and the shards it hosts. */
class Thread {
  warm = false
  /** Set once the thread failed or ended; the slot boots a new thread at the next place(). */
  lost = false
  readonly watchers = new Set<ThreadLost>()

  constructor(readonly worker: Worker) {}
}

/** Where a shard was placed: its port to the thread, and how to stop watching the thread. */
export interface Placed {
  readonly port: MessagePort
  readonly thread: number
  /** Stops telling `lost` about the thread (the shard stopped). */
  readonly release: () => void
}

/**
 * The engine's `size` shard threads. Threads never keep the process alive themselves: a hosted
 * shard's port does, while the main thread listens on it.
 */
export class ShardThreads {
  private readonly threads: (Thread | undefined)[]
  private readonly waiters: (() => void)[] = []
  private closed = false

  constructor(
    readonly size: number,
    private readonly entry: string,
    warm = true,
  ) {
    this.threads = new Array<Thread | undefined>(size).fill(undefined)
    if (warm) for (let i = 0; i < size; i++) this.threads[i] = this.boot()
  }

  /** The engine's threads, of the entry workerEntry() picks; `warm` boots them now. */
  static async open(size: number, warm = true): Promise<ShardThreads> {
    return new ShardThreads(size, await workerEntry(), warm)
  }

  /** Threads running and warm (imported the engine and parsed once). */
  get warm(): number {
    return this.threads.filter((t) => t !== undefined && t.warm).length
  }

  /** Threads running, warm or still booting. */
  get running(): number {
    return this.threads.filter((t) => t !== undefined).length
  }

  /**
   * Resolves once no thread is still booting (warm, or lost after failing to boot). The threads
   * do not keep the process alive meanwhile: something else must.
   */
  settled(): Promise<void> {
    if (this.booting() === 0) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /**
   * Hosts shard `init.shard` on its thread (booting it if there is none): the init waits in the
   * thread's queue until the thread is warm. `transfer`: the init's ports (peers, state link).
   * `lost` is told if the thread fails or ends while the shard is placed there.
   */
  place(init: ShardInit, transfer: readonly MessagePort[], lost: ThreadLost): Placed {
    if (this.closed) throw new Error('the shard threads are closed')
    const index = init.shard % this.size
    let thread = this.threads[index]
    if (thread === undefined || thread.lost) this.threads[index] = thread = this.boot()
    const { port1, port2 } = new MessageChannel()
    thread.worker.postMessage({ t: 'shard', init, port: port2 } satisfies ToThread, [port2, ...transfer])
    thread.watchers.add(lost)
    const t = thread
    return { port: port1, thread: index, release: () => t.watchers.delete(lost) }
  }

  /** Ends every thread (the engine stops; its shards were stopped first). */
  async close(): Promise<void> {
    this.closed = true
    const threads = this.threads.splice(0).filter((t): t is Thread => t !== undefined)
    for (const t of threads) t.lost = true
    this.wake()
    await Promise.all(threads.map((t) => t.worker.terminate()))
  }

  private booting(): number {
    return this.threads.filter((t) => t !== undefined && !t.warm && !t.lost).length
  }

  private boot(): Thread {
    const { port1, port2 } = new MessageChannel()
    const data: ThreadData = { entry: this.entry, warm: port2 }
    const worker = new Worker(BOOT, { workerData: data, transferList: [port2] })
    // A thread must not hold the process open: the shards' ports do, while they run.
    worker.unref()
    const thread = new Thread(worker)
    port1.on('message', (m: { readonly t: string }) => {
      if (m.t !== 'warm') return
      thread.warm = true
      port1.close()
      this.wake()
    })
    port1.unref()
    // A thread that fails (to boot, or later: an error no shard caught) takes its shards with it.
    // Its slot boots a new thread at the next place().
    const lose = (message: string, stack: string | undefined): void => {
      if (thread.lost) return
      thread.lost = true
      port1.close()
      const i = this.threads.indexOf(thread)
      if (i >= 0) this.threads[i] = undefined
      for (const w of [...thread.watchers]) w(message, stack)
      thread.watchers.clear()
      void worker.terminate()
      this.wake()
    }
    worker.on('error', (e) => lose(`its thread failed: ${e.message}`, e.stack))
    worker.on('exit', (code) => lose(`its thread exited (code ${code})`, undefined))
    return thread
  }

  private wake(): void {
    if (this.booting() > 0) return
    for (const w of this.waiters.splice(0)) w()
  }
}
