// Key-group routing: keys equal under valuesEqual share a group, consecutive integer keys spread
// evenly, partition() keeps every row once and in order, and the hash is pinned (it decides which
// shard's checkpointed state holds a key, so changing it is a state format change).
import { describe, expect, it } from 'vitest'
import type { Chunk } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import { chunkFromRows, rowAt } from '../chunk.ts'
import { T } from '../types/datatype.ts'
import { Decimal } from '../types/decimal.ts'
import { Interval } from '../types/interval.ts'
import { parseText } from '../types/text.ts'
import { KEY_GROUPS, KeyRouter, shardOfKeyGroup } from './key-group.ts'

function groupOf(types: readonly DataType[], key: readonly Value[]): number {
  return new KeyRouter(
    types.map((_, i) => i),
    types,
  ).keyGroupOf(chunkFromRows(types.length, [key]), 0)
}

function rng(seed: number): () => number {
  let s = seed
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('key groups', () => {
  it('puts keys that valuesEqual calls equal in one group', () => {
    const pairs: [DataType, Value, Value][] = [
      [T.int2, 7, 7],
      [T.int4, -5, -5],
      [T.int8, 5n, BigInt('5')],
      [T.int8, 2n ** 63n - 1n, BigInt('9223372036854775807')],
      [T.float8, 0, -0],
      [T.float8, NaN, 0 / 0],
      [T.float8, 0.1, 1 / 10],
      [T.numeric, Decimal.fromString('1.50'), Decimal.fromString('1.5')],
      [T.numeric, Decimal.fromString('100'), new Decimal(10000n, 2)],
      [T.text, 'abc', ['a', 'b', 'c'].join('')],
      [T.timestamp, parseText(T.timestamp, '2024-01-01 12:00:00'), parseText(T.timestamp, '2024-01-01T12:00:00')],
      [T.bool, true, true],
      [T.interval, Interval.parse('1 day'), Interval.parse('24 hours')],
      [T.text, null, null],
    ]
    for (const [type, a, b] of pairs) expect(groupOf([type], [a])).toBe(groupOf([type], [b]))
    const multi = [T.int8, T.text, T.numeric, T.float8]
    expect(groupOf(multi, [3n, 'x', Decimal.fromString('2.0'), null])).toBe(
      groupOf(multi, [3n, 'x', Decimal.fromString('2'), null]),
    )
  })

  it('is pinned: the same groups in every process and release', () => {
    expect([0n, 1n, 1000n, -(2n ** 63n)].map((v) => groupOf([T.int8], [v]))).toEqual([41, 126, 23, 169])
    expect(['', 'abc', 'héllo'].map((v) => groupOf([T.text], [v]))).toEqual([241, 249, 83])
    expect(groupOf([T.int4, T.numeric], [7, Decimal.fromString('1.50')])).toBe(76)
    expect(groupOf([T.int4, T.numeric], [null, null])).toBe(57)
    expect(groupOf([T.timestamp], [1704067200000000])).toBe(207)
  })

  it('spreads 100k consecutive bigint keys evenly over the groups', () => {
    const rows = 100_000
    const keys: Value[] = []
    for (let i = 0; i < rows; i++) keys.push(BigInt(1000 + i))
    const chunk: Chunk = { ops: new Int8Array(rows).fill(1), columns: [keys], length: rows }
    const router = new KeyRouter([0], [T.int8])
    const counts = new Array<number>(KEY_GROUPS).fill(0)
    for (let i = 0; i < rows; i++) counts[router.keyGroupOf(chunk, i)]++
    const mean = rows / KEY_GROUPS
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(mean * 0.75)
    expect(Math.max(...counts)).toBeLessThanOrEqual(mean * 1.25)
  })

  it('assigns contiguous, balanced ranges of groups to shards', () => {
    for (const shards of [1, 2, 3, 7, 16, 256]) {
      let previous = 0
      const owned = new Array<number>(shards).fill(0)
      for (let g = 0; g < KEY_GROUPS; g++) {
        const s = shardOfKeyGroup(g, shards)
        expect(s === previous || s === previous + 1).toBe(true)
        previous = s
        owned[s]++
      }
      expect(previous).toBe(shards - 1)
      expect(Math.max(...owned) - Math.min(...owned)).toBeLessThanOrEqual(1)
    }
  })
})

describe('KeyRouter.partition', () => {
  const types = [T.int8, T.float8, T.text, T.int4]

  function randomChunk(rows: number, seed: number): Chunk {
    const next = rng(seed)
    const data: Value[][] = []
    const ops = new Int8Array(rows)
    for (let i = 0; i < rows; i++) {
      const k = Math.floor(next() * 50)
      data.push([
        k % 11 === 0 ? null : BigInt(k),
        next() < 0.1 ? null : next() * 100,
        next() < 0.1 ? null : `s${Math.floor(next() * 20)}`,
        i,
      ])
      ops[i] = next() < 0.3 ? -1 : 1
    }
    const chunk = chunkFromRows(types.length, data)
    return { ...chunk, ops }
  }

  it('keeps every row exactly once, in order, with its op, on the shard of its key group', () => {
    for (const shards of [2, 3, 7]) {
      for (const rows of [0, 1, 100, 1000]) {
        const chunk = randomChunk(rows, shards * 1000 + rows)
        const router = new KeyRouter([0, 2], types)
        const parts = router.partition(chunk, shards)
        expect(parts.length).toBe(shards)
        const next = new Array<number>(shards).fill(0)
        for (let i = 0; i < rows; i++) {
          const s = shardOfKeyGroup(router.keyGroupOf(chunk, i), shards)
          const part = parts[s]
          expect(part).toBeDefined()
          const j = next[s]++
          expect(rowAt(part!, j)).toStrictEqual(rowAt(chunk, i))
          expect(part!.ops[j]).toBe(chunk.ops[i])
        }
        for (let s = 0; s < shards; s++) {
          const part = parts[s]
          if (next[s] === 0) expect(part).toBeUndefined()
          else {
            expect(part!.length).toBe(next[s])
            expect(part!.ops.length).toBe(next[s])
            for (const column of part!.columns) expect(column.length).toBe(next[s])
          }
        }
      }
    }
  })

  it('returns the chunk itself with one shard, or when all its rows go to one shard', () => {
    const chunk = randomChunk(100, 1)
    const router = new KeyRouter([0], types)
    const one = router.partition(chunk, 1)
    expect(one.length).toBe(1)
    expect(one[0]).toBe(chunk)

    const sameKey = chunkFromRows(2, [
      [42n, 'a'],
      [42n, 'b'],
      [42n, null],
    ])
    const byKey = new KeyRouter([0], [T.int8, T.text])
    const shard = shardOfKeyGroup(byKey.keyGroupOf(sameKey, 0), 4)
    const parts = byKey.partition(sameKey, 4)
    expect(parts[shard]).toBe(sameKey)
    expect(parts.filter((p) => p !== undefined).length).toBe(1)
  })

  it('refuses a shard count outside 1..KEY_GROUPS and key columns outside the input', () => {
    const router = new KeyRouter([0], types)
    expect(() => router.partition(randomChunk(3, 2), 0)).toThrow(/shards/)
    expect(() => router.partition(randomChunk(3, 2), KEY_GROUPS + 1)).toThrow(/shards/)
    expect(() => new KeyRouter([4], types)).toThrow(/key column/)
  })
})
