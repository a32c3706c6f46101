/**
 * Drives one source reader: polls batches and pushes each into the source's stream, followed by
 * the batch's event-time high marks. Pushing is synchronous all the way to the views, so the
 * next poll starts only after the previous batch is fully applied: a slow view slows the reader
 * instead of growing a buffer (the reader pauses its Kafka partitions when its own bounded queue
 * is full).
 */
import type { SourceReader } from '../connector.ts'
import type { Stream } from './stream.ts'

export interface SourceDriverOptions {
  readonly maxRows: number
  /** Wait after an empty poll, ms. */
  readonly idleMs: number
  readonly timeColumns: readonly number[]
  onBatch(rows: number): void
  onError(error: unknown): void
}

export class SourceDriver {
  private running = false
  private stopped = false
  private inFlight = false
  private loop: Promise<void> | undefined
  /** The last error of the reader, cleared by the next good poll (shown in the catalog). */
  lastError: string | undefined

  constructor(
    readonly reader: SourceReader,
    private readonly stream: Stream,
    private readonly options: SourceDriverOptions,
  ) {}

  get started(): boolean {
    return this.running
  }

  /** Opens the reader and starts polling (idempotent). */
  async start(restoredOffsets?: Readonly<Record<string, string>>): Promise<void> {
    if (this.running || this.stopped) return
    this.running = true
    await this.reader.open(restoredOffsets)
    this.loop = this.run()
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.loop
    if (this.running) await this.reader.close()
    this.running = false
  }

  /** Resolves once every record the input held when called has been applied (FLUSH). */
  async caughtUp(timeoutMs: number): Promise<boolean> {
    if (!this.running || this.reader.endOffsets === undefined || this.reader.reached === undefined) return true
    const end = await this.reader.endOffsets()
    const deadline = Date.now() + timeoutMs
    while (!(this.reader.reached(end) && !this.inFlight)) {
      if (this.stopped || Date.now() > deadline) return false
      await sleep(5)
    }
    return true
  }

  private async run(): Promise<void> {
    let backoff = 100
    while (!this.stopped) {
      let chunk
      try {
        chunk = await this.reader.poll(this.options.maxRows)
        this.lastError = undefined
        backoff = 100
      } catch (e) {
        this.lastError = e instanceof Error ? e.message : String(e)
        this.options.onError(e)
        await sleep(backoff)
        backoff = Math.min(backoff * 2, 5000)
        continue
      }
      if (chunk === undefined || chunk.length === 0) {
        await sleep(this.options.idleMs)
        continue
      }
      this.inFlight = true
      try {
        this.stream.push(chunk)
        this.stream.pushBatchWatermarks(chunk, this.options.timeColumns)
        this.options.onBatch(chunk.length)
      } finally {
        this.inFlight = false
      }
      // Let statements and other sources run between batches.
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
