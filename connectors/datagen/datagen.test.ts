/**
 * The Nexmark datagen source: deterministic across chunk sizes and restarts, the 1:3:46 event
 * mix with agreeing ids, hot-key shares, the event-time formula, pacing by the injected clock,
 * and option validation.
 */
import { describe, expect, it } from 'vitest'
import type { Chunk } from '../../engine/chunk.ts'
import type { ConnectorContext, SourceReader } from '../../engine/connector.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { rowAt } from '../../engine/chunk.ts'
import { SluiceError } from '../../engine/errors.ts'
import { T } from '../../engine/types/datatype.ts'
import { datagenSourceFactory } from './index.ts'
import { eventKind, lastAuction, lastPerson } from './nexmark.ts'

const BASE = '2024-01-01T00:00:00Z'
const BASE_MS = Date.UTC(2024, 0, 1)

function clock(start = 1_000_000): ConnectorContext & { time: number } {
  const ctx = {
    time: start,
    name: 'test',
    deadLetter: () => {},
    now: () => ctx.time,
    log: () => {},
  }
  return ctx
}

function opts(extra: Record<string, string> = {}): Map<string, string> {
  return new Map(Object.entries({ generator: 'nexmark', base_time: BASE, ...extra }))
}

function reader(extra: Record<string, string>, ctx: ConnectorContext, columns?: readonly string[]): SourceReader {
  const options = opts(extra)
  const all = datagenSourceFactory.defaultColumns!(options)!
  const cols =
    columns === undefined ? all : columns.map((n) => all.find((c) => c.name === n) ?? { name: n, type: T.text })
  return datagenSourceFactory.create(cols, options, ctx)
}

/** Polls until the source has nothing due, in chunks of at most `size` rows. */
async function drainRows(r: SourceReader, size: number): Promise<Value[][]> {
  const rows: Value[][] = []
  for (;;) {
    const chunk: Chunk | undefined = await r.poll(size)
    if (chunk === undefined) return rows
    expect(chunk.length).toBeLessThanOrEqual(size)
    expect(Array.from(chunk.ops).every((op) => op === 1)).toBe(true)
    for (let i = 0; i < chunk.length; i++) rows.push(rowAt(chunk, i))
  }
}

async function generate(
  table: string,
  events: number,
  size = 1000,
  extra: Record<string, string> = {},
): Promise<Value[][]> {
  const ctx = clock()
  const r = reader({ table, max_events: String(events), rate: '1000', ...extra }, ctx)
  await r.open()
  ctx.time += 1e9
  return drainRows(r, size)
}

describe('datagen nexmark', () => {
  it('declares the entities columns as NEXMARK.md lists them', () => {
    const cols = (table: string): string[] =>
      datagenSourceFactory.defaultColumns!(opts({ table }))!.map((c) => `${c.name} ${c.type.kind}`)
    expect(cols('bid')).toEqual([
      'auction int8',
      'bidder int8',
      'price int8',
      'channel text',
      'url text',
      'date_time timestamp',
      'extra text',
    ])
    expect(cols('person')).toEqual([
      'id int8',
      'name text',
      'email_address text',
      'credit_card text',
      'city text',
      'state text',
      'date_time timestamp',
      'extra text',
    ])
    expect(cols('auction')).toEqual([
      'id int8',
      'item_name text',
      'description text',
      'initial_bid int8',
      'reserve int8',
      'date_time timestamp',
      'expires timestamp',
      'seller int8',
      'category int8',
      'extra text',
    ])
  })

  it('produces the same rows whatever the chunk size', async () => {
    for (const table of ['bid', 'auction', 'person']) {
      const one = await generate(table, 3000, 1)
      const seven = await generate(table, 3000, 7)
      const many = await generate(table, 3000, 1000)
      expect(one.length).toBeGreaterThan(0)
      expect(seven).toEqual(one)
      expect(many).toEqual(one)
    }
  })

  it('follows the 1:3:46 mix, with ids the three sources agree on', async () => {
    const [people, auctions, bids] = await Promise.all([
      generate('person', 5000),
      generate('auction', 5000),
      generate('bid', 5000),
    ])
    expect([people.length, auctions.length, bids.length]).toEqual([100, 300, 4600])
    expect(people.map((p) => p[0])).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(1000 + i)))
    expect(auctions.map((a) => a[0])).toEqual(Array.from({ length: 300 }, (_, i) => BigInt(1000 + i)))
    expect([eventKind(0), eventKind(1), eventKind(3), eventKind(4), eventKind(49), eventKind(50)]).toEqual([
      'person',
      'auction',
      'auction',
      'bid',
      'bid',
      'person',
    ])
    // Every seller and bidder is an existing person or at most a few ahead of the newest one.
    const maxPerson = 1000 + 99
    for (const a of auctions) expect(Number(a[7])).toBeLessThanOrEqual(maxPerson + 10)
    for (const b of bids) expect(Number(b[1])).toBeLessThanOrEqual(maxPerson + 10)
    for (const a of auctions) expect([10n, 11n, 12n, 13n, 14n]).toContain(a[8])
  })

  it('makes the hot auction, bidder and seller about as common as the suite does', async () => {
    const events = 100_000
    const bids = await generate('bid', events, 4096)
    const auctions = await generate('auction', events, 4096)
    // Recover each row's event index from its timestamp (rate 1000/s: 1 ms per event).
    const eventOf = (ts: Value): number => ((ts as number) - BASE_MS * 1000) / 1000
    let hotAuction = 0
    let hotBidder = 0
    for (const b of bids) {
      const n = eventOf(b[5])
      if (Number(b[0]) === 1000 + Math.floor(lastAuction(n) / 100) * 100) hotAuction++
      if (Number(b[1]) === 1000 + Math.floor(lastPerson(n) / 100) * 100 + 1) hotBidder++
    }
    let hotSeller = 0
    for (const a of auctions) if (Number(a[7]) === 1000 + Math.floor(lastPerson(eventOf(a[5])) / 100) * 100) hotSeller++
    // Hot by choice (1/2, 3/4, 3/4) plus the odd uniform pick that lands on the hot key.
    expect(hotAuction / bids.length).toBeGreaterThan(0.48)
    expect(hotAuction / bids.length).toBeLessThan(0.54)
    expect(hotBidder / bids.length).toBeGreaterThan(0.73)
    expect(hotBidder / bids.length).toBeLessThan(0.78)
    expect(hotSeller / auctions.length).toBeGreaterThan(0.72)
    expect(hotSeller / auctions.length).toBeLessThan(0.79)
    // Prices are log-uniform in 100 … 10^8: about a sixth per decade.
    const decade = bids.filter((b) => (b[2] as bigint) >= 10_000n && (b[2] as bigint) < 100_000n).length / bids.length
    expect(decade).toBeGreaterThan(0.15)
    expect(decade).toBeLessThan(0.18)
    for (const b of bids) expect(Number(b[2])).toBeGreaterThanOrEqual(100)
    const hotChannels =
      bids.filter((b) => ['Google', 'Facebook', 'Baidu', 'Apple'].includes(b[3] as string)).length / bids.length
    expect(hotChannels).toBeGreaterThan(0.48)
    expect(hotChannels).toBeLessThan(0.52)
    const avgExtra = bids.reduce((s, b) => s + (b[6] as string).length, 0) / bids.length
    expect(avgExtra).toBeGreaterThan(60)
    expect(avgExtra).toBeLessThan(76)
  })

  it('stamps event n with base + floor(n * 1e6 / rate) µs', async () => {
    const rate = 3
    const bids = await generate('bid', 200, 1000, { rate: String(rate) })
    const first = bids[0][5] as number
    expect(first).toBe(BASE_MS * 1000 + Math.floor((4 * 1e6) / rate))
    const people = await generate('person', 200, 1000, { rate: String(rate) })
    expect(people.map((p) => p[6])).toEqual([0, 50, 100, 150].map((n) => BASE_MS * 1000 + Math.floor((n * 1e6) / rate)))
    const auctions = await generate('auction', 200, 1000)
    for (const a of auctions) expect(a[6] as number).toBeGreaterThan(a[5] as number)
  })

  it('emits only what is due by the clock and the rate', async () => {
    const ctx = clock()
    const r = reader({ table: 'bid', rate: '1000' }, ctx)
    await r.open()
    expect(await r.poll(100)).toBeUndefined()
    ctx.time += 10 // 10 events due: events 0..9, of which 4..9 are bids
    expect((await r.poll(100))?.length).toBe(6)
    expect(await r.poll(100)).toBeUndefined()
    ctx.time += 1000 // 1000 more events, capped per poll
    expect((await r.poll(100))?.length).toBe(100)
    expect(r.offsets().next).toBe(String(10 + 108)) // 100 bids end at event 117
    expect('endOffsets' in r).toBe(false)
  })

  it('unpaced: generates without waiting for the clock, with the same events, and FLUSH sees its end', async () => {
    const ctx = clock()
    const r = reader({ table: 'bid', rate: '1000', max_events: '500', paced: 'false' }, ctx)
    await r.open()
    // The clock never moves: all 500 events are due at once, event times still follow the rate.
    expect(await r.endOffsets!()).toEqual({ next: '500' })
    expect(r.reached!({ next: '500' })).toBe(false)
    const rows = await drainRows(r, 64)
    expect(rows).toEqual(await generate('bid', 500, 1000))
    expect(r.reached!({ next: '500' })).toBe(true)
    // Paced and bounded: the end FLUSH waits for is what is due by now.
    const paced = reader({ table: 'bid', rate: '1000', max_events: '500' }, ctx)
    await paced.open()
    ctx.time += 100
    expect(await paced.endOffsets!()).toEqual({ next: '100' })
  })

  it('continues the sequence after a restart from its offsets', async () => {
    const straight = await generate('bid', 4000, 1000)
    const ctx = clock()
    const first = reader({ table: 'bid', rate: '1000', max_events: '4000' }, ctx)
    await first.open()
    ctx.time += 1234
    const before = await drainRows(first, 50)
    const offsets = first.offsets()
    await first.close()
    const ctx2 = clock(5e9)
    const second = reader({ table: 'bid', rate: '1000', max_events: '4000' }, ctx2)
    await second.open(offsets)
    ctx2.time += 1e9
    const after = await drainRows(second, 333)
    expect([...before, ...after]).toEqual(straight)
  })

  it('keeps the default base time (the first open) across a restart', async () => {
    const ctx = clock(1_700_000_000_000)
    const options = opts({ table: 'bid' })
    options.delete('base_time')
    const fresh = datagenSourceFactory.create(datagenSourceFactory.defaultColumns!(options)!, options, ctx)
    await fresh.open()
    expect(fresh.offsets()).toEqual({ next: '0', base: '1700000000000' })
    ctx.time += 1
    await fresh.poll(10)
    const restarted = datagenSourceFactory.create(
      datagenSourceFactory.defaultColumns!(options)!,
      options,
      clock(1_800_000_000_000),
    )
    await restarted.open(fresh.offsets())
    expect(restarted.offsets().base).toBe('1700000000000')
  })

  it('emits the declared subset of columns in the declared order', async () => {
    const ctx = clock()
    const r = reader({ table: 'bid', max_events: '100' }, ctx, ['price', 'auction'])
    await r.open()
    ctx.time += 1e9
    const rows = await drainRows(r, 1000)
    const full = await generate('bid', 100)
    expect(rows).toEqual(full.map((b) => [b[2], b[0]]))
  })

  it('rejects bad options and columns', () => {
    const ctx = clock()
    const fail = (
      options: Map<string, string>,
      columns = datagenSourceFactory.defaultColumns!(opts())!,
    ): SluiceError => {
      try {
        datagenSourceFactory.create(columns, options, ctx)
      } catch (e) {
        if (e instanceof SluiceError) return e
        throw e
      }
      throw new Error('expected an error')
    }
    expect(fail(opts({ topic: 'x' }))).toMatchObject({
      code: '22023',
      message: 'unknown option "topic" for connector datagen',
    })
    expect(fail(new Map([['table', 'bid']]))).toMatchObject({
      code: '22023',
      message: expect.stringContaining('"generator"'),
    })
    expect(fail(opts({ generator: 'tpch' }))).toMatchObject({
      code: '22023',
      message: expect.stringContaining('"tpch"'),
    })
    expect(fail(opts({ table: 'bids' }))).toMatchObject({ code: '22023', message: expect.stringContaining('"table"') })
    expect(fail(opts({ rate: '0' }))).toMatchObject({ code: '22023', message: expect.stringContaining('"rate"') })
    expect(fail(opts({ rate: 'fast' }))).toMatchObject({ code: '22023' })
    expect(fail(opts({ seed: '1.5' }))).toMatchObject({ code: '22023', message: expect.stringContaining('"seed"') })
    expect(fail(opts({ max_events: '-1' }))).toMatchObject({
      code: '22023',
      message: expect.stringContaining('"max_events"'),
    })
    expect(fail(opts({ paced: 'sometimes' }))).toMatchObject({
      code: '22023',
      message: expect.stringContaining('"paced"'),
    })
    expect(fail(opts({ base_time: 'yesterday' }))).toMatchObject({
      code: '22023',
      message: expect.stringContaining('"base_time"'),
    })
    expect(fail(opts(), [{ name: 'nope', type: T.int8 }])).toMatchObject({
      code: '42703',
      message: 'column "nope" does not exist in the nexmark bid table',
    })
    expect(fail(opts(), [{ name: 'price', type: T.text }])).toMatchObject({ code: '42804' })
    expect(() => datagenSourceFactory.defaultColumns!(opts({ table: 'x' }))).toThrow(SluiceError)
  })

  it('gives different streams for different seeds', async () => {
    const a = await generate('bid', 500, 1000, { seed: '1' })
    const b = await generate('bid', 500, 1000, { seed: '2' })
    expect(a.map((r) => r[2])).not.toEqual(b.map((r) => r[2]))
  })
})
