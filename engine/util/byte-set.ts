/**
 * Sets and lists of byte strings (encoded keys) without a JS object per key: the bytes are
 * copied into one growing arena, and a set is an open-addressing hash table (linear probing) of
 * indexes into it, with each key's hash beside it so a probe compares bytes only on a hash match.
 *
 * Why: the state tables' tombstones (group-spill.ts) take one key per cache miss and keep it
 * until the next durable checkpoint. As a Set of latin1 strings, or as one Uint8Array each, every
 * key was an object that lived long enough to be promoted and then collected from the old
 * generation: a good part of a miss's cost. There is no single delete: tombstones are dropped all
 * at once (`clear`), which is what lets the table do without deletion markers.
 *
 * Bytes once written are never overwritten (a cleared or grown arena is replaced, not reused), so
 * the views that `values()` and `ByteList.take()` hand out stay valid.
 */

/**
 * FNV-1a over bytes [start, end), then a final mix: FNV's low bits depend only on the bytes' low
 * bits, and a bucket is the hash's low bits.
 */
export function bytesHash(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193)
  return h ^ (h >>> 16)
}

const MIN_CAPACITY = 16

/** Byte strings appended one after another, with their end offsets. */
class Arena {
  bytes: Uint8Array
  used = 0
  /** ends[i]: where string i ends (it starts where string i - 1 ends). */
  ends: Int32Array
  count = 0

  constructor(bytes = 256, strings = MIN_CAPACITY / 2) {
    this.bytes = new Uint8Array(Math.max(16, bytes))
    this.ends = new Int32Array(Math.max(MIN_CAPACITY / 2, strings))
  }

  start(i: number): number {
    return i === 0 ? 0 : this.ends[i - 1]
  }

  push(key: Uint8Array): void {
    if (this.used + key.length > this.bytes.length) {
      const grown = new Uint8Array(Math.max(2 * this.bytes.length, this.used + key.length))
      grown.set(this.bytes.subarray(0, this.used))
      this.bytes = grown
    }
    this.bytes.set(key, this.used)
    this.used += key.length
    if (this.count === this.ends.length) {
      const grown = new Int32Array(2 * this.ends.length)
      grown.set(this.ends)
      this.ends = grown
    }
    this.ends[this.count++] = this.used
  }

  view(i: number): Uint8Array {
    return this.bytes.subarray(this.start(i), this.ends[i])
  }

  /** Whether string i equals `key`. */
  equals(i: number, key: Uint8Array): boolean {
    const start = this.start(i)
    const end = this.ends[i]
    if (end - start !== key.length) return false
    const bytes = this.bytes
    for (let j = 0; j < key.length; j++) if (bytes[start + j] !== key[j]) return false
    return true
  }
}

/** A set of byte strings; it keeps copies of the keys added. */
export class ByteSet {
  private arena = new Arena()
  /** hashes[i] is the hash of key i. */
  private hashes = new Int32Array(MIN_CAPACITY / 2)
  /** Per bucket: 1 + the index of its key, or 0 (empty). A power of two, at most half full. */
  private table = new Int32Array(MIN_CAPACITY)

  get size(): number {
    return this.arena.count
  }

  has(key: Uint8Array): boolean {
    if (this.arena.count === 0) return false
    const h = bytesHash(key)
    const mask = this.table.length - 1
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const at = this.table[b]
      if (at === 0) return false
      if (this.hashes[at - 1] === h && this.arena.equals(at - 1, key)) return true
    }
  }

  /** Adds a copy of `key` unless an equal key is in the set; whether it was added. */
  add(key: Uint8Array): boolean {
    const h = bytesHash(key)
    const mask = this.table.length - 1
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const at = this.table[b]
      if (at === 0) {
        const i = this.arena.count
        this.arena.push(key)
        if (i === this.hashes.length) {
          const grown = new Int32Array(2 * this.hashes.length)
          grown.set(this.hashes)
          this.hashes = grown
        }
        this.hashes[i] = h
        this.table[b] = i + 1
        if (2 * this.arena.count > this.table.length) this.rehash(2 * this.table.length)
        return true
      }
      if (this.hashes[at - 1] === h && this.arena.equals(at - 1, key)) return false
    }
  }

  clear(): void {
    const { count, used } = this.arena
    if (count === 0) return
    // The tombstones of one checkpoint interval are about as many as the next one's: the new
    // arena and table start at this fill's size (no regrowing every interval).
    this.arena = new Arena(used, count)
    const capacity = Math.max(MIN_CAPACITY, 2 ** Math.ceil(Math.log2(2 * count + 1)))
    if (capacity === this.table.length) this.table.fill(0)
    else {
      this.table = new Int32Array(capacity)
      this.hashes = new Int32Array(capacity / 2)
    }
  }

  /** The keys in the order they were added (views of the set's copies: not to be mutated). */
  *values(): IterableIterator<Uint8Array> {
    const arena = this.arena
    for (let i = 0; i < arena.count; i++) yield arena.view(i)
  }

  private rehash(capacity: number): void {
    const table = new Int32Array(capacity)
    const mask = capacity - 1
    for (let i = 0; i < this.arena.count; i++) {
      let b = this.hashes[i] & mask
      while (table[b] !== 0) b = (b + 1) & mask
      table[b] = i + 1
    }
    this.table = table
  }
}

/** A list of byte strings (repeats kept), in one arena; it keeps copies of the keys pushed. */
export class ByteList {
  private arena = new Arena()

  get length(): number {
    return this.arena.count
  }

  push(key: Uint8Array): void {
    this.arena.push(key)
  }

  /** The keys in order (views of the list's copies: not to be mutated). */
  *values(): IterableIterator<Uint8Array> {
    const arena = this.arena
    for (let i = 0; i < arena.count; i++) yield arena.view(i)
  }

  /** Empties the list; its keys, as views, in order. */
  take(): Uint8Array[] {
    const arena = this.arena
    const out = new Array<Uint8Array>(arena.count)
    for (let i = 0; i < arena.count; i++) out[i] = arena.view(i)
    if (arena.count > 0) this.arena = new Arena(arena.used, arena.count)
    return out
  }
}
