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
 * - A bounded queue of fetched batches between the consumer and `poll`: when it is full, the
 *   partitions that hold queued records are paused (kafkajs drops in-flight data of paused
 *   partitions without moving their position), and resumed once `poll` has drained half of it.
 *   Memory stays bounded; lag grows.
 * - read_committed (kafkajs's default): aborted records never appear. Offsets taken by
 *   transaction markers are skipped by moving the position to the end of each fetched batch,
 *   so `reached` works on transactional topics too.
 * - Watermarks per partition: the max event time of each partition, combined as the minimum over
 *   the partitions that count. A partition that has never returned a row and has nothing to read
 *   does not count (nothing is known about it); with `idle_timeout`, a partition with nothing
 *   queued and no record for that long stops counting until it has data again.
 * - Metadata columns (`INCLUDE key | partition | offset | timestamp | header 'h'`) are filled
 *   here; the format's decoder sees only the payload columns.
 */
import {
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  type KafkaMessage,
  type LogEntry,
  type Message,
  type Producer,
} from 'kafkajs'
import { randomBytes } from 'node:crypto'
import type { Chunk, Column, Watermark } from '../../engine/chunk.ts'
import type {
  ColumnSchema,
  ConnectorContext,
  DeadLetter,
  DeadLetterReason,
  PartitionLag,
  SourceFactory,
  SourceMetadata,
  SourceReader,
} from '../../engine/connector.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { emptyColumns } from '../../engine/chunk.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { createRecordDecoder, type RecordDecoder } from './decoding.ts'
import { parseKafkaSourceOptions, type KafkaSourceConfig } from './options.ts'

/** Knobs tests turn down; the defaults suit production. */
export interface KafkaReaderTuning {
  /** Records held between the consumer and poll before partitions pause. */
  readonly queueMax: number
  /** Bytes of record values held before partitions pause (whichever limit comes first). */
  readonly queueMaxBytes: number
  /** Per-partition fetch size: bounds what arrives after a pause. */
  readonly maxBytesPerPartition: number
  /** How often (ms) the position is mirrored to `group.id`, when one is set. */
  readonly groupCommitIntervalMs: number
  /** How often (ms) partition end offsets are refreshed for lag reporting. */
  readonly lagRefreshMs: number
  /** Dead-letter records produced to the dead-letter topic at most in flight before poll waits. */
  readonly deadLetterBacklog: number
}

const DEFAULT_TUNING: KafkaReaderTuning = {
  queueMax: 100_000,
  queueMaxBytes: 32 << 20,
  maxBytesPerPartition: 1 << 20,
  groupCommitIntervalMs: 5000,
  lagRefreshMs: 1000,
  deadLetterBacklog: 5000,
}

/** A fetched batch of one partition, consumed by poll from `index` on. */
interface Segment {
  readonly partition: PartitionState
  readonly messages: readonly KafkaMessage[]
  index: number
  /** The offset after the batch, past any trailing transaction markers or aborted records. */
  readonly end: bigint
  prepared: boolean
}

/** Everything the reader tracks per partition. */
interface PartitionState {
  readonly id: number
  /** The offset after everything poll has returned: the checkpointed position. */
  next: bigint
  /** The offset after everything queued: where a rejoined consumer resumes. */
  fetched: bigint
  /** The end of the partition as last seen (high watermark; the last stable offset under read_committed). */
  end: bigint
  low: bigint
  queued: number
  paused: boolean
  /** ctx.now() when poll last took a record of this partition (or when the reader opened). */
  lastDataAt: number
  /** Max event time per time column (µs), -Infinity before the first row. */
  maxTime: number[]
}

/** What a reader reports for metrics and tests. */
export interface KafkaReaderStats {
  readonly queued: number
  readonly paused: boolean
  readonly pausedPartitions: readonly number[]
  /** Dead-letter records not yet acknowledged by the dead-letter topic. */
  readonly deadLettersInFlight: number
}

/** The layout of a chunk: which columns the decoder fills and which come from metadata. */
interface Layout {
  readonly width: number
  readonly payload: readonly number[]
  readonly meta: readonly { readonly index: number; readonly include: SourceMetadata }[]
  readonly time: readonly number[]
}

function layoutOf(columns: readonly ColumnSchema[]): Layout {
  const payload: number[] = []
  const meta: { index: number; include: SourceMetadata }[] = []
  const time: number[] = []
  columns.forEach((c, i) => {
    if (c.include === undefined) payload.push(i)
    else meta.push({ index: i, include: c.include })
    if (c.type.kind === 'timestamp' || c.type.kind === 'timestamptz') time.push(i)
  })
  return { width: columns.length, payload, meta, time }
}

function headerText(headers: IHeaders | undefined, name: string): string | null {
  const h = headers?.[name]
  const first = Array.isArray(h) ? h[0] : h
  if (first === undefined) return null
  return typeof first === 'string' ? first : first.toString('utf8')
}

function metadataValue(include: SourceMetadata, partition: number, m: KafkaMessage): Value {
  switch (include.kind) {
    case 'key':
      return m.key === null || m.key === undefined ? null : m.key.toString('utf8')
    case 'partition':
      return partition
    case 'offset':
      return BigInt(m.offset)
    case 'timestamp':
      return Number(m.timestamp) * 1000
    case 'header':
      return headerText(m.headers, include.name)
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

function utf8OrNull(bytes: Buffer): string | null {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return null
  }
}

export class KafkaSourceReader implements SourceReader {
  private readonly kafka: Kafka
  private consumer: Consumer | undefined
  private admin: Admin | undefined
  private readonly decoder: RecordDecoder
  private readonly tuning: KafkaReaderTuning
  private readonly columns: ColumnSchema[]
  private layout: Layout

  private segments: Segment[] = []
  private head = 0
  private queued = 0
  private queuedBytes = 0
  private readonly partitions = new Map<number, PartitionState>()
  private failure: SluiceError | undefined
  private closed = false
  private lastGroupCommit = 0
  private groupCommit: Promise<void> | undefined
  private lastLagRefresh = 0
  private lagRefresh: Promise<void> | undefined

  /** The dead-letter topic's producer and what it still has to send. */
  private dlqProducer: Producer | undefined
  private dlqPending: Message[] = []
  private dlqInFlight = 0
  private dlqSending: Promise<void> = Promise.resolve()

  constructor(
    columns: readonly ColumnSchema[],
    readonly config: KafkaSourceConfig,
    private readonly ctx: ConnectorContext,
    tuning: Partial<KafkaReaderTuning> = {},
  ) {
    this.tuning = { ...DEFAULT_TUNING, ...tuning }
    this.columns = [...columns]
    this.layout = layoutOf(this.columns)
    this.decoder = createRecordDecoder(config, this.payloadColumns())
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

  private payloadColumns(): ColumnSchema[] {
    return this.layout.payload.map((i) => this.columns[i])
  }

  private partition(id: number, at: bigint): PartitionState {
    let st = this.partitions.get(id)
    if (st === undefined) {
      st = {
        id,
        next: at,
        fetched: at,
        end: at,
        low: at,
        queued: 0,
        paused: false,
        lastDataAt: this.ctx.now(),
        maxTime: this.layout.time.map(() => -Infinity),
      }
      this.partitions.set(id, st)
    }
    return st
  }

  async open(restored?: Readonly<Record<string, string>>): Promise<void> {
    const { topic } = this.config
    const admin = this.kafka.admin()
    this.admin = admin
    await admin.connect()
    let partitions: Awaited<ReturnType<Admin['fetchTopicOffsets']>>
    try {
      // Asked first because kafkajs retries an unknown topic for a minute before giving up.
      const topics = await admin.listTopics()
      if (!topics.includes(topic)) throw new Error('the topic does not exist')
      partitions = await admin.fetchTopicOffsets(topic)
      if (this.config.deadLetterTopic !== undefined) await this.openDeadLetterTopic(admin, topics)
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
      const st = this.partition(p.partition, BigInt(at))
      st.low = BigInt(p.low)
      st.end = BigInt(p.high)
    }
    this.lastLagRefresh = this.ctx.now()

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
        const at = this.partitions.get(partition)?.fetched
        if (at !== undefined) consumer.seek({ topic, partition, offset: at.toString() })
      }
    })
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      // A batch of only transaction markers or aborted records never reaches eachBatch, but the
      // position must still move past it, or `reached` would wait for offsets that hold no data.
      if (payload.batchSize === 0 && payload.topic === topic)
        this.enqueue(payload.partition, [], BigInt(payload.lastOffset) + 1n, undefined)
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

  /** Creates the dead-letter topic when it does not exist yet, and connects its producer. */
  private async openDeadLetterTopic(admin: Admin, topics: readonly string[]): Promise<void> {
    const dlq = this.config.deadLetterTopic
    if (dlq === undefined) return
    if (!topics.includes(dlq)) {
      try {
        await admin.createTopics({ topics: [{ topic: dlq, numPartitions: 1 }], waitForLeaders: true })
      } catch (e) {
        // Another reader may have created it at the same moment.
        if (!(await admin.listTopics()).includes(dlq)) throw e
      }
    }
    const producer = this.kafka.producer({ allowAutoTopicCreation: false })
    await producer.connect()
    this.dlqProducer = producer
  }

  private onBatch({ batch }: EachBatchPayload): void {
    if (this.closed || batch.topic !== this.config.topic) return
    this.enqueue(batch.partition, batch.messages, BigInt(batch.lastOffset()) + 1n, batch.highWatermark)
  }

  private enqueue(partition: number, messages: readonly KafkaMessage[], end: bigint, high: string | undefined): void {
    const st = this.partition(partition, messages.length > 0 ? BigInt(messages[0].offset) : end)
    if (high !== undefined && BigInt(high) > st.end) st.end = BigInt(high)
    if (end <= st.fetched) return // already queued (a fetch that raced a seek)
    let fresh = messages
    if (fresh.length > 0 && BigInt(fresh[0].offset) < st.fetched) fresh = fresh.filter((m) => BigInt(m.offset) >= st.fetched)
    this.segments.push({ partition: st, messages: fresh, index: 0, end, prepared: false })
    this.queued += fresh.length
    st.queued += fresh.length
    for (let i = 0; i < fresh.length; i++) this.queuedBytes += fresh[i].value?.length ?? 0
    st.fetched = end
    if (this.queued >= this.tuning.queueMax || this.queuedBytes >= this.tuning.queueMaxBytes) this.pauseFull()
  }

  /** The queue is full: pause every partition that holds queued records (the ones poll cannot take yet). */
  private pauseFull(): void {
    if (this.consumer === undefined) return
    const ids: number[] = []
    for (const st of this.partitions.values()) {
      if (!st.paused && st.queued > 0) {
        st.paused = true
        ids.push(st.id)
      }
    }
    if (ids.length > 0) this.consumer.pause([{ topic: this.config.topic, partitions: ids }])
  }

  private resumeAll(): void {
    if (this.consumer === undefined) return
    const ids: number[] = []
    for (const st of this.partitions.values()) {
      if (st.paused) {
        st.paused = false
        ids.push(st.id)
      }
    }
    if (ids.length > 0) this.consumer.resume([{ topic: this.config.topic, partitions: ids }])
  }

  async poll(maxRows: number): Promise<Chunk | undefined> {
    if (this.failure !== undefined) throw this.failure
    // Dead letters on their way to the dead-letter topic are bounded: wait for the topic first.
    if (this.dlqInFlight + this.dlqPending.length >= this.tuning.deadLetterBacklog) await this.dlqSending
    await this.prepare(Math.max(1, maxRows))
    const out: Column[] = emptyColumns(this.layout.width)
    const ops: number[] = []
    // Records that fail to decode become dead letters; keep going until a row or an empty queue.
    while (ops.length === 0 && this.head < this.segments.length && this.segments[this.head].prepared) {
      this.drain(out, ops, Math.max(1, maxRows))
    }
    if (this.head === this.segments.length) {
      this.segments = []
      this.head = 0
    } else if (this.head > 1024) {
      this.segments = this.segments.slice(this.head)
      this.head = 0
    }
    if (this.queued <= this.tuning.queueMax >> 1 && this.queuedBytes <= this.tuning.queueMaxBytes / 2) this.resumeAll()
    this.sendDeadLetters()
    this.mirrorToGroup()
    this.refreshEnds()
    if (ops.length === 0) return undefined
    return { columns: out, ops: Int8Array.from(ops), length: ops.length }
  }

  /** Lets the decoder do its asynchronous lookups (schema ids) for the segments the next drain reads. */
  private async prepare(limit: number): Promise<void> {
    const decoder = this.decoder
    let ahead = 0
    for (let i = this.head; i < this.segments.length && ahead < limit; i++) {
      const seg = this.segments[i]
      ahead += seg.messages.length - seg.index
      if (seg.prepared) continue
      if (decoder.prepare !== undefined && seg.messages.length > 0) await decoder.prepare(seg.messages.map((m) => m.value))
      seg.prepared = true
    }
  }

  /** Decodes up to `limit` queued records into `out`, appending each row's op to `ops`. */
  private drain(out: Column[], ops: number[], limit: number): void {
    const decoder = this.decoder
    const { payload, meta, time } = this.layout
    const payloadOut = payload.map((i) => out[i])
    const now = this.ctx.now()
    let taken = 0
    while (taken < limit && this.head < this.segments.length && this.segments[this.head].prepared) {
      const seg = this.segments[this.head]
      const st = seg.partition
      const msgs = seg.messages
      const stop = Math.min(msgs.length, seg.index + (limit - taken))
      const maxTime = st.maxTime
      for (let i = seg.index; i < stop; i++) {
        const m = msgs[i]
        this.queuedBytes -= m.value?.length ?? 0
        const result = decoder.decode(m.value, payloadOut)
        if (typeof result !== 'number') {
          this.reject(st.id, m, result.reason, result.detail)
          continue
        }
        if (result === 0) continue
        ops.push(result)
        for (let k = 0; k < meta.length; k++) out[meta[k].index].push(metadataValue(meta[k].include, st.id, m))
        for (let k = 0; k < time.length; k++) {
          const col = out[time[k]]
          const v = col[col.length - 1]
          if (typeof v === 'number' && v > maxTime[k]) maxTime[k] = v
        }
      }
      const n = stop - seg.index
      taken += n
      this.queued -= n
      st.queued -= n
      if (n > 0) st.lastDataAt = now
      if (stop === msgs.length) {
        st.next = seg.end
        this.head++
      } else {
        seg.index = stop
        st.next = BigInt(msgs[stop - 1].offset) + 1n
      }
    }
  }

  private reject(partition: number, m: KafkaMessage, reason: DeadLetterReason, detail: string): void {
    const value = m.value
    const payload = value === null ? null : this.decoder.payloadText(value)
    this.ctx.deadLetter({
      object: this.ctx.name,
      reason,
      detail,
      payload,
      origin: `topic=${this.config.topic} partition=${partition} offset=${m.offset}`,
    })
    if (this.dlqProducer === undefined) return
    const record = {
      source: this.ctx.name,
      reason,
      error: detail,
      topic: this.config.topic,
      partition,
      offset: m.offset,
      timestamp: m.timestamp,
      key: m.key === null || m.key === undefined ? null : m.key.toString('base64'),
      payload: value === null ? null : utf8OrNull(value),
      payload_base64: value === null ? null : value.toString('base64'),
      received_at: new Date(this.ctx.now()).toISOString(),
    }
    this.dlqPending.push({ key: m.key ?? null, value: JSON.stringify(record), headers: m.headers })
  }

  forwardDeadLetter(letter: DeadLetter): void {
    if (this.dlqProducer === undefined) return
    const record = {
      source: this.ctx.name,
      object: letter.object,
      reason: letter.reason,
      error: letter.detail,
      payload: letter.payload,
      origin: letter.origin ?? null,
      received_at: new Date(this.ctx.now()).toISOString(),
    }
    this.dlqPending.push({ key: null, value: JSON.stringify(record) })
  }

  /** Sends what the last polls dead-lettered to the dead-letter topic, one produce call at a time. */
  private sendDeadLetters(): void {
    const producer = this.dlqProducer
    const topic = this.config.deadLetterTopic
    if (producer === undefined || topic === undefined || this.dlqPending.length === 0) return
    const messages = this.dlqPending
    this.dlqPending = []
    this.dlqInFlight += messages.length
    this.dlqSending = this.dlqSending
      .then(async () => {
        await producer.send({ topic, messages })
      })
      .catch((e: unknown) =>
        this.ctx.log('error', `could not write ${messages.length} dead letters to topic "${topic}": ${(e as Error).message}`),
      )
      .finally(() => (this.dlqInFlight -= messages.length))
  }

  offsets(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const st of this.partitions.values()) out[`${this.config.topic}/${st.id}`] = st.next.toString()
    return out
  }

  /**
   * Per time column, the minimum over partitions of their max event time. Partitions that do not
   * count: idle ones (idle_timeout), and ones that never returned a row with nothing to read.
   * When no partition counts, the maximum over all of them (every partition is idle).
   */
  watermarks(): Watermark[] {
    const time = this.layout.time
    if (time.length === 0 || this.partitions.size === 0) return []
    const now = this.ctx.now()
    const idleMs = this.config.idleTimeoutMicros === undefined ? undefined : this.config.idleTimeoutMicros / 1000
    const out: Watermark[] = []
    for (let k = 0; k < time.length; k++) {
      let min = Infinity
      let max = -Infinity
      let counted = 0
      for (const st of this.partitions.values()) {
        const v = st.maxTime[k]
        if (v > max) max = v
        if (idleMs !== undefined && st.queued === 0 && now - st.lastDataAt >= idleMs) continue
        if (v === -Infinity && st.queued === 0 && st.next >= st.end) continue
        counted++
        if (v < min) min = v
      }
      const value = counted > 0 ? min : max
      if (value > -Infinity && value < Infinity) out.push({ kind: 'watermark', column: time[k], value })
    }
    return out
  }

  lag(): PartitionLag[] {
    return [...this.partitions.values()]
      .sort((a, b) => a.id - b.id)
      .map((st) => ({
        topic: this.config.topic,
        partition: st.id,
        offset: st.next,
        end: st.end > st.next ? st.end : st.next,
        paused: st.paused,
      }))
  }

  /** ALTER SOURCE: the payload columns must be readable by the format (Avro: the latest registered schema). */
  async checkColumns(columns: readonly ColumnSchema[]): Promise<void> {
    await this.decoder.checkColumns?.(columns.filter((c) => c.include === undefined))
  }

  addColumn(column: ColumnSchema): void {
    this.columns.push(column)
    const before = this.layout.time.length
    this.layout = layoutOf(this.columns)
    if (this.layout.time.length > before) {
      for (const st of this.partitions.values()) st.maxTime.push(-Infinity)
    }
    this.decoder.setColumns(this.payloadColumns())
  }

  /** The last stable offset of every partition now (high watermark, less open transactions). */
  async endOffsets(): Promise<Record<string, string>> {
    if (this.admin === undefined)
      throw new SluiceError(SqlState.internal_error, 'Kafka source read before open', { domain: 'internal' })
    const out: Record<string, string> = {}
    for (const p of await this.admin.fetchTopicOffsets(this.config.topic)) {
      out[`${this.config.topic}/${p.partition}`] = p.high
      const st = this.partition(p.partition, BigInt(p.low))
      st.low = BigInt(p.low)
      if (BigInt(p.high) > st.end) st.end = BigInt(p.high)
    }
    return out
  }

  reached(end: Readonly<Record<string, string>>): boolean {
    // Dead letters still on their way to the dead-letter topic are part of "applied" for FLUSH.
    if (this.dlqPending.length > 0 || this.dlqInFlight > 0) return false
    const prefix = `${this.config.topic}/`
    for (const key in end) {
      if (!key.startsWith(prefix)) continue
      const st = this.partitions.get(Number(key.slice(prefix.length)))
      const at = st === undefined ? 0n : st.next > st.low ? st.next : st.low
      if (at < BigInt(end[key])) return false
    }
    return true
  }

  stats(): KafkaReaderStats {
    const pausedPartitions = [...this.partitions.values()].filter((s) => s.paused).map((s) => s.id)
    return {
      queued: this.queued,
      paused: pausedPartitions.length > 0,
      pausedPartitions,
      deadLettersInFlight: this.dlqInFlight + this.dlqPending.length,
    }
  }

  /** Refreshes partition ends now and then: paused partitions fetch nothing, so batches stop telling. */
  private refreshEnds(): void {
    if (this.admin === undefined || this.lagRefresh !== undefined) return
    const now = this.ctx.now()
    if (now - this.lastLagRefresh < this.tuning.lagRefreshMs) return
    this.lastLagRefresh = now
    this.lagRefresh = this.admin
      .fetchTopicOffsets(this.config.topic)
      .then((parts) => {
        for (const p of parts) {
          const st = this.partitions.get(p.partition)
          if (st !== undefined && BigInt(p.high) > st.end) st.end = BigInt(p.high)
        }
      })
      .catch((e: unknown) => this.ctx.log('debug', `could not refresh end offsets: ${(e as Error).message}`))
      .finally(() => (this.lagRefresh = undefined))
  }

  /** Mirrors the position to `group.id` now and then, so lag tools see how far behind Sluice is. */
  private mirrorToGroup(): void {
    const groupId = this.config.groupId
    if (groupId === undefined || this.admin === undefined || this.groupCommit !== undefined || this.partitions.size === 0)
      return
    const now = this.ctx.now()
    if (now - this.lastGroupCommit < this.tuning.groupCommitIntervalMs) return
    this.lastGroupCommit = now
    const partitions = [...this.partitions.values()].map((st) => ({ partition: st.id, offset: st.next.toString() }))
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
    this.queuedBytes = 0
    this.sendDeadLetters()
    await this.dlqSending
    await this.groupCommit
    await this.lagRefresh
    try {
      await this.consumer?.disconnect()
    } catch (e) {
      this.ctx.log('warn', `closing the Kafka consumer of "${this.config.topic}" failed: ${(e as Error).message}`)
    }
    try {
      await this.dlqProducer?.disconnect()
    } catch (e) {
      this.ctx.log('warn', `closing the dead-letter producer failed: ${(e as Error).message}`)
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
  create(columns, options, ctx, target) {
    return new KafkaSourceReader(columns, parseKafkaSourceOptions(options, target), ctx)
  },
}
