/**
 * The Kafka sink: `CREATE SINK s FROM v WITH (connector = 'kafka', topic = 't', brokers = '...',
 * format = 'json' | 'avro', delivery = 'exactly_once' | 'at_least_once', mode = 'append' | 'upsert')`.
 *
 * Exactly once (the default; ARCHITECTURE.md "Exactly-once", docs/design/checkpoints.md):
 * - While epoch n runs, `write` encodes rows into records (connectors/kafka/sink-epoch.ts); at
 *   checkpoint n, `preCommit` hands them to the write-ahead log, in the checkpoint's atomic batch.
 * - `commit(n, logged)` runs only once checkpoint n is durable: one Kafka transaction with the
 *   epoch's records, a progress record `(sink, n)` in the progress topic and the same progress as
 *   a transactional offset commit (connectors/kafka/sink-progress.ts says why both).
 *   read_committed consumers see the whole epoch or nothing.
 * - The producer's transactional.id is stable per sink (`sluice-sink:<name>:<topic>`), so a
 *   restarted process's producer fences the crashed one and the broker aborts its half-done
 *   transaction. Then the writer reads the last committed epoch m; a commit of an epoch ≤ m does
 *   nothing. So each crash window is covered: a durable epoch not yet committed is committed from
 *   the log on restart, a committed one is not written again.
 * - A new sink (CREATE) numbers its epochs above the progress its name already has
 *   (engine/exec/sink.ts), so DROP and CREATE under the same name cannot reuse an epoch.
 *
 * At least once: the same epochs, records sent by an idempotent producer without a transaction and
 * acknowledged by all in-sync replicas before `commit` returns. No progress is kept: after a
 * crash, the epochs still in the checkpoint's log are sent again (possibly a second time).
 *
 * Any failure to reach Kafka (open or commit) rejects with a retryable SluiceError; the coordinator
 * keeps the epoch pending and retries it at the next checkpoint. The next attempt starts from a new
 * producer (kafkajs may leave a failed one in an unusable state), which fences the old one and so
 * learns whether the failed commit landed. Calls are serialized: one operation at a time.
 */
import { Kafka, Partitioners, logLevel, type IHeaders, type LogEntry, type Message, type Producer } from 'kafkajs'
import { kafkaLogLine } from './kafka-log.ts'
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry'
import type { Chunk } from '../../engine/chunk.ts'
import type { ConnectorContext, ConnectorOptions, SinkFactory, SinkSpec, SinkWriter } from '../../engine/connector.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { avroRowEncoder, avroSchema, patchSchemaId, recordName, type AvroSchemaJson } from './sink-avro.ts'
import { EpochBuffer, decodeRecords, type SinkRecord } from './sink-epoch.ts'
import { jsonRowEncoder, type RowEncoder } from './sink-json.ts'
import { parseKafkaSinkOptions, type KafkaSinkConfig } from './sink-options.ts'
import {
  PROGRESS_PARTITION,
  ensureTopic,
  progressGroup,
  progressKey,
  progressOffsets,
  progressValue,
  readProgress,
} from './sink-progress.ts'

/** Knobs tests turn down; the defaults suit production. */
export interface KafkaSinkTuning {
  /** Upper bound of one produce call's record bytes (a broker refuses batches over message.max.bytes, 1 MiB by default). */
  readonly sendBytes: number
  /** How long a transaction may stay open before the broker aborts it (also bounds how long a crashed writer's one blocks read_committed readers). */
  readonly transactionTimeoutMs: number
  /** kafkajs retries per request before a call fails (then the coordinator retries at the next checkpoint). */
  readonly retries: number
  /** How long close waits for a commit in flight. */
  readonly closeWaitMs: number
}

const DEFAULT_TUNING: KafkaSinkTuning = {
  sendBytes: 512 * 1024,
  transactionTimeoutMs: 60_000,
  retries: 5,
  closeWaitMs: 10_000,
}

/** The schema ids registered for the sink's records (avro only). */
interface SchemaIds {
  readonly value: number
  readonly key: number | undefined
}

function external(message: string, cause: unknown): SluiceError {
  if (cause instanceof SluiceError) return cause
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new SluiceError(SqlState.io_error, `${message}: ${detail}`, { domain: 'external', retryable: true, cause })
}

function isFenced(e: unknown): boolean {
  const type = (e as { type?: unknown } | undefined)?.type
  return (
    type === 'PRODUCER_FENCED' || type === 'INVALID_PRODUCER_EPOCH' || type === 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'
  )
}

export class KafkaSinkWriter implements SinkWriter {
  private readonly kafka: Kafka
  private readonly tuning: KafkaSinkTuning
  private readonly buffer: EpochBuffer
  private readonly valueSchema: AvroSchemaJson | undefined
  private readonly keySchema: AvroSchemaJson | undefined
  private schemaIds: SchemaIds | undefined
  private producer: Producer | undefined
  /** The highest epoch known committed; valid while `producer` is set. */
  private committed = 0
  /** The operation in flight (open, commit, committedEpoch, close run one at a time). */
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  constructor(
    spec: SinkSpec,
    readonly config: KafkaSinkConfig,
    private readonly ctx: ConnectorContext,
    tuning: Partial<KafkaSinkTuning> = {},
  ) {
    this.tuning = { ...DEFAULT_TUNING, ...tuning }
    const columns = spec.columns
    const all = columns.map((_c, i) => i)
    const keyed = config.key.length > 0
    let value: RowEncoder
    let key: RowEncoder | undefined
    if (config.format === 'avro') {
      // Built now so that a column list Avro cannot name fails the CREATE, not the first commit.
      this.valueSchema = avroSchema(columns, all, recordName(ctx.name, 'value'))
      this.keySchema = keyed ? avroSchema(columns, config.key, recordName(ctx.name, 'key')) : undefined
      value = avroRowEncoder(columns, all, this.valueSchema)
      key = this.keySchema === undefined ? undefined : avroRowEncoder(columns, config.key, this.keySchema)
    } else {
      value = jsonRowEncoder(columns, all)
      key = keyed ? jsonRowEncoder(columns, config.key) : undefined
    }
    this.buffer = new EpochBuffer(config.mode, key, value, (chunk, row, error) =>
      ctx.deadLetter({
        object: ctx.name,
        reason: 'type_error',
        detail: `cannot encode the row as ${config.format}: ${error instanceof Error ? error.message : String(error)}`,
        payload: JSON.stringify(
          chunk.columns.map((c) => c[row]),
          (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
        ),
      }),
    )
    this.kafka = new Kafka({
      clientId: `sluice-sink-${ctx.name}`,
      brokers: [...config.brokers],
      logLevel: logLevel.WARN,
      connectionTimeout: 3000,
      // A broker that accepts connections but does not answer must fail a commit in bounded time too.
      requestTimeout: 15_000,
      logCreator: () => (entry: LogEntry) => {
        // Retries kafkajs recovers from are warnings; failures surface as rejected calls. Bounded
        // retries of the idempotent producer are a choice here (the coordinator retries), not a risk.
        if (entry.log.message.startsWith('Limiting retries for the idempotent producer')) return
        const line = kafkaLogLine(entry)
        ctx.log(line.level, line.message, line.fields)
      },
      retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: this.tuning.retries },
    })
  }

  /** Runs `op` after every earlier operation settled. */
  private serialized<T>(op: () => Promise<T>): Promise<T> {
    const next = this.queue.then(op, op)
    this.queue = next.catch(() => undefined)
    return next
  }

  open(): Promise<void> {
    return this.serialized(async () => {
      if (this.closed)
        throw new SluiceError(SqlState.io_error, `kafka sink "${this.ctx.name}" is closed`, { domain: 'internal' })
      await this.connect()
    })
  }

  write(chunk: Chunk): void {
    if (chunk.length > 0) this.buffer.write(chunk)
  }

  preCommit(epoch: number): Uint8Array | undefined {
    const skipped = this.buffer.skippedRetractions
    if (skipped > 0) {
      this.buffer.skippedRetractions = 0
      this.ctx.log(
        'error',
        `kafka sink ${this.ctx.name}: ${skipped} retractions in epoch ${epoch} skipped (append mode)`,
      )
    }
    return this.buffer.take()
  }

  commit(epoch: number, logged: Uint8Array | undefined): Promise<void> {
    return this.serialized(async () => {
      if (logged === undefined) return
      if (this.closed)
        throw new SluiceError(SqlState.io_error, `kafka sink "${this.ctx.name}" is closed`, { domain: 'internal' })
      if (this.producer === undefined) await this.connect()
      if (epoch <= this.committed) return
      const producer = this.producer
      if (producer === undefined)
        throw new SluiceError(SqlState.internal_error, 'kafka sink producer missing after connect', {
          domain: 'internal',
        })
      const records = decodeRecords(logged)
      this.patchSchemaIds(records)
      try {
        if (this.config.delivery === 'exactly_once') await this.commitTransaction(producer, epoch, records)
        else await this.commitAtLeastOnce(producer, records)
      } catch (e) {
        // Whether it landed is unknown: the next attempt fences this producer and reads progress again.
        await this.dropProducer()
        if (isFenced(e)) {
          throw new SluiceError(
            SqlState.io_error,
            `kafka sink "${this.ctx.name}" was fenced: another producer uses transactional.id "${this.config.transactionalId}"`,
            {
              domain: 'external',
              retryable: true,
              hint: 'two sinks (or two Sluice processes) must not share a transactional.id; set the option transactional.id to tell them apart',
              cause: e,
            },
          )
        }
        throw external(
          `kafka sink "${this.ctx.name}" could not commit epoch ${epoch} to topic "${this.config.topic}"`,
          e,
        )
      }
      this.committed = epoch
    })
  }

  committedEpoch(): Promise<number> {
    return this.serialized(async () => {
      if (this.producer === undefined) await this.connect()
      return this.committed
    })
  }

  async close(): Promise<void> {
    this.closed = true
    // Let a commit in flight finish (the last checkpoint's, on shutdown), but not forever.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.queue, new Promise((r) => (timer = setTimeout(r, this.tuning.closeWaitMs)))])
    clearTimeout(timer)
    await this.dropProducer()
  }

  /** (Re)connects: topics, schemas, a fresh producer (fencing any earlier one), and the progress so far. */
  private async connect(): Promise<void> {
    await this.dropProducer()
    const { topic, progressTopic, transactionalId } = this.config
    const admin = this.kafka.admin()
    let producer: Producer | undefined
    try {
      await admin.connect()
      if (this.config.delivery === 'exactly_once') await ensureTopic(admin, progressTopic, true)
      await ensureTopic(admin, topic, false)
      if (this.config.format === 'avro' && this.schemaIds === undefined) this.schemaIds = await this.registerSchemas()
      producer = this.newProducer()
      await producer.connect()
      if (this.config.delivery === 'exactly_once') {
        // Initializing the transactional producer id fences every earlier producer of this sink:
        // the broker completes or aborts a transaction one of them left open before it answers,
        // so the progress read next is final.
        const tx = await producer.transaction()
        await tx.abort() // nothing was added: ends locally, no request
      }
      // at_least_once keeps no progress: an epoch is skipped only if this writer sent it.
      this.committed =
        this.config.delivery === 'exactly_once' ? await readProgress(admin, progressTopic, transactionalId) : 0
      // Closed meanwhile (close waits only so long): keep no connection behind.
      if (this.closed)
        throw new SluiceError(SqlState.io_error, `kafka sink "${this.ctx.name}" is closed`, { domain: 'internal' })
      this.producer = producer
    } catch (e) {
      await producer?.disconnect().catch(() => {})
      throw external(`kafka sink "${this.ctx.name}" cannot reach Kafka at ${this.config.brokers.join(',')}`, e)
    } finally {
      await admin.disconnect().catch(() => {})
    }
  }

  private newProducer(): Producer {
    const common = {
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      maxInFlightRequests: 1,
      retry: { retries: this.tuning.retries },
    }
    if (this.config.delivery === 'exactly_once') {
      // The transaction's own sends are idempotent; no separate idempotent producer id is needed.
      return this.kafka.producer({
        ...common,
        transactionalId: this.config.transactionalId,
        transactionTimeout: this.tuning.transactionTimeoutMs,
      })
    }
    return this.kafka.producer({ ...common, idempotent: true })
  }

  private async commitTransaction(producer: Producer, epoch: number, records: readonly SinkRecord[]): Promise<void> {
    const tx = await producer.transaction()
    try {
      for (const batch of this.batches(records)) await tx.send({ topic: this.config.topic, messages: batch, acks: -1 })
      await tx.send({ topic: this.config.progressTopic, messages: [this.progressMessage(epoch)], acks: -1 })
      await tx.sendOffsets({
        consumerGroupId: progressGroup(this.config.transactionalId),
        topics: [progressOffsets(this.config.progressTopic, epoch)],
      })
      await tx.commit()
    } catch (e) {
      if (tx.isActive()) await tx.abort().catch(() => {})
      throw e
    }
  }

  private async commitAtLeastOnce(producer: Producer, records: readonly SinkRecord[]): Promise<void> {
    for (const batch of this.batches(records))
      await producer.send({ topic: this.config.topic, messages: batch, acks: -1 })
  }

  private progressMessage(epoch: number): Message {
    return {
      key: progressKey(this.config.transactionalId),
      value: progressValue({ sink: this.ctx.name, epoch, topic: this.config.topic }),
      partition: PROGRESS_PARTITION,
    }
  }

  /** Records in produce calls of at most `sendBytes` each (one record over the bound goes alone). */
  private *batches(records: readonly SinkRecord[]): Generator<Message[]> {
    let batch: Message[] = []
    let bytes = 0
    for (const r of records) {
      let size = (r.key?.length ?? 0) + (r.value?.length ?? 0) + 64
      for (const [name, value] of r.headers ?? []) size += name.length + value.length + 8
      if (batch.length > 0 && bytes + size > this.tuning.sendBytes) {
        yield batch
        batch = []
        bytes = 0
      }
      batch.push(
        r.headers === undefined
          ? { key: r.key, value: r.value }
          : { key: r.key, value: r.value, headers: kafkaHeaderMap(r.headers) },
      )
      bytes += size
    }
    if (batch.length > 0) yield batch
  }

  private patchSchemaIds(records: readonly SinkRecord[]): void {
    const ids = this.schemaIds
    if (ids === undefined) return
    for (const r of records) {
      if (r.value !== null) patchSchemaId(r.value, ids.value)
      if (r.key !== null && ids.key !== undefined) patchSchemaId(r.key, ids.key)
    }
  }

  /** Registers the value schema under `<topic>-value` (and the key schema under `<topic>-key`). */
  private async registerSchemas(): Promise<SchemaIds> {
    // Imported when first needed (avro sinks only): it takes some 50 ms at every server start otherwise.
    const { SchemaRegistry } = await import('@kafkajs/confluent-schema-registry')
    const registry = new SchemaRegistry({ host: this.config.registry ?? '' })
    const value = await register(registry, `${this.config.topic}-value`, this.valueSchema)
    const key =
      this.keySchema === undefined ? undefined : await register(registry, `${this.config.topic}-key`, this.keySchema)
    return { value, key }
  }

  private async dropProducer(): Promise<void> {
    const p = this.producer
    this.producer = undefined
    await p?.disconnect().catch(() => {})
  }
}

/** Header pairs as kafkajs takes them (a name given several values gets an array). */
function kafkaHeaderMap(headers: readonly (readonly [string, Buffer])[]): IHeaders {
  const out: IHeaders = {}
  for (const [name, value] of headers) {
    const had = out[name]
    out[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value]
  }
  return out
}

/**
 * Registers `schema` under `subject` and returns its id. The client first compares the subject's
 * configured compatibility with the one it is given and refuses on a difference: when the
 * subject has its own level, register again under that level (the registry enforces it either way).
 */
async function register(
  registry: SchemaRegistry,
  subject: string,
  schema: AvroSchemaJson | undefined,
): Promise<number> {
  if (schema === undefined)
    throw new SluiceError(SqlState.internal_error, 'no Avro schema to register', { domain: 'internal' })
  const { SchemaType } = await import('@kafkajs/confluent-schema-registry')
  const confluent = { type: SchemaType.AVRO, schema: JSON.stringify(schema) } as const
  try {
    try {
      return (await registry.register(confluent, { subject, updateConfig: false })).id
    } catch (e) {
      const level = /Compatibility does not match the configuration \(\w+ != (\w+)\)/.exec((e as Error).message)?.[1]
      if (level === undefined) throw e
      return (await registry.register(confluent, { subject, updateConfig: false, compatibility: level as never })).id
    }
  } catch (e) {
    if ((e as { status?: unknown }).status === 409) {
      throw new SluiceError(
        SqlState.datatype_mismatch,
        `the sink's Avro schema is incompatible with the latest schema of subject "${subject}"`,
        {
          detail: JSON.stringify(schema),
          hint: "write to another topic, or change the subject's compatibility level in the registry",
          cause: e,
        },
      )
    }
    throw external(`cannot register the sink's Avro schema under subject "${subject}"`, e)
  }
}

/** `connector = 'kafka'` for CREATE SINK. */
export const kafkaSinkFactory: SinkFactory = {
  connector: 'kafka',
  create(spec: SinkSpec, options: ConnectorOptions, ctx: ConnectorContext): SinkWriter {
    return new KafkaSinkWriter(spec, parseKafkaSinkOptions(spec, options, ctx.name), ctx)
  },
}
