/**
 * The Kafka source's dead-letter topic (`dead_letter = 'topic'`): rejected records, as JSON, are
 * produced there in order, one produce call at a time of at most SEND_RECORDS records or
 * SEND_BYTES bytes (a broker refuses requests past its message.max.bytes), each call starting the
 * next. A failed call (the broker is away) keeps its records, in front and in order, and is tried
 * again after a backoff (0.5 s doubling to 10 s): nothing is dropped while the process lives.
 * The reader stops polling while `full()`, so what waits here stays bounded.
 */
import type { Kafka, Message, Producer } from 'kafkajs'
import type { ConnectorContext } from '../../engine/connector.ts'

const SEND_RECORDS = 1000
const SEND_BYTES = 512 << 10

export class DeadLetterTopic {
  private pending: Message[] = []
  private inFlight = 0
  private sending: Promise<void> = Promise.resolve()
  private busy = false
  private backoff = 0
  private retryAt = 0
  private closed = false

  private constructor(
    private readonly producer: Producer,
    readonly topic: string,
    private readonly ctx: ConnectorContext,
    private readonly backlog: number,
  ) {}

  /** Connects a producer for `topic` (which must exist). */
  static async open(kafka: Kafka, topic: string, ctx: ConnectorContext, backlog: number): Promise<DeadLetterTopic> {
    const producer = kafka.producer({ allowAutoTopicCreation: false })
    await producer.connect()
    return new DeadLetterTopic(producer, topic, ctx, backlog)
  }

  /** Records not yet acknowledged by the topic. */
  get waiting(): number {
    return this.pending.length + this.inFlight
  }

  /** Whether the reader should stop taking records until the topic has caught up. */
  full(): boolean {
    return this.waiting >= this.backlog
  }

  push(message: Message): void {
    this.pending.push(message)
  }

  /** Starts sending what is pending, unless a send is under way or a retry is not due yet. */
  send(): void {
    if (this.pending.length === 0 || this.busy || this.ctx.now() < this.retryAt) return
    let n = 0
    let bytes = 0
    while (n < this.pending.length && n < SEND_RECORDS && bytes < SEND_BYTES) {
      const v = this.pending[n++].value
      bytes += typeof v === 'string' ? v.length : (v?.length ?? 0)
    }
    const messages = this.pending.splice(0, n)
    this.inFlight += messages.length
    this.busy = true
    this.sending = this.producer
      .send({ topic: this.topic, messages })
      .then(
        () => {
          this.backoff = 0
        },
        (e: unknown) => {
          this.pending = messages.concat(this.pending)
          this.backoff = Math.min(Math.max(500, this.backoff * 2), 10_000)
          this.retryAt = this.ctx.now() + this.backoff
          this.ctx.log(
            'warn',
            `could not write ${messages.length} dead letters to topic "${this.topic}" (${(e as Error).message}); retrying in ${this.backoff} ms`,
          )
        },
      )
      .finally(() => {
        this.inFlight -= messages.length
        this.busy = false
        if (!this.closed) this.send()
      })
  }

  /** Resolves when the send under way (if any) has ended. */
  async settled(): Promise<void> {
    await this.sending
  }

  /** Sends everything pending (at most `timeoutMs`, giving up at the first failure), then disconnects. */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true
    this.retryAt = 0
    const flush = async (): Promise<void> => {
      for (;;) {
        await this.sending
        if (this.pending.length === 0 || this.ctx.now() < this.retryAt) return
        this.send()
      }
    }
    await Promise.race([flush(), new Promise((r) => setTimeout(r, timeoutMs).unref())])
    if (this.waiting > 0)
      this.ctx.log('warn', `closing with ${this.waiting} dead letters not written to topic "${this.topic}"`)
    try {
      await this.producer.disconnect()
    } catch (e) {
      this.ctx.log('warn', `closing the dead-letter producer failed: ${(e as Error).message}`)
    }
  }
}
