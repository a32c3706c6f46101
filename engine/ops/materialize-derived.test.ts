// Materialize in 'derived' mode over a small StateBackedOutput: the view holds no rows, reads
// them from the source (in memory, or by an async scan captured when opened), looks a group up
// by its keys, counts rows when a filter sits between, and the readers of a relation's rows
// (pull-query scans, new dataflows, SUBSCRIBE) take them from the scan without loss or doubling.
import { describe, expect, it } from 'vitest'
import type { Chunk } from '../chunk.ts'
import type { Value } from '../types/datatype.ts'
import type { Emitter, Operator, StateBackedOutput } from './operator.ts'
import type { RelationInput } from '../runtime/dataflow.ts'
import { chunkFromRows, rowAt } from '../chunk.ts'
import { T } from '../types/datatype.ts'
import { Materialize } from './materialize.ts'
import { ScanCursor } from '../batch/cursor.ts'
import { Dataflow } from '../runtime/dataflow.ts'
import { Stream } from '../runtime/stream.ts'
import { ChangeLog } from '../exec/subscribe.ts'

/** Groups k → [k, n]; "on disk" when `inMemory` is false (the scan then awaits between pieces). */
class FakeAggregate implements Operator, StateBackedOutput {
  readonly name = 'FakeAggregate'
  readonly stateBacked = true
  readonly keyCount = 1
  inMemory = true
  readonly groups = new Map<bigint, Value[]>()
  scansOpen = 0

  onChunk(): void {}

  set(k: bigint, n: bigint | undefined): void {
    if (n === undefined) this.groups.delete(k)
    else this.groups.set(k, [k, n])
  }

  outputRowCount(): number {
    return this.groups.size
  }

  fullyInMemory(): boolean {
    return this.inMemory
  }

  currentOutput(): Chunk {
    return chunkFromRows(2, [...this.groups.values()])
  }

  openOutputScan(maxRows: number): AsyncIterable<Chunk> {
    const rows = [...this.groups.values()].map((r) => [...r])
    this.scansOpen++
    let at = 0
    let closed = false
    const close = (): void => {
      if (!closed) this.scansOpen--
      closed = true
    }
    return {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          await new Promise((r) => setImmediate(r))
          if (closed || at >= rows.length) {
            close()
            return { done: true, value: undefined }
          }
          const piece = chunkFromRows(2, rows.slice(at, at + maxRows))
          at += maxRows
          return { done: false, value: piece }
        },
        return: async () => {
          close()
          return { done: true, value: undefined }
        },
      }),
    }
  }

  outputRowOf(key: readonly Value[]): Value[] | undefined {
    const row = this.groups.get(key[0] as bigint)
    return row === undefined ? undefined : [...row]
  }
}

const none: Emitter = { chunk: () => {}, watermark: () => {} }

/** A projection [n, k] (view column 1 is the key) with `HAVING n > 1` when filtered. */
function derivedView(source: FakeAggregate, filtered: boolean): Materialize {
  const through = (rows: Chunk): Chunk => {
    const out: Value[][] = []
    for (let i = 0; i < rows.length; i++) {
      const [k, n] = rowAt(rows, i)
      if (!filtered || (n as bigint) > 1n) out.push([n, k])
    }
    return chunkFromRows(2, out, 1)
  }
  return new Materialize([T.int8, T.int8], 'derived', [], {
    source,
    through,
    sourceColumns: [1, 0],
    filtered,
  })
}

function sorted(rows: Value[][]): Value[][] {
  return rows.sort((a, b) => Number(a[1]) - Number(b[1]))
}

async function readAll(scan: AsyncIterable<Chunk>): Promise<Value[][]> {
  const out: Value[][] = []
  for await (const piece of scan) for (let i = 0; i < piece.length; i++) out.push(rowAt(piece, i))
  return out
}

describe("Materialize 'derived'", () => {
  it('forwards changes, holds nothing, and reads its rows from the source', async () => {
    const agg = new FakeAggregate()
    const view = derivedView(agg, false)
    const seen: Chunk[] = []
    agg.set(1n, 1n)
    agg.set(2n, 3n)
    view.onChunk(
      chunkFromRows(2, [
        [1n, 1n],
        [3n, 2n],
      ]),
      0,
      { chunk: (c) => seen.push(c), watermark: () => {} },
    )
    expect(seen).toHaveLength(1)
    expect(view.stateSize()).toBe(0)
    expect(view.rowCount).toBe(2)
    expect(sorted(view.snapshot())).toEqual([
      [1n, 1n],
      [3n, 2n],
    ])
    // No checkpoint entries without a filter.
    const puts: Uint8Array[] = []
    view.checkpoint({ put: (k) => puts.push(k), del: () => {}, clear: () => {} })
    expect(puts).toHaveLength(0)

    agg.inMemory = false
    expect(() => view.snapshot()).toThrow(/on disk/)
    const scan = view.derived!.openScan(1)
    // Captured when opened: later changes do not show.
    agg.set(5n, 7n)
    agg.set(1n, undefined)
    expect(sorted(await readAll(scan))).toEqual([
      [1n, 1n],
      [3n, 2n],
    ])
    expect(agg.scansOpen).toBe(0)
  })

  it('looks a group up by its key columns only, and keeps index declarations on others', () => {
    const agg = new FakeAggregate()
    agg.inMemory = false
    agg.set(1n, 4n)
    const view = derivedView(agg, false)
    expect(view.lookup([1], [1n])).toEqual([[4n, 1n]])
    expect(view.lookup([1], [9n])).toEqual([])
    // The key with another column: a superset, the caller's filter applies.
    expect(view.lookup([0, 1], [5n, 1n])).toEqual([[4n, 1n]])
    expect(view.lookup([0], [4n])).toBeUndefined()
    expect(view.servesLookup([0])).toBe(false)
    view.declareIndex('by_n', [0])
    view.declareIndex('by_k', [1])
    expect(view.declaredIndexName([0])).toBeUndefined()
    expect(view.declaredIndexName([1])).toBe('by_k')
    view.undeclareIndex('by_k')
    expect(view.declaredIndexName([1])).toBeUndefined()
  })

  it('with a filter, counts the rows it forwards and checkpoints the count', () => {
    const agg = new FakeAggregate()
    const view = derivedView(agg, true)
    agg.set(1n, 1n)
    agg.set(2n, 5n)
    view.onChunk(chunkFromRows(2, [[5n, 2n]]), 0, none)
    expect(view.rowCount).toBe(1)
    const entries: [Uint8Array, Uint8Array][] = []
    view.checkpoint({ put: (k, v) => entries.push([k, v]), del: () => {}, clear: () => {} })
    expect(entries).toHaveLength(1)
    const again = derivedView(agg, true)
    again.restore(entries)
    expect(again.rowCount).toBe(1)
    expect(again.snapshot()).toEqual([[5n, 2n]])
    // A checkpoint without the count (written before the view counted): the source's count.
    const old = derivedView(agg, true)
    old.restore([])
    expect(old.rowCount).toBe(2)
    // ...and it writes no count it cannot know.
    old.onChunk(chunkFromRows(2, [[7n, 3n]]), 0, none)
    const later: Uint8Array[] = []
    old.checkpoint({ put: (k) => later.push(k), del: () => {}, clear: () => {} })
    expect(later).toHaveLength(0)
  })
})

/** A relation over a derived view, as ddl.ts wires it. */
function relationOf(view: Materialize, stream: Stream): RelationInput {
  const rows = view.derived!
  return {
    name: 'v',
    stream,
    snapshot: () => rows.current(),
    rowsOnDisk: () => !rows.inMemory(),
    openScan: (maxRows) => rows.openScan(maxRows),
  }
}

describe('readers of a relation with rows on disk', () => {
  it('a pull-query scan returns empty pieces while a read is pending, and waits on it', async () => {
    const agg = new FakeAggregate()
    agg.inMemory = false
    for (let k = 0n; k < 10n; k++) agg.set(k, k + 10n)
    const view = derivedView(agg, false)
    const cursor = new ScanCursor('Scan', () => view.derived!.openScan(3), 2, 'v')
    cursor.open()
    expect(cursor.fromDisk).toBe(true)
    const out: Value[][] = []
    let empty = 0
    for (;;) {
      const piece = cursor.next()
      if (piece === undefined) break
      if (piece.length === 0) {
        empty++
        const w = cursor.waiting()
        expect(w).toBeDefined()
        await w
        continue
      }
      for (let i = 0; i < piece.length; i++) out.push(rowAt(piece, i))
    }
    expect(out).toHaveLength(10)
    expect(empty).toBeGreaterThan(0)
    expect(agg.scansOpen).toBe(0)
  })

  it('a scan closed early releases the source', async () => {
    const agg = new FakeAggregate()
    agg.inMemory = false
    for (let k = 0n; k < 10n; k++) agg.set(k, 1n)
    const view = derivedView(agg, false)
    const cursor = new ScanCursor('Scan', () => view.derived!.openScan(2), 2, 'v')
    cursor.open()
    await cursor.waiting()
    expect(cursor.next()!.length).toBe(2)
    cursor.close()
    await new Promise((r) => setImmediate(r))
    await new Promise((r) => setImmediate(r))
    expect(agg.scansOpen).toBe(0)
  })

  it('a new dataflow over the view backfills from the scan and holds the changes meanwhile', async () => {
    const agg = new FakeAggregate()
    agg.inMemory = false
    for (let k = 0n; k < 100n; k++) agg.set(k, 1n)
    const view = derivedView(agg, false)
    const stream = new Stream('v')
    const input = relationOf(view, stream)
    const copy = new Materialize([T.int8, T.int8])
    const dataflow = new Dataflow({ op: copy, inputs: [input], types: copy.types }, none)
    expect(dataflow.readsFromDisk()).toBe(true)
    expect(() => dataflow.attach()).toThrow(/attachInSlices/)
    let pushed = false
    const attached = dataflow.attachInSlices(async () => {
      if (!pushed) {
        // A change of the view while its rows are being read: after the snapshot, exactly once.
        pushed = true
        agg.set(0n, 2n)
        stream.push({
          columns: [
            [1n, 2n],
            [0n, 0n],
          ],
          ops: Int8Array.of(-1, 1),
          length: 2,
        })
      }
      await new Promise((r) => setImmediate(r))
    })
    await attached
    expect(copy.rowCount).toBe(100)
    expect(copy.lookup([1], [0n])).toEqual([[2n, 0n]])
    expect(copy.inconsistencies).toBe(0)
    expect(agg.scansOpen).toBe(0)
    dataflow.detach()
  })

  it('SUBSCRIBE reads the snapshot piece by piece, then the changes', async () => {
    const agg = new FakeAggregate()
    agg.inMemory = false
    for (let k = 0n; k < 10_000n; k++) agg.set(k, 1n)
    const view = derivedView(agg, false)
    const stream = new Stream('v')
    const input = relationOf(view, stream)
    const log = new ChangeLog({ name: 'v', input, columns: [], gone: () => undefined }, Date.now(), 100, () => {})
    const s = log.subscribe({})
    expect(s.readingSnapshot).toBe(true)
    expect(s.poll()).toBeUndefined()
    stream.push(chunkFromRows(2, [[1n, 10_000n]]))
    let snapshotRows = 0
    const changes: Value[][] = []
    for (;;) {
      const b = await s.next()
      if (b === undefined) break
      if (b.snapshot) {
        expect(changes).toHaveLength(0)
        snapshotRows += b.chunk.length
      } else {
        for (let i = 0; i < b.chunk.length; i++) changes.push(rowAt(b.chunk, i))
        break
      }
    }
    expect(snapshotRows).toBe(10_000)
    expect(changes).toEqual([[1n, 10_000n]])
    expect(s.readingSnapshot).toBe(false)
    s.close()
    log.close()
    expect(agg.scansOpen).toBe(0)
  })

  it('a subscription closed while its snapshot is read releases the scan', async () => {
    const agg = new FakeAggregate()
    agg.inMemory = false
    for (let k = 0n; k < 10_000n; k++) agg.set(k, 1n)
    const stream = new Stream('v')
    const log = new ChangeLog(
      { name: 'v', input: relationOf(derivedView(agg, false), stream), columns: [], gone: () => undefined },
      Date.now(),
      100,
      () => {},
    )
    const s = log.subscribe({})
    await s.next()
    s.close()
    await new Promise((r) => setImmediate(r))
    await new Promise((r) => setImmediate(r))
    expect(agg.scansOpen).toBe(0)
    log.close()
  })
})
