/**
 * Frames the frontend byte stream into messages. TCP may split a message at any byte or deliver
 * several in one packet; the reader keeps the bytes until a whole message is there and hands
 * messages out one at a time, so the connection can switch between the untyped startup phase
 * (StartupMessage, SSLRequest, CancelRequest) and typed messages between two messages.
 */
import { WireError } from './errors.ts'

/** One framed frontend message. */
export interface RawMessage {
  /** The type byte as a character; '' for the untyped startup-phase messages. */
  readonly type: string
  /** The message body after the length word. */
  readonly body: Buffer
}

/** PostgreSQL refuses startup packets longer than this (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_LENGTH = 10_000

export class MessageReader {
  private chunks: Buffer[] = []
  private size = 0
  /** Until the StartupMessage is read, messages carry no type byte. The connection flips it. */
  startup = true

  /** @param maxLength the largest length word accepted for typed messages (includes itself). */
  constructor(private readonly maxLength: number) {}

  /** Bytes received and not yet handed out. */
  get buffered(): number {
    return this.size
  }

  push(data: Buffer): void {
    if (data.length === 0) return
    this.chunks.push(data)
    this.size += data.length
  }

  /**
   * The next complete message, or undefined until more bytes arrive. Throws WireError 08P01 on a
   * length word that is impossible or over the cap, before buffering the announced body.
   */
  next(): RawMessage | undefined {
    const header = this.startup ? 4 : 5
    if (this.size < header) return undefined
    const head = this.contiguous(header)
    const length = head.readInt32BE(header - 4)
    const limit = this.startup ? MAX_STARTUP_LENGTH : this.maxLength
    if (length < 4 || length > limit) {
      const what = this.startup ? 'startup packet' : `message of type "${printable(head[0])}"`
      throw new WireError('08P01', `invalid ${what} length ${length}`, 'FATAL')
    }
    const total = header - 4 + length
    if (this.size < total) return undefined
    const whole = this.contiguous(total)
    const type = this.startup ? '' : String.fromCharCode(whole[0])
    const body = whole.subarray(header, total)
    this.consume(total)
    return { type, body }
  }

  /** The first `n` buffered bytes as one Buffer, joining chunks only when a message spans them. */
  private contiguous(n: number): Buffer {
    if (this.chunks[0].length < n) {
      const joined = Buffer.concat(this.chunks, this.size)
      this.chunks = [joined]
    }
    return this.chunks[0]
  }

  private consume(n: number): void {
    const first = this.chunks[0]
    if (first.length === n) this.chunks.shift()
    else this.chunks[0] = first.subarray(n)
    this.size -= n
  }
}

function printable(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`
}

/** Reads NUL-terminated strings and big-endian integers from a message body; throws 08P01 when short. */
export class BodyReader {
  private at = 0
  constructor(private readonly body: Buffer) {}

  get remaining(): number {
    return this.body.length - this.at
  }

  cstring(): string {
    const end = this.body.indexOf(0, this.at)
    if (end < 0) throw short('unterminated string in message')
    const s = this.body.toString('utf8', this.at, end)
    this.at = end + 1
    return s
  }

  int16(): number {
    if (this.at + 2 > this.body.length) throw short()
    const v = this.body.readInt16BE(this.at)
    this.at += 2
    return v
  }

  /** Counts (parameters, formats, columns) are unsigned 16-bit on the wire. */
  uint16(): number {
    if (this.at + 2 > this.body.length) throw short()
    const v = this.body.readUInt16BE(this.at)
    this.at += 2
    return v
  }

  int32(): number {
    if (this.at + 4 > this.body.length) throw short()
    const v = this.body.readInt32BE(this.at)
    this.at += 4
    return v
  }

  bytes(n: number): Buffer {
    if (n < 0 || this.at + n > this.body.length) throw short()
    const b = this.body.subarray(this.at, this.at + n)
    this.at += n
    return b
  }

  byte(): string {
    if (this.at >= this.body.length) throw short()
    return String.fromCharCode(this.body[this.at++])
  }

  /** Messages must be consumed exactly; trailing bytes mean a confused client. */
  end(): void {
    if (this.at !== this.body.length) throw new WireError('08P01', 'invalid message format', 'FATAL')
  }
}

function short(message = 'insufficient data left in message'): WireError {
  return new WireError('08P01', message, 'FATAL')
}
