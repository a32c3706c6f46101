/**
 * The Kafka source: reads every partition of one topic and decodes records into chunks of the
 * declared columns. Its position (per partition, the next offset to return) is state the engine
 * writes with each checkpoint; Kafka group commits are never used for correctness, only mirrored
 * to `group.id` for lag dashboards.
 *
 * Why it is shaped like this:
 * - Fetching is a separate part (./fetcher.ts), by default in a worker thread (./fetch-thread.ts):
 *   kafkajs's fetching and record parsing take about as long as Sluice's decoding, and on their
 *   own core they overlap with it. Batches arrive packed (./fetched.ts): values in one buffer,
 *   offsets and timestamps in typed arrays. Decoding, dead letters, INCLUDE columns, watermarks
 *   and offsets all stay here, in the engine's thread. `SLUICE_KAFKA_FETCH_THREAD=main` (or the
 *   `fetchThread` tuning) keeps the fetcher in this thread: one core, or many sources.
 * - A bounded queue of fetched batches between the fetcher and `poll`: when it is full the fetcher
 *   holds the batch in hand (fetching nothing more, dropping nothing) until `poll` has drained
 *   half of it. Memory stays bounded; lag grows. Partitions count as paused meanwhile.
 * - Broker restarts and network errors: the fetcher reconnects with backoff and replaces a
 *   crashed consumer, seeking to what this reader has received; nothing is skipped or read
 *   twice. While it is disconnected and the queue is empty, `poll` fails with a retryable error
 *   naming the cause (shown as the source's last_error) and succeeds again once records flow.
 * - read_committed (kafkajs's default): aborted records never appear. Offsets taken by
 *   transaction markers are skipped by moving the position to the end of each fetched batch,
 *   so `reached` works on transactional topics too.
 * - Watermarks per partition: the max event time of each partition, combined as the minimum over
 *   the partitions that count. A partition that has never returned a row and has nothing to read
 *   does not count (nothing is known about it); with `idle_timeout`, a partition with nothing
 *   queued and no record for that long stops counting until it has data again.
 * - Metadata columns (`INCLUDE key | partition | offset | timestamp | header 'h'`) are filled
 *   here; the format's decoder sees only the payload columns.
 * - A sharded view's reader reads a split (ConnectorContext.split): the partitions p with
 *   p % count === index, assigned to its consumer by the fetcher and the only ones it tracks, so
 *   offsets, clocks, lag, ends and watermarks are the split's own. A split with no partition
 *   (more shards than partitions) opens, polls nothing and has no watermarks.
 */
import { Kafka, logLevel, type Admin, type LogEntry } from 'kafkajs'
import { kafkaLogLine } from './kafka-log.ts'
import type { Chunk, Column, Watermark } from '../../engine/chunk.ts'
import type {
  ColumnSchema,
  ConnectorContext,
  DeadLetter,
  PartitionLag,
  SourceClocks,
  SourceFactory,
  SourceReader,
} from '../../engine/connector.ts'
import { emptyColumns } from '../../engine/chunk.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import type { DeadLetterEpochs } from './dead-letter-epochs.ts'
import { createRecordDecoder, type RecordDecoder } from './decoding.ts'
import type { FetchedBatch } from './fetched.ts'
import { layoutOf, metadataValue, type Layout } from './metadata.ts'
import type { FetcherEvent, FetcherStart } from './fetcher.ts'
import { createFetcher, prepareFetcherThread, type FetcherHandle } from './fetch-thread.ts'
import { parseKafkaSourceOptions, type KafkaSourceConfig } from './options.ts'
import { observeTime, restoreClock } from '../partition-time.ts'
import { DEFAULT_TUNING, type KafkaReaderStats, type KafkaReaderTuning } from './reader-tuning.ts'
import {
  isPaused,
  partitionClocks,
  partitionLag,
  partitionsIdle,
  partitionOffsets,
  partitionWatermarks,
  reachedEnds,
  type PartitionState,
  type Segment,
} from './partition-state.ts'
import { SourceDeadLetters } from './source-dead-letters.ts'
import { PositionReports } from './position-reports.ts'

export class KafkaSourceReader implements SourceReader {
  private readonly kafka: Kafka
  private fetcher: FetcherHandle | undefined
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
  /** Buffers of consumed batches, given back to the fetcher with the next credit. */
  private finished: ArrayBuffer[] = []
  /**
   * Whether consumed batches' buffers may be reused: not for Avro, whose decoder may keep views
   * of the record bytes (bytea fields) in the rows it returns.
   */
  private readonly recycle: boolean
  /** The partition whose batch the fetcher holds back (queue full), if any. */
  private held: number | undefined
  private connected = true
  private connectionError: string | undefined
  private disconnectedSince = 0
  private closed = false
  private readonly reports: PositionReports
  /** The split this reader reads, if not the whole topic (ConnectorContext.split, checked). */
  private readonly split: { readonly index: number; readonly count: number } | undefined

  private readonly letters: SourceDeadLetters

  constructor(
    columns: readonly ColumnSchema[],
    readonly config: KafkaSourceConfig,
    private readonly ctx: ConnectorContext,
    tuning: Partial<KafkaReaderTuning> = {},
  ) {
    this.tuning = { ...DEFAULT_TUNING, ...tuning }
    this.split = checkSplit(ctx.split)
    this.columns = [...columns]
    this.layout = layoutOf(this.columns)
    this.decoder = createRecordDecoder(config, this.payloadColumns())
    this.reports = new PositionReports(config, ctx, this.tuning)
    this.letters = new SourceDeadLetters(config, ctx, this.decoder, this.tuning.deadLetterBacklog)
    this.recycle = config.format !== 'avro'
    // A view usually follows CREATE SOURCE: its open should not wait for a thread to boot.
    if (this.tuning.fetchThread === 'worker') prepareFetcherThread(this.tuning.queueMaxBytes)
    this.kafka = new Kafka({
      clientId: `sluice-${ctx.name}`,
      brokers: [...config.brokers],
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => {
        // Connection-level errors are responses kafkajs retries: warnings (kafka-log.ts).
        const line = kafkaLogLine(entry)
        ctx.log(line.level, line.message, line.fields)
      },
      retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 10 },
    })
  }

  private payloadColumns(): ColumnSchema[] {
    return this.layout.payload.map((i) => this.columns[i])
  }

  /** Whether partition `id` is this reader's to read. */
  private owns(id: number): boolean {
    return this.split === undefined || id % this.split.count === this.split.index
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
        lastDataAt: this.ctx.now(),
        maxTime: this.layout.time.map(() => -Infinity),
      }
      this.partitions.set(id, st)
    }
    return st
  }

  async open(restored?: Readonly<Record<string, string>>, clocks?: SourceClocks): Promise<void> {
    // Built first: a worker thread boots while the admin client asks where to start.
    let fetcher = this.buildFetcher(this.tuning.fetchThread)
    this.fetcher = fetcher
    try {
      await this.locate(restored, clocks)
      if (this.split !== undefined && this.partitions.size === 0 && this.tuning.fetchThread === 'worker') {
        // A split with no partition only waits for partitions to be added: no thread for that.
        this.fetcher = undefined
        await fetcher.close()
        fetcher = this.buildFetcher('main')
        this.fetcher = fetcher
      }
    } catch (e) {
      // The engine may open this reader again later (a broker down at startup): start clean.
      this.fetcher = undefined
      await fetcher.close()
      await this.letters.dlq?.close(0)
      this.letters.dlq = undefined
      await this.admin?.disconnect().catch(() => undefined)
      this.admin = undefined
      throw e
    }
    fetcher.start(this.restartPoint())
  }

  private buildFetcher(placement: KafkaReaderTuning['fetchThread']): FetcherHandle {
    const { topic } = this.config
    return createFetcher(
      placement,
      {
        brokers: this.config.brokers,
        topic,
        clientId: `sluice-${this.ctx.name}`,
        groupPrefix: `${this.config.groupId ?? 'sluice'}-${this.ctx.name}`,
        maxBytesPerPartition: this.tuning.maxBytesPerPartition,
        maxBytes: Math.max(this.tuning.maxBytesPerPartition, 8 << 20),
        queueMax: this.tuning.queueMax,
        queueMaxBytes: this.tuning.queueMaxBytes,
        staleMs: this.tuning.staleMs,
        stuckMs: this.tuning.stuckMs,
        timestamps:
          this.config.deadLetterTopic !== undefined || this.layout.meta.some((m) => m.include.kind === 'timestamp'),
        ...(this.split === undefined ? {} : { split: this.split }),
      },
      (event) => this.onFetcherEvent(event),
      () => this.restartPoint(),
    )
  }

  /** Asks the brokers for the partitions and where each starts: restored, or by `startup`. */
  private async locate(
    restored: Readonly<Record<string, string>> | undefined,
    clocks: SourceClocks | undefined,
  ): Promise<void> {
    const { topic } = this.config
    const admin = this.kafka.admin()
    this.admin = admin
    let partitions: Awaited<ReturnType<Admin['fetchTopicOffsets']>>
    try {
      await admin.connect()
      // Asked first because kafkajs retries an unknown topic for a minute before giving up.
      const topics = await admin.listTopics()
      if (!topics.includes(topic)) throw new Error('the topic does not exist')
      partitions = await admin.fetchTopicOffsets(topic)
      if (this.config.deadLetterTopic !== undefined) await this.letters.open(this.kafka, admin, topics)
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
      if (!this.owns(p.partition)) continue
      const saved = restored?.[`${topic}/${p.partition}`]
      let at: string
      if (saved !== undefined) at = saved
      else if (startup.kind === 'earliest') at = p.low
      else if (startup.kind === 'latest') at = p.high
      else at = byTime.find((t) => t.partition === p.partition)?.offset ?? p.high
      const st = this.partition(p.partition, BigInt(at))
      st.low = BigInt(p.low)
      st.end = BigInt(p.high)
      const clock = clocks?.[`${topic}/${p.partition}`]
      if (clock !== undefined) restoreClock(st, clock, this.layout.time, this.ctx.now())
    }
    this.reports.lastLagRefresh = this.ctx.now()
  }

  /** Where a (re)started fetcher begins: after everything queued, with the queue as it is. */
  private restartPoint(): FetcherStart {
    const positions: Record<string, number> = {}
    for (const st of this.partitions.values()) positions[st.id] = Number(st.fetched)
    return { positions, queuedRecords: this.queued, queuedBytes: this.queuedBytes }
  }

  private onFetcherEvent(event: FetcherEvent): void {
    if (this.closed) return
    switch (event.kind) {
      case 'batch':
        this.enqueue(event.batch)
        return
      case 'hold':
        this.held = event.partition
        return
      case 'health':
        if (event.connected && !this.connected) {
          this.ctx.log('info', `Kafka source "${this.ctx.name}" reaches topic "${this.config.topic}" again`)
        } else if (!event.connected && this.connected) {
          this.disconnectedSince = event.since
          this.ctx.log(
            'warn',
            `Kafka source "${this.ctx.name}" lost its brokers (${event.error ?? 'no fetch'}); reconnecting with backoff`,
          )
        }
        this.connected = event.connected
        this.connectionError = event.error
        return
      case 'log':
        this.ctx.log(event.level, event.message, event.fields)
    }
  }

  private enqueue(batch: FetchedBatch): void {
    if (!this.owns(batch.partition)) {
      // Another split's (the fetcher's assignment never gives one): not tracked, credited back.
      this.ctx.log(
        'warn',
        `Kafka source "${this.ctx.name}" got a batch of partition ${batch.partition}, not its split's`,
      )
      this.fetcher?.credit(batch.count, batch.bytes, this.recycle && batch.buffer.byteLength > 0 ? [batch.buffer] : [])
      return
    }
    const end = BigInt(batch.end)
    const st = this.partition(batch.partition, batch.count > 0 ? BigInt(batch.offsets[0]) : end)
    if (batch.high >= 0 && BigInt(batch.high) > st.end) st.end = BigInt(batch.high)
    if (end <= st.fetched) return // already queued (the fetcher filters these; a restarted one may not know)
    const values = Buffer.from(batch.values.buffer, batch.values.byteOffset, batch.values.byteLength)
    let index = 0
    while (index < batch.count && batch.offsets[index] < Number(st.fetched)) index++
    if (index === 0) this.queuedBytes += batch.bytes
    else {
      for (let i = index; i < batch.count; i++) {
        if (batch.valueStarts[i] >= 0) this.queuedBytes += batch.valueEnds[i] - batch.valueStarts[i]
      }
    }
    this.segments.push({ partition: st, batch, values, index, end, prepared: false })
    this.queued += batch.count - index
    st.queued += batch.count - index
    st.fetched = end
  }

  async poll(maxRows: number): Promise<Chunk | undefined> {
    // Dead letters on their way to the dead-letter topic are bounded: wait for the topic first.
    const dlq = this.letters.dlq
    if (dlq?.full() === true) {
      dlq.send()
      await dlq.settled()
      if (dlq.full()) return undefined
    }
    await this.prepare(Math.max(1, maxRows))
    const out: Column[] = emptyColumns(this.layout.width)
    const ops: number[] = []
    const before = this.queued
    const beforeBytes = this.queuedBytes
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
    if (before > this.queued || beforeBytes > this.queuedBytes || this.finished.length > 0) {
      const buffers = this.finished
      this.finished = []
      this.fetcher?.credit(before - this.queued, beforeBytes - this.queuedBytes, buffers)
    }
    this.letters.dlq?.send()
    this.reports.mirrorToGroup(this.admin, this.partitions)
    this.reports.refreshEnds(this.admin, this.partitions)
    if (ops.length === 0) {
      if (!this.connected && this.queued === 0) throw this.unreachable()
      return undefined
    }
    return { columns: out, ops: Int8Array.from(ops), length: ops.length }
  }

  /** The error poll reports while the fetcher cannot reach the brokers (the source's last_error). */
  private unreachable(): SluiceError {
    const since = new Date(this.disconnectedSince).toISOString()
    return new SluiceError(
      SqlState.io_error,
      `Kafka source "${this.ctx.name}" cannot read topic "${this.config.topic}" from ${this.config.brokers.join(',')} since ${since}: ${this.connectionError ?? 'no fetch completes'}; reconnecting with backoff`,
      { domain: 'external', retryable: true },
    )
  }

  /** Lets the decoder do its asynchronous lookups (schema ids) for the segments the next drain reads. */
  private async prepare(limit: number): Promise<void> {
    const decoder = this.decoder
    let ahead = 0
    for (let i = this.head; i < this.segments.length && ahead < limit; i++) {
      const seg = this.segments[i]
      const b = seg.batch
      ahead += b.count - seg.index
      if (seg.prepared) continue
      if (decoder.prepare !== undefined && b.count > 0) {
        const values: (Uint8Array | null)[] = []
        for (let k = 0; k < b.count; k++) {
          const s = b.valueStarts[k]
          values.push(s < 0 ? null : seg.values.subarray(s, b.valueEnds[k]))
        }
        await decoder.prepare(values)
      }
      seg.prepared = true
    }
  }

  /** Decodes up to `limit` queued records into `out`, appending each row's op to `ops`. */
  private drain(out: Column[], ops: number[], limit: number): void {
    const decoder = this.decoder
    const range = decoder.decodeRange !== undefined
    const { payload, meta, time } = this.layout
    const payloadOut = payload.map((i) => out[i])
    const now = this.ctx.now()
    let taken = 0
    while (taken < limit && this.head < this.segments.length && this.segments[this.head].prepared) {
      const seg = this.segments[this.head]
      const st = seg.partition
      const b = seg.batch
      const values = seg.values
      const starts = b.valueStarts
      const ends = b.valueEnds
      const stop = Math.min(b.count, seg.index + (limit - taken))
      let bytes = 0
      for (let i = seg.index; i < stop; i++) {
        const s = starts[i]
        let result
        if (s < 0) result = decoder.decode(null, payloadOut)
        else {
          bytes += ends[i] - s
          result = range
            ? decoder.decodeRange!(values, s, ends[i], payloadOut)
            : decoder.decode(values.subarray(s, ends[i]), payloadOut)
        }
        if (typeof result !== 'number') {
          this.letters.reject(st.id, seg, i, result.reason, result.detail)
          continue
        }
        if (result === 0) continue
        ops.push(result)
        for (let k = 0; k < meta.length; k++) out[meta[k].index].push(metadataValue(meta[k].include, st.id, b, i))
        for (let k = 0; k < time.length; k++) {
          const col = out[time[k]]
          observeTime(st, k, col[col.length - 1])
        }
      }
      const n = stop - seg.index
      taken += n
      this.queued -= n
      this.queuedBytes -= bytes
      st.queued -= n
      if (n > 0) st.lastDataAt = now
      if (stop === b.count) {
        st.next = seg.end
        this.head++
        if (this.recycle && b.buffer.byteLength > 0) this.finished.push(b.buffer)
      } else {
        seg.index = stop
        st.next = BigInt(b.offsets[stop - 1]) + 1n
      }
    }
  }

  /** Checkpoints are on: the dead-letter topic (if any) is committed per epoch from now on. */
  deadLetterOutlet(): DeadLetterEpochs | undefined {
    return this.letters.outlet()
  }

  forwardDeadLetter(letter: DeadLetter): void {
    this.letters.forward(letter)
  }

  offsets(): Record<string, string> {
    return partitionOffsets(this.partitions, this.config.topic)
  }

  clocks(): SourceClocks {
    return partitionClocks(this.partitions, this.config.topic, this.layout.time, this.ctx.now())
  }

  watermarks(): Watermark[] {
    return partitionWatermarks(this.partitions, this.layout.time, this.ctx.now(), this.config.idleTimeoutMicros)
  }

  lag(): PartitionLag[] {
    return partitionLag(this.partitions, this.config.topic, this.held)
  }

  idle(): boolean {
    return partitionsIdle(this.partitions, this.ctx.now(), this.config.idleTimeoutMicros)
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
      if (!this.owns(p.partition)) continue
      out[`${this.config.topic}/${p.partition}`] = p.high
      const st = this.partition(p.partition, BigInt(p.low))
      st.low = BigInt(p.low)
      if (BigInt(p.high) > st.end) st.end = BigInt(p.high)
    }
    return out
  }

  reached(end: Readonly<Record<string, string>>): boolean {
    // Dead letters still on their way to the dead-letter topic are part of "applied" for FLUSH.
    if (this.letters.dlq !== undefined && this.letters.dlq.waiting > 0) return false
    return reachedEnds(this.partitions, this.config.topic, end)
  }

  stats(): KafkaReaderStats {
    const pausedPartitions = [...this.partitions.values()].filter((s) => isPaused(s, this.held)).map((s) => s.id)
    return {
      queued: this.queued,
      paused: pausedPartitions.length > 0,
      pausedPartitions,
      deadLettersInFlight: this.letters.dlq?.waiting ?? this.letters.epochs?.waiting ?? 0,
      connected: this.connected,
      connectionError: this.connected ? undefined : this.connectionError,
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.segments = []
    this.head = 0
    this.queued = 0
    this.queuedBytes = 0
    // A broker that is away cannot hold the close up for long.
    await this.letters.dlq?.close(10_000)
    await this.reports.settled()
    try {
      await this.fetcher?.close()
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

/** A context's split, checked; undefined for the whole topic (also for a split of 1). */
function checkSplit(split: ConnectorContext['split']): { readonly index: number; readonly count: number } | undefined {
  if (split === undefined) return undefined
  const { index, count } = split
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new SluiceError(SqlState.internal_error, `invalid Kafka source split ${index} of ${count}`, {
      domain: 'internal',
    })
  }
  return count === 1 ? undefined : split
}

/** `connector = 'kafka'`: one reader per source over one topic. */
export const kafkaSourceFactory: SourceFactory = {
  connector: 'kafka',
  // Readers take ConnectorContext.split: a sharded view's threads import this factory from here.
  splits: { module: import.meta.url, exportName: 'kafkaSourceFactory' },
  create(columns, options, ctx, target) {
    return new KafkaSourceReader(columns, parseKafkaSourceOptions(options, target), ctx)
  },
}
