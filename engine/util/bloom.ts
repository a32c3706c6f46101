/**
 * A scalable blocked Bloom filter over byte strings (encoded keys): "definitely not added" or
 * "maybe added". The state tables keep one over the keys written to their cold tier, so a key
 * never evicted (a brand-new group) costs no store read (docs/design/state.md).
 *
 * Blocked: a key sets k bits within one 64-byte block chosen by its hash, so an add or a lookup
 * touches one cache line per level instead of k. Scalable: a level takes keys up to its capacity,
 * then a level twice as large is added; a lookup checks every level. Every level has 10 bits a key
 * and 7 bits set per key: about 1.1 % false positives once full (measured: bloom.test.ts).
 *
 * Why the levels are not tightened (the textbook scalable filter halves each level's rate so the
 * chain's sum stays bounded): here a false positive costs one absent store read (about 2 µs),
 * while a bit a key costs cache memory for every cold key; halving a blocked filter's rate takes
 * about two bits a key more per level. So the chain's rate is about 1.1 % per full level (its
 * first level is sized from what the caller expects, which keeps the chain short).
 *
 * Keys are hashed in place (a range of a Uint8Array): no allocation per add or lookup.
 */

/** 32-bit words per block: 16 words, 512 bits, one 64-byte cache line. */
const BLOCK_WORDS = 16
const BLOCK_BITS = BLOCK_WORDS * 32
/**
 * Blocks per level at most: a block is chosen as floor(hash × blocks / 2^32), which a double
 * computes exactly while the product is below 2^53. (2^21 blocks are 128 MiB, 100M+ keys.)
 */
const MAX_BLOCKS = 2 ** 21
/** Bits a key (at capacity), and bits set per key (10 ln 2, the optimum). */
const BITS_PER_KEY = 10
const K = 7
/** The smallest first level (keys). */
export const MIN_BLOOM_CAPACITY = 1024

// The two hashes of the last key hashed (module state, not a returned pair: no allocation).
let hashA = 0
let hashB = 0

/** Murmur3's finalizer: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/**
 * Two independent 32-bit hashes of bytes [start, end) into hashA and hashB: murmur3's body run
 * twice over the same 4-byte words with different constants. One 32-bit hash would not do: with
 * 50M keys, an absent key would share the full hash of a present one about 1 % of the time.
 */
function hashBytes(bytes: Uint8Array, start: number, end: number): void {
  let a = 0x9747b28c
  let b = 0x5bd1e995
  let i = start
  for (; i + 4 <= end; i += 4) {
    const w = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)
    let k = Math.imul(w, 0xcc9e2d51)
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593)
    a ^= k
    a = (Math.imul((a << 13) | (a >>> 19), 5) + 0xe6546b64) | 0
    k = Math.imul(w, 0x239b961b)
    k = Math.imul((k << 17) | (k >>> 15), 0xab0e9789)
    b ^= k
    b = (Math.imul((b << 15) | (b >>> 17), 5) + 0x38b34ae5) | 0
  }
  let w = 0
  for (let s = 0; i < end; i++, s += 8) w |= bytes[i] << s
  // The tail (0 to 3 bytes) and the length go in whole: keys of different lengths differ.
  a = fmix32(Math.imul(a ^ w, 0x1b873593) ^ (end - start))
  b = fmix32(Math.imul(b ^ w, 0xab0e9789) ^ (end - start) ^ 0x2545f491)
  hashA = a
  hashB = b
}

/** One filter of the chain. */
class Level {
  readonly words: Int32Array
  readonly blocks: number
  /** Keys it takes before the next level is added. */
  readonly capacity: number
  count = 0

  constructor(capacity: number) {
    this.blocks = Math.min(MAX_BLOCKS, Math.max(1, Math.ceil((capacity * BITS_PER_KEY) / BLOCK_BITS)))
    this.capacity = Math.floor((this.blocks * BLOCK_BITS) / BITS_PER_KEY)
    this.words = new Int32Array(this.blocks * BLOCK_WORDS)
  }

  /** Whether the last key hashed may have been added (hashA, hashB). */
  has(): boolean {
    const words = this.words
    const base = Math.floor(((hashA >>> 0) * this.blocks) / 2 ** 32) * BLOCK_WORDS
    // Double hashing within the block: an odd step visits k distinct bits of 512.
    let bit = hashB & (BLOCK_BITS - 1)
    const step = ((hashB >>> 9) & (BLOCK_BITS - 1)) | 1
    for (let j = 0; j < K; j++) {
      if ((words[base + (bit >>> 5)] & (1 << (bit & 31))) === 0) return false
      bit = (bit + step) & (BLOCK_BITS - 1)
    }
    return true
  }

  /** Adds the last key hashed. */
  add(): void {
    const words = this.words
    const base = Math.floor(((hashA >>> 0) * this.blocks) / 2 ** 32) * BLOCK_WORDS
    let bit = hashB & (BLOCK_BITS - 1)
    const step = ((hashB >>> 9) & (BLOCK_BITS - 1)) | 1
    for (let j = 0; j < K; j++) {
      words[base + (bit >>> 5)] |= 1 << (bit & 31)
      bit = (bit + step) & (BLOCK_BITS - 1)
    }
    this.count++
  }
}

/** A set of byte strings that may answer "present" wrongly (about 1 %) but never "absent". */
export class BloomFilter {
  private readonly levels: Level[] = []

  /** `capacity`: keys the first level takes (later levels double it). */
  constructor(capacity: number) {
    this.levels.push(new Level(Math.max(MIN_BLOOM_CAPACITY, capacity)))
  }

  /** Keys added (those the filter did not already answer "present" for). */
  get size(): number {
    let n = 0
    for (const level of this.levels) n += level.count
    return n
  }

  /** Bytes of the filter's bit arrays. */
  get bytes(): number {
    let n = 0
    for (const level of this.levels) n += level.words.byteLength
    return n
  }

  get levelCount(): number {
    return this.levels.length
  }

  /** Whether bytes [start, end) of `key` may have been added; false means never added. */
  has(key: Uint8Array, start = 0, end = key.length): boolean {
    hashBytes(key, start, end)
    return this.hashedIn()
  }

  /**
   * Adds bytes [start, end) of `key` (nothing is kept of the array). A key the filter already
   * answers "present" for is not added again: a lookup's answer stays the same, and a key
   * evicted, read back and evicted again does not fill the filter twice.
   */
  add(key: Uint8Array, start = 0, end = key.length): void {
    hashBytes(key, start, end)
    if (this.hashedIn()) return
    let last = this.levels[this.levels.length - 1]
    if (last.count >= last.capacity) {
      last = new Level(2 * last.capacity)
      this.levels.push(last)
    }
    last.add()
  }

  /** Whether any level holds the last key hashed; the newest (largest) level first. */
  private hashedIn(): boolean {
    const levels = this.levels
    for (let l = levels.length - 1; l >= 0; l--) if (levels[l].has()) return true
    return false
  }
}
