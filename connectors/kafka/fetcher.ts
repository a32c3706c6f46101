/**
 * The fetching half of the Kafka source: a kafkajs consumer over one topic that hands packed
 * batches (./fetched.ts) to the reader, holds back when the reader's queue is full, and outlives
 * broker restarts and network errors. It knows nothing of formats, columns or checkpoints; the
 * reader (./source.ts) decodes, and it may run this in a worker thread (./fetch-thread.ts) so that
 * kafkajs's fetching and record parsing overlap with Sluice's decoding on another core.
 *
 * Why it is shaped like this:
 * - A consumer group of one member under a fresh unique group id per consumer, positioned by
 *   `seek` to what it has already handed over whenever it (re)joins: kafkajs has no group-less
 *   consumer, a unique group never waits for other members, and re-seeking after any rejoin means
 *   a session timeout or a new consumer can neither rewind nor skip the topic. Offsets are the
 *   reader's state, never the group's.
 * - Backpressure by holding `eachBatch`: while the records handed over and not yet consumed pass
 *   the queue limits, the batch in hand waits (heartbeating, so the group keeps the member) and
 *   kafkajs fetches nothing more from that broker. Unlike pause/resume, nothing fetched is thrown
 *   away and fetched again. A heartbeat that fails (a rebalance) throws out of `eachBatch`
 *   before the batch was handed over: kafkajs fetches it again after the rejoin's seek.
 * - Reconnection: kafkajs retries a failing request with backoff, and a lost broker for ever. A
 *   consumer that crashes anyway, or has not fetched for `stuckMs` (failing or silent), is dropped
 *   and a new one built after this class's own backoff (0.5 s doubling to 10 s), seeded with the
 *   positions handed over so far, until closed: whatever state kafkajs got into, the consumer
 *   that reads after an outage is a fresh one that seeks to the reader's offsets.
 * - Health: connected while fetches complete (or while held by backpressure); after `staleMs`
 *   without one, disconnected with the last connection error, reported once per change.
 */
import {
  AssignerProtocol,
  Kafka,
  logLevel,
  type Consumer,
  type EachBatchPayload,
  type LogEntry,
  type PartitionAssigner,
} from 'kafkajs'
import { randomBytes } from 'node:crypto'
import { BufferPool, emptyBatch, packBatch, type FetchedBatch } from './fetched.ts'
import { kafkaLogLine } from './kafka-log.ts'

export type FetcherLogLevel = 'debug' | 'info' | 'warn' | 'error'

/** What a fetcher is built from (plain data: it crosses into a worker thread). */
export interface FetcherOptions {
  readonly brokers: readonly string[]
  readonly topic: string
  readonly clientId: string
  /** Prefix of the unique consumer group ids. */
  readonly groupPrefix: string
  readonly maxBytesPerPartition: number
  readonly maxBytes: number
  /** Records handed over and not yet consumed at which fetching holds. */
  readonly queueMax: number
  /** The same in bytes of record values. */
  readonly queueMaxBytes: number
  /** Without a completed fetch for this long (not held), the fetcher reports itself disconnected. */
  readonly staleMs: number
  /** Without a fetch for this long (not held), the consumer is dropped and a new one built. */
  readonly stuckMs: number
  /** Whether batches carry record timestamps (INCLUDE timestamp, dead-letter records). */
  readonly timestamps: boolean
  /** A sharded view's split (ConnectorContext.split): fetch only the partitions p % count === index. */
  readonly split?: { readonly index: number; readonly count: number }
}

/** Where a fetcher starts (known once the reader has asked the brokers; plain data too). */
export interface FetcherStart {
  /** Per partition (as a string key), the next offset to hand over. */
  readonly positions: Readonly<Record<string, number>>
  /** Records (and their value bytes) already with the reader and not yet consumed. */
  readonly queuedRecords: number
  readonly queuedBytes: number
}

/** What a fetcher tells its reader. */
export type FetcherEvent =
  | { readonly kind: 'batch'; readonly batch: FetchedBatch }
  /** Fetching holds on a batch of `partition` (backpressure), or goes on (undefined). */
  | { readonly kind: 'hold'; readonly partition: number | undefined }
  | {
      readonly kind: 'health'
      readonly connected: boolean
      /** Why not, when not connected. */
      readonly error: string | undefined
      /** Epoch ms of the last completed fetch (or of the start). */
      readonly since: number
    }
  | {
      readonly kind: 'log'
      readonly level: FetcherLogLevel
      readonly message: string
      readonly fields?: Record<string, unknown>
    }

const BACKOFF_MIN_MS = 500
const BACKOFF_MAX_MS = 10_000
const WATCH_MS = 500

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

const SPLIT_ASSIGNER = 'SluiceSplitAssigner'

/**
 * The group assignment of a split's consumer: the partitions p of `topic` with p % count === index.
 * An assigner rather than pausing the other partitions: what is never assigned is never fetched
 * nor sought, and kafkajs asks it again on every join, so partitions added to the topic later
 * reach the split they belong to.
 */
function splitAssigner(topic: string, index: number, count: number): PartitionAssigner {
  return ({ cluster }) => ({
    name: SPLIT_ASSIGNER,
    version: 0,
    assign({ members }) {
      const partitions = cluster
        .findTopicPartitionMetadata(topic)
        .map((m) => m.partitionId)
        .filter((p) => p % count === index)
        .sort((a, b) => a - b)
      // Group ids are unique per consumer, so there is one member; were there more, one reads all.
      const ids = members.map((m) => m.memberId).sort()
      return Promise.resolve(
        ids.map((memberId, i) => ({
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: 0,
            assignment: i === 0 && partitions.length > 0 ? { [topic]: partitions } : {},
            userData: Buffer.alloc(0),
          }),
        })),
      )
    },
    protocol({ topics }) {
      const metadata = AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) })
      return { name: SPLIT_ASSIGNER, metadata }
    },
  })
}

export class KafkaFetcher {
  private readonly kafka: Kafka
  /** Batch buffers, given back by the reader once consumed. */
  private readonly pool: BufferPool
  /** Per partition, the offset after everything handed over: where a (re)joined consumer seeks. */
  private readonly fetched = new Map<number, number>()
  private outstanding = 0
  private outstandingBytes = 0
  private held: number | undefined
  private wake: (() => void) | undefined
  private closed = false
  /** Bumped per consumer: events of a replaced consumer are ignored. */
  private generation = 0
  private die: ((reason: string) => void) | undefined
  private backoff = BACKOFF_MIN_MS
  private lastFetchAt = Date.now()
  /** When the current consumer was built. */
  private builtAt = 0
  private lastError: string | undefined
  /** What health was last reported (none yet: the first fetch reports connected). */
  private reported: boolean | undefined
  private watch: ReturnType<typeof setInterval> | undefined
  private loop: Promise<void> | undefined

  constructor(
    private readonly options: FetcherOptions,
    private readonly emit: (event: FetcherEvent) => void,
  ) {
    // Spare buffers beyond what the queue holds: enough to turn over without allocating.
    this.pool = new BufferPool(Math.max(options.queueMaxBytes / 2, 4 << 20))
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...options.brokers],
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => this.onLog(entry),
      // Bounded per request; a consumer whose retries are spent crashes and is rebuilt below.
      retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 8 },
    })
  }

  start(from: FetcherStart): void {
    if (this.loop !== undefined || this.closed) return
    for (const [p, at] of Object.entries(from.positions)) this.fetched.set(Number(p), at)
    this.outstanding = from.queuedRecords
    this.outstandingBytes = from.queuedBytes
    this.lastFetchAt = Date.now()
    this.loop = this.supervise()
    this.watch ??= setInterval(() => this.check(), WATCH_MS)
  }

  /**
   * The reader consumed `records` records of `bytes` value bytes, and gives back the buffers of the
   * batches it has finished: fetching may go on.
   */
  credit(records: number, bytes: number, buffers: readonly ArrayBuffer[]): void {
    for (const b of buffers) this.pool.give(b)
    this.outstanding -= records
    this.outstandingBytes -= bytes
    if (this.wake !== undefined && !this.overHalf()) {
      const wake = this.wake
      this.wake = undefined
      wake()
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.watch !== undefined) clearInterval(this.watch)
    this.wake?.()
    this.die?.('closed')
    await this.loop
  }

  private full(): boolean {
    return this.outstanding >= this.options.queueMax || this.outstandingBytes >= this.options.queueMaxBytes
  }

  /** Held fetching goes on once the reader has drained half of the queue. */
  private overHalf(): boolean {
    return this.outstanding > this.options.queueMax >> 1 || this.outstandingBytes > this.options.queueMaxBytes / 2
  }

  private onLog(entry: LogEntry): void {
    const text = String(entry.log.message)
    // Connection-level errors are what a broker outage looks like: remembered for the health
    // report, logged as warnings (kafkajs retries them).
    if (
      entry.namespace === 'Connection' ||
      entry.namespace === 'BrokerPool' ||
      /ECONNREFUSED|ECONNRESET|Connection error|Closed connection/.test(text)
    ) {
      this.lastError = text
    }
    // Errors kafkajs retries, and crashes this class recovers from, are warnings; the rest errors.
    const line = kafkaLogLine(entry, ['Consumer', 'Runner'])
    this.emit({ kind: 'log', level: line.level, message: line.message, fields: line.fields })
  }

  private contact(): void {
    this.lastFetchAt = Date.now()
    this.backoff = BACKOFF_MIN_MS
    if (this.reported !== true) {
      // Also after a thread restart: the reader learns that this new fetcher reads.
      this.reported = true
      this.emit({ kind: 'health', connected: true, error: undefined, since: this.lastFetchAt })
    }
  }

  /** Runs every WATCH_MS: reports a silent consumer as disconnected, replaces a stuck one. */
  private check(): void {
    if (this.closed || this.held !== undefined) return
    const now = Date.now()
    const silent = now - this.lastFetchAt
    if (this.reported !== false && silent >= this.options.staleMs) {
      this.reported = false
      const error = this.lastError ?? `no fetch from the brokers for ${Math.round(silent / 1000)} s`
      this.emit({ kind: 'health', connected: false, error, since: this.lastFetchAt })
    }
    // kafkajs retries a lost broker by itself, for ever, but a consumer that has failed for long
    // may come back wedged (a stale member id, a fetch loop that never restarts): a fresh one
    // after stuckMs, and again after each further stuckMs, costs one connection attempt.
    if (silent >= this.options.stuckMs && this.die !== undefined && now - this.builtAt >= this.options.stuckMs) {
      this.die(`no fetch for ${Math.round(silent / 1000)} s`)
    }
  }

  /** Builds consumers until closed: a crashed, failed or stuck one is replaced after a backoff. */
  private async supervise(): Promise<void> {
    while (!this.closed) {
      const generation = ++this.generation
      const died = new Promise<string>((resolve) => (this.die = resolve))
      let reason: string
      let consumer: Consumer | undefined
      try {
        this.builtAt = Date.now()
        consumer = this.consumerFor(generation)
        await consumer.connect()
        await consumer.subscribe({ topic: this.options.topic, fromBeginning: true }) // partitions added later start at their beginning
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: true,
          eachBatch: async (payload) => this.onBatch(generation, payload),
        })
        reason = await died
      } catch (e) {
        reason = (e as Error).message
      }
      this.die = undefined
      this.held = undefined
      if (consumer !== undefined) await this.dispose(consumer)
      if (this.closed) return
      this.lastError = reason
      this.emit({
        kind: 'log',
        level: 'warn',
        message: `kafka consumer of topic "${this.options.topic}" stopped (${reason}); reconnecting in ${this.backoff} ms`,
      })
      await sleep(this.backoff)
      this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS)
    }
  }

  /** Disconnects a dropped consumer without waiting long for a broker that is away. */
  private async dispose(consumer: Consumer): Promise<void> {
    const done = consumer.disconnect().catch(() => undefined)
    await Promise.race([done, sleep(5000)])
  }

  private consumerFor(generation: number): Consumer {
    const { topic } = this.options
    const consumer = this.kafka.consumer({
      groupId: `${this.options.groupPrefix}-${randomBytes(6).toString('hex')}`,
      allowAutoTopicCreation: false,
      sessionTimeout: 10_000,
      rebalanceTimeout: 5000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 250,
      maxBytesPerPartition: this.options.maxBytesPerPartition,
      maxBytes: this.options.maxBytes,
      ...(this.options.split === undefined
        ? {}
        : { partitionAssigners: [splitAssigner(topic, this.options.split.index, this.options.split.count)] }),
      // This class replaces a crashed consumer itself (a fresh one, from its own positions).
      retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 8, restartOnFailure: async () => false },
    })
    const current = (): boolean => generation === this.generation && !this.closed
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (!current()) return
      // Resume exactly after what is already handed over, on the first join and on any rejoin.
      for (const partition of payload.memberAssignment[topic] ?? []) {
        const at = this.fetched.get(partition)
        if (at !== undefined) consumer.seek({ topic, partition, offset: String(at) })
      }
      this.contact()
    })
    consumer.on(consumer.events.FETCH, () => {
      if (current()) this.contact()
    })
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      // A batch of only transaction markers or aborted records never reaches eachBatch, but the
      // position must still move past it, or the reader would wait for offsets that hold no data.
      if (current() && payload.batchSize === 0 && payload.topic === topic) {
        this.handOver(
          payload.partition,
          emptyBatch(payload.partition, Number(payload.lastOffset) + 1, Number(payload.highWatermark)),
        )
      }
    })
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!current()) return
      this.lastError = payload.error.message
      this.die?.(`crashed: ${payload.error.message}`)
    })
    return consumer
  }

  private async onBatch(generation: number, payload: EachBatchPayload): Promise<void> {
    const { batch } = payload
    if (generation !== this.generation || this.closed || batch.topic !== this.options.topic) return
    const partition = batch.partition
    if (this.full()) {
      this.held = partition
      this.emit({ kind: 'hold', partition })
      try {
        while (this.overHalf() && payload.isRunning() && !this.closed && generation === this.generation) {
          await Promise.race([new Promise<void>((resolve) => (this.wake = resolve)), sleep(1000)])
          this.wake = undefined
          if (!this.overHalf()) break
          // Keeps the group membership while held; throws on a rebalance (the batch is fetched again).
          await payload.heartbeat()
        }
      } finally {
        // Held, the consumer was in touch (heartbeats): the silence clock starts again now.
        this.held = undefined
        this.lastFetchAt = Date.now()
        this.emit({ kind: 'hold', partition: undefined })
      }
    }
    if (!payload.isRunning() || this.closed || generation !== this.generation) return
    const messages = batch.messages
    const end = Number(batch.lastOffset()) + 1
    const at = this.fetched.get(partition)
    if (at !== undefined && end <= at) return // already handed over (a fetch that raced a seek)
    let from = 0
    if (at !== undefined) while (from < messages.length && Number(messages[from].offset) < at) from++
    this.handOver(
      partition,
      packBatch(partition, messages, from, end, Number(batch.highWatermark), this.options.timestamps, this.pool),
    )
  }

  private handOver(partition: number, batch: FetchedBatch): void {
    const at = this.fetched.get(partition)
    if (at !== undefined && batch.end <= at) return
    this.fetched.set(partition, batch.end)
    this.outstanding += batch.count
    this.outstandingBytes += batch.bytes
    this.contact()
    this.emit({ kind: 'batch', batch })
  }
}
