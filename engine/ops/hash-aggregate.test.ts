// HashAggregate's slot-based state: window close frees groups and their slots are reused by
// later windows, a group retracted to nothing is forgotten, and a checkpoint's group states
// rebuild an operator that goes on exactly like the original.
import { describe, expect, it } from 'vitest'
import { decodeSnapshot, encodeSnapshot } from '../state/snapshot-codec.ts'
import type { Chunk, Watermark } from '../chunk.ts'
import type { Value } from '../types/datatype.ts'
import type { Emitter } from './operator.ts'
import type { AggregateCall, HashAggregateSpec } from './hash-aggregate.ts'
import { HashAggregate } from './hash-aggregate.ts'
import { chunkFromRows, rowAt } from '../chunk.ts'
import { resolveAggregate } from '../expr/aggregates.ts'
import { T } from '../types/datatype.ts'

function call(name: string, arg: number, type = T.int8, distinct = false): AggregateCall {
  const spec = resolveAggregate(name, arg < 0 ? [] : [type], distinct)!
  return { label: name, arg, arg2: -1, returnType: spec.returnType, create: () => spec.create() }
}

/** Keys (window_end int8, k text), then arguments (v int8). */
const SPEC: HashAggregateSpec = {
  keyTypes: [T.int8, T.text],
  calls: [call('count', -1), call('sum', 2), call('max', 2), call('count', 2, T.int8, true)],
  windowKey: 0,
  emitOnWindowClose: false,
}

class Collector implements Emitter {
  readonly rows: { op: number; row: Value[] }[] = []
  chunk(c: Chunk): void {
    for (let i = 0; i < c.length; i++) this.rows.push({ op: c.ops[i], row: rowAt(c, i) })
  }
  watermark(_w: Watermark): void {}
  /** The multiset of rows currently held downstream, as sorted text. */
  held(): string[] {
    const counts = new Map<string, number>()
    for (const { op, row } of this.rows) {
      const k = JSON.stringify(row, (_k, v: unknown) =>
        typeof v === 'bigint' || (typeof v === 'object' && v !== null && !Array.isArray(v)) ? String(v) : v,
      )
      counts.set(k, (counts.get(k) ?? 0) + op)
    }
    return [...counts]
      .filter(([, n]) => n !== 0)
      .map(([k, n]) => `${k} x${n}`)
      .sort()
  }
}

function feed(op: HashAggregate, out: Emitter, rows: Value[][], sign: 1 | -1 = 1): void {
  op.onChunk(chunkFromRows(3, rows, sign), 0, out)
}

describe('HashAggregate', () => {
  it('frees closed windows and reuses their slots', () => {
    const op = new HashAggregate(SPEC)
    const out = new Collector()
    for (let w = 1; w <= 50; w++) {
      const rows: Value[][] = []
      for (let k = 0; k < 100; k++) rows.push([BigInt(w), `k${k}`, BigInt(k)], [BigInt(w), `k${k}`, BigInt(k + 1)])
      feed(op, out, rows)
      expect(op.stateSize()).toBe(100)
      op.onWatermark({ kind: 'watermark', column: 0, value: BigInt(w) as unknown as number }, 0, out)
      expect(op.stateSize()).toBe(0)
    }
    const held = out.held()
    expect(held).toHaveLength(5000)
    expect(held).toContain('["50","k7","2","15","8","2"] x1')
  })

  it('forgets a group retracted to nothing, in its window too', () => {
    const op = new HashAggregate(SPEC)
    const out = new Collector()
    feed(op, out, [
      [1n, 'a', 5n],
      [1n, 'b', 6n],
    ])
    feed(op, out, [[1n, 'a', 5n]], -1)
    expect(op.stateSize()).toBe(1)
    feed(op, out, [[1n, 'c', 7n]])
    expect(out.held()).toEqual(['["1","b","1","6","6","1"] x1', '["1","c","1","7","7","1"] x1'])
    op.onWatermark({ kind: 'watermark', column: 0, value: 1 }, 0, out)
    expect(op.stateSize()).toBe(0)
  })

  it('rebuilds from its group states and goes on as the original', () => {
    const original = new HashAggregate(SPEC)
    const out = new Collector()
    feed(original, out, [
      [1n, 'a', 5n],
      [1n, 'a', 9n],
      [2n, 'b', 1n],
      [2n, 'c', null],
    ])
    feed(original, out, [[1n, 'a', 9n]], -1)
    const states = [...original.groupStates()]
    expect(states).toHaveLength(3)
    const copy = new HashAggregate(SPEC)
    // Accumulator snapshots are JSON; keys and emitted rows are SQL values (a row codec's job).
    for (const s of states) copy.restoreGroup({ ...s, accs: decodeSnapshot(encodeSnapshot(s.accs)) as unknown[] })
    expect(copy.stateSize()).toBe(3)
    const outCopy = new Collector()
    outCopy.rows.push(...out.rows)
    const more: Value[][] = [
      [1n, 'a', 2n],
      [2n, 'c', 3n],
      [3n, 'd', 4n],
    ]
    feed(original, out, more)
    feed(copy, outCopy, more)
    feed(original, out, [[2n, 'b', 1n]], -1)
    feed(copy, outCopy, [[2n, 'b', 1n]], -1)
    expect(outCopy.held()).toEqual(out.held())
    expect([...copy.groupStates()].map((s) => s.key)).toEqual(
      expect.arrayContaining([...original.groupStates()].map((s) => s.key)),
    )
  })

  it('keeps one row for a global aggregate, also when every row is retracted', () => {
    const op = new HashAggregate({ keyTypes: [], calls: [call('count', -1), call('sum', 0)], emitOnWindowClose: false })
    const out = new Collector()
    op.onStart(out)
    expect(out.held()).toEqual(['["0",null] x1'])
    op.onChunk(chunkFromRows(1, [[4n], [5n]]), 0, out)
    op.onChunk(chunkFromRows(1, [[4n], [5n]], -1), 0, out)
    expect(out.held()).toEqual(['["0",null] x1'])
  })
})
