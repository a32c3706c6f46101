/**
 * A growable byte writer and a byte reader shared by the key and row codecs. Encoders are
 * synchronous and never nest, so one module-level scratch buffer serves every call; `finish()`
 * copies the bytes out.
 */
import { SluiceError, SqlState } from '../errors.ts'

export class ByteWriter {
  buf = new Uint8Array(1024)
  view = new DataView(this.buf.buffer)
  pos = 0

  reset(): void {
    this.pos = 0
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.ensure(1)
    this.buf[this.pos++] = b
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  /** Unsigned LEB128. */
  varuint(n: number): void {
    this.ensure(8)
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80
      n = Math.floor(n / 128)
    }
    this.buf[this.pos++] = n
  }

  /** Writes `s` as UTF-8 (lone surrogates become U+FFFD, as Buffer does); returns the byte count. */
  utf8(s: string): number {
    const n = s.length
    this.ensure(n * 3)
    if (n > 48) {
      // Long strings: the native encoder wins over the loop below.
      const written = encoder.encodeInto(s, this.buf.subarray(this.pos)).written
      this.pos += written
      return written
    }
    const buf = this.buf
    let p = this.pos
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i)
      if (c < 0x80) buf[p++] = c
      else if (c < 0x800) {
        buf[p++] = 0xc0 | (c >> 6)
        buf[p++] = 0x80 | (c & 0x3f)
      } else {
        if (c >= 0xd800 && c <= 0xdfff) {
          const d = i + 1 < n ? s.charCodeAt(i + 1) : 0
          if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
            i++
            buf[p++] = 0xf0 | (c >> 18)
            buf[p++] = 0x80 | ((c >> 12) & 0x3f)
            buf[p++] = 0x80 | ((c >> 6) & 0x3f)
            buf[p++] = 0x80 | (c & 0x3f)
            continue
          }
          c = 0xfffd
        }
        buf[p++] = 0xe0 | (c >> 12)
        buf[p++] = 0x80 | ((c >> 6) & 0x3f)
        buf[p++] = 0x80 | (c & 0x3f)
      }
    }
    const written = p - this.pos
    this.pos = p
    return written
  }

  /**
   * `s` as its UTF-8 byte length (LEB128) and bytes. The length slot is sized for the worst case
   * (3 bytes per UTF-16 unit) and padded, so the string is encoded once, in place.
   */
  string(s: string): void {
    const max = s.length * 3
    const slot = max < 0x80 ? 1 : max < 0x4000 ? 2 : max < 0x200000 ? 3 : 5
    this.ensure(slot)
    const at = this.pos
    this.pos += slot
    let n = this.utf8(s)
    // A padded LEB128: continuation bits on every slot byte but the last.
    const buf = this.buf
    for (let i = 0; i < slot - 1; i++) {
      buf[at + i] = (n & 0x7f) | 0x80
      n = Math.floor(n / 128)
    }
    buf[at + slot - 1] = n
  }

  /** A copy of the bytes written since the last reset. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos)
  }
}

/** A position in bytes being decoded; reads past the end throw corrupt(`what`). */
export class ByteReader {
  readonly v: DataView
  p = 0

  constructor(
    readonly b: Uint8Array,
    private readonly what: string,
  ) {
    this.v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  }

  /** The error for bytes that do not decode. */
  corrupt(): SluiceError {
    return corrupt(this.what)
  }

  /** Unsigned LEB128. */
  varuint(): number {
    let n = 0
    let mul = 1
    for (;;) {
      if (this.p >= this.b.length) throw this.corrupt()
      const x = this.b[this.p++]
      n += (x & 0x7f) * mul
      if (x < 0x80) return n
      mul *= 128
    }
  }

  /** A string written by ByteWriter.string. */
  string(): string {
    const len = this.varuint()
    const end = this.p + len
    if (end > this.b.length) throw this.corrupt()
    const s = utf8Slice(this.b, this.p, end)
    this.p = end
    return s
  }
}

/** Decodes UTF-8 bytes [start, end) of `b`; short ASCII runs skip the native call. */
export function utf8Slice(b: Uint8Array, start: number, end: number): string {
  if (end - start <= 24) {
    let s = ''
    for (let i = start; i < end; i++) {
      const c = b[i]
      if (c >= 0x80) return decoder.decode(b.subarray(start, end))
      s += String.fromCharCode(c)
    }
    return s
  }
  return decoder.decode(b.subarray(start, end))
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()

/** Stored bytes that do not decode: the data directory was written by another version, or is damaged. */
export function corrupt(what: string): SluiceError {
  return new SluiceError(
    SqlState.io_error,
    `cannot decode a stored ${what} (was the data directory written by another version of Sluice?)`,
    {
      domain: 'internal',
    },
  )
}
