// The cold tier's filter (bloom.ts): never "absent" for a key added, over millions of keys and
// many levels; "present" for about 1 % of keys never added with one level, about 1 % more per
// full level of a chain; 10 bits a key at capacity.
import { describe, expect, it } from 'vitest'
import { BloomFilter, MIN_BLOOM_CAPACITY } from './bloom.ts'
import { encodeKey } from '../state/codec.ts'
import { T } from '../types/datatype.ts'

/** Key i as the aggregate's cold tier encodes it: 5 prefix bytes, then an int8 key. */
function keyOf(i: number, scratch: Uint8Array): Uint8Array {
  scratch.fill(0xff, 0, 5)
  scratch[5] = 0x80
  new DataView(scratch.buffer, scratch.byteOffset).setBigUint64(6, BigInt(i) ^ 0x8000000000000000n)
  return scratch
}

/** Share of the keys [from, to) the filter answers "present" for (none of them added). */
function falsePositives(filter: BloomFilter, from: number, to: number): number {
  const scratch = new Uint8Array(14)
  let n = 0
  for (let i = from; i < to; i++) if (filter.has(keyOf(i, scratch))) n++
  return n / (to - from)
}

describe('BloomFilter', () => {
  it('answers "present" for every key added, over 3M keys grown from the smallest level', () => {
    const filter = new BloomFilter(0)
    const scratch = new Uint8Array(14)
    const N = 3_000_000
    for (let i = 0; i < N; i++) filter.add(keyOf(i, scratch))
    let missing = 0
    for (let i = 0; i < N; i++) if (!filter.has(keyOf(i, scratch))) missing++
    expect(missing).toBe(0)
    // 1024 · (2^12 - 1) keys of capacity: twelve levels.
    expect(filter.levelCount).toBe(12)
    // Keys answered "present" before their add (false positives) are not counted again.
    expect(filter.size).toBeGreaterThan(0.85 * N)
    expect(filter.size).toBeLessThanOrEqual(N)
    // Eleven full levels and a partial one: about 1.1 % each.
    expect(falsePositives(filter, N, N + 1_000_000)).toBeLessThan(0.14)
    // 10 bits a key of capacity; the last level has room for as many keys again as it holds.
    expect((8 * filter.bytes) / N).toBeLessThan(20)
  })

  it('is near 1 % false positives with one level at capacity, about 1 % more per full level', () => {
    const scratch = new Uint8Array(14)
    const N = 1_000_000
    const one = new BloomFilter(N)
    for (let i = 0; i < N; i++) one.add(keyOf(i, scratch))
    expect(one.levelCount).toBe(1)
    const fpOne = falsePositives(one, N, 2 * N)
    expect(fpOne).toBeGreaterThan(0.005)
    expect(fpOne).toBeLessThan(0.015)
    expect((8 * one.bytes) / N).toBeLessThan(10.1)

    // A first level of 256k keys, then 512k, then 1M (partly full).
    const chain = new BloomFilter(262_144)
    for (let i = 0; i < 1.5 * N; i++) chain.add(keyOf(i, scratch))
    expect(chain.levelCount).toBe(3)
    const fpChain = falsePositives(chain, 2 * N, 3 * N)
    expect(fpChain).toBeGreaterThan(0.01)
    expect(fpChain).toBeLessThan(0.035)
  })

  it('hashes a range of a larger array, and tells keys that differ only in length', () => {
    const filter = new BloomFilter(MIN_BLOOM_CAPACITY)
    const buffer = new Uint8Array(64).fill(7)
    filter.add(buffer, 10, 20)
    expect(filter.has(buffer.slice(10, 20))).toBe(true)
    expect(filter.has(buffer, 30, 40)).toBe(true) // the same bytes
    let lengths = 0
    for (let n = 0; n < 64; n++) if (n !== 10 && filter.has(buffer, 0, n)) lengths++
    expect(lengths).toBeLessThan(3)
    const typed = encodeKey([42n, 'x'], [T.int8, T.text])
    filter.add(typed)
    expect(filter.has(encodeKey([42n, 'x'], [T.int8, T.text]))).toBe(true)
  })
})
