// HashAggregate over a state table: with a cache so small that groups are evicted at every
// checkpoint, and after restarts that restore the pages and leave the cold tier on disk, the
// operator emits exactly what an all-in-memory aggregate emits, and its output scan and point
// reads see the current state. With groups in the cold tier, a new group makes no store read
// (the cold tier's filter), and after a restart misses read the store until the filter is
// rebuilt, results exact throughout.
import { describe, expect, it } from 'vitest'
import type { Value } from '../types/datatype.ts'
import type { OperatorStore } from './operator.ts'
import type { AggregateCall, HashAggregateSpec } from './hash-aggregate.ts'
import { HashAggregate } from './hash-aggregate.ts'
import { chunkFromRows, rowAt } from '../chunk.ts'
import { resolveAggregate } from '../expr/aggregates.ts'
import { T } from '../types/datatype.ts'
import { MemoryStore } from '../state/memory.ts'
import { EngineStateCache } from '../state/cache.ts'
import { Held, checkpoint, collect, operatorStore, restore, text } from './state-test-support.ts'
import { GroupSpill } from './group-spill.ts'

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
  // 1 byte: nothing fits, every group not used lately is evicted; 2.5 kB: some fit (after the
  // cold tier's filter, 1.25 kB); 100 MB: all fit.
  it.each([1, 2_500, 100_000_000])(
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

/** The operator's wiring with its store reads counted. */
function counting(store: MemoryStore, cache: EngineStateCache): { store: OperatorStore; reads: () => number } {
  const inner = operatorStore(store, cache)
  let reads = 0
  return {
    store: {
      ...inner,
      getSync: (key) => {
        reads++
        return inner.getSync(key)
      },
    },
    reads: () => reads,
  }
}

/** A restart: the operator leaves its store and a new one restores from it, reads counted. */
async function restart(
  old: HashAggregate,
  store: MemoryStore,
  cache: EngineStateCache,
): Promise<{ op: HashAggregate; wired: ReturnType<typeof counting> }> {
  old.detachStore()
  const wired = counting(store, cache)
  const op = new HashAggregate(SPEC)
  op.attachStore(wired.store)
  await restore(op, store)
  return { op, wired }
}

function spillOf(cache: EngineStateCache): GroupSpill {
  const member = cache.all()[0]
  if (!(member instanceof GroupSpill)) throw new Error('no state table')
  return member
}

describe('the cold tier filter of HashAggregate', () => {
  it('makes no store read for a new group, and reads on every miss after a restart until rebuilt', async () => {
    const plain = new HashAggregate(SPEC)
    const plainOut = new Held()
    const store = new MemoryStore()
    const cache = new EngineStateCache(1) // every group not used since the last collect is evicted
    let wired = counting(store, cache)
    let op = new HashAggregate(SPEC)
    op.attachStore(wired.store)
    const out = new Held()
    const feed = (from: number, to: number, sign: 1 | -1 = 1): void => {
      const rows: Value[][] = []
      for (let k = from; k < to; k++) rows.push([BigInt(k), BigInt(k % 7)])
      plain.onChunk(chunkFromRows(2, rows, sign), 0, plainOut)
      op.onChunk(chunkFromRows(2, rows, sign), 0, out)
    }
    /** Reads made by feeding [from, to). */
    const readsOf = (from: number, to: number, sign: 1 | -1 = 1): number => {
      const before = wired.reads()
      feed(from, to, sign)
      return wired.reads() - before
    }

    // 2,000 groups, evicted (a group's second chance takes a second checkpoint).
    for (let k = 0; k < 2000; k += 200) {
      expect(readsOf(k, k + 200)).toBeLessThan(10) // new groups: only false positives read
      await checkpoint(op, store)
    }
    await checkpoint(op, store)
    await checkpoint(op, store)
    expect(op.fullyInMemory()).toBe(false)
    expect(spillOf(cache).filterComplete).toBe(true)

    // 1,000 new groups: no read but the filter's false positives (about 1 %).
    expect(readsOf(10_000, 11_000)).toBeLessThan(40)
    // Old groups read their cold entry; retracting half of them empties some.
    expect(readsOf(0, 1000, -1)).toBe(1000)
    await checkpoint(op, store)
    await checkpoint(op, store)
    await checkpoint(op, store)
    expect(out.sorted()).toEqual(plainOut.sorted())

    // A restart: the filter does not know the cold tier, so a miss reads the store.
    ;({ op, wired } = await restart(op, store, cache))
    expect(op.fullyInMemory()).toBe(false)
    expect(spillOf(cache).filterComplete).toBe(false)
    expect(readsOf(20_000, 20_100)).toBe(100)
    // The first durable checkpoint starts the rebuild (three cold entries a macrotask in this
    // store); meanwhile input goes on, more groups are evicted and others read back.
    await checkpoint(op, store)
    let round = 0
    while (!spillOf(cache).filterComplete) {
      const at = 30_000 + 10 * round
      feed(at, at + 10) // new groups, evicted by the checkpoints below while the scan runs
      feed(round % 2000, (round % 2000) + 1) // an old group, read back
      if (round % 3 === 0) await checkpoint(op, store)
      await new Promise((resolve) => setImmediate(resolve))
      round++
    }
    expect(round).toBeGreaterThan(10)
    await checkpoint(op, store)
    await checkpoint(op, store)

    // Complete: new groups make no read again; groups evicted before and during the rebuild,
    // and those restored cold, are all found.
    expect(readsOf(1_000_000, 1_001_000)).toBeLessThan(40)
    const evictedDuring = 30_000 + 10 * round
    expect(readsOf(30_000, evictedDuring)).toBeGreaterThanOrEqual(10 * round - 50)
    expect(readsOf(1000, 2000)).toBeGreaterThan(900)
    expect(readsOf(20_000, 20_100)).toBeGreaterThan(90)
    expect(out.sorted()).toEqual(plainOut.sorted())
    expect(await scanAll(op)).toEqual(plainOut.sorted())
    const spill = spillOf(cache)
    expect(spill.filtered).toBeGreaterThan(950)
    // The filter counts in the operator's cached bytes.
    expect(spill.cachedBytes()).toBeGreaterThanOrEqual(spill.filterBytes)
    expect(spill.filterBytes).toBeGreaterThan(0)
  })

  it('is completed by a whole output scan after a restart (a pull query reads the same range)', async () => {
    const store = new MemoryStore()
    const cache = new EngineStateCache(1)
    let wired = counting(store, cache)
    let op = new HashAggregate(SPEC)
    op.attachStore(wired.store)
    const rows: Value[][] = []
    for (let k = 0; k < 500; k++) rows.push([BigInt(k), 1n])
    op.onChunk(chunkFromRows(2, rows), 0, new Held())
    for (let c = 0; c < 3; c++) await checkpoint(op, store)
    ;({ op, wired } = await restart(op, store, cache))
    expect(op.fullyInMemory()).toBe(false)
    // A scan stopped early leaves the filter incomplete; a whole one completes it.
    for await (const _piece of op.openOutputScan(7)) break
    expect(spillOf(cache).filterComplete).toBe(false)
    expect(await scanAll(op)).toHaveLength(500)
    expect(spillOf(cache).filterComplete).toBe(true)
    const before = wired.reads()
    const fresh: Value[][] = []
    for (let k = 1000; k < 1500; k++) fresh.push([BigInt(k), 1n])
    op.onChunk(chunkFromRows(2, fresh), 0, new Held())
    expect(wired.reads() - before).toBeLessThan(20)
    // A group restored cold is still read.
    op.onChunk(chunkFromRows(2, [[7n, 1n]]), 0, new Held())
    expect(op.outputRowOf([7n])?.map(String)).toEqual(['7', '2', '2', '1', '1'])
  })
})
