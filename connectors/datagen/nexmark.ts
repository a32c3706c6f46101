/**
 * The Nexmark event generator (see docs: NEXMARK.md): a deterministic function from an event
 * index to a person, auction or bid, following the Nexmark suite's generator (Beam's model):
 * event kinds by e % 50 (1 person : 3 auctions : 46 bids), ids from 1000, hot auctions, sellers
 * and bidders, log-uniform prices, hot channels, padding to the average event sizes.
 *
 * Randomness comes from a small PRNG seeded by (seed, event index), so event n is the same
 * whatever the batch sizes or restarts. Event time follows the configured rate, not the wall
 * clock: ts(n) = base + floor(n * 1e6 / rate) µs. Generation runs in straight loops that push
 * values into column arrays; strings come from precomputed tables and slices of a padding text.
 */
import type { ColumnSchema } from '../../engine/connector.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { T } from '../../engine/types/datatype.ts'

export type NexmarkTable = 'person' | 'auction' | 'bid'

/** The entities' columns, named and typed as the Nexmark suite's SQL declares them. */
export const NEXMARK_COLUMNS: Readonly<Record<NexmarkTable, readonly ColumnSchema[]>> = {
  person: [
    { name: 'id', type: T.int8 },
    { name: 'name', type: T.text },
    { name: 'email_address', type: T.text },
    { name: 'credit_card', type: T.text },
    { name: 'city', type: T.text },
    { name: 'state', type: T.text },
    { name: 'date_time', type: T.timestamp },
    { name: 'extra', type: T.text },
  ],
  auction: [
    { name: 'id', type: T.int8 },
    { name: 'item_name', type: T.text },
    { name: 'description', type: T.text },
    { name: 'initial_bid', type: T.int8 },
    { name: 'reserve', type: T.int8 },
    { name: 'date_time', type: T.timestamp },
    { name: 'expires', type: T.timestamp },
    { name: 'seller', type: T.int8 },
    { name: 'category', type: T.int8 },
    { name: 'extra', type: T.text },
  ],
  bid: [
    { name: 'auction', type: T.int8 },
    { name: 'bidder', type: T.int8 },
    { name: 'price', type: T.int8 },
    { name: 'channel', type: T.text },
    { name: 'url', type: T.text },
    { name: 'date_time', type: T.timestamp },
    { name: 'extra', type: T.text },
  ],
}

// The suite's constants.
const PROPORTION = 50
const FIRST_ID = 1000
const FIRST_CATEGORY = 10
const CATEGORIES = 5
const IN_FLIGHT_AUCTIONS = 100
const ACTIVE_PEOPLE = 1000
/** Bids and auctions may name people/auctions a little ahead of the newest one. */
const ID_LEAD = 10
const HOT_RATIO = 100
const CHANNELS = 10_000
/** Events spanned by IN_FLIGHT_AUCTIONS auctions: an auction stays open about that long. */
const AUCTION_HORIZON_EVENTS = Math.floor((IN_FLIGHT_AUCTIONS * PROPORTION) / 3)
const BID_SIZE = 100
const AUCTION_SIZE = 500
const PERSON_SIZE = 200

const FIRST_NAMES = ['Peter', 'Paul', 'Luke', 'John', 'Saul', 'Vicky', 'Kate', 'Julie', 'Sarah', 'Deiter', 'Walter']
const LAST_NAMES = ['Shultz', 'Abrams', 'Spencer', 'White', 'Bartels', 'Walton', 'Smith', 'Jones', 'Noris']
const CITIES = [
  'Phoenix',
  'Los Angeles',
  'San Francisco',
  'Boise',
  'Portland',
  'Bend',
  'Redmond',
  'Seattle',
  'Kent',
  'Cheyenne',
]
const STATES = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY']
const HOT_CHANNELS = ['Google', 'Facebook', 'Baidu', 'Apple']

/** Tables shared by every generator: built once, from a fixed seed (they are not part of the user's seed). */
interface Tables {
  readonly names: string[]
  readonly digits4: string[]
  readonly hotUrls: string[]
  readonly channels: string[]
  readonly channelUrls: string[]
  /** Random lowercase letters; `extra` and email parts are slices of it. */
  readonly letters: string
  /** Random words (letters and spaces); item names and descriptions are slices of it. */
  readonly words: string
  /** 10^(6·u) = POW_HI[high 16 bits of u] × POW_LO[low 16 bits]: prices without Math.pow per row. */
  readonly powHi: Float64Array
  readonly powLo: Float64Array
}

const PAD_LENGTH = 1 << 16
let tables: Tables | undefined

function buildTables(): Tables {
  let s = 0x5eed
  const rand = (): number => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), s | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const letter = (): string => String.fromCharCode(97 + Math.floor(rand() * 26))
  const word = (n: number): string => Array.from({ length: n }, letter).join('')
  const baseUrl = (): string => `https://www.nexmark.com/${word(5)}/${word(5)}/${word(5)}/item.htm?query=1`
  const names: string[] = []
  for (const f of FIRST_NAMES) for (const l of LAST_NAMES) names.push(`${f} ${l}`)
  const channels: string[] = []
  const channelUrls: string[] = []
  for (let i = 0; i < CHANNELS; i++) {
    channels.push(`channel-${i}`)
    // The suite tags 9 in 10 channel urls with a scrambled channel id.
    const url = baseUrl()
    channelUrls.push(rand() < 0.9 ? `${url}&channel_id=${Math.abs(reverseBits(i))}` : url)
  }
  let letters = ''
  while (letters.length < PAD_LENGTH) letters += word(64)
  let words = ''
  while (words.length < PAD_LENGTH) words += word(2 + Math.floor(rand() * 9)) + ' '
  const powHi = new Float64Array(65536)
  const powLo = new Float64Array(65536)
  for (let i = 0; i < 65536; i++) {
    powHi[i] = Math.pow(10, (6 * i) / 65536)
    powLo[i] = Math.pow(10, (6 * i) / 4294967296)
  }
  return {
    powHi,
    powLo,
    names,
    digits4: Array.from({ length: 10_000 }, (_, i) => String(i).padStart(4, '0')),
    hotUrls: HOT_CHANNELS.map(baseUrl),
    channels,
    channelUrls,
    letters: letters.slice(0, PAD_LENGTH),
    words: words.slice(0, PAD_LENGTH),
  }
}

/** Java's Integer.reverse: the 32 bits in reverse order, as a signed int. */
function reverseBits(x: number): number {
  let r = 0
  for (let i = 0; i < 32; i++) {
    r = (r << 1) | (x & 1)
    x >>>= 1
  }
  return r | 0
}

/** Murmur3's finaliser: a fast, well-mixed 32-bit hash. */
function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h
}

/** Newest person id (base 0) as of event n. */
export function lastPerson(n: number): number {
  return Math.floor(n / PROPORTION)
}

/** Newest auction id (base 0) as of event n: -1 before the first auction. */
export function lastAuction(n: number): number {
  const epoch = Math.floor(n / PROPORTION)
  const offset = n % PROPORTION
  if (offset === 0) return epoch * 3 - 1
  return epoch * 3 + (offset >= 4 ? 2 : offset - 1)
}

/** The kind of event n. */
export function eventKind(n: number): NexmarkTable {
  const k = n % PROPORTION
  return k === 0 ? 'person' : k < 4 ? 'auction' : 'bid'
}

export class NexmarkGenerator {
  private readonly tables: Tables
  private readonly seedHash: number
  /** mulberry32 state, reseeded per event. */
  private s = 0
  /** A direct-mapped cache of id bigints: hot ids repeat in most bids. */
  private readonly bigKeys = new Float64Array(4096).fill(-1)
  private readonly bigValues = new Array<bigint>(4096).fill(0n)

  constructor(
    seed: number,
    /** Events per second of the whole stream. */
    private readonly rate: number,
    /** Event time of event 0, µs since the epoch. */
    private readonly baseUs: number,
  ) {
    tables ??= buildTables()
    this.tables = tables
    this.seedHash = fmix32(Math.imul(seed | 0, 0x9e3779b1) ^ Math.floor(seed / 4294967296) ^ 0x2545f491)
  }

  /** Event time of event n, µs since the epoch. */
  timeOf(n: number): number {
    return this.baseUs + Math.floor((n * 1e6) / this.rate)
  }

  private reseed(n: number): void {
    this.s = fmix32((n >>> 0) ^ fmix32(Math.floor(n / 4294967296) ^ this.seedHash))
  }

  /** Uniform 32-bit unsigned integer. */
  private u32(): number {
    const s = (this.s = (this.s + 0x6d2b79f5) | 0)
    let t = Math.imul(s ^ (s >>> 15), s | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }

  /** Uniform in [0, 1). */
  private rand(): number {
    return this.u32() / 4294967296
  }

  private big(v: number): bigint {
    const i = v & 4095
    if (this.bigKeys[i] === v) return this.bigValues[i]
    const b = BigInt(v)
    this.bigKeys[i] = v
    this.bigValues[i] = b
    return b
  }

  private int(k: number): number {
    return Math.floor(this.rand() * k)
  }

  /** round(10^(6u) × 100): log-uniform in 100 … 10^8. */
  private price(): number {
    const u = this.u32()
    return Math.round(this.tables.powHi[u >>> 16] * this.tables.powLo[u & 0xffff] * 100)
  }

  /** A person (base 0) among the active ones, or a little ahead. */
  private somePerson(n: number): number {
    const people = lastPerson(n) + 1
    const active = Math.min(people, ACTIVE_PEOPLE)
    return people - active + this.int(active + ID_LEAD)
  }

  /** An auction (base 0) among the ones in flight, or a little ahead. */
  private someAuction(n: number): number {
    const last = lastAuction(n)
    const min = Math.max(last - IN_FLIGHT_AUCTIONS, 0)
    return min + this.int(last - min + 1 + ID_LEAD)
  }

  /** Padding so that an event of `size` bytes averages `average` bytes (±20 %). */
  private extra(size: number, average: number): string {
    if (size >= average) return ''
    const desired = average - size
    const delta = Math.round(desired * 0.2)
    const len = desired - delta + this.int(2 * delta + 1)
    const at = this.int(PAD_LENGTH - len)
    return this.tables.letters.substring(at, at + len)
  }

  /** Between 3 and max-1 characters of words. */
  private text(max: number): string {
    const len = 3 + this.int(max - 3)
    const at = this.int(PAD_LENGTH - len)
    return this.tables.words.substring(at, at + len)
  }

  private letters(min: number, max: number): string {
    const len = min + this.int(max - min + 1)
    const at = this.int(PAD_LENGTH - len)
    return this.tables.letters.substring(at, at + len)
  }

  /**
   * Appends the rows of `table` among events [from, to) to `columns` (all of the entity's columns,
   * in NEXMARK_COLUMNS order), stopping after `maxRows` rows. Returns the next event index to
   * generate: `to`, or the event after the last row appended.
   */
  fill(table: NexmarkTable, from: number, to: number, maxRows: number, columns: Value[][]): number {
    switch (table) {
      case 'bid':
        return this.fillBids(from, to, maxRows, columns)
      case 'auction':
        return this.fillAuctions(from, to, maxRows, columns)
      case 'person':
        return this.fillPeople(from, to, maxRows, columns)
    }
  }

  private fillBids(from: number, to: number, maxRows: number, columns: Value[][]): number {
    const [auctionCol, bidderCol, priceCol, channelCol, urlCol, timeCol, extraCol] = columns
    const t = this.tables
    let rows = 0
    let n = from
    while (n < to && rows < maxRows) {
      const k = n % PROPORTION
      if (k < 4) {
        n += 4 - k
        continue
      }
      this.reseed(n)
      const auction = this.rand() < 0.5 ? Math.floor(lastAuction(n) / HOT_RATIO) * HOT_RATIO : this.someAuction(n)
      const bidder = this.rand() < 0.75 ? Math.floor(lastPerson(n) / HOT_RATIO) * HOT_RATIO + 1 : this.somePerson(n)
      const price = this.price()
      let channel: string
      let url: string
      if (this.rand() < 0.5) {
        const c = this.int(HOT_CHANNELS.length)
        channel = HOT_CHANNELS[c]
        url = t.hotUrls[c]
      } else {
        const c = this.int(CHANNELS)
        channel = t.channels[c]
        url = t.channelUrls[c]
      }
      auctionCol.push(this.big(auction + FIRST_ID))
      bidderCol.push(this.big(bidder + FIRST_ID))
      priceCol.push(BigInt(price))
      channelCol.push(channel)
      urlCol.push(url)
      timeCol.push(this.timeOf(n))
      extraCol.push(this.extra(32, BID_SIZE))
      rows++
      n++
    }
    return n
  }

  private fillAuctions(from: number, to: number, maxRows: number, columns: Value[][]): number {
    const [idCol, itemCol, descCol, initialCol, reserveCol, timeCol, expiresCol, sellerCol, categoryCol, extraCol] =
      columns
    let rows = 0
    let n = from
    while (n < to && rows < maxRows) {
      const k = n % PROPORTION
      if (k === 0 || k >= 4) {
        n += k === 0 ? 1 : PROPORTION - k + 1
        continue
      }
      this.reseed(n)
      const ts = this.timeOf(n)
      const seller = this.rand() < 0.75 ? Math.floor(lastPerson(n) / HOT_RATIO) * HOT_RATIO : this.somePerson(n)
      const category = FIRST_CATEGORY + this.int(CATEGORIES)
      const initialBid = this.price()
      // Open until about IN_FLIGHT_AUCTIONS more auctions exist: uniform in (0, 2 × that horizon].
      const horizonMs = (this.timeOf(n + AUCTION_HORIZON_EVENTS) - ts) / 1000
      const expires = ts + 1000 * (1 + this.int(Math.max(Math.floor(horizonMs * 2), 1)))
      const item = this.text(20)
      const description = this.text(100)
      const reserve = initialBid + this.price()
      idCol.push(BigInt(lastAuction(n) + FIRST_ID))
      itemCol.push(item)
      descCol.push(description)
      initialCol.push(BigInt(initialBid))
      reserveCol.push(BigInt(reserve))
      timeCol.push(ts)
      expiresCol.push(expires)
      sellerCol.push(this.big(seller + FIRST_ID))
      categoryCol.push(this.big(category))
      extraCol.push(this.extra(48 + item.length + description.length, AUCTION_SIZE))
      rows++
      n++
    }
    return n
  }

  private fillPeople(from: number, to: number, maxRows: number, columns: Value[][]): number {
    const [idCol, nameCol, emailCol, cardCol, cityCol, stateCol, timeCol, extraCol] = columns
    const t = this.tables
    let rows = 0
    let n = from
    while (n < to && rows < maxRows) {
      const k = n % PROPORTION
      if (k !== 0) {
        n += PROPORTION - k
        continue
      }
      this.reseed(n)
      const name = t.names[this.int(t.names.length)]
      const email = `${this.letters(3, 9)}@${this.letters(3, 6)}.com`
      const d = t.digits4
      const card = `${d[this.int(10_000)]} ${d[this.int(10_000)]} ${d[this.int(10_000)]} ${d[this.int(10_000)]}`
      const city = CITIES[this.int(CITIES.length)]
      const state = STATES[this.int(STATES.length)]
      idCol.push(BigInt(lastPerson(n) + FIRST_ID))
      nameCol.push(name)
      emailCol.push(email)
      cardCol.push(card)
      cityCol.push(city)
      stateCol.push(state)
      timeCol.push(this.timeOf(n))
      extraCol.push(this.extra(8 + name.length + email.length + card.length + city.length + state.length, PERSON_SIZE))
      rows++
      n++
    }
    return n
  }
}
