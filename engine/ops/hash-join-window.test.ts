// A join on a closing key (window_start out of window aggregates) frees a window's buckets once
// both inputs' watermarks passed it: on random windowed input with retractions and watermarks
// that keep their promise, it emits exactly what a join that never frees emits, change for
// change, for every join type; its state is the never-freeing join's minus the closed windows;
// and it survives checkpoints, restores (also from a checkpoint written by a join that did not
// free) and a state table with a cache too small to hold anything.
import { describe, expect, it } from 'vitest'
import type { Chunk, Watermark } from '../chunk.ts'
import type { Value } from '../types/datatype.ts'
import type { CheckpointWriter, Emitter, StateEntry } from './operator.ts'
import type { HashJoinSpec, JoinType } from './hash-join.ts'
import type { PredicateFn } from './filter-project.ts'
import { HashJoin } from './hash-join.ts'
import { JOIN_COLD_PREFIX, JOIN_DIR_ENTRY, ROW_ENTRY, rowKey } from './join-table.ts'
import { chunkFromRows, rowAt } from '../chunk.ts'
import { T } from '../types/datatype.ts'
import { decodeSnapshot, encodeSnapshot } from '../state/snapshot-codec.ts'
import { MemoryStore } from '../state/memory.ts'
import { EngineStateCache } from '../state/cache.ts'
import { collect, operatorStore, restore, text } from './state-test-support.ts'
import { rng } from '../../test/support.ts'

/** Rows on both sides: [window_start (timestamp), k, v]; windows start at multiples of 10 µs. */
const TYPES = [T.timestamp, T.int8, T.int8]
const WS = 0
const WIDTH = 3

/** left.v < right.v. */
const residual: PredicateFn = (chunk) => {
  const out = new Uint8Array(chunk.length)
  for (let i = 0; i < chunk.length; i++) {
    const a = chunk.columns[2][i]
    const b = chunk.columns[5][i]
    out[i] = a !== null && b !== null && (a as bigint) < (b as bigint) ? 1 : 0
  }
  return out
}

interface Case {
  readonly type: JoinType
  readonly residual: boolean
  /** Keys (window_start, k) in this order, or (k, window_start). */
  readonly wsFirst: boolean
  readonly leftAppendOnly: boolean
}

function spec(c: Case, frees: boolean): HashJoinSpec {
  const keys = c.wsFirst ? [WS, 1] : [1, WS]
  return {
    type: c.type,
    leftKeys: keys,
    rightKeys: keys,
    leftTypes: TYPES,
    rightTypes: TYPES,
    residual: c.residual ? residual : undefined,
    leftAppendOnly: c.leftAppendOnly,
    closing: frees ? (c.wsFirst ? 0 : 1) : undefined,
    detail: c.type,
  }
}

type Step =
  | { readonly kind: 'rows'; readonly input: 0 | 1; readonly rows: Value[][]; readonly sign: 1 | -1 }
  | { readonly kind: 'watermark'; readonly input: 0 | 1; readonly w: Watermark }

/**
 * Changes on both inputs that keep the watermarks' promise: after a watermark v on window_start
 * of an input, no change of that input has window_start ≤ v (as window aggregates emit). Rows
 * without a window_start or k (NULL keys) never close. Some watermarks are on another column.
 */
/**
 * One workload step into the join that never frees and the one under test; `wm` follows the
 * inputs' watermarks on window_start.
 */
function feedBoth(s: Step, plain: HashJoin, plainOut: Emitter, op: HashJoin, out: Emitter, wm: number[]): void {
  if (s.kind === 'rows') {
    plain.onChunk(chunkFromRows(WIDTH, s.rows, s.sign), s.input, plainOut)
    op.onChunk(chunkFromRows(WIDTH, s.rows, s.sign), s.input, out)
  } else {
    plain.onWatermark(s.w, s.input, plainOut)
    op.onWatermark(s.w, s.input, out)
    if (s.w.column === WS) wm[s.input] = Math.max(wm[s.input], s.w.value)
  }
}

function* workload(seed: number, steps: number, leftAppendOnly: boolean): Generator<Step> {
  const rand = rng(seed)
  const r = (n: number): number => Math.floor(rand() * n)
  const wm = [-10, -10]
  const live: [Value[][], Value[][]] = [[], []]
  for (let s = 0; s < steps; s++) {
    const input = r(2) as 0 | 1
    const roll = r(12)
    if (roll === 0) {
      wm[input] += 10 * r(3) // sometimes unchanged
      live[input] = live[input].filter((row) => row[WS] === null || (row[WS] as number) > wm[input])
      yield { kind: 'watermark', input, w: { kind: 'watermark', column: WS, value: wm[input] } }
    } else if (roll === 1) {
      yield { kind: 'watermark', input, w: { kind: 'watermark', column: 2, value: 100 * s } }
    } else if (roll <= 4 && live[input].length > 6 && !(leftAppendOnly && input === 0)) {
      const held = live[input]
      yield { kind: 'rows', input, rows: held.splice(r(held.length - 3), 1 + r(3)), sign: -1 }
    } else {
      const rows: Value[][] = []
      for (let i = 0, n = 1 + r(4); i < n; i++)
        rows.push([r(20) === 0 ? null : wm[input] + 10 * (1 + r(4)), r(15) === 0 ? null : BigInt(r(4)), BigInt(r(4))])
      live[input].push(...rows)
      yield { kind: 'rows', input, rows, sign: 1 }
    }
  }
}

/** Every output change in order: op, then the row. */
class Changes implements Emitter {
  readonly list: string[] = []
  chunk(c: Chunk): void {
    for (let i = 0; i < c.length; i++) this.list.push(`${c.ops[i]} ${text(rowAt(c, i))}`)
  }
  watermark(_w: Watermark): void {}
}

const discard: Emitter = { chunk: () => {}, watermark: () => {} }

/** A checkpoint kept in memory: entries by key, as the store holds them after each batch. */
class Snapshot implements CheckpointWriter {
  private readonly entries = new Map<string, StateEntry>()
  put(key: Uint8Array, value: Uint8Array): void {
    this.entries.set(Buffer.from(key).toString('hex'), [key, value])
  }
  del(key: Uint8Array): void {
    this.entries.delete(Buffer.from(key).toString('hex'))
  }
  clear(): void {
    this.entries.clear()
  }
  copy(): Snapshot {
    const out = new Snapshot()
    for (const [k, e] of this.entries) out.entries.set(k, e)
    return out
  }
  /** The entries in key order, as recovery reads them. */
  list(): StateEntry[] {
    return [...this.entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e)
  }
  /** The stored rows (side, count, matches, row) as text, sorted. */
  rows(keep: (row: readonly Value[]) => boolean = () => true): string[] {
    const out: string[] = []
    for (const [key, value] of this.entries.values()) {
      if (key[0] !== ROW_ENTRY || key.length !== 9) continue
      const [side, count, matches, row] = decodeSnapshot(value) as [number, number, number, Value[]]
      if (keep(row)) out.push(text([side, count, matches, ...row]))
    }
    return out.sort()
  }
}

/** Whether a stored row outlives windows closed up to `bound` (NULL keys never close). */
function open(bound: number): (row: readonly Value[]) => boolean {
  return (row) => row[WS] === null || row[1] === null || (row[WS] as number) > bound
}

const CASES: Case[] = [
  { type: 'inner', residual: false, wsFirst: true, leftAppendOnly: false },
  { type: 'inner', residual: true, wsFirst: false, leftAppendOnly: true },
  { type: 'left', residual: false, wsFirst: false, leftAppendOnly: false },
  { type: 'right', residual: true, wsFirst: true, leftAppendOnly: false },
  { type: 'full', residual: false, wsFirst: true, leftAppendOnly: true },
  { type: 'full', residual: true, wsFirst: false, leftAppendOnly: false },
]

const name = (c: Case): string =>
  `${c.type}${c.residual ? ' with a residual' : ''}, key ${c.wsFirst ? 'first' : 'second'}${c.leftAppendOnly ? ', append-only left' : ''}`

describe('HashJoin freeing closed windows', () => {
  for (const c of CASES)
    it(`${name(c)}: same changes as a join that never frees, state minus closed windows, restores`, () => {
      const plain = new HashJoin(spec(c, false))
      const plainOut = new Changes()
      const plainCk = new Snapshot()
      let op = new HashJoin(spec(c, true))
      const out = new Changes()
      let ck = new Snapshot()
      const wm = [-Infinity, -Infinity]
      let step = 0
      let shrank = false
      for (const s of workload(7, 2500, c.leftAppendOnly)) {
        step++
        feedBoth(s, plain, plainOut, op, out, wm)
        if (step % 40 === 0) {
          plain.checkpoint(plainCk)
          op.checkpoint(ck)
          const bound = Math.min(wm[0], wm[1])
          // The freeing join holds exactly the never-freeing one's rows of open windows.
          expect(ck.rows()).toEqual(plainCk.rows(open(bound)))
          expect(op.stateSize()).toBe(plainCk.rows(open(bound)).length)
          if (op.stateSize() < plain.stateSize()) shrank = true
        }
        if (step % 400 === 0) {
          // A restart: a fresh operator restored from the last checkpoint (every other time one
          // written by the join that never frees, as a view's checkpoint from before freeing),
          // then the runtime replays the watermarks.
          const from = step % 800 === 0 ? plainCk : ck
          op = new HashJoin(spec(c, true))
          op.restore(from.list())
          for (const input of [0, 1] as const)
            if (wm[input] > -Infinity)
              op.onWatermark({ kind: 'watermark', column: WS, value: wm[input] }, input, discard)
          ck = from.copy() // the store the restored operator writes on
          op.checkpoint(ck)
          expect(op.stateSize()).toBe(plainCk.rows(open(Math.min(wm[0], wm[1]))).length)
        }
        expect(out.list.length).toBe(plainOut.list.length)
      }
      expect(out.list).toEqual(plainOut.list)
      expect(shrank).toBe(true)
      // Closing every window frees all but the NULL-key rows.
      for (const input of [0, 1] as const) op.onWatermark({ kind: 'watermark', column: WS, value: 1e9 }, input, out)
      op.checkpoint(ck)
      expect(ck.rows()).toEqual(ck.rows((row) => row[WS] === null || row[1] === null))
      expect(op.stateSize()).toBe(ck.rows().length)
      expect(out.list).toEqual(plainOut.list) // freeing emitted nothing
    })

  it('frees only once both inputs closed a window, and only buckets at or below it', () => {
    const c = CASES[0]
    const op = new HashJoin(spec(c, true))
    const out = new Changes()
    op.onChunk(
      chunkFromRows(WIDTH, [
        [10, 1n, 1n],
        [20, 1n, 1n],
        [30, 1n, 1n],
      ]),
      0,
      out,
    )
    op.onChunk(
      chunkFromRows(WIDTH, [
        [10, 1n, 2n],
        [20, 1n, 2n],
      ]),
      1,
      out,
    )
    expect(op.stateSize()).toBe(5)
    op.onWatermark({ kind: 'watermark', column: WS, value: 20 }, 0, out)
    expect(op.stateSize()).toBe(5) // the right input may still change window 10 and 20
    op.onWatermark({ kind: 'watermark', column: 1, value: 20 }, 1, out) // not the closing column
    expect(op.stateSize()).toBe(5)
    op.onWatermark({ kind: 'watermark', column: WS, value: 10 }, 1, out)
    expect(op.stateSize()).toBe(3)
    op.onWatermark({ kind: 'watermark', column: WS, value: 25 }, 1, out)
    expect(op.stateSize()).toBe(1) // window 30 of the left input stays open
    expect(out.list).toEqual(['1 [10,"1","1",10,"1","2"]', '1 [20,"1","1",20,"1","2"]'])
  })

  it('restores row entries written in the shape before freeing, and frees them', () => {
    const op = new HashJoin(spec(CASES[2], true))
    const entries: StateEntry[] = [
      [rowKey(0), encodeSnapshot([0, 1, 0, [10, 1n, 5n]])],
      [rowKey(1), encodeSnapshot([0, 2, 1, [20, 2n, 5n]])],
      [rowKey(2), encodeSnapshot([1, 1, 0, [20, 2n, 7n]])],
    ]
    op.restore(entries)
    expect(op.stateSize()).toBe(3)
    const out = new Changes()
    op.onChunk(chunkFromRows(WIDTH, [[20, 2n, 8n]]), 1, out)
    expect(out.list).toEqual(['1 [20,"2","5",20,"2","8"]', '1 [20,"2","5",20,"2","8"]'])
    expect(op.stateSize()).toBe(4)
    op.onWatermark({ kind: 'watermark', column: WS, value: 10 }, 0, out)
    op.onWatermark({ kind: 'watermark', column: WS, value: 15 }, 1, out)
    expect(op.stateSize()).toBe(3) // window 10 closed on both inputs
    op.onWatermark({ kind: 'watermark', column: WS, value: 20 }, 0, out)
    op.onWatermark({ kind: 'watermark', column: WS, value: 20 }, 1, out)
    expect(op.stateSize()).toBe(0)
    const ck = new Snapshot()
    op.checkpoint(ck)
    expect(ck.rows()).toEqual([])
    expect(out.list).toHaveLength(2)
  })

  it('finds a restored row with a partly NULL key when it is retracted', () => {
    const c = CASES[2] // left join on (k, window_start)
    const op = new HashJoin(spec(c, false))
    const out = new Changes()
    op.onChunk(chunkFromRows(WIDTH, [[10, null, 1n]]), 0, out)
    const ck = new Snapshot()
    op.checkpoint(ck)
    const restored = new HashJoin(spec(c, true))
    restored.restore(ck.list())
    restored.onChunk(chunkFromRows(WIDTH, [[10, null, 1n]], -1), 0, out)
    expect(out.list).toEqual(['1 [10,null,"1",null,null,null]', '-1 [10,null,"1",null,null,null]'])
    expect(restored.stateSize()).toBe(0)
  })

  for (const restart of [false, true])
    it(`over a state table with a 1-byte cache${restart ? ' and restarts' : ''}: same changes, closed buckets leave both tiers`, async () => {
      const c = CASES[5]
      const plain = new HashJoin(spec(c, false))
      const plainOut = new Changes()
      const plainCk = new Snapshot()
      const store = new MemoryStore()
      const cache = new EngineStateCache(1)
      let op = new HashJoin(spec(c, true))
      op.attachStore(operatorStore(store, cache))
      const out = new Changes()
      const wm = [-Infinity, -Infinity]
      let step = 0
      let directories = 0 // cold buckets' directory entries seen at restarts
      for (const s of workload(3, 1500, false)) {
        step++
        feedBoth(s, plain, plainOut, op, out, wm)
        if (step % 5 === 0) await collect(op)(store)
        if (step % 50 === 0) {
          plain.checkpoint(plainCk)
          expect(op.stateSize()).toBe(plainCk.rows(open(Math.min(wm[0], wm[1]))).length)
        }
        if (restart && step % 300 === 0) {
          await collect(op)(store)
          op.detachStore()
          op = new HashJoin(spec(c, true))
          op.attachStore(operatorStore(store, cache))
          await restore(op, store)
          for await (const batch of store.scanBatches(new Uint8Array([9, 9, JOIN_DIR_ENTRY]), {}))
            directories += batch.length
          for (const input of [0, 1] as const)
            if (wm[input] > -Infinity)
              op.onWatermark({ kind: 'watermark', column: WS, value: wm[input] }, input, discard)
        }
      }
      expect(out.list).toEqual(plainOut.list)
      for (const input of [0, 1] as const) op.onWatermark({ kind: 'watermark', column: WS, value: 1e9 }, input, out)
      await collect(op)(store)
      await collect(op)(store)
      plain.checkpoint(plainCk)
      expect(op.stateSize()).toBe(plainCk.rows(open(1e9)).length)
      // No cold entry or directory entry is left (NULL-key buckets never leave memory, every other
      // one closed), also of buckets that were cold at a restart.
      let cold = 0
      for await (const batch of store.scanBatches(new Uint8Array([9, 9, ...JOIN_COLD_PREFIX]), {})) cold += batch.length
      for await (const batch of store.scanBatches(new Uint8Array([9, 9, JOIN_DIR_ENTRY]), {})) cold += batch.length
      expect(cold).toBe(0)
      if (restart) expect(directories).toBeGreaterThan(0)
    })
})
