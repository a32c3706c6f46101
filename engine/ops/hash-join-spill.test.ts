// HashJoin over a state table: with a cache so small that buckets are evicted at every
// checkpoint, with checkpoints whose batch lands after more input, and after restarts that
// restore only the row entries, the join emits exactly what an all-in-memory join emits. A join
// key never evicted makes no store read (the cold tier's filter), also after a restart once the
// filter is rebuilt.
import { describe, expect, it } from 'vitest'
import type { Value } from '../types/datatype.ts'
import type { OperatorStore } from './operator.ts'
import type { HashJoinSpec, JoinType } from './hash-join.ts'
import type { PredicateFn } from './filter-project.ts'
import { HashJoin } from './hash-join.ts'
import { chunkFromRows } from '../chunk.ts'
import { T } from '../types/datatype.ts'
import { MemoryStore } from '../state/memory.ts'
import { EngineStateCache } from '../state/cache.ts'
import { Held, checkpoint, collect, operatorStore, restore } from './state-test-support.ts'
import { GroupSpill } from './group-spill.ts'

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
  // 1 byte: nothing fits, every bucket not used lately is evicted; 4.5 kB: some fit (after the
  // cold tier's filter, 1.25 kB); 100 MB: all fit.
  for (const [type, withResidual, rightAppendOnly] of CASES)
    it.each([1, 4_500, 100_000_000])(
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

describe('the cold tier filter of HashJoin', () => {
  it('makes no store read for a new join key on either side, also once rebuilt after a restart', async () => {
    const joinSpec = spec('full', false)
    const plain = new HashJoin(joinSpec)
    const plainOut = new Held()
    const store = new MemoryStore()
    const cache = new EngineStateCache(1)
    let reads = 0
    const wire = (): OperatorStore => {
      const inner = operatorStore(store, cache)
      return {
        ...inner,
        getSync: (key) => {
          reads++
          return inner.getSync(key)
        },
      }
    }
    let op = new HashJoin(joinSpec)
    op.attachStore(wire())
    const out = new Held()
    /** Store reads made by rows with keys [from, to) on `input`. */
    const readsOf = (input: 0 | 1, from: number, to: number): number => {
      const rows: Value[][] = []
      for (let k = from; k < to; k++) rows.push([BigInt(k), BigInt(k % 5)])
      const before = reads
      plain.onChunk(chunkFromRows(2, rows), input, plainOut)
      op.onChunk(chunkFromRows(2, rows), input, out)
      return reads - before
    }
    const spill = (): GroupSpill => {
      const member = cache.all()[0]
      if (!(member instanceof GroupSpill)) throw new Error('no state table')
      return member
    }
    for (let k = 0; k < 1000; k += 100) {
      readsOf(0, k, k + 100)
      readsOf(1, k + 50, k + 150)
      await checkpoint(op, store)
    }
    await checkpoint(op, store)
    await checkpoint(op, store)
    // New keys: without the filter, two reads a row (its own side's bucket, the other side's).
    expect(readsOf(0, 10_000, 10_500)).toBeLessThan(30)
    expect(readsOf(1, 20_000, 20_500)).toBeLessThan(30)
    // Evicted keys are read back and match.
    expect(readsOf(1, 0, 100)).toBeGreaterThan(100)
    await checkpoint(op, store)
    await checkpoint(op, store)

    op.detachStore()
    op = new HashJoin(joinSpec)
    op.attachStore(wire())
    await restore(op, store)
    expect(spill().filterComplete).toBe(false)
    expect(readsOf(0, 30_000, 30_100)).toBe(200) // incomplete: as without a filter
    await checkpoint(op, store) // starts the rebuild
    let round = 0
    for (; !spill().filterComplete; round++) {
      readsOf(round % 2 === 0 ? 0 : 1, 40_000 + 10 * round, 40_010 + 10 * round)
      if (round % 3 === 0) await checkpoint(op, store)
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(round).toBeGreaterThan(5)
    await checkpoint(op, store)
    await checkpoint(op, store)
    expect(readsOf(0, 1_000_000, 1_000_500)).toBeLessThan(30)
    // Buckets evicted before the restart, during the rebuild and after it are all found.
    expect(readsOf(1, 100, 1000)).toBeGreaterThan(900)
    expect(readsOf(0, 40_000, 40_000 + 10 * round)).toBeGreaterThan(10 * round)
    expect(readsOf(1, 10_000, 10_500)).toBeGreaterThan(500)
    expect(out.counted()).toEqual(plainOut.counted())
    expect(op.stateSize()).toBe(plain.stateSize())
    expect(spill().filtered).toBeGreaterThan(450)
  })
})
