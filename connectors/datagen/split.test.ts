/**
 * Datagen splits (ConnectorContext.split), what a sharded view's shards read: the splits of a
 * stream together are the whole stream, row for row, for every generator and table; each split
 * is paced, bounded, checkpointed and flushed on its own, in the whole stream's event indexes.
 */
import { describe, expect, it } from 'vitest'
import type { Chunk } from '../../engine/chunk.ts'
import type { ConnectorContext, SourceReader } from '../../engine/connector.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { rowAt } from '../../engine/chunk.ts'
import { SluiceError } from '../../engine/errors.ts'
import { SPLIT_BLOCK, datagenSourceFactory, splitStart } from './index.ts'

type Split = { readonly index: number; readonly count: number }

function clock(split?: Split, start = 1_000_000): ConnectorContext & { time: number } {
  const ctx = {
    time: start,
    name: 'test',
    deadLetter: () => {},
    now: () => ctx.time,
    log: () => {},
    ...(split === undefined ? {} : { split }),
  }
  return ctx
}

function reader(extra: Record<string, string>, ctx: ConnectorContext): SourceReader {
  const options = new Map(
    Object.entries({ generator: 'nexmark', base_time: '2024-01-01T00:00:00Z', rate: '1000', ...extra }),
  )
  return datagenSourceFactory.create(datagenSourceFactory.defaultColumns!(options)!, options, ctx)
}

/** Polls until nothing is due, in chunks of at most `size` rows. */
async function drain(r: SourceReader, size = 500): Promise<Value[][]> {
  const rows: Value[][] = []
  for (;;) {
    const chunk: Chunk | undefined = await r.poll(size)
    if (chunk === undefined) return rows
    expect(chunk.length).toBeLessThanOrEqual(size)
    for (let i = 0; i < chunk.length; i++) rows.push(rowAt(chunk, i))
  }
}

/** Every row of a bounded, unpaced generator (the whole stream, or one split of it). */
async function generate(extra: Record<string, string>, split?: Split, size?: number): Promise<Value[][]> {
  const r = reader({ max_events: '10000', paced: 'false', ...extra }, clock(split))
  await r.open()
  return drain(r, size)
}

/** Each table's column that is unique per event and rises with it (event time at a rate ≤ 1e6/s). */
const KEY: Record<string, number> = { bid: 5, auction: 5, person: 6, sequence: 0 }
const byKey = (rows: Value[][], key: number): Value[][] => [...rows].sort((a, b) => Number(a[key]) - Number(b[key]))

const TABLES: Record<string, string>[] = [
  { table: 'bid' },
  { table: 'auction' },
  { table: 'person' },
  { generator: 'sequence' },
]

describe('datagen splits', () => {
  it('finds the first event of a split at or after any event', () => {
    expect(splitStart(0, 0, 2)).toBe(0)
    expect(splitStart(0, 1, 2)).toBe(SPLIT_BLOCK)
    expect(splitStart(SPLIT_BLOCK - 1, 0, 2)).toBe(SPLIT_BLOCK - 1)
    expect(splitStart(SPLIT_BLOCK + 5, 0, 2)).toBe(2 * SPLIT_BLOCK)
    expect(splitStart(SPLIT_BLOCK + 5, 1, 2)).toBe(SPLIT_BLOCK + 5)
    expect(splitStart(4 * SPLIT_BLOCK + 3, 2, 3)).toBe(5 * SPLIT_BLOCK)
    expect(splitStart(4 * SPLIT_BLOCK + 3, 0, 3)).toBe(6 * SPLIT_BLOCK)
    for (let n = 0; n < 10 * SPLIT_BLOCK; n += 97) {
      for (const count of [1, 2, 3, 5]) {
        for (let index = 0; index < count; index++) {
          const s = splitStart(n, index, count)
          expect(s).toBeGreaterThanOrEqual(n)
          expect(Math.floor(s / SPLIT_BLOCK) % count).toBe(index)
          // Nothing of the split lies between n and s.
          if (s > n) expect(Math.floor(n / SPLIT_BLOCK) % count).not.toBe(index)
        }
      }
    }
  })

  it('splits 0..count-1 together give the unsplit rows, for every table and count 1, 2, 3', async () => {
    for (const extra of TABLES) {
      const key = KEY[extra.table ?? 'sequence']
      const whole = await generate(extra)
      expect(whole.length).toBeGreaterThan(0)
      for (const count of [1, 2, 3]) {
        const parts: Value[][][] = []
        for (let index = 0; index < count; index++) parts.push(await generate(extra, { index, count }, 333))
        for (const part of parts) expect(part.length).toBeGreaterThan(0)
        expect(parts.reduce((n, p) => n + p.length, 0)).toBe(whole.length)
        expect(byKey(parts.flat(), key)).toEqual(byKey(whole, key))
      }
    }
  })

  it('gives a split exactly the events of its blocks', async () => {
    for (let index = 0; index < 3; index++) {
      const rows = await generate({ generator: 'sequence' }, { index, count: 3 }, 1000)
      const expected: bigint[] = []
      for (let n = 0; n < 10_000; n++) if (Math.floor(n / SPLIT_BLOCK) % 3 === index) expected.push(BigInt(n))
      expect(rows.map((r) => r[0])).toEqual(expected)
    }
  })

  it('paces a split by the whole stream rate and event indexes', async () => {
    const ctx = clock({ index: 1, count: 2 })
    const r = reader({ generator: 'sequence' }, ctx)
    await r.open()
    expect(await r.poll(100)).toBeUndefined()
    ctx.time += 1000 // events 0..999 due: all in split 0's first block
    expect(await r.poll(100)).toBeUndefined()
    expect(r.offsets().next).toBe('1000')
    ctx.time += 1100 // events up to 2099 due: split 1 gets 1024..2047
    const rows = await drain(r)
    expect(rows.map((row) => row[0])).toEqual(Array.from({ length: SPLIT_BLOCK }, (_, i) => BigInt(SPLIT_BLOCK + i)))
    expect(r.offsets().next).toBe('2100')
    expect('endOffsets' in r).toBe(false) // endless: nothing for FLUSH to wait for
  })

  it('restores a split reader from its offsets mid-way with no gap or duplicate', async () => {
    for (const extra of TABLES) {
      const split = { index: 1, count: 3 }
      const straight = await generate(extra, split)
      for (const stopAfter of [1, 4, 9]) {
        const first = reader({ max_events: '10000', paced: 'false', ...extra }, clock(split))
        await first.open()
        const rows: Value[][] = []
        for (let i = 0; i < stopAfter; i++) {
          const chunk = await first.poll(97)
          if (chunk !== undefined) for (let k = 0; k < chunk.length; k++) rows.push(rowAt(chunk, k))
        }
        const saved = first.offsets()
        await first.close()
        const second = reader({ max_events: '10000', paced: 'false', ...extra }, clock(split))
        await second.open(saved)
        rows.push(...(await drain(second, 1000)))
        expect(rows).toEqual(straight)
      }
    }
  })

  it('restores a paced split reader where it was and keeps pacing from there', async () => {
    const split = { index: 0, count: 2 }
    const ctx = clock(split)
    const first = reader({ generator: 'sequence' }, ctx)
    await first.open()
    ctx.time += 1500
    const before = await drain(first)
    expect(before.length).toBe(SPLIT_BLOCK)
    const saved = first.offsets()
    const ctx2 = clock(split, 5_000_000)
    const second = reader({ generator: 'sequence' }, ctx2)
    await second.open(saved)
    expect(await second.poll(100)).toBeUndefined()
    ctx2.time += 2500 // from event 1500: due below 4000; split 0 has 2048..3071 of them
    const after = await drain(second)
    expect(after.map((r) => r[0])).toEqual(Array.from({ length: SPLIT_BLOCK }, (_, i) => BigInt(2 * SPLIT_BLOCK + i)))
  })

  it('FLUSH: a split reaches the end once its last event below it is returned', async () => {
    // max_events 2500: split 1 of 3 owns only 1024..2047, split 2 of 3 owns nothing below it.
    const one = reader({ generator: 'sequence', max_events: '2500', paced: 'false' }, clock({ index: 1, count: 3 }))
    await one.open()
    const end = await one.endOffsets!()
    expect(end).toEqual({ next: '2500' })
    expect(one.reached!(end)).toBe(false)
    const chunk = await one.poll(SPLIT_BLOCK)
    expect(chunk?.length).toBe(SPLIT_BLOCK)
    // Its block is done: nothing of the split lies between it and the end.
    expect(one.reached!(end)).toBe(true)
    expect(await one.poll(SPLIT_BLOCK)).toBeUndefined()
    expect(one.reached!(end)).toBe(true)

    const none = reader({ generator: 'sequence', max_events: '2000', paced: 'false' }, clock({ index: 2, count: 3 }))
    await none.open()
    const noneEnd = await none.endOffsets!()
    expect(none.reached!(noneEnd)).toBe(true)
    expect(await none.poll(100)).toBeUndefined()

    // Paced: the end is what is due now, split or not.
    const ctx = clock({ index: 0, count: 2 })
    const paced = reader({ table: 'bid', max_events: '10000' }, ctx)
    await paced.open()
    ctx.time += 3000
    const pacedEnd = await paced.endOffsets!()
    expect(pacedEnd).toEqual({ next: '3000' })
    expect(paced.reached!(pacedEnd)).toBe(false)
    const bids = await drain(paced, 100)
    let due = 0 // bids (n % 50 >= 4) of split 0's events below 3000
    for (let n = 0; n < 3000; n++) if (Math.floor(n / SPLIT_BLOCK) % 2 === 0 && n % 50 >= 4) due++
    expect(bids.length).toBe(due)
    expect(paced.reached!(pacedEnd)).toBe(true)
    ctx.time += 1e9
    const last = await paced.endOffsets!()
    expect(last).toEqual({ next: '10000' })
    expect(paced.reached!(last)).toBe(false)
    await drain(paced)
    expect(paced.reached!(last)).toBe(true)
  })

  it('rejects a split that is not one of count', () => {
    for (const split of [
      { index: 2, count: 2 },
      { index: -1, count: 2 },
      { index: 0, count: 0 },
      { index: 0.5, count: 2 },
    ]) {
      expect(() => reader({ generator: 'sequence' }, clock(split))).toThrow(SluiceError)
    }
  })
})
