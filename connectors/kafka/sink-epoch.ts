/**
 * One checkpoint epoch of a Kafka sink's output: the records it will produce, built while the
 * epoch runs (`write`, synchronous, straight-line over each chunk) and handed to the write-ahead
 * log at the checkpoint (`take`) in a small binary layout that `decodeRecords` reads back at commit.
 *
 * - **append** mode: each +1 row is one record, in order. A -1 row cannot be written (the sink was
 *   accepted because its input never retracts); should one arrive anyway it is counted and skipped.
 * - **upsert** mode: per record key, only the key's last state in the epoch is kept (an aggregate
 *   updated a thousand times in one epoch writes one record), in the order of each key's last
 *   change. A -1 makes the key a tombstone (null value) unless it retracts a row other than the
 *   one the epoch last wrote for that key: a changelog may insert a key's new row before it
 *   retracts the old one (+new, -old), and the new row must stand. So -1 then +1 on a key gives the
 *   new value, +1 then -1 of that same row a tombstone, +new then -old the new value.
 *
 * Log layout: byte 0 = version (1), uint32 count, then per record int32 key length, key bytes,
 * int32 value length, value bytes (length -1 = null: no key, or a tombstone); big-endian. Version
 * 2 (written only when some record has headers: dead-letter records keep the original's) adds,
 * after each record's value, uint16 header count, then per header int32 name length, name (UTF-8),
 * int32 value length, value bytes.
 */
import type { Chunk } from '../../engine/chunk.ts'
import type { KafkaSinkMode } from './sink-options.ts'
import type { RowEncoder } from './sink-json.ts'

/** One Kafka record: key and value bytes (null key: none; null value: a tombstone). */
export interface SinkRecord {
  readonly key: Buffer | null
  readonly value: Buffer | null
  /** Record headers in order, a name repeated for several values. */
  readonly headers?: readonly (readonly [name: string, value: Buffer])[]
}

const VERSION = 1
const VERSION_HEADERS = 2

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

export class EpochBuffer {
  private appended: SinkRecord[] = []
  /** Upsert mode: the key's bytes (as latin1 text, a Map key) → the key's last record. */
  private latest = new Map<string, SinkRecord>()
  /** -1 rows an append-mode sink skipped since the last take (should stay 0). */
  skippedRetractions = 0

  constructor(
    private readonly mode: KafkaSinkMode,
    private readonly key: RowEncoder | undefined,
    private readonly value: RowEncoder,
    /** Told about a row its encoder refused (the row is skipped: `write` must not throw). */
    private readonly reject: (chunk: Chunk, row: number, error: unknown) => void,
  ) {}

  write(chunk: Chunk): void {
    const n = chunk.length
    const ops = chunk.ops
    const key = this.key
    const value = this.value
    if (this.mode === 'append') {
      const out = this.appended
      for (let i = 0; i < n; i++) {
        if (ops[i] < 0) {
          this.skippedRetractions++
          continue
        }
        try {
          out.push({ key: key === undefined ? null : key.encode(chunk, i), value: value.encode(chunk, i) })
        } catch (e) {
          this.reject(chunk, i, e)
        }
      }
      return
    }
    if (key === undefined) throw new Error('an upsert sink needs a key encoder')
    const latest = this.latest
    for (let i = 0; i < n; i++) {
      let k: Buffer
      let v: Buffer
      try {
        k = key.encode(chunk, i)
        v = value.encode(chunk, i)
      } catch (e) {
        this.reject(chunk, i, e)
        continue
      }
      const id = k.toString('latin1')
      if (ops[i] < 0) {
        const prev = latest.get(id)
        // Retracts an older row while the epoch already wrote a newer one for this key: keep it.
        if (prev !== undefined && prev.value !== null && !sameBytes(prev.value, v)) continue
        latest.delete(id)
        latest.set(id, { key: k, value: null })
      } else {
        latest.delete(id) // re-inserted below: the key's record moves to its last change
        latest.set(id, { key: k, value: v })
      }
    }
  }

  /** The epoch's records in the log layout (undefined when there are none); starts a new epoch. */
  take(): Uint8Array | undefined {
    const records = this.mode === 'append' ? this.appended : [...this.latest.values()]
    this.appended = []
    this.latest = new Map()
    if (records.length === 0) return undefined
    return encodeRecords(records)
  }
}

export function encodeRecords(records: readonly SinkRecord[]): Uint8Array {
  const headers = records.some((r) => r.headers !== undefined && r.headers.length > 0)
  let size = 5
  for (const r of records) {
    size += 8 + (r.key?.length ?? 0) + (r.value?.length ?? 0)
    if (headers) {
      size += 2
      for (const [name, value] of r.headers ?? []) size += 8 + Buffer.byteLength(name) + value.length
    }
  }
  const out = Buffer.allocUnsafe(size)
  out.writeUInt8(headers ? VERSION_HEADERS : VERSION, 0)
  out.writeUInt32BE(records.length, 1)
  let at = 5
  const put = (part: Buffer | null): void => {
    if (part === null) {
      out.writeInt32BE(-1, at)
      at += 4
    } else {
      out.writeInt32BE(part.length, at)
      part.copy(out, at + 4)
      at += 4 + part.length
    }
  }
  for (const r of records) {
    put(r.key)
    put(r.value)
    if (!headers) continue
    const hs = r.headers ?? []
    out.writeUInt16BE(hs.length, at)
    at += 2
    for (const [name, value] of hs) {
      put(Buffer.from(name, 'utf8'))
      put(value)
    }
  }
  return out
}

/** The records of a logged epoch; keys and values are views into `bytes` (no copies). */
export function decodeRecords(bytes: Uint8Array): SinkRecord[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const version = buf.length < 5 ? -1 : buf.readUInt8(0)
  if (version !== VERSION && version !== VERSION_HEADERS)
    throw new Error(`unknown Kafka sink log layout (version byte ${buf[0]})`)
  const count = buf.readUInt32BE(1)
  const out: SinkRecord[] = []
  let at = 5
  const part = (): Buffer | null => {
    const len = buf.readInt32BE(at)
    at += 4
    if (len < 0) return null
    const b = buf.subarray(at, at + len)
    at += len
    return b
  }
  for (let i = 0; i < count; i++) {
    const key = part()
    const value = part()
    if (version === VERSION) {
      out.push({ key, value })
      continue
    }
    const n = buf.readUInt16BE(at)
    at += 2
    const headers: [string, Buffer][] = []
    for (let h = 0; h < n; h++) {
      const name = part()
      const v = part()
      headers.push([name?.toString('utf8') ?? '', v ?? Buffer.alloc(0)])
    }
    out.push(headers.length > 0 ? { key, value, headers } : { key, value })
  }
  if (at !== buf.length) throw new Error('Kafka sink log entry has trailing bytes')
  return out
}
