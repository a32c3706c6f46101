import { describe, expect, it } from 'vitest'
import { TimeHeap } from './time-heap.ts'
import { rng } from '../../test/support.ts'

describe('TimeHeap', () => {
  it('pops items in time order, ties in any order, and says Infinity when empty', () => {
    const heap = new TimeHeap<number>()
    expect(heap.peek()).toBe(Infinity)
    expect(heap.pop()).toBeUndefined()
    const random = rng(11)
    const times: number[] = []
    for (let i = 0; i < 5000; i++) {
      const t = Math.floor(random() * 1000)
      times.push(t)
      heap.push(t, i)
    }
    const out: number[] = []
    while (heap.size > 0) {
      const t = heap.peek()
      const item = heap.pop()!
      expect(times[item]).toBe(t)
      out.push(t)
    }
    expect(out).toEqual([...times].sort((a, b) => a - b))
  })
})
