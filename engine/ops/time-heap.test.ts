import { describe, expect, it } from 'vitest'
import { TimeHeap } from './time-heap.ts'
import { rng } from '../../test/support.ts'

/** Pops everything, checking each item against the time peek gave for it; returns the times. */
function drain(heap: TimeHeap<number>, times: readonly number[]): number[] {
  const out: number[] = []
  while (heap.size > 0) {
    const t = heap.peek()
    const item = heap.pop()!
    expect(times[item]).toBe(t)
    out.push(t)
  }
  expect(heap.peek()).toBe(Infinity)
  expect(heap.pop()).toBeUndefined()
  return out
}

const ascending = (a: number, b: number): number => a - b

describe('TimeHeap', () => {
  it('is empty: size 0, peek Infinity, pop undefined, also after being drained', () => {
    const heap = new TimeHeap<number>()
    expect(heap.size).toBe(0)
    expect(heap.peek()).toBe(Infinity)
    expect(heap.pop()).toBeUndefined()
    heap.push(5, 0)
    heap.push(3, 1)
    expect(heap.size).toBe(2)
    expect(drain(heap, [5, 3])).toEqual([3, 5])
    expect(heap.size).toBe(0)
  })

  it('pops items in time order, ties in any order, and says Infinity when empty', () => {
    const heap = new TimeHeap<number>()
    const random = rng(11)
    const times: number[] = []
    for (let i = 0; i < 5000; i++) {
      const t = Math.floor(random() * 1000)
      times.push(t)
      heap.push(t, i)
    }
    expect(drain(heap, times)).toEqual([...times].sort(ascending))
  })

  it('keeps in-order pushes (with ties) in order through growth', () => {
    const heap = new TimeHeap<number>()
    const times: number[] = []
    for (let i = 0; i < 10_000; i++) {
      times.push(Math.floor(i / 3))
      heap.push(times[i], i)
    }
    expect(heap.size).toBe(10_000)
    expect(drain(heap, times)).toEqual(times)
  })

  it('pops descending pushes (all late but the first) in order', () => {
    const heap = new TimeHeap<number>()
    const times: number[] = []
    for (let i = 0; i < 3000; i++) {
      times.push(3000 - i)
      heap.push(times[i], i)
    }
    expect(drain(heap, times)).toEqual([...times].sort(ascending))
  })

  it('merges late items with in-order ones, including ties between the two', () => {
    const heap = new TimeHeap<number>()
    const times = [10, 20, 30, 15, 40, 20, 5, 30, 50, 40]
    times.forEach((t, i) => heap.push(t, i))
    expect(heap.peek()).toBe(5)
    expect(drain(heap, times)).toEqual([...times].sort(ascending))
  })

  it('handles the ring wrapping and growing while wrapped, with pops between pushes', () => {
    // A sliding window: push a run, pop most of it, repeat, so the ring's head moves around it
    // and it grows while its items wrap past the end; the size swings so it shrinks back too.
    const heap = new TimeHeap<number>()
    const times: number[] = []
    const popped: number[] = []
    let mismatches = 0
    let t = 0
    for (let round = 0; round < 40; round++) {
      const pushes = round < 20 ? 50 + round * 300 : 6000 - (round - 20) * 300
      for (let k = 0; k < pushes; k++) {
        times.push(t)
        heap.push(t++, times.length - 1)
      }
      const pops = Math.floor(heap.size * 0.9)
      for (let k = 0; k < pops; k++) {
        const before = heap.peek()
        // Plain comparisons per item, one expect at the end: expect is slow at this count.
        if (times[heap.pop()!] !== before) mismatches++
        popped.push(before)
      }
    }
    expect(mismatches).toBe(0)
    popped.push(...drain(heap, times))
    expect(popped).toEqual(times)
  })

  it('agrees with sorting when pushes and pops interleave on a mostly in-order stream', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = rng(seed)
      const heap = new TimeHeap<number>()
      const times: number[] = []
      // The reference: everything held, sorted; pops must give its smallest time.
      const held: number[] = []
      let clock = 0
      let mismatches = 0
      const lateness = seed * 20
      for (let step = 0; step < 20_000; step++) {
        const r = random()
        if (r < 0.55) {
          clock += Math.floor(random() * 3)
          // Mostly in order; some late by up to `lateness`; a few repeat the current time.
          const t = random() < 0.2 ? clock - Math.floor(random() * lateness) : clock
          times.push(t)
          heap.push(t, times.length - 1)
          held.push(t)
        } else {
          held.sort(ascending)
          // Like a watermark: pop everything below a bound, which may be nothing.
          const bound = clock - Math.floor(random() * lateness * 2)
          let n = 0
          while (n < held.length && held[n] < bound) {
            if (heap.peek() !== held[n] || times[heap.pop()!] !== held[n]) mismatches++
            n++
          }
          held.splice(0, n)
          if (heap.peek() !== (held.length === 0 ? Infinity : held[0])) mismatches++
        }
        if (heap.size !== held.length) mismatches++
      }
      expect(mismatches).toBe(0)
      expect(drain(heap, times)).toEqual(held.sort(ascending))
    }
  })

  it('takes -Infinity and Infinity times in order', () => {
    const heap = new TimeHeap<number>()
    const times = [0, Infinity, -Infinity, 7, Infinity, -Infinity]
    times.forEach((t, i) => heap.push(t, i))
    expect(drain(heap, times)).toEqual([-Infinity, -Infinity, 0, 7, Infinity, Infinity])
  })
})
