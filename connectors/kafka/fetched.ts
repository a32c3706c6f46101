/**
 * A fetched batch of one Kafka partition in the shape the fetcher hands to the reader: every
 * record's value (and key) packed into one byte buffer with start/end indexes, offsets and
 * timestamps in typed arrays, headers only where a record has any.
 *
 * Why packed: the fetcher may run in a worker thread, and one buffer crosses threads by transfer
 * (no copy, no per-record structured clone), while kafkajs's message objects (a Buffer, strings
 * and a headers object per record) could not. The reader also keeps far fewer objects alive
 * between fetch and poll, so garbage collection has less to trace.
 *
 * Why pooled: every array of a batch is a view into one ArrayBuffer, which the reader hands back
 * once it has consumed the batch (BufferPool). A buffer transferred to another thread is not
 * counted by that thread's garbage collector, which therefore would not hurry to free it; handed
 * back and reused, the buffers stay as many as the queue holds, and memory stays bounded.
 */
import type { KafkaMessage } from 'kafkajs'

/** One header of a record: its name and its values (Kafka allows a name more than once). */
export type PackedHeader = readonly [name: string, values: readonly Uint8Array[]]

export interface FetchedBatch {
  /** The buffer every typed array below views (empty for an empty batch); given back when consumed. */
  readonly buffer: ArrayBuffer
  readonly partition: number
  /** Records in the batch (0 for a batch of only transaction markers or aborted records). */
  readonly count: number
  /** The offset after the batch, past any trailing markers or aborted records. */
  readonly end: number
  /** The partition's high watermark (last stable offset under read_committed) as the fetch saw it, or -1. */
  readonly high: number
  readonly offsets: Float64Array
  /** Record timestamps, epoch milliseconds; empty unless the fetcher was asked for them. */
  readonly timestamps: Float64Array
  /** The bytes of all values (what the reader's queue limit counts). */
  readonly bytes: number
  /** All values; record i is bytes [valueStarts[i], valueEnds[i]), or null when valueStarts[i] < 0 (bytes between values belong to none). */
  readonly values: Uint8Array
  readonly valueStarts: Int32Array
  readonly valueEnds: Int32Array
  /** All keys, the same way. */
  readonly keys: Uint8Array
  readonly keyStarts: Int32Array
  readonly keyEnds: Int32Array
  /** Per record, its headers; undefined when no record of the batch has any. */
  readonly headers: readonly (readonly PackedHeader[] | undefined)[] | undefined
}

/** The buffer of a batch, for postMessage's transfer list. */
export function transferables(b: FetchedBatch): ArrayBuffer[] {
  return b.buffer.byteLength > 0 ? [b.buffer] : []
}

/**
 * Buffers for batches, reused once the reader gives them back. Sizes are rounded up to powers of
 * two (at least 64 KiB) so that a returned buffer fits the next batch of about the same size; the
 * pool keeps at most `cap` bytes and lets the rest go.
 */
export class BufferPool {
  private free: ArrayBuffer[] = []
  private pooled = 0

  constructor(private readonly cap: number) {}

  take(size: number): ArrayBuffer {
    let best = -1
    for (let i = 0; i < this.free.length; i++) {
      const len = this.free[i].byteLength
      if (len >= size && (best < 0 || len < this.free[best].byteLength)) best = i
    }
    if (best >= 0) {
      const b = this.free[best]
      this.free[best] = this.free[this.free.length - 1]
      this.free.pop()
      this.pooled -= b.byteLength
      return b
    }
    let len = 64 << 10
    while (len < size) len *= 2
    return new ArrayBuffer(len)
  }

  give(b: ArrayBuffer): void {
    if (b.byteLength === 0 || this.pooled + b.byteLength > this.cap) return
    this.free.push(b)
    this.pooled += b.byteLength
  }
}

/** An empty batch moving a partition's position to `end` (transaction markers, aborted records). */
export function emptyBatch(partition: number, end: number, high: number): FetchedBatch {
  const buffer = new ArrayBuffer(0)
  const none = new Float64Array(buffer)
  const idx = new Int32Array(buffer)
  const bytes = new Uint8Array(buffer)
  return {
    buffer,
    partition,
    count: 0,
    end,
    high,
    offsets: none,
    timestamps: none,
    bytes: 0,
    values: bytes,
    valueStarts: idx,
    valueEnds: idx,
    keys: bytes,
    keyStarts: idx,
    keyEnds: idx,
    headers: undefined,
  }
}

function packHeaders(h: KafkaMessage['headers']): PackedHeader[] | undefined {
  let out: PackedHeader[] | undefined
  for (const name in h) {
    const raw = h[name]
    if (raw === undefined) continue
    const list = Array.isArray(raw) ? raw : [raw]
    const values = list.map((v: Buffer | string) =>
      typeof v === 'string' ? Buffer.from(v, 'utf8') : new Uint8Array(v),
    )
    ;(out ??= []).push([name, values])
  }
  return out
}

/**
 * Where the values of messages[from..] lie in one buffer, when they do: kafkajs's values are views
 * into its fetch response, one after the other with record framing between them. Then one copy of
 * that span replaces a copy per record. Undefined when they are spread over buffers, or when the
 * span is much larger than the values (big keys or headers between them).
 */
function valueSpan(
  messages: readonly KafkaMessage[],
  from: number,
  valueBytes: number,
): { buffer: ArrayBufferLike; start: number; end: number } | undefined {
  let buffer: ArrayBufferLike | undefined
  let start = -1
  let end = -1
  for (let i = from; i < messages.length; i++) {
    const v = messages[i].value
    if (v === null) continue
    if (buffer === undefined) {
      buffer = v.buffer
      start = v.byteOffset
    } else if (v.buffer !== buffer || v.byteOffset < end) return undefined
    end = v.byteOffset + v.length
  }
  if (buffer === undefined || end - start > 2 * valueBytes + 4096) return undefined
  return { buffer, start, end }
}

/**
 * Packs kafkajs messages (`from` on; earlier ones were already handed over) into a batch. One pass
 * to size the buffers, one to copy: values are views into kafkajs's fetch response, so the copy
 * is the only one they get (one copy of the span they lie in, when they lie in one).
 */
export function packBatch(
  partition: number,
  messages: readonly KafkaMessage[],
  from: number,
  end: number,
  high: number,
  withTimestamps: boolean,
  pool: BufferPool,
): FetchedBatch {
  const count = messages.length - from
  let valueBytes = 0
  let keyBytes = 0
  for (let i = from; i < messages.length; i++) {
    const m = messages[i]
    if (m.value !== null) valueBytes += m.value.length
    if (m.key !== null && m.key !== undefined) keyBytes += m.key.length
  }
  const span = valueSpan(messages, from, valueBytes)
  const valueLength = span === undefined ? valueBytes : span.end - span.start
  // One buffer: the 8-byte arrays first, then the 4-byte ones, then bytes (each view aligned).
  // Parsing kafkajs's timestamp strings is a good part of this function's cost: only when asked.
  const stamps = withTimestamps ? count : 0
  const size = (count + stamps) * 8 + count * 16 + keyBytes + valueLength
  const buffer = pool.take(size)
  let at = 0
  const offsets = new Float64Array(buffer, at, count)
  at += count * 8
  const timestamps = new Float64Array(buffer, at, stamps)
  at += stamps * 8
  const valueStarts = new Int32Array(buffer, at, count)
  const valueEnds = new Int32Array(buffer, (at += count * 4), count)
  const keyStarts = new Int32Array(buffer, (at += count * 4), count)
  const keyEnds = new Int32Array(buffer, (at += count * 4), count)
  const keys = new Uint8Array(buffer, (at += count * 4), keyBytes)
  const values = new Uint8Array(buffer, (at += keyBytes), valueLength)
  if (span !== undefined) values.set(new Uint8Array(span.buffer, span.start, valueLength))
  const base = span === undefined ? 0 : span.start
  let headers: (PackedHeader[] | undefined)[] | undefined
  // Offsets are usually consecutive (no compaction, no filtered transaction records): no parsing then.
  const first = count > 0 ? Number(messages[from].offset) : 0
  const consecutive = count > 0 && Number(messages[messages.length - 1].offset) - first === count - 1
  let v = 0
  let k = 0
  for (let j = 0; j < count; j++) {
    const m = messages[from + j]
    offsets[j] = consecutive ? first + j : Number(m.offset)
    if (withTimestamps) timestamps[j] = Number(m.timestamp)
    const value = m.value
    if (value === null) {
      valueStarts[j] = -1
      valueEnds[j] = -1
    } else if (span !== undefined) {
      const at = value.byteOffset - base
      valueStarts[j] = at
      valueEnds[j] = at + value.length
    } else {
      valueStarts[j] = v
      values.set(value, v)
      v += value.length
      valueEnds[j] = v
    }
    const key = m.key
    if (key === null || key === undefined) {
      keyStarts[j] = -1
      keyEnds[j] = -1
    } else {
      keyStarts[j] = k
      keys.set(key, k)
      k += key.length
      keyEnds[j] = k
    }
    const h = m.headers
    if (h !== undefined) {
      const packed = packHeaders(h)
      if (packed !== undefined) {
        headers ??= new Array<PackedHeader[] | undefined>(count)
        headers[j] = packed
      }
    }
  }
  return {
    buffer,
    partition,
    count,
    end,
    high,
    offsets,
    timestamps,
    bytes: valueBytes,
    values,
    valueStarts,
    valueEnds,
    keys,
    keyStarts,
    keyEnds,
    headers,
  }
}
