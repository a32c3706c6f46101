/**
 * The Kafka reader's dead letters: records that fail to decode go to the engine's dead-letter
 * table and, when `dead_letter` names a topic, to that topic too — sent as they come, or
 * committed per checkpoint epoch once checkpoints are on (`outlet`).
 */
import type { Kafka, Admin } from 'kafkajs'
import type { ConnectorContext, DeadLetter, DeadLetterReason } from '../../engine/connector.ts'
import type { RecordDecoder } from './decoding.ts'
import type { KafkaSourceConfig } from './options.ts'
import type { Segment } from './partition-state.ts'
import { DeadLetterTopic } from './dead-letter-topic.ts'
import { DeadLetterEpochs } from './dead-letter-epochs.ts'
import { kafkaHeaders, keyOf, utf8OrNull } from './metadata.ts'

export class SourceDeadLetters {
  /** The dead-letter topic, when `dead_letter` names one (letters sent as they come). */
  dlq: DeadLetterTopic | undefined
  /** The dead-letter topic committed per checkpoint epoch instead (checkpoints on: `outlet`). */
  epochs: DeadLetterEpochs | undefined

  constructor(
    private readonly config: KafkaSourceConfig,
    private readonly ctx: ConnectorContext,
    private readonly decoder: RecordDecoder,
    private readonly backlog: number,
  ) {}

  /** Creates the dead-letter topic when it does not exist yet, and connects its producer. */
  async open(kafka: Kafka, admin: Admin, topics: readonly string[]): Promise<void> {
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
    // Per epoch, the outlet's own transactional producer writes the topic.
    if (this.epochs === undefined) this.dlq = await DeadLetterTopic.open(kafka, dlq, this.ctx, this.backlog)
  }

  reject(partition: number, seg: Segment, i: number, reason: DeadLetterReason, detail: string): void {
    const b = seg.batch
    const s = b.valueStarts[i]
    const value = s < 0 ? null : seg.values.subarray(s, b.valueEnds[i])
    const offset = String(b.offsets[i])
    const payload = value === null ? null : this.decoder.payloadText(value)
    this.ctx.deadLetter({
      object: this.ctx.name,
      reason,
      detail,
      payload,
      origin: `topic=${this.config.topic} partition=${partition} offset=${offset}`,
    })
    if (this.dlq === undefined && this.epochs === undefined) return
    // Copied: the batch's buffer goes back to the fetcher once consumed, the record is sent later.
    const view = keyOf(b, i)
    const key = view === null ? null : Buffer.from(view)
    const record = {
      source: this.ctx.name,
      reason,
      error: detail,
      topic: this.config.topic,
      partition,
      offset,
      timestamp: b.timestamps.length > i ? String(b.timestamps[i]) : null,
      key: key === null ? null : key.toString('base64'),
      payload: value === null ? null : utf8OrNull(value),
      payload_base64: value === null ? null : value.toString('base64'),
      received_at: new Date(this.ctx.now()).toISOString(),
    }
    if (this.epochs !== undefined) this.epochs.stage(key, JSON.stringify(record), kafkaHeaders(b.headers?.[i]))
    else this.dlq?.push({ key, value: JSON.stringify(record), headers: kafkaHeaders(b.headers?.[i]) })
  }

  /** Checkpoints are on: the dead-letter topic (if any) is committed per epoch from now on. */
  outlet(): DeadLetterEpochs | undefined {
    const topic = this.config.deadLetterTopic
    if (topic === undefined) return undefined
    this.epochs ??= new DeadLetterEpochs(topic, this.config.brokers, this.ctx)
    return this.epochs
  }

  forward(letter: DeadLetter): void {
    if (this.dlq === undefined && this.epochs === undefined) return
    const record = {
      source: this.ctx.name,
      object: letter.object,
      reason: letter.reason,
      error: letter.detail,
      payload: letter.payload,
      origin: letter.origin ?? null,
      received_at: new Date(this.ctx.now()).toISOString(),
    }
    if (this.epochs !== undefined) this.epochs.add(JSON.stringify(record))
    else this.dlq?.push({ key: null, value: JSON.stringify(record) })
  }
}
