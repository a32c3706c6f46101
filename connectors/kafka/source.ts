/**
 * The Kafka source: reads every partition of one topic with kafkajs and decodes records into
 * chunks of the declared columns. Its position (per partition, the next offset to return) is
 * state the engine writes with each checkpoint; Kafka group commits are never used for
 * correctness, only mirrored to `group.id` for lag dashboards.
 *
 * Why it is shaped like this:
 * - A consumer group of one member under a unique group id, positioned by `seek` whenever it
 *   (re)joins: kafkajs has no group-less consumer, a unique group never waits for other members
 *   (first records arrive within about half a second), and re-seeking after any rejoin means a
 *   session timeout cannot rewind or skip the topic.
 * - A bounded queue of fetched batches between the consumer and `poll`: when it is full the
 *   consumer is paused (kafkajs drops in-flight data of paused partitions without moving their
 *   position), and resumed once `poll` has drained half of it. Memory stays bounded; lag grows.
 * - read_committed (kafkajs's default): aborted records never appear. Offsets taken by
 *   transaction markers are skipped by moving the position to the end of each fetched batch,
 *   so `reached` works on transactional topics too.
 */
import {
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type KafkaMessage,
  type LogEntry,
} from 'kafkajs'
import { randomBytes } from 'node:crypto'
import { emptyColumns, type Chunk, type Column } from '../../engine/chunk.ts'
import type { ColumnSchema, ConnectorContext, SourceFactory, SourceReader } from '../../engine/connector.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { createJsonDecoder, type JsonDecoder } from '../formats/json.ts'
import { parseKafkaSourceOptions, type KafkaSourceConfig } from './options.ts'

/** Knobs tests turn down; the defaults suit production. */
export interface KafkaReaderTuning {
  /** Records held between the consumer and poll before the consumer pauses. */
  readonly queueMax: number
  /** Per-partition fetch size: bounds what arrives after a pause. */
  readonly maxBytesPerPartition: number
  /** How often (ms) the position is mirrored to `group.id`, when one is set. */
  readonly groupCommitIntervalMs: number
}

const DEFAULT_TUNING: KafkaReaderTuning = {
  queueMax: 20_000,
  maxBytesPerPartition: 1 << 20,
  groupCommitIntervalMs: 5000,
}

/** A fetched batch of one partition, consumed by poll from `index` on. */
interface Segment {
  readonly partition: number
  readonly messages: readonly KafkaMessage[]
  index: number
  /** The offset after the batch, past any trailing transaction markers or aborted records. */
  readonly end: bigint
}

/** What a reader reports for metrics and tests. */
export interface KafkaReaderStats {
  readonly queued: number
  readonly paused: boolean
}

export class KafkaSourceReader implements SourceReader {
  private readonly kafka: Kafka
  private consumer: Consumer | undefined
  private admin: Admin | undefined
  private readonly decoder: JsonDecoder
  private readonly tuning: KafkaReaderTuning

  private segments: Segment[] = []
  private head = 0
  private queued = 0
  private paused = false
  /** Per partition, the offset after everything queued: where a rejoined consumer resumes. */
  private readonly fetched = new Map<number, bigint>()
  /** Per partition, the offset after everything poll has returned: the checkpointed position. */
  private readonly next = new Map<number, bigint>()
  /** Log start offsets seen by endOffsets, for partitions this reader has no position in yet. */
  private readonly lows = new Map<number, bigint>()
  private failure: SluiceError | undefined
  private closed = false
  private lastGroupCommit = 0
  private groupCommit: Promise<void> | undefined

  constructor(
    private readonly columns: readonly ColumnSchema[],
    readonly config: KafkaSourceConfig,
    private readonly ctx: ConnectorContext,
    tuning: Partial<KafkaReaderTuning> = {},
  ) {
    this.tuning = { ...DEFAULT_TUNING, ...tuning }
    this.decoder = createJsonDecoder(columns)
    this.kafka = new Kafka({
      clientId: `sluice-${ctx.name}`,
      brokers: [...config.brokers],
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => {
        const { message, ...fields } = entry.log
        // Connection-level errors are responses kafkajs retries (e.g. a coordinator still loading):
        // warnings. Failures that stop the reader surface as a crash or a rejected call.
        const level = entry.level === logLevel.ERROR && entry.namespace !== 'Connection' ? 'error' : 'warn'
        ctx.log(level, `kafka ${entry.namespace}: ${message}`, fields)
      },
      retry: { initialRetryTime: 200, retries: 10 },
    })
  }

  async open(restored?: Readonly<Record<string, string>>): Promise<void> {
    const { topic } = this.config
    const admin = this.kafka.admin()
    this.admin = admin
    await admin.connect()
    let partitions: Awaited<ReturnType<Admin['fetchTopicOffsets']>>
    try {
      // Asked first because kafkajs retries an unknown topic for a minute before giving up.
      if (!(await admin.listTopics()).includes(topic)) throw new Error('the topic does not exist')
      partitions = await admin.fetchTopicOffsets(topic)
    } catch (e) {
      throw new SluiceError(
        SqlState.undefined_object,
        `cannot read Kafka topic "${topic}" from ${this.config.brokers.join(',')}: ${(e as Error).message}`,
        {
          domain: 'external',
          retryable: true,
          cause: e,
        },
      )
    }
    const startup = this.config.startup
    const byTime = startup.kind === 'timestamp' ? await admin.fetchTopicOffsetsByTimestamp(topic, startup.epochMs) : []
    for (const p of partitions) {
      const saved = restored?.[`${topic}/${p.partition}`]
      let at: string
      if (saved !== undefined) at = saved
      else if (startup.kind === 'earliest') at = p.low
      else if (startup.kind === 'latest') at = p.high
      else at = byTime.find((t) => t.partition === p.partition)?.offset ?? p.high
      this.next.set(p.partition, BigInt(at))
      this.fetched.set(p.partition, BigInt(at))
      this.lows.set(p.partition, BigInt(p.low))
    }

    const consumer = this.kafka.consumer({
      groupId: `${this.config.groupId ?? 'sluice'}-${this.ctx.name}-${randomBytes(6).toString('hex')}`,
      allowAutoTopicCreation: false,
      sessionTimeout: 10_000,
      rebalanceTimeout: 5000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 250,
      maxBytesPerPartition: this.tuning.maxBytesPerPartition,
      maxBytes: Math.max(this.tuning.maxBytesPerPartition, 8 << 20),
    })
    this.consumer = consumer
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      // Resume exactly after what is already queued, on the first join and on any rejoin.
      for (const partition of payload.memberAssignment[topic] ?? []) {
        const at = this.fetched.get(partition)
        if (at !== undefined) consumer.seek({ topic, partition, offset: at.toString() })
      }
    })
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      // A batch of only transaction markers or aborted records never reaches eachBatch, but the
      // position must still move past it, or `reached` would wait for offsets that hold no data.
      if (payload.batchSize === 0 && payload.topic === topic)
        this.enqueue(payload.partition, [], BigInt(payload.lastOffset) + 1n)
    })
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.ctx.log(
        'error',
        `kafka consumer of topic "${topic}" crashed${payload.restart ? '; restarting' : ''}: ${payload.error.message}`,
      )
      if (!payload.restart && !this.closed) {
        this.failure = new SluiceError(
          SqlState.io_error,
          `Kafka source "${this.ctx.name}" stopped reading topic "${topic}": ${payload.error.message}`,
          {
            domain: 'external',
            retryable: true,
            cause: payload.error,
          },
        )
      }
    })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true }) // partitions added later start at their beginning
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async (payload) => this.onBatch(payload),
    })
  }

  private onBatch({ batch }: EachBatchPayload): void {
    if (this.closed || batch.topic !== this.config.topic) return
    this.enqueue(batch.partition, batch.messages, BigInt(batch.lastOffset()) + 1n)
  }

  private enqueue(partition: number, messages: readonly KafkaMessage[], end: bigint): void {
    const from = this.fetched.get(partition)
    if (from !== undefined && end <= from) return // already queued (a fetch that raced a seek)
    let fresh = messages
    if (from !== undefined && fresh.length > 0 && BigInt(fresh[0].offset) < from)
      fresh = fresh.filter((m) => BigInt(m.offset) >= from)
    this.segments.push({ partition, messages: fresh, index: 0, end })
    this.queued += fresh.length
    this.fetched.set(partition, end)
    if (!this.paused && this.queued >= this.tuning.queueMax && this.consumer !== undefined) {
      this.paused = true
      this.consumer.pause([{ topic: this.config.topic }])
    }
  }

  async poll(maxRows: number): Promise<Chunk | undefined> {
    if (this.failure !== undefined) throw this.failure
    const width = this.columns.length
    const out: Column[] = emptyColumns(width)
    let rows = 0
    // Records that fail to decode become dead letters; keep going until a row or an empty queue.
    while (rows === 0 && this.head < this.segments.length) {
      rows = this.drain(out, Math.max(1, maxRows))
    }
    if (this.head === this.segments.length) {
      this.segments = []
      this.head = 0
    } else if (this.head > 1024) {
      this.segments = this.segments.slice(this.head)
      this.head = 0
    }
    if (this.paused && this.queued <= this.tuning.queueMax >> 1 && this.consumer !== undefined) {
      this.paused = false
      this.consumer.resume([{ topic: this.config.topic }])
    }
    this.mirrorToGroup()
    if (rows === 0) return undefined
    return { columns: out, ops: new Int8Array(rows).fill(1), length: rows }
  }

  /** Decodes up to `limit` queued records into `out`; returns the rows added. */
  private drain(out: Column[], limit: number): number {
    const decoder = this.decoder
    let taken = 0
    let rows = 0
    while (taken < limit && this.head < this.segments.length) {
      const seg = this.segments[this.head]
      const msgs = seg.messages
      const stop = Math.min(msgs.length, seg.index + (limit - taken))
      for (let i = seg.index; i < stop; i++) {
        const value = msgs[i].value
        if (value === null) {
          this.reject(seg.partition, msgs[i], 'decode_error', 'the record has no value (a tombstone)', null)
          continue
        }
        const text = value.toString('utf8')
        const failure = decoder.decode(text, out)
        if (failure === undefined) rows++
        else this.reject(seg.partition, msgs[i], failure.reason, failure.detail, text)
      }
      taken += stop - seg.index
      this.queued -= stop - seg.index
      if (stop === msgs.length) {
        this.next.set(seg.partition, seg.end)
        this.head++
      } else {
        seg.index = stop
        this.next.set(seg.partition, BigInt(msgs[stop - 1].offset) + 1n)
      }
    }
    return rows
  }

  private reject(
    partition: number,
    m: KafkaMessage,
    reason: 'decode_error' | 'type_error',
    detail: string,
    payload: string | null,
  ): void {
    this.ctx.deadLetter({
      object: this.ctx.name,
      reason,
      detail,
      payload,
      origin: `topic=${this.config.topic} partition=${partition} offset=${m.offset}`,
    })
  }

  offsets(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const [p, o] of this.next) out[`${this.config.topic}/${p}`] = o.toString()
    return out
  }

  /** The last stable offset of every partition now (high watermark, less open transactions). */
  async endOffsets(): Promise<Record<string, string>> {
    if (this.admin === undefined)
      throw new SluiceError(SqlState.internal_error, 'Kafka source read before open', { domain: 'internal' })
    const out: Record<string, string> = {}
    for (const p of await this.admin.fetchTopicOffsets(this.config.topic)) {
      out[`${this.config.topic}/${p.partition}`] = p.high
      this.lows.set(p.partition, BigInt(p.low))
    }
    return out
  }

  reached(end: Readonly<Record<string, string>>): boolean {
    const prefix = `${this.config.topic}/`
    for (const key in end) {
      if (!key.startsWith(prefix)) continue
      const partition = Number(key.slice(prefix.length))
      const at = this.next.get(partition) ?? this.lows.get(partition) ?? 0n
      if (at < BigInt(end[key])) return false
    }
    return true
  }

  stats(): KafkaReaderStats {
    return { queued: this.queued, paused: this.paused }
  }

  /** Mirrors the position to `group.id` now and then, so lag tools see how far behind Sluice is. */
  private mirrorToGroup(): void {
    const groupId = this.config.groupId
    if (groupId === undefined || this.admin === undefined || this.groupCommit !== undefined || this.next.size === 0)
      return
    const now = this.ctx.now()
    if (now - this.lastGroupCommit < this.tuning.groupCommitIntervalMs) return
    this.lastGroupCommit = now
    const partitions = [...this.next].map(([partition, offset]) => ({ partition, offset: offset.toString() }))
    this.groupCommit = this.admin
      .setOffsets({ groupId, topic: this.config.topic, partitions })
      .catch((e: unknown) =>
        this.ctx.log('warn', `could not record offsets in consumer group "${groupId}": ${(e as Error).message}`),
      )
      .finally(() => (this.groupCommit = undefined))
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.segments = []
    this.head = 0
    this.queued = 0
    await this.groupCommit
    try {
      await this.consumer?.disconnect()
    } catch (e) {
      this.ctx.log('warn', `closing the Kafka consumer of "${this.config.topic}" failed: ${(e as Error).message}`)
    }
    try {
      await this.admin?.disconnect()
    } catch (e) {
      this.ctx.log('warn', `closing the Kafka admin client failed: ${(e as Error).message}`)
    }
  }
}

/** `connector = 'kafka'`: one reader per source over one topic. */
export const kafkaSourceFactory: SourceFactory = {
  connector: 'kafka',
  create(columns, options, ctx) {
    return new KafkaSourceReader(columns, parseKafkaSourceOptions(options), ctx)
  },
}
