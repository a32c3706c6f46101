/**
 * Packing kafkajs messages into a batch (./fetched.ts): values copied as one span when they lie in
 * one buffer and one by one when not, null values and keys, headers only where present,
 * timestamps only when asked, and pooled buffers reused without stale bytes showing through.
 */
import { describe, expect, it } from 'vitest'
import type { KafkaMessage } from 'kafkajs'
import { BufferPool, packBatch, transferables, type FetchedBatch } from './fetched.ts'

function message(
  offset: number,
  value: Buffer | null,
  key: Buffer | null = null,
  headers: KafkaMessage['headers'] = {},
): KafkaMessage {
  return {
    offset: String(offset),
    timestamp: String(1_700_000_000_000 + offset),
    value,
    key,
    headers,
    attributes: 0,
    size: 0,
  } as unknown as KafkaMessage
}

function values(b: FetchedBatch): (string | null)[] {
  const out: (string | null)[] = []
  for (let i = 0; i < b.count; i++) {
    const s = b.valueStarts[i]
    out.push(s < 0 ? null : Buffer.from(b.values.buffer, b.values.byteOffset + s, b.valueEnds[i] - s).toString())
  }
  return out
}

describe('packBatch', () => {
  it('copies values lying in one response buffer as one span, with nulls, keys and headers', () => {
    // As kafkajs hands them over: views into one response, framing bytes between them.
    const response = Buffer.from('##{"a":1}###{"a":2}#####{"a":3}#')
    const msgs = [
      message(10, response.subarray(2, 9), Buffer.from('k1')),
      message(11, null),
      message(12, response.subarray(12, 19), null, { trace: Buffer.from('t-1') }),
      message(13, response.subarray(24, 31)),
    ]
    const b = packBatch(0, msgs, 0, 14, 20, true, new BufferPool(1 << 20))
    expect(values(b)).toEqual(['{"a":1}', null, '{"a":2}', '{"a":3}'])
    expect(b.bytes).toBe(21)
    expect([...b.offsets]).toEqual([10, 11, 12, 13])
    expect(b.timestamps[2]).toBe(1_700_000_000_012)
    expect(b.keyStarts[0]).toBeGreaterThanOrEqual(0)
    expect(
      Buffer.from(b.keys.buffer, b.keys.byteOffset + b.keyStarts[0], b.keyEnds[0] - b.keyStarts[0]).toString(),
    ).toBe('k1')
    expect(b.keyStarts[1]).toBe(-1)
    expect(b.headers?.[0]).toBeUndefined()
    expect(b.headers?.[2]?.[0][0]).toBe('trace')
    expect(Buffer.from(b.headers?.[2]?.[0][1][0] ?? []).toString()).toBe('t-1')
    expect(transferables(b)).toEqual([b.buffer])
  })

  it('copies values from separate buffers one by one, skips the handed-over ones, and leaves timestamps out unless asked', () => {
    const msgs = [message(5, Buffer.from('x')), message(7, Buffer.from('yy')), message(8, Buffer.from('zzz'))]
    const b = packBatch(1, msgs, 1, 9, 9, false, new BufferPool(1 << 20))
    expect(b.count).toBe(2)
    expect(values(b)).toEqual(['yy', 'zzz'])
    expect([...b.offsets]).toEqual([7, 8])
    expect(b.timestamps.length).toBe(0)
    expect(b.headers).toBeUndefined()
  })

  it('reuses a buffer given back to the pool, and what it held before does not show', () => {
    const pool = new BufferPool(1 << 20)
    const first = packBatch(0, [message(0, Buffer.from('a'.repeat(500)))], 0, 1, 1, false, pool)
    pool.give(first.buffer)
    const second = packBatch(0, [message(1, Buffer.from('bb'))], 0, 2, 2, false, pool)
    expect(second.buffer).toBe(first.buffer)
    expect(values(second)).toEqual(['bb'])
    expect(second.values.byteLength).toBe(2)
  })
})
