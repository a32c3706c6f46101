/**
 * Where a Kafka source's fetcher runs: in a worker thread (the default), so that kafkajs's
 * fetching and record parsing run on another core while the reader decodes and the views
 * compute, or in the reader's own thread. Both hand the reader the same events in the same
 * order; the reader calls the same two methods on either.
 *
 * A worker that dies (an uncaught error, out of memory) is started again after a backoff from the
 * positions the reader has received, the way the fetcher itself replaces a crashed consumer:
 * batches lost with it are fetched again.
 *
 * Booting a thread (a V8 isolate, the TypeScript loader, kafkajs) takes about 150 ms, which a
 * reader would otherwise add to the wait for its first records. So creating a reader boots one
 * spare thread ahead of need (`prepareFetcherThread`, at most one per process, unref'd), and the
 * next reader to open takes it.
 */
import { Worker } from 'node:worker_threads'
import { KafkaFetcher, type FetcherEvent, type FetcherOptions, type FetcherStart } from './fetcher.ts'

/** What the reader sends a fetcher in a worker. */
export type ToFetcher =
  | { readonly kind: 'init'; readonly options: FetcherOptions }
  | { readonly kind: 'start'; readonly from: FetcherStart }
  | {
      readonly kind: 'credit'
      readonly records: number
      readonly bytes: number
      readonly buffers: readonly ArrayBuffer[]
    }
  | { readonly kind: 'close' }

/** A fetcher, as the reader sees it: built early (a worker boots meanwhile), started once positions are known. */
export interface FetcherHandle {
  start(from: FetcherStart): void
  /** The reader consumed `records` records of `bytes` value bytes; `buffers` of finished batches go back. */
  credit(records: number, bytes: number, buffers: readonly ArrayBuffer[]): void
  close(): Promise<void>
}

export type FetcherPlacement = 'worker' | 'main'

/**
 * Builds a fetcher. `restartFrom` says where a fetcher started again after its worker died
 * begins: the positions the reader has received and what it still queues.
 */
export function createFetcher(
  placement: FetcherPlacement,
  options: FetcherOptions,
  onEvent: (event: FetcherEvent) => void,
  restartFrom: () => FetcherStart,
): FetcherHandle {
  if (placement === 'main') return new KafkaFetcher(options, onEvent)
  return new WorkerFetcher(options, onEvent, restartFrom)
}

const CLOSE_TIMEOUT_MS = 10_000

/**
 * The worker's young generation, in MB: twice the reader's queue limit in bytes, between 16 and
 * 64. kafkajs makes several objects per record that die young, and a whole fetch of them is alive
 * while its batch is handed over: with 64 MB kafkajs alone consumed about 25% faster in a worker
 * than with 16 MB (the default a worker gets is smaller than the main thread's), but a burst grew
 * the process by some 40 MB more. So the young generation follows the memory the reader is given.
 */
function youngGenerationMb(queueMaxBytes: number): number {
  return Math.min(64, Math.max(16, Math.round((2 * queueMaxBytes) / (1 << 20))))
}

/** A booted thread waiting for its fetcher's options, and the young generation it was built with. */
let spare: { readonly worker: Worker; readonly youngMb: number } | undefined

function bootThread(youngMb: number): Worker {
  const worker = new Worker(new URL('./fetch-worker-boot.mjs', import.meta.url), {
    // From dist/ (the compiled build) this module is .js and so is the worker's entry.
    workerData: {
      entry: new URL(`./fetch-worker.${import.meta.url.endsWith('.js') ? 'js' : 'ts'}`, import.meta.url).href,
    },
    stdout: false,
    stderr: false,
    resourceLimits: { maxYoungGenerationSizeMb: youngMb },
  })
  // The reader's poll loop keeps the process alive; a forgotten reader or a spare must not.
  worker.unref()
  return worker
}

/** Boots a spare fetcher thread for a reader about to be opened (no-op when one waits already). */
export function prepareFetcherThread(queueMaxBytes: number): void {
  if (spare !== undefined) return
  const youngMb = youngGenerationMb(queueMaxBytes)
  const worker = bootThread(youngMb)
  const entry = { worker, youngMb }
  spare = entry
  const drop = (): void => {
    if (spare === entry) spare = undefined
  }
  worker.on('error', drop)
  worker.on('exit', drop)
}

function takeThread(youngMb: number): Worker {
  const s = spare
  if (s !== undefined && s.youngMb === youngMb) {
    spare = undefined
    s.worker.removeAllListeners()
    return s.worker
  }
  return bootThread(youngMb)
}

class WorkerFetcher implements FetcherHandle {
  private worker: Worker
  private closing = false
  private backoff = 500
  private closedSignal: (() => void) | undefined

  constructor(
    private readonly options: FetcherOptions,
    private readonly onEvent: (event: FetcherEvent) => void,
    private readonly restartFrom: () => FetcherStart,
  ) {
    this.worker = this.spawn(options)
  }

  private spawn(options: FetcherOptions): Worker {
    const worker = takeThread(youngGenerationMb(options.queueMaxBytes))
    worker.postMessage({ kind: 'init', options } satisfies ToFetcher)
    worker.on('message', (m: FetcherEvent | { readonly kind: 'closed' }) => {
      if (m.kind === 'closed') {
        this.closedSignal?.()
        return
      }
      if (m.kind === 'batch') this.backoff = 500
      this.onEvent(m)
    })
    worker.on('error', (e) => {
      this.onEvent({
        kind: 'log',
        level: 'error',
        message: `the Kafka fetcher thread of topic "${options.topic}" failed: ${e.message}`,
      })
    })
    worker.on('exit', (code) => {
      this.closedSignal?.()
      if (this.closing || worker !== this.worker) return
      const error = `the Kafka fetcher thread exited (code ${code}); starting it again in ${this.backoff} ms`
      this.onEvent({ kind: 'health', connected: false, error, since: Date.now() })
      this.onEvent({ kind: 'log', level: 'error', message: error })
      setTimeout(() => {
        if (this.closing) return
        this.worker = this.spawn(this.options)
        this.start(this.restartFrom())
      }, this.backoff).unref()
      this.backoff = Math.min(this.backoff * 2, 10_000)
    })
    return worker
  }

  start(from: FetcherStart): void {
    if (!this.closing) this.worker.postMessage({ kind: 'start', from } satisfies ToFetcher)
  }

  credit(records: number, bytes: number, buffers: readonly ArrayBuffer[]): void {
    if (!this.closing)
      this.worker.postMessage({ kind: 'credit', records, bytes, buffers } satisfies ToFetcher, [...buffers])
  }

  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    const worker = this.worker
    const closed = new Promise<void>((resolve) => (this.closedSignal = resolve))
    worker.postMessage({ kind: 'close' } satisfies ToFetcher)
    // The fetcher disconnects its consumer first (leaving the group at once); a broker that is
    // away cannot hold the close up for longer than this.
    const timer = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref())
    await Promise.race([closed, timer])
    await worker.terminate()
  }
}
