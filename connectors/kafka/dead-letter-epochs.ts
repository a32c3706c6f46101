/**
 * A Kafka source's dead-letter topic when checkpoints are on: an outlet of the checkpoint protocol
 * (engine/connector.ts DeadLetterOutlet; docs/design/checkpoints.md, "Dead-letter destinations").
 * The records of epoch n are logged with checkpoint n and produced once it is durable, in one
 * transaction with a progress record, by the Kafka sink's own writer (./sink.ts): the same
 * transactional id per destination, fencing of a crashed producer, progress read from the
 * transactional group offset. So a replay after kill -9 never produces a reject twice, and
 * read_committed readers never see a cut-off epoch.
 *
 * Without checkpoints the reader sends letters as they come instead (./dead-letter-topic.ts).
 */
import type { IHeaders } from 'kafkajs'
import type { ConnectorContext, DeadLetterOutlet } from '../../engine/connector.ts'
import { KafkaSinkWriter } from './sink.ts'
import { encodeRecords, type SinkRecord } from './sink-epoch.ts'
import { DEFAULT_PROGRESS_TOPIC } from './sink-options.ts'

/** The transactional id (and progress key) of a source's dead-letter topic. */
export function deadLetterTransactionalId(source: string, topic: string): string {
  return `sluice-dead-letters:${source}:${topic}`
}

export class DeadLetterEpochs implements DeadLetterOutlet {
  /** The reader's rejects of the poll under way, until the driver takes its position (`settle`). */
  private staged: SinkRecord[] = []
  private epoch: SinkRecord[] = []
  private readonly writer: KafkaSinkWriter

  constructor(
    readonly topic: string,
    brokers: readonly string[],
    ctx: ConnectorContext,
  ) {
    this.writer = new KafkaSinkWriter(
      { columns: [], key: [], appendOnly: true },
      {
        topic,
        brokers,
        format: 'json',
        registry: undefined,
        delivery: 'exactly_once',
        mode: 'append',
        key: [],
        transactionalId: deadLetterTransactionalId(ctx.name, topic),
        progressTopic: DEFAULT_PROGRESS_TOPIC,
      },
      ctx,
    )
  }

  /** A reader's reject (made while polling): joins the epoch at the next `settle`. */
  stage(key: Buffer | null, value: string, headers: IHeaders | undefined): void {
    this.staged.push(record(key, value, headers))
  }

  /** A view's reject (made during a push): part of the current epoch now. */
  add(value: string): void {
    this.epoch.push({ key: null, value: Buffer.from(value, 'utf8') })
  }

  settle(): void {
    if (this.staged.length === 0) return
    for (const r of this.staged) this.epoch.push(r)
    this.staged = []
  }

  get waiting(): number {
    return this.staged.length + this.epoch.length
  }

  preCommit(): Uint8Array | undefined {
    if (this.epoch.length === 0) return undefined
    const records = this.epoch
    this.epoch = []
    return encodeRecords(records)
  }

  commit(epoch: number, logged: Uint8Array): Promise<void> {
    return this.writer.commit(epoch, logged)
  }

  committedEpoch(): Promise<number> {
    return this.writer.committedEpoch()
  }

  close(): Promise<void> {
    return this.writer.close()
  }
}

/** The record, with key and header bytes copied: they view a fetched batch's buffer, which is reused. */
function record(key: Buffer | null, value: string, headers: IHeaders | undefined): SinkRecord {
  const k = key === null ? null : Buffer.from(key)
  const v = Buffer.from(value, 'utf8')
  if (headers === undefined) return { key: k, value: v }
  const pairs: [string, Buffer][] = []
  for (const [name, h] of Object.entries(headers)) {
    for (const one of Array.isArray(h) ? h : [h]) {
      if (one !== undefined) pairs.push([name, Buffer.from(one)])
    }
  }
  return { key: k, value: v, headers: pairs }
}
