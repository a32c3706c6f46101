/**
 * The Kafka source: reads every partition of a topic with kafkajs, decodes records into chunks,
 * and keeps per-partition offsets as its position (the engine persists them; Kafka group commits
 * are not used for correctness). A bounded queue sits between the consumer and `poll`: when the
 * engine falls behind, the consumer's batch handler waits (heartbeating), so fetching stops and
 * memory stays bounded while lag grows.
 */
import { Kafka, logLevel, type Admin, type Consumer, type EachBatchPayload } from 'kafkajs'
import type { Chunk } from '../../engine/chunk.ts'
import type { ColumnSchema, ConnectorContext, ConnectorOptions, SourceReader } from '../../engine/connector.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { createJsonDecoder, type JsonDecoder } from '../formats/json.ts'

export const KAFKA_SOURCE_OPTIONS = new Set(['topic', 'brokers', 'properties.bootstrap.server', 'startup', 'format', 'group.id', 'idle_timeout', 'dead_letter', 'queue.max'])

interface Queued {
  readonly partition: number
  readonly offset: string
  readonly value: Buffer | null
}

export interface KafkaSourceConfig {
  readonly topic: string
  readonly brokers: readonly string[]
  readonly startup: 'earliest' | 'latest' | { readonly timestamp: number }
  readonly groupId: string | undefined
  readonly queueMax: number
}

export function kafkaSourceConfig(options: ConnectorOptions): KafkaSourceConfig {
  for (const key of options.keys()) {
    if (!KAFKA_SOURCE_OPTIONS.has(key)) throw new SluiceError(SqlState.invalid_parameter_value, `unknown option "${key}" for connector kafka`, { hint: `known options: ${[...KAFKA_SOURCE_OPTIONS].join(', ')}` })
  }
  const topic = options.get('topic')
  if (topic === undefined || topic === '') throw new SluiceError(SqlState.invalid_parameter_value, 'connector kafka needs the option "topic"')
  const brokers = options.get('brokers') ?? options.get('properties.bootstrap.server')
  if (brokers === undefined || brokers === '') throw new SluiceError(SqlState.invalid_parameter_value, 'connector kafka needs the option "brokers"')
  const format = (options.get('format') ?? 'json').toLowerCase()
  if (format !== 'json') {
    if (['avro', 'csv', 'debezium_json'].includes(format)) throw new SluiceError(SqlState.feature_not_supported, `format "${format}" is not supported yet`)
    throw new SluiceError(SqlState.invalid_parameter_value, `unknown format "${format}" (json | avro | csv | debezium_json)`)
  }
  const raw = (options.get('startup') ?? 'earliest').toLowerCase()
  let startup: KafkaSourceConfig['startup']
  if (raw === 'earliest' || raw === 'latest') startup = raw
  else {
    const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw)
    if (!Number.isFinite(ms)) throw new SluiceError(SqlState.invalid_parameter_value, `option "startup" must be earliest, latest or a timestamp, got "${raw}"`)
    startup = { timestamp: ms }
  }
  const queueMax = Number(options.get('queue.max') ?? 10_000)
  if (!Number.isInteger(queueMax) || queueMax < 1) throw new SluiceError(SqlState.invalid_parameter_value, 'option "queue.max" must be a positive integer')
  return { topic, brokers: brokers.split(',').map((b) => b.trim()), startup, groupId: options.get('group.id'), queueMax }
}

export class KafkaSourceReader implements SourceReader {
  private readonly kafka: Kafka
  private consumer: Consumer | undefined
  private admin: Admin | undefined
  private readonly queue: Queued[] = []
  /** Next offset to read per partition (what a restart resumes from). */
  private readonly next = new Map<number, bigint>()
  /** Log start offsets seen at the last endOffsets() (for partitions we have not read yet). */
  private readonly lows = new Map<number, bigint>()
  private readonly decoder: JsonDecoder
  private closed = false

  constructor(
    private readonly columns: readonly ColumnSchema[],
    private readonly config: KafkaSourceConfig,
    private readonly ctx: ConnectorContext,
  ) {
    this.decoder = createJsonDecoder(columns)
    this.kafka = new Kafka({
      clientId: `sluice-${ctx.name}`,
      brokers: [...config.brokers],
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => {
        ctx.log(entry.level <= logLevel.ERROR ? 'error' : 'warn', `kafka: ${entry.log.message}`, { namespace: entry.namespace })
      },
      retry: { retries: 8, initialRetryTime: 200 },
    })
  }

  async open(restored?: Readonly<Record<string, string>>): Promise<void> {
    const { topic } = this.config
    this.admin = this.kafka.admin()
    await this.admin.connect()
    const partitions = await this.admin.fetchTopicOffsets(topic).catch((e: unknown) => {
      throw new SluiceError(SqlState.undefined_object, `cannot read Kafka topic "${topic}": ${e instanceof Error ? e.message : String(e)}`, { domain: 'external', retryable: true })
    })
    // Where to start per partition: restored offsets win, else the startup mode.
    const seeks = new Map<number, string>()
    for (const p of partitions) {
      const saved = restored?.[`${topic}/${p.partition}`]
      if (saved !== undefined) seeks.set(p.partition, saved)
      else if (this.config.startup === 'earliest') seeks.set(p.partition, p.low)
      else if (this.config.startup === 'latest') seeks.set(p.partition, p.high)
    }
    if (typeof this.config.startup === 'object') {
      for (const p of await this.admin.fetchTopicOffsetsByTimestamp(topic, this.config.startup.timestamp)) {
        if (!seeks.has(p.partition)) seeks.set(p.partition, p.offset)
      }
    }
    for (const [p, o] of seeks) this.next.set(p, BigInt(o))
    const groupId = `${this.config.groupId ?? `sluice-${this.ctx.name}`}-${process.pid}-${Date.now()}`
    this.consumer = this.kafka.consumer({ groupId, sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 1000, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 })
    await this.consumer.connect()
    await this.consumer.subscribe({ topic, fromBeginning: this.config.startup === 'earliest' })
    await this.consumer.run({ autoCommit: false, eachBatch: (payload) => this.onBatch(payload) })
    for (const [partition, offset] of seeks) this.consumer.seek({ topic, partition, offset: offset.toString() })
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload
    for (const m of batch.messages) {
      // Backpressure: wait for room rather than buffering without bound.
      while (this.queue.length >= this.config.queueMax && payload.isRunning() && !payload.isStale() && !this.closed) {
        await new Promise((r) => setTimeout(r, 5))
        await payload.heartbeat()
      }
      if (!payload.isRunning() || payload.isStale() || this.closed) return
      this.queue.push({ partition: batch.partition, offset: m.offset, value: m.value })
    }
  }

  async poll(maxRows: number): Promise<Chunk | undefined> {
    if (this.queue.length === 0) return undefined
    const take = this.queue.splice(0, Math.min(maxRows, this.queue.length))
    const columns: Value[][] = this.columns.map(() => [])
    for (const m of take) {
      const failure = this.decoder.decode(m.value, columns)
      if (failure !== undefined) {
        this.ctx.deadLetter({
          object: this.ctx.name,
          reason: failure.reason,
          detail: failure.detail,
          payload: m.value === null ? null : m.value.toString('utf8'),
          origin: `topic=${this.config.topic} partition=${m.partition} offset=${m.offset}`,
        })
      }
      this.next.set(m.partition, BigInt(m.offset) + 1n)
    }
    const length = columns[0]?.length ?? 0
    return { columns, ops: new Int8Array(length).fill(1), length }
  }

  offsets(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const [p, o] of this.next) out[`${this.config.topic}/${p}`] = o.toString()
    return out
  }

  async endOffsets(): Promise<Record<string, string>> {
    const out: Record<string, string> = {}
    for (const p of await this.admin!.fetchTopicOffsets(this.config.topic)) {
      out[String(p.partition)] = p.high
      this.lows.set(p.partition, BigInt(p.low))
    }
    return out
  }

  reached(end: Readonly<Record<string, string>>): boolean {
    for (const [p, high] of Object.entries(end)) {
      const partition = Number(p)
      const at = this.next.get(partition) ?? this.lows.get(partition) ?? 0n
      if (at < BigInt(high)) return false
    }
    return true
  }

  async close(): Promise<void> {
    this.closed = true
    await this.consumer?.disconnect().catch(() => {})
    await this.admin?.disconnect().catch(() => {})
  }
}
