/**
 * StateTable: reads see buffered writes, scans merge the buffer with the store in key order,
 * deleteBelow drops closed windows, drained writes stay visible until committed, and state
 * written through LevelDB survives a close and reopen.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Value } from '../types/datatype.ts'
import { T } from '../types/datatype.ts'
import { openLevelStore } from './leveldb.ts'
import { MemoryStore } from './memory.ts'
import { StateTable } from './table.ts'

const KEY = [T.timestamp, T.int8] // (window_start, auction)
const VALUE = [T.int8, T.text]

async function collect(table: StateTable, prefix?: readonly Value[]): Promise<string[]> {
  const out: string[] = []
  for await (const [k, v] of table.scan(prefix)) out.push(`${k.map(String).join(',')}=${v.map(String).join(',')}`)
  return out
}

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

describe('StateTable', () => {
  it('reads its own buffered writes before the store', async () => {
    const store = new MemoryStore()
    const t = new StateTable(store, 10, KEY, VALUE)
    t.put([1000, 5n], [1n, 'a'])
    expect(await t.get([1000, 5n])).toEqual([1n, 'a'])
    expect(t.pending).toBe(1)
    await store.write(t.drain())
    t.committed()
    expect(t.pending).toBe(0)
    expect(await t.get([1000, 5n])).toEqual([1n, 'a'])
    t.delete([1000, 5n])
    expect(await t.get([1000, 5n])).toBeUndefined()
    expect(await new StateTable(store, 10, KEY, VALUE).get([1000, 5n])).toEqual([1n, 'a'])
  })

  it('merges buffer and store in key order, buffer winning', async () => {
    const store = new MemoryStore()
    const t = new StateTable(store, 10, KEY, VALUE)
    for (const [ts, a] of [
      [1000, 1n],
      [1000, 3n],
      [2000, 1n],
      [3000, 2n],
    ] as const)
      t.put([ts, a], [a, 'stored'])
    await store.write(t.drain())
    t.committed()
    t.put([1000, 2n], [2n, 'new'])
    t.put([1000, 3n], [3n, 'updated'])
    t.delete([2000, 1n])
    t.put([4000, 0n], [0n, 'new'])
    expect(await collect(t)).toEqual([
      '1000,1=1,stored',
      '1000,2=2,new',
      '1000,3=3,updated',
      '3000,2=2,stored',
      '4000,0=0,new',
    ])
    expect(await collect(t, [1000])).toEqual(['1000,1=1,stored', '1000,2=2,new', '1000,3=3,updated'])
    expect(await collect(t, [2000])).toEqual([])
    // Another table's keys are never seen.
    const other = new StateTable(store, 11, KEY, VALUE)
    other.put([1000, 1n], [9n, 'other'])
    await store.write(other.drain())
    expect(await collect(t, [1000])).toHaveLength(3)
  })

  it('deleteBelow drops every key whose first column is below the bound', async () => {
    const store = new MemoryStore()
    const t = new StateTable(store, 3, KEY, VALUE)
    for (const ts of [1000, 2000, 3000]) t.put([ts, 1n], [1n, 'x'])
    t.put([null, 1n], [1n, 'null window'])
    await store.write(t.drain())
    t.committed()
    t.put([1500, 1n], [1n, 'buffered'])
    t.put([2500, 1n], [1n, 'buffered'])
    t.deleteBelow(2500)
    expect(await t.get([2000, 1n])).toBeUndefined()
    expect(await t.get([1500, 1n])).toBeUndefined()
    expect(await collect(t)).toEqual(['2500,1=1,buffered', '3000,1=1,x', 'null,1=1,null window'])
    // A put below the bound after deleteBelow stays (writes apply in order).
    t.put([1000, 2n], [2n, 'late'])
    const writes = t.drain()
    expect(writes[0]).toMatchObject({ type: 'delRange' })
    // Not yet durable: reads still see the drained state.
    expect(await collect(t)).toEqual(['1000,2=2,late', '2500,1=1,buffered', '3000,1=1,x', 'null,1=1,null window'])
    await store.write(writes)
    t.committed()
    expect(await collect(t)).toEqual(['1000,2=2,late', '2500,1=1,buffered', '3000,1=1,x', 'null,1=1,null window'])
    expect(store.size).toBe(4)
  })

  it('keeps drained writes visible until the checkpoint commits them', async () => {
    const store = new MemoryStore()
    const t = new StateTable(store, 1, [T.int4], [T.int4])
    t.put([1], [1])
    const first = t.drain()
    t.put([1], [2])
    t.put([2], [2])
    const second = t.drain()
    expect(await t.get([1])).toEqual([2])
    await store.write(first)
    t.committed()
    expect(await t.get([1])).toEqual([2])
    expect(await collect(t)).toEqual(['1=2', '2=2'])
    await store.write(second)
    t.committed()
    expect(await collect(t)).toEqual(['1=2', '2=2'])
  })

  it('survives a restart on LevelDB', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-table-'))
    dirs.push(dir)
    let store = await openLevelStore(dir)
    const a = new StateTable(store, 20, KEY, VALUE)
    const b = new StateTable(store, 21, [T.text], [T.float8])
    for (let i = 0; i < 100; i++) a.put([i * 1000, BigInt(i % 7)], [BigInt(i), `row ${i}`])
    b.put(['x'], [1.5])
    await store.write([...a.drain(), ...b.drain()])
    a.deleteBelow(50_000)
    b.delete(['x'])
    b.put(['y'], [2.5])
    await store.write([...a.drain(), ...b.drain()])
    await store.close()

    store = await openLevelStore(dir)
    const a2 = new StateTable(store, 20, KEY, VALUE)
    const b2 = new StateTable(store, 21, [T.text], [T.float8])
    const rows = await collect(a2)
    expect(rows).toHaveLength(50)
    expect(rows[0]).toBe('50000,1=50,row 50')
    expect(await a2.get([99_000, 1n])).toEqual([99n, 'row 99'])
    expect(await b2.get(['x'])).toBeUndefined()
    expect(await collect(b2)).toEqual(['y=2.5'])
    await store.close()
  })
})
