/**
 * Buffered output to one client. Messages collect until the connection flushes (when it has no
 * more input to handle, like PostgreSQL flushing before it waits for the client) or until a
 * batch is large. When the socket's buffer is full, writers of many rows await `drained()`, so a
 * slow client slows the producer instead of growing memory without bound.
 */
import type { Socket } from 'node:net'

const BATCH_BYTES = 64 * 1024

export class Output {
  private pending: Buffer[] = []
  private pendingBytes = 0
  private closed = false

  constructor(private readonly socket: Socket) {
    socket.once('close', () => {
      this.closed = true
    })
  }

  /** Queues one message; writes the batch once it is large. */
  send(message: Buffer): void {
    if (this.closed) return
    this.pending.push(message)
    this.pendingBytes += message.length
    if (this.pendingBytes >= BATCH_BYTES) this.flush()
  }

  /** Writes everything queued. */
  flush(): void {
    if (this.pending.length === 0) return
    const data = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes)
    this.pending = []
    this.pendingBytes = 0
    if (this.closed || this.socket.destroyed) return
    this.socket.write(data)
  }

  /** True when the socket holds more than its high-water mark: the caller should await drained(). */
  get congested(): boolean {
    return !this.closed && this.socket.writableNeedDrain
  }

  /** Resolves when the socket has drained (or closed). */
  drained(): Promise<void> {
    if (!this.congested) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done)
        this.socket.off('close', done)
        resolve()
      }
      this.socket.on('drain', done)
      this.socket.on('close', done)
    })
  }

  /** Flushes, then ends the socket once everything is written. */
  end(): void {
    this.flush()
    this.closed = true
    if (!this.socket.destroyed) this.socket.end()
  }
}
