// A reader is idle (a sharded view's other shards need not wait for it) when no partition holds
// its watermark back: each has never had data or has been quiet for the idle timeout, and none
// has data waiting.
import { describe, expect, it } from 'vitest'
import { allIdle } from './partition-time.ts'

interface P {
  readonly maxTime: number[]
  readonly lastDataAt: number
  readonly waiting: boolean
}

const p = (maxTime: number, lastDataAt: number, waiting = false): P => ({ maxTime: [maxTime], lastDataAt, waiting })
const idle = (ps: readonly P[], now: number, idleMs?: number): boolean => allIdle(ps, now, idleMs, (x) => x.waiting)

describe('allIdle', () => {
  it('holds for no partitions and for partitions that never had data', () => {
    expect(idle([], 0)).toBe(true)
    expect(idle([p(-Infinity, 0), p(-Infinity, 0)], 10_000)).toBe(true)
  })
  it('fails for a partition with event time and no idle timeout, or not quiet long enough', () => {
    expect(idle([p(-Infinity, 0), p(5, 0)], 10_000)).toBe(false)
    expect(idle([p(5, 9_500)], 10_000, 1000)).toBe(false)
  })
  it('holds once every partition with data has been quiet for the timeout, unless data waits', () => {
    expect(idle([p(5, 8_000), p(-Infinity, 0)], 10_000, 1000)).toBe(true)
    expect(idle([p(5, 8_000, true)], 10_000, 1000)).toBe(false)
  })
})
