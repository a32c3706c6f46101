// KeySlots against a Map over the same random inserts and deletes: every key stays findable
// through table growth, backward-shift deletion and slot reuse; nulls equal nulls.
import { describe, expect, it } from 'vitest'
import type { Value } from '../types/datatype.ts'
import { KeySlots } from './key-slots.ts'
import { T } from '../types/datatype.ts'

function rng(seed: number): () => number {
  let s = seed
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('KeySlots', () => {
  it('agrees with a Map over random inserts and deletes', () => {
    const next = rng(7)
    const slots = new KeySlots([T.int8, T.text])
    const model = new Map<string, number>()
    const keyOf = (n: number): Value[] => [n % 3 === 0 ? null : BigInt(n), n % 5 === 0 ? null : `k${n % 17}`]
    for (let step = 0; step < 20000; step++) {
      const n = Math.floor(next() * 3000)
      const key = keyOf(n)
      const name = JSON.stringify(key, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))
      const found = slots.find(key)
      expect(found >= 0).toBe(model.has(name))
      if (found >= 0) {
        expect(found).toBe(model.get(name))
        expect(slots.keyOf(found)).toEqual(key)
        if (next() < 0.6) {
          slots.delete(found)
          model.delete(name)
        }
      } else model.set(name, slots.insert(key))
      expect(slots.size).toBe(model.size)
    }
    for (const [, slot] of model) expect(slots.isLive(slot)).toBe(true)
    expect([...slots.slots()].sort((a, b) => a - b)).toEqual([...model.values()].sort((a, b) => a - b))
    // Freed slots are reused: slot numbers stay below the peak number of live keys ever held.
    expect(slots.capacity).toBeLessThan(3000)
  })

  it('puts keys into given slots, leaving the slots skipped over free', () => {
    const slots = new KeySlots([T.int4, T.text])
    expect(slots.insertInto(3, [3, 'c'])).toBe(3)
    expect(slots.insertInto(40, [40, 'x'])).toBe(40)
    expect(slots.insertInto(7, [7, 'g'])).toBe(7) // below the highest: a free slot
    expect(() => slots.insertInto(40, [41, 'y'])).toThrow(/taken/)
    expect(slots.find([3, 'c'])).toBe(3)
    expect(slots.find([40, 'x'])).toBe(40)
    expect(slots.find([7, 'g'])).toBe(7)
    expect(slots.size).toBe(3)
    expect(slots.capacity).toBe(41)
    // The other 38 slots below 41 are handed out before any new one.
    const more = Array.from({ length: 39 }, (_v, i) => slots.insert([100 + i, 'n']))
    expect(more.slice(0, 38).every((s) => s < 41)).toBe(true)
    expect(new Set(more.slice(0, 38)).size).toBe(38)
    expect(more[38]).toBe(41)
    for (let i = 0; i < 39; i++) expect(slots.find([100 + i, 'n'])).toBe(more[i])
    expect(slots.keys[0]).toHaveLength(42) // dense, no holes
  })

  it('finds a row of a chunk by its key columns', () => {
    const slots = new KeySlots([T.int4, T.int4])
    const cols: Value[][] = [
      [1, 2, 1, null],
      [10, 20, 10, null],
    ]
    const keyIndex = [0, 1]
    const s0 = slots.insertAt(cols, keyIndex, 0, slots.hashAt(cols, keyIndex, 0))
    expect(slots.findAt(cols, keyIndex, 2, slots.hashAt(cols, keyIndex, 2))).toBe(s0)
    expect(slots.findAt(cols, keyIndex, 1, slots.hashAt(cols, keyIndex, 1))).toBe(-1)
    const s3 = slots.insertAt(cols, keyIndex, 3, slots.hashAt(cols, keyIndex, 3))
    expect(slots.find([null, null])).toBe(s3)
    slots.clear()
    expect(slots.size).toBe(0)
    expect(slots.find([1, 10])).toBe(-1)
  })
})
