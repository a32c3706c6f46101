// HashJoin over a state table: with a cache so small that buckets are evicted at every
// checkpoint, with checkpoints whose batch lands after more input, and after restarts that
// restore only the row entries, the join emits exactly what an all-in-memory join emits.
import { describe, expect, it } from 'vitest'
import type { Value } from '../types/datatype.ts'
import type { HashJoinSpec, JoinType } from './hash-join.ts'
import type { PredicateFn } from './filter-project.ts'
import { HashJoin } from './hash-join.ts'
import { chunkFromRows } from '../chunk.ts'
import { T } from '../types/datatype.ts'
import { MemoryStore } from '../state/memory.ts'
import { EngineStateCache } from '../state/cache.ts'
import { Held, collect, operatorStore, restore } from './state-test-support.ts'

/** left.v < right.v, over [left k, left v, right k, right v]. */
const residual: PredicateFn = (chunk) => {
  const out = new Uint8Array(chunk.length)
  for (let i = 0; i < chunk.length; i++) {
    const a = chunk.columns[1][i]
    const b = chunk.columns[3][i]
    out[i] = a !== null && b !== null && (a as bigint) < (b as bigint) ? 1 : 0
  }
  return out
}

function spec(type: JoinType, withResidual: boolean, rightAppendOnly = false): HashJoinSpec {
  return {
    type,
    leftKeys: [0],
    rightKeys: [0],
    leftTypes: [T.int8, T.int8],
    rightTypes: [T.int8, T.int8],
    residual: withResidual ? residual : undefined,
    rightAppendOnly,
    detail: type,
  }
}

/** Deterministic pseudo-random changes on both inputs, with retractions of earlier rows. */
function* workload(
  seed: number,
  steps: number,
  rightAppendOnly: boolean,
): Generator<{ input: 0 | 1; rows: Value[][]; sign: 1 | -1 }> {
  let x = seed
  const rand = (n: number): number => {
    // xorshift32: the low bits of a power-of-two LCG alternate, which would pick inputs in turn
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) % n
  }
  const live: [Value[][], Value[][]] = [[], []]
  for (let s = 0; s < steps; s++) {
    const input = rand(2) as 0 | 1
    const held = live[input]
    if (held.length > 40 && rand(3) === 0 && !(rightAppendOnly && input === 1)) {
      yield { input, rows: held.splice(rand(held.length - 5), 1 + rand(5)), sign: -1 }
    } else {
      const rows: Value[][] = []
      for (let i = 0, n = 1 + rand(4); i < n; i++)
        rows.push([rand(25) === 0 ? null : BigInt(rand(40)), BigInt(rand(8))]) // duplicates, NULL keys
      held.push(...rows)
      yield { input, rows, sign: 1 }
    }
  }
}

const CASES: [JoinType, boolean, boolean][] = [
  ['inner', false, false],
  ['left', false, false],
  ['right', false, false],
  ['full', false, false],
  ['full', true, false],
  ['left', true, true],
]

describe('HashJoin over a state table', () => {
  // 1 byte: nothing fits, every bucket not used lately is evicted; 3 kB: some fit; 100 MB: all fit.
  for (const [type, withResidual, rightAppendOnly] of CASES)
    it.each([1, 3_000, 100_000_000])(
      `${type}${withResidual ? ' with a residual' : ''}${rightAppendOnly ? ', append-only right' : ''}: evicts, reloads and restores lazily without changing a result (cache %i B)`,
      async (bytes) => {
        const joinSpec = spec(type, withResidual, rightAppendOnly)
        const plain = new HashJoin(joinSpec)
        const plainOut = new Held()
        const store = new MemoryStore()
        const cache = new EngineStateCache(bytes)
        let op = new HashJoin(joinSpec)
        op.attachStore(operatorStore(store, cache))
        const out = new Held()
        let step = 0
        let evictions = 0
        let pending: ((store: MemoryStore) => Promise<void>) | undefined
        for (const { input, rows, sign } of workload(11, 1500, rightAppendOnly)) {
          plain.onChunk(chunkFromRows(2, rows, sign), input, plainOut)
          op.onChunk(chunkFromRows(2, rows, sign), input, out)
          ++step
          await new Promise((resolve) => setImmediate(resolve)) // as the engine: other work interleaves
          if (pending !== undefined) {
            await pending(store) // the batch lands after the input that followed its collect
            pending = undefined
          } else if (step % 3 === 0) pending = collect(op)
          if (step % 50 === 0) {
            expect(out.counted()).toEqual(plainOut.counted())
            expect(op.stateSize()).toBe(plain.stateSize())
          }
          if (step % 97 === 0) {
            // A crash and restart: a fresh operator over the store, its row entries restored and
            // its cold tier left on disk; then the input continues.
            if (pending !== undefined) await pending(store)
            pending = undefined
            await collect(op)(store)
            evictions += cache.all()[0].evictions
            op.detachStore()
            op = new HashJoin(joinSpec)
            op.attachStore(operatorStore(store, cache))
            const restored = await restore(op, store)
            if (bytes === 1) expect(restored).toBeLessThan(plain.stateSize())
            expect(op.stateSize()).toBe(plain.stateSize())
          }
        }
        expect(out.counted()).toEqual(plainOut.counted())
        if (bytes < 1_000_000) expect(evictions + cache.all()[0].evictions).toBeGreaterThan(0)
        else expect(evictions + cache.all()[0].evictions).toBe(0)
      },
    )

  it('writes no state table without a store (pull queries, checkpoints off)', () => {
    const op = new HashJoin(spec('full', false))
    const out = new Held()
    op.onChunk(chunkFromRows(2, [[1n, 1n]]), 0, out)
    expect(op.restoreBelow).toBeUndefined()
  })
})
