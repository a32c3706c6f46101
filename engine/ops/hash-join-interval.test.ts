// An interval join (right.t − left.t ∈ [lo, hi]) frees, at each watermark step, exactly the rows no
// future row of the other side can match, in time order (a heap, not a scan): on random input in
// bounded disorder with watermarks that keep their promise, its output equals the pairs a join
// that never frees finds among the rows that are not late, and it holds no row the watermarks
// have passed.
import { describe, expect, it } from 'vitest'
import type { Chunk } from '../chunk.ts'
import type { Emitter } from './operator.ts'
import type { PredicateFn } from './filter-project.ts'
import { HashJoin } from './hash-join.ts'
import { chunkFromRows, rowAt } from '../chunk.ts'
import { T } from '../types/datatype.ts'
import { rng } from '../../test/support.ts'

/** Rows on both sides: [k, t (timestamp µs)]. */
const TYPES = [T.int8, T.timestamp]
const LO = 0
const HI = 50

/** right.t − left.t ∈ [LO, HI], over [left k, left t, right k, right t]. */
const inInterval: PredicateFn = (chunk) => {
  const out = new Uint8Array(chunk.length)
  for (let i = 0; i < chunk.length; i++) {
    const d = (chunk.columns[3][i] as number) - (chunk.columns[1][i] as number)
    out[i] = d >= LO && d <= HI ? 1 : 0
  }
  return out
}

function join(): HashJoin {
  return new HashJoin({
    type: 'inner',
    leftKeys: [0],
    rightKeys: [0],
    leftTypes: TYPES,
    rightTypes: TYPES,
    residual: inInterval,
    leftAppendOnly: true,
    rightAppendOnly: true,
    interval: { leftTime: 1, rightTime: 1, lo: LO, hi: HI },
    detail: 'interval',
  })
}

describe('an interval join', () => {
  for (const seed of [1, 2, 3]) {
    it(`frees what the watermarks pass and finds every pair of rows on time (seed ${seed})`, () => {
      const random = rng(seed)
      const op = join()
      const pairs: string[] = []
      const out: Emitter = {
        chunk: (c: Chunk) => {
          for (let i = 0; i < c.length; i++) pairs.push(rowAt(c, i).map(String).join('|'))
        },
        watermark: () => {},
      }
      const kept: [unknown[][], unknown[][]] = [[], []]
      const marks = [-Infinity, -Infinity]
      let now = 0
      for (let step = 0; step < 400; step++) {
        now += Math.floor(random() * 5)
        const side = random() < 0.5 ? 0 : 1
        const rows: [bigint, number][] = []
        for (let n = Math.floor(random() * 6); n > 0; n--)
          rows.push([BigInt(Math.floor(random() * 4)), now - Math.floor(random() * 20)])
        if (rows.length > 0) op.onChunk(chunkFromRows(2, rows), side, out)
        // The rows a join that never frees keeps: those not behind their side's watermark.
        for (const r of rows) if (r[1] >= marks[side]) kept[side].push(r)
        if (random() < 0.3) {
          // At most the disorder behind the newest time: the watermark keeps its promise.
          const w = now - 20
          if (w > marks[side]) {
            marks[side] = w
            op.onWatermark({ kind: 'watermark', column: 1, value: w }, side, out)
          }
        }
      }
      const expected: string[] = []
      for (const l of kept[0])
        for (const r of kept[1]) {
          const d = (r[1] as number) - (l[1] as number)
          if (l[0] === r[0] && d >= LO && d <= HI) expected.push([...l, ...r].map(String).join('|'))
        }
      expect(pairs.sort()).toEqual(expected.sort())
      // Held: only rows a future row of the other side could still match.
      const live =
        kept[0].filter((l) => (l[1] as number) + HI >= marks[1]).length +
        kept[1].filter((r) => (r[1] as number) - LO >= marks[0]).length
      expect(op.stateSize()).toBe(live)
    })
  }
})
