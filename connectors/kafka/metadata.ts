/**
 * Record metadata for the Kafka source: which chunk columns come from the record's key, partition,
 * offset, timestamp or a header (`INCLUDE ...`), and reading those from a fetched batch.
 */
import type { IHeaders } from 'kafkajs'
import type { ColumnSchema, SourceMetadata } from '../../engine/connector.ts'
import type { Value } from '../../engine/types/datatype.ts'
import type { FetchedBatch, PackedHeader } from './fetched.ts'

/** The layout of a chunk: which columns the decoder fills, which come from metadata, which hold event time. */
export interface Layout {
  readonly width: number
  readonly payload: readonly number[]
  readonly meta: readonly { readonly index: number; readonly include: SourceMetadata }[]
  readonly time: readonly number[]
}

export function layoutOf(columns: readonly ColumnSchema[]): Layout {
  const payload: number[] = []
  const meta: { index: number; include: SourceMetadata }[] = []
  const time: number[] = []
  columns.forEach((c, i) => {
    if (c.include === undefined) payload.push(i)
    else meta.push({ index: i, include: c.include })
    if (c.type.kind === 'timestamp' || c.type.kind === 'timestamptz') time.push(i)
  })
  return { width: columns.length, payload, meta, time }
}

/** Record i's key as a view of the batch's buffer (copy it to keep it past the batch), or null. */
export function keyOf(b: FetchedBatch, i: number): Buffer | null {
  const s = b.keyStarts[i]
  return s < 0 ? null : Buffer.from(b.keys.buffer, b.keys.byteOffset + s, b.keyEnds[i] - s)
}

function headerText(headers: readonly PackedHeader[] | undefined, name: string): string | null {
  const h = headers?.find((x) => x[0] === name)
  if (h === undefined || h[1].length === 0) return null
  return Buffer.from(h[1][0].buffer, h[1][0].byteOffset, h[1][0].byteLength).toString('utf8')
}

/** Record headers as kafkajs takes them for producing (views of the header bytes). */
export function kafkaHeaders(headers: readonly PackedHeader[] | undefined): IHeaders | undefined {
  if (headers === undefined) return undefined
  const out: IHeaders = {}
  for (const [name, values] of headers) {
    const bufs = values.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength))
    out[name] = bufs.length === 1 ? bufs[0] : bufs
  }
  return out
}

/** The value of an INCLUDE column for record i of a batch. */
export function metadataValue(include: SourceMetadata, partition: number, b: FetchedBatch, i: number): Value {
  switch (include.kind) {
    case 'key':
      return keyOf(b, i)?.toString('utf8') ?? null
    case 'partition':
      return partition
    case 'offset':
      return BigInt(b.offsets[i])
    case 'timestamp':
      return b.timestamps[i] * 1000
    case 'header':
      return headerText(b.headers?.[i], include.name)
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** The bytes as text when they are valid UTF-8. */
export function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return null
  }
}
