/**
 * Drives one source reader: polls batches and pushes each into the source's stream, followed by
 * the event-time high marks: the reader's own (`watermarks()`, e.g. the minimum over Kafka
 * partitions, also asked on idle polls so an idle partition's timeout takes effect without new
 * data) or else the batch's maximum. Pushing is synchronous all the way to the views, so the
 * next poll starts only after the previous batch is fully applied: a slow view slows the reader
 * instead of growing a buffer (the reader pauses its Kafka partitions when its own bounded queue
 * is full).
 */
import type { SourceClocks, SourceReader } from '../connector.ts'
import type { Stream } from './stream.ts'

export interface SourceDriverOptions {
  readonly maxRows: number
  /** Wait after an empty poll, ms. */
  readonly idleMs: number
  readonly timeColumns: readonly number[]
  onBatch(rows: number): void
  onError(error: unknown): void
  /** Runs after every poll, before the next (e.g. writes buffered dead letters to their table). */
  afterPoll?(): Promise<void>
  /**
   * Runs in the same synchronous step as the position is taken after a poll: the poll's dead
   * letters join the checkpoint epoch whose position covers their records.
   */
  afterPush?(): void
  /**
   * Awaited before each poll when it returns a promise (a sharded view's reader waits while its
   * exchanges have too much in flight: shard/exchange.ts).
   */
  beforePoll?(): Promise<void> | undefined
}

export class SourceDriver {
  private running = false
  private stopped = false
  private inFlight = false
  private loop: Promise<void> | undefined
  /** The last error of the reader, cleared by the next good poll (shown in the catalog). */
  lastError: string | undefined
  /**
   * The reader's offsets as of the last batch pushed (taken in the same synchronous step as the
   * push, so a checkpoint between two pushes records exactly what the views have applied).
   */
  position: Record<string, string> | undefined
  /** The reader's per-partition clocks, taken with `position`. */
  clocks: SourceClocks | undefined
  /** Offsets to resume from when started without explicit ones (the restored checkpoint's). */
  resumeFrom: Readonly<Record<string, string>> | undefined
  /** Clocks to resume from with `resumeFrom`. */
  resumeClocks: SourceClocks | undefined
  /** While held (recovery), start() only notes that the source is wanted; release() starts it. */
  private held = false
  private wanted = false
  /** Could not start (e.g. its topic does not exist yet): retried in the background (ddl.ts waitForSource). */
  waiting = false
  /** Paused by backpressure (sinks behind on commits): no polls until resumed. */
  paused = false
  /** Set from before a poll until its rows are pushed (quiesce waits for it). */
  private polling: Promise<void> | undefined

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
    if (this.held) {
      this.wanted = true
      return
    }
    if (this.running || this.stopped) return
    this.running = true
    try {
      await this.reader.open(
        restoredOffsets ?? this.resumeFrom,
        restoredOffsets === undefined ? this.resumeClocks : undefined,
      )
    } catch (e) {
      this.running = false
      throw e
    }
    this.takePosition()
    this.loop = this.run()
  }

  private takePosition(): void {
    this.position = this.reader.offsets()
    this.clocks = this.reader.clocks?.()
  }

  /** Holds starts until release() (recovery: every view must be restored before data flows). */
  hold(): void {
    this.held = true
  }

  /** Ends a hold; starts the reader if something asked for it meanwhile. */
  async release(): Promise<void> {
    this.held = false
    if (this.wanted) await this.start()
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

  /**
   * Pauses polling and resolves once the poll under way (if any) has pushed its rows: from then
   * on `position` covers everything the views were given (a sharded view's barrier).
   */
  async quiesce(): Promise<void> {
    this.paused = true
    await this.polling
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const wait = this.options.beforePoll?.()
      if (wait !== undefined) await wait
      if (this.paused) {
        await sleep(this.options.idleMs)
        continue
      }
      let done!: () => void
      this.polling = new Promise((resolve) => (done = resolve))
      try {
        await this.pollOnce()
      } finally {
        this.polling = undefined
        done()
      }
    }
  }

  private backoff = 100

  /** One poll and push; waits after an empty poll or an error. */
  private async pollOnce(): Promise<void> {
    let chunk
    try {
      chunk = await this.reader.poll(this.options.maxRows)
      this.lastError = undefined
      this.backoff = 100
    } catch (e) {
      this.lastError = e instanceof Error ? e.message : String(e)
      this.options.onError(e)
      await sleep(this.backoff)
      this.backoff = Math.min(this.backoff * 2, 5000)
      return
    }
    // Set before anything can interleave: FLUSH must not see the reader's new position
    // before the rows (and dead letters) of this poll are applied.
    this.inFlight = true
    const empty = chunk === undefined || chunk.length === 0
    try {
      if (chunk !== undefined && !empty) this.stream.push(chunk)
      if (this.reader.watermarks !== undefined) {
        for (const w of this.reader.watermarks()) this.stream.pushWatermark(w)
      } else if (chunk !== undefined && !empty) {
        this.stream.pushBatchWatermarks(chunk, this.options.timeColumns)
      }
      if (chunk !== undefined && !empty) this.options.onBatch(chunk.length)
      this.takePosition()
      this.options.afterPush?.()
      if (this.options.afterPoll !== undefined) {
        try {
          await this.options.afterPoll()
        } catch (e) {
          this.options.onError(e)
        }
      }
    } finally {
      this.inFlight = false
    }
    if (empty) {
      await sleep(this.options.idleMs)
      return
    }
    // Let statements and other sources run between batches.
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
