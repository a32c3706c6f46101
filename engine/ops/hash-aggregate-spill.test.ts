// HashAggregate over a state table: with a cache so small that groups are evicted at every
// checkpoint, and after restarts that restore the pages and leave the cold tier on disk, the
// operator emits exactly what an all-in-memory aggregate emits, and its output scan and point
// reads see the current state.
import { describe, expect, it } from 'vitest'
import type { Value } from '../types/datatype.ts'
import type { AggregateCall, HashAggregateSpec } from './hash-aggregate.ts'
import { HashAggregate } from './hash-aggregate.ts'
import { chunkFromRows, rowAt } from '../chunk.ts'
import { resolveAggregate } from '../expr/aggregates.ts'
import { T } from '../types/datatype.ts'
import { MemoryStore } from '../state/memory.ts'
import { EngineStateCache } from '../state/cache.ts'
import { Held, checkpoint, collect, operatorStore, restore, text } from './state-test-support.ts'

function call(name: string, arg: number, type = T.int8): AggregateCall {
  const spec = resolveAggregate(name, arg < 0 ? [] : [type], false)!
  return { label: name, arg, arg2: -1, returnType: spec.returnType, create: () => spec.create() }
}

/** Keys (k int8), then arguments (v int8). */
const SPEC: HashAggregateSpec = {
  keyTypes: [T.int8],
  calls: [call('count', -1), call('sum', 1), call('min', 1), call('max', 1)],
  emitOnWindowClose: false,
}

/** Deterministic pseudo-random rows with retractions of earlier ones. */
function* workload(seed: number, steps: number): Generator<{ rows: Value[][]; sign: 1 | -1 }> {
  let x = seed
  const rand = (n: number): number => {
    x = (x * 1103515245 + 12345) & 0x7fffffff
    return x % n
  }
  const live: Value[][] = []
  for (let s = 0; s < steps; s++) {
    if (live.length > 10 && rand(2) === 0) {
      const rows = live.splice(rand(live.length - 5), 1 + rand(5))
      yield { rows, sign: -1 }
    } else {
      const rows: Value[][] = []
      for (let i = 0, n = 1 + rand(4); i < n; i++) rows.push([BigInt(rand(60)), BigInt(rand(1000) - 500)])
      live.push(...rows)
      yield { rows, sign: 1 }
    }
  }
}

async function scanAll(op: HashAggregate): Promise<string[]> {
  const out: string[] = []
  for await (const c of op.openOutputScan(7)) for (let i = 0; i < c.length; i++) out.push(text(rowAt(c, i)))
  return out.sort()
}

describe('HashAggregate over a state table', () => {
  // 1 byte: nothing fits, every group not used lately is evicted; 1.5 kB: some fit; 100 MB: all fit.
  it.each([1, 1_500, 100_000_000])(
    'evicts, reloads and restores lazily without changing a result (cache %i B)',
    async (bytes) => {
      const plain = new HashAggregate(SPEC)
      const plainOut = new Held()
      const store = new MemoryStore()
      const cache = new EngineStateCache(bytes)
      let op = new HashAggregate(SPEC)
      op.attachStore(operatorStore(store, cache))
      const out = new Held()
      let step = 0
      let pending: ((store: MemoryStore) => Promise<void>) | undefined
      for (const { rows, sign } of workload(7, 2000)) {
        plain.onChunk(chunkFromRows(2, rows, sign), 0, plainOut)
        op.onChunk(chunkFromRows(2, rows, sign), 0, out)
        ++step
        await new Promise((resolve) => setImmediate(resolve)) // as the engine: other work interleaves
        if (pending !== undefined) {
          await pending(store)
          pending = undefined
        } else if (step % 3 === 0) pending = collect(op)
        if (step % 50 === 0) {
          // Between checkpoints, the scan overlays the changed groups on the store.
          expect(await scanAll(op)).toEqual(plainOut.sorted())
          expect(op.outputRowCount()).toBe(plainOut.rows.size)
        }
        if (step % 97 === 0) {
          // A crash and restart: a fresh operator over the store, its pages restored and its
          // cold tier left on disk; then the input continues.
          if (pending !== undefined) await pending(store)
          pending = undefined
          await checkpoint(op, store)
          op.detachStore()
          op = new HashAggregate(SPEC)
          op.attachStore(operatorStore(store, cache))
          await restore(op, store)
          if (bytes === 1) expect(op.fullyInMemory()).toBe(op.outputRowCount() === 0)
          if (bytes > 1_000_000) expect(op.fullyInMemory()).toBe(true)
        }
      }
      expect(out.sorted()).toEqual(plainOut.sorted())
      expect(await scanAll(op)).toEqual(plainOut.sorted())
      const member = cache.all()[0]
      if (bytes < 1_000_000) expect(member.evictions).toBeGreaterThan(0)
      for (let k = 0; k < 60; k++) {
        const row = op.outputRowOf([BigInt(k)])
        const expected = plainOut.sorted().find((r) => r.startsWith(`["${k}",`))
        expect(row === undefined ? undefined : text(row)).toBe(expected)
      }
    },
  )
})
