/**
 * The Nexmark event generator (see NEXMARK.md): a deterministic function from an event index to
 * a person, auction or bid. Randomness comes from a small PRNG seeded by (seed, index), so event
 * n is the same whatever the batch sizes or restarts. Event time follows the configured rate,
 * not the wall clock: ts(n) = base + floor(n * 1e6 / rate) / 1000 ms.
 */
import type { Value } from '../../engine/types/datatype.ts'

export type NexmarkTable = 'person' | 'auction' | 'bid'

export const COLUMNS: Record<NexmarkTable, readonly [string, 'int8' | 'text' | 'timestamp'][]> = {
  person: [['id', 'int8'], ['name', 'text'], ['email_address', 'text'], ['credit_card', 'text'], ['city', 'text'], ['state', 'text'], ['date_time', 'timestamp'], ['extra', 'text']],
  auction: [['id', 'int8'], ['item_name', 'text'], ['description', 'text'], ['initial_bid', 'int8'], ['reserve', 'int8'], ['date_time', 'timestamp'], ['expires', 'timestamp'], ['seller', 'int8'], ['category', 'int8'], ['extra', 'text']],
  bid: [['auction', 'int8'], ['bidder', 'int8'], ['price', 'int8'], ['channel', 'text'], ['url', 'text'], ['date_time', 'timestamp'], ['extra', 'text']],
}

const FIRST_NAMES = ['Peter', 'Paul', 'Luke', 'John', 'Saul', 'Vicky', 'Kate', 'Julie', 'Sarah', 'Deiter', 'Walter']
const LAST_NAMES = ['Shultz', 'Abrams', 'Spencer', 'White', 'Bartels', 'Walton', 'Smith', 'Jones', 'Noris']
const CITIES = ['Phoenix', 'Los Angeles', 'San Francisco', 'Boise', 'Portland', 'Bend', 'Redmond', 'Seattle', 'Kent', 'Cheyenne']
const STATES = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY']
const CHANNELS = ['Google', 'Facebook', 'Baidu', 'Apple']
const CHANNEL_URLS = CHANNELS.map((_c, i) => `https://www.nexmark.com/item.htm?query=1&channel_id=${i}`)
const ITEMS = ['bike', 'car', 'watch', 'phone', 'lamp', 'chair', 'guitar', 'camera', 'book', 'vase']
const PAD = 'abcdefghijklmnopqrstuvwxyz'.repeat(40)

const FIRST_ID = 1000
const PROPORTION = 50
/** Auctions in flight: about 100 auctions are open at a time. */
const IN_FLIGHT = 100

/** mulberry32 over a per-event seed. */
class Rng {
  private s: number
  constructor(seed: number, n: number) {
    this.s = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(n | 0, 0xc2b2ae35) ^ Math.floor(n / 4294967296)) | 0
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
}

export class NexmarkGenerator {
  constructor(
    private readonly seed: number,
    private readonly rate: number,
    /** Event time of event 0, ms. */
    private readonly baseMs: number,
  ) {}

  static kind(n: number): NexmarkTable {
    const k = n % PROPORTION
    return k === 0 ? 'person' : k <= 3 ? 'auction' : 'bid'
  }

  /** Event time of event n, µs. */
  timeOf(n: number): number {
    return (this.baseMs + Math.floor((n * 1e6) / this.rate) / 1000) * 1000
  }

  private lastPerson(n: number): number {
    return FIRST_ID + Math.floor(n / PROPORTION)
  }

  private lastAuction(n: number): number {
    return FIRST_ID + Math.floor(n / PROPORTION) * 3 + Math.min(3, Math.max(0, (n % PROPORTION) - 1))
  }

  private price(r: Rng): number {
    return Math.round(Math.pow(10, r.next() * 6) * 100)
  }

  private extra(r: Rng, size: number): string {
    const len = Math.max(0, size + r.int(10) - 5)
    return PAD.slice(r.int(26), r.int(26) + len)
  }

  /** Appends event n's row (columns in `projection` order) to `columns`; false if n is not of `table`. */
  append(n: number, table: NexmarkTable, projection: readonly number[], columns: Value[][]): boolean {
    if (NexmarkGenerator.kind(n) !== table) return false
    const r = new Rng(this.seed, n)
    const ts = this.timeOf(n)
    let row: Value[]
    if (table === 'bid') {
      const lastAuction = this.lastAuction(n)
      const auction = r.next() < 0.5 ? Math.max(FIRST_ID, Math.floor(lastAuction / IN_FLIGHT) * IN_FLIGHT) : Math.max(FIRST_ID, lastAuction - r.int(IN_FLIGHT))
      const lastPerson = this.lastPerson(n)
      const bidder = r.next() < 0.75 ? Math.max(FIRST_ID, Math.floor(lastPerson / IN_FLIGHT) * IN_FLIGHT + 1) : Math.max(FIRST_ID, lastPerson - r.int(1000))
      const price = this.price(r)
      let channel: string
      let url: string
      if (r.next() < 0.5) {
        const c = r.int(CHANNELS.length)
        channel = CHANNELS[c]
        url = CHANNEL_URLS[c]
      } else {
        const c = r.int(10000)
        channel = `channel-${c}`
        url = `https://www.nexmark.com/item.htm?query=1&channel_id=${c}`
      }
      row = [BigInt(auction), BigInt(bidder), BigInt(price), channel, url, ts, this.extra(r, 40)]
    } else if (table === 'auction') {
      const id = FIRST_ID + Math.floor(n / PROPORTION) * 3 + (n % PROPORTION) - 1
      const lastPerson = this.lastPerson(n)
      const seller = r.next() < 0.75 ? Math.max(FIRST_ID, Math.floor(lastPerson / IN_FLIGHT) * IN_FLIGHT) : Math.max(FIRST_ID, lastPerson - r.int(1000))
      const initialBid = this.price(r)
      const reserve = initialBid + this.price(r)
      const item = ITEMS[r.int(ITEMS.length)]
      // Open until about IN_FLIGHT more auctions exist.
      const expires = this.timeOf(n + Math.round((IN_FLIGHT * PROPORTION) / 3) + r.int(PROPORTION))
      row = [BigInt(id), `${item} ${id}`, `A used ${item}, good condition`, BigInt(initialBid), BigInt(reserve), ts, expires, BigInt(seller), BigInt(10 + r.int(5)), this.extra(r, 350)]
    } else {
      const id = this.lastPerson(n)
      const name = `${FIRST_NAMES[r.int(FIRST_NAMES.length)]} ${LAST_NAMES[r.int(LAST_NAMES.length)]}`
      const card = `${1000 + r.int(9000)} ${1000 + r.int(9000)} ${1000 + r.int(9000)} ${1000 + r.int(9000)}`
      row = [BigInt(id), name, `${name.replace(' ', '.').toLowerCase()}@example.com`, card, CITIES[r.int(CITIES.length)], STATES[r.int(STATES.length)], ts, this.extra(r, 120)]
    }
    for (let c = 0; c < projection.length; c++) columns[c].push(row[projection[c]])
    return true
  }
}
