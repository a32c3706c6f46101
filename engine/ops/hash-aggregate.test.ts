// HashAggregate's slot-based state: window close frees groups and their slots are reused by
// later windows, a group retracted to nothing is forgotten, and a checkpoint's pages rebuild an
// operator that goes on exactly like the original, in the same slots.
import { describe, expect, it } from 'vitest'
import { decodeSnapshot, encodeSnapshot } from '../state/snapshot-codec.ts'
import type { Chunk, Watermark } from '../chunk.ts'
import type { Value } from '../types/datatype.ts'
import type { CheckpointWriter, Emitter, StateEntry } from './operator.ts'
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

  it('rebuilds a windowed aggregate from its checkpoint pages and goes on as the original', () => {
    const original = new HashAggregate(SPEC)
    const out = new Collector()
    feed(original, out, [
      [1n, 'a', 5n],
      [1n, 'a', 9n],
      [2n, 'b', 1n],
      [2n, 'c', null],
    ])
    feed(original, out, [[1n, 'a', 9n]], -1)
    const pages = new Map<string, Uint8Array>()
    original.checkpoint({
      put: (k, v) => pages.set(Buffer.from(k).toString('hex'), v),
      del: (k) => pages.delete(Buffer.from(k).toString('hex')),
      clear: () => pages.clear(),
    })
    const copy = new HashAggregate(SPEC)
    copy.restore([...pages].map(([k, v]): StateEntry => [Buffer.from(k, 'hex'), v]))
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
    // Closing window 1 frees the same groups in both.
    original.onWatermark({ kind: 'watermark', column: 0, value: 1n as unknown as number }, 0, out)
    copy.onWatermark({ kind: 'watermark', column: 0, value: 1n as unknown as number }, 0, outCopy)
    expect(copy.stateSize()).toBe(original.stateSize())
    expect(outCopy.held()).toEqual(out.held())
  })

  it('restores its pages into the same slots, and reads pages written without slot offsets', () => {
    // Unwindowed: groups k0..k299 (int8 sums, a retracting max, a distinct count: every kind of
    // accumulator column), then a third retracted to nothing so the pages have holes.
    const spec: HashAggregateSpec = {
      keyTypes: [T.text],
      calls: [call('count', -1), call('sum', 1), call('max', 1), call('count', 1, T.int8, true)],
      emitOnWindowClose: false,
    }
    const feedKv = (op: HashAggregate, out: Emitter, rows: [string, bigint][], sign: 1 | -1 = 1): void =>
      op.onChunk(chunkFromRows(2, rows, sign), 0, out)
    const original = new HashAggregate(spec)
    const out = new Collector()
    const rows: [string, bigint][] = []
    for (let k = 0; k < 300; k++) rows.push([`k${k}`, BigInt(k)])
    feedKv(original, out, rows)
    feedKv(
      original,
      out,
      rows.filter((_r, i) => i % 3 === 1 || (i >= 100 && i < 164)),
      -1,
    )
    const pages = new Map<string, Uint8Array>()
    const writer = (into: Map<string, Uint8Array>, log: string[] = []): CheckpointWriter => ({
      put: (k, v) => {
        into.set(Buffer.from(k).toString('hex'), v)
        log.push(`put ${Buffer.from(k).toString('hex')}`)
      },
      del: (k) => {
        into.delete(Buffer.from(k).toString('hex'))
        log.push(`del ${Buffer.from(k).toString('hex')}`)
      },
      clear: () => {
        into.clear()
        log.push('clear')
      },
    })
    original.checkpoint(writer(pages))
    const entries = (m: Map<string, Uint8Array>): StateEntry[] =>
      [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [Buffer.from(k, 'hex'), v])
    const restored = (from: StateEntry[]): HashAggregate => {
      const op = new HashAggregate(spec)
      for (let at = 0; at < from.length; at += 2) op.restore(from.slice(at, at + 2))
      return op
    }
    const more: [string, bigint][] = [
      ['k0', 7n],
      ['k1', 8n],
      ['new', 9n],
      ['k299', 10n],
    ]
    const goOn = (op: HashAggregate): { held: string[]; pages: Map<string, Uint8Array> } => {
      const o = new Collector()
      o.rows.push(...out.rows)
      feedKv(op, o, more)
      feedKv(op, o, [['k2', 2n]], -1)
      const after = new Map(pages)
      op.checkpoint(writer(after))
      return { held: o.held(), pages: after }
    }

    // Same slots: nothing to rewrite at the next checkpoint, and the same pages after more input.
    const copy = restored(entries(pages))
    const log: string[] = []
    copy.checkpoint(writer(new Map(pages), log))
    expect(log).toEqual([])
    const expected = goOn(original)
    const again = goOn(copy)
    expect(again.held).toEqual(expected.held)
    expect(entries(again.pages)).toEqual(entries(expected.pages))

    // Pages as written before slot offsets (groups only): read, renumbered, rewritten in full.
    const old = new Map([...pages].map(([k, v]) => [k, encodeSnapshot((decodeSnapshot(v) as unknown[]).slice(1))]))
    const fromOld = restored(entries(old))
    const oldLog: string[] = []
    fromOld.checkpoint(writer(new Map(old), oldLog))
    expect(oldLog[0]).toBe('clear')
    expect(oldLog.length).toBeGreaterThan(1)
    expect(oldLog.slice(1).every((l) => l.startsWith('put '))).toBe(true)
    expect(goOn(fromOld).held).toEqual(expected.held)
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
