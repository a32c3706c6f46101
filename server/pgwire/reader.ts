/**
 * Frames the frontend byte stream into messages. TCP may split a message anywhere or deliver
 * several in one packet; the reader buffers until a whole message is there. The first message of
 * a connection has no type byte (startup, SSLRequest, CancelRequest).
 */
export interface FrontendMessage {
  /** The type byte as a character; '' for the untyped startup-phase messages. */
  readonly type: string
  readonly body: Buffer
}

export class MessageTooLarge extends Error {}

export class MessageReader {
  private buffer: Buffer = Buffer.alloc(0)
  /** Until the startup message is read, messages carry no type byte. */
  startup = true

  constructor(private readonly maxLength: number) {}

  push(data: Buffer): FrontendMessage[] {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data])
    const out: FrontendMessage[] = []
    for (;;) {
      const header = this.startup ? 4 : 5
      if (this.buffer.length < header) break
      const length = this.buffer.readInt32BE(header - 4)
      if (length < 4 || length > this.maxLength) throw new MessageTooLarge(`invalid message length ${length}`)
      const total = header - 4 + length
      if (this.buffer.length < total) break
      const type = this.startup ? '' : String.fromCharCode(this.buffer[0])
      out.push({ type, body: this.buffer.subarray(header, total) })
      this.buffer = this.buffer.subarray(total)
      if (this.startup) {
        // The connection decides whether this ends the startup phase (SSLRequest does not) and
        // hands back the bytes that follow.
        this.startup = false
        break
      }
    }
    return out
  }

  /** Bytes received but not yet framed (pipelined messages after the startup message). */
  takeRest(): Buffer {
    const rest = this.buffer
    this.buffer = Buffer.alloc(0)
    return rest
  }
}

/** Reads NUL-terminated strings and integers from a message body; throws RangeError when short. */
export class BodyReader {
  private at = 0
  constructor(private readonly body: Buffer) {}

  get remaining(): number {
    return this.body.length - this.at
  }

  cstring(): string {
    const end = this.body.indexOf(0, this.at)
    if (end < 0) throw new RangeError('unterminated string in message')
    const s = this.body.toString('utf8', this.at, end)
    this.at = end + 1
    return s
  }

  int16(): number {
    if (this.at + 2 > this.body.length) throw new RangeError('message too short')
    const v = this.body.readInt16BE(this.at)
    this.at += 2
    return v
  }

  int32(): number {
    if (this.at + 4 > this.body.length) throw new RangeError('message too short')
    const v = this.body.readInt32BE(this.at)
    this.at += 4
    return v
  }

  bytes(n: number): Buffer {
    if (n < 0 || this.at + n > this.body.length) throw new RangeError('message too short')
    const b = this.body.subarray(this.at, this.at + n)
    this.at += n
    return b
  }

  byte(): string {
    if (this.at >= this.body.length) throw new RangeError('message too short')
    return String.fromCharCode(this.body[this.at++])
  }
}
