/**
 * A hash table from key tuples of SQL values to dense integer slots, for operators that keep
 * their per-group state in columns (struct of arrays) indexed by slot instead of one object per
 * group.
 *
 * Why: RowMap allocates a key tuple, an entry object and a Map entry per key; an operator where
 * nearly every row opens a new group (a tumbling window) then spends its time in garbage
 * collection. Here keys are copied into one array per key column, the table is open addressing
 * over an Int32Array (linear probing, backward-shift deletion, so no tombstones), and freed
 * slots are reused. A new key costs no allocation except when a column array or the table grows.
 * A key tuple is only materialised on request (`keyOf`, cold paths). Nulls compare equal to each
 * other, as GROUP BY requires; equality is that of RowMap (types/compare.ts).
 *
 * Why per-column functions: a loop over key columns reading `columns[k][i]` is one polymorphic
 * load site, and V8 boxes every double it loads there (a heap number per timestamp key per row).
 * Each key column instead gets a hasher and a copier made from a literal chosen by the column's
 * JS representation, so columns of numbers are read and copied unboxed.
 */
import type { Column } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import { hashCombine, hashValue, valuesEqual } from '../types/compare.ts'

const NULL_HASH = 0x5bd1e995
const MIN_TABLE = 16

/** Types carried as JS numbers (see types/datatype.ts). */
const NUMBER_KINDS = new Set(['int2', 'int4', 'float4', 'float8', 'date', 'time', 'timestamp', 'timestamptz'])

export interface KeyColumn {
  /** Hash of row `i` of a column of this key's type. */
  at(col: Column, i: number): number
  /** Hash of one value (equal to `at` for the same value). */
  one(v: Value): number
  /** dst[s] = src[i]. */
  copy(dst: Value[], s: number, src: Column, i: number): void
}

const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)

/** Equal numbers (0 and -0, NaN and NaN, as valuesEqual has them) hash equal. */
function hashNumber(n: number): number {
  if ((n | 0) === n) return Math.imul(n, 0x9e3779b1) | 0
  if (n !== n) return 0x7ff8
  f64[0] = n
  return hashCombine(u32[0], u32[1])
}

export function keyColumn(type: DataType): KeyColumn {
  if (NUMBER_KINDS.has(type.kind)) {
    return {
      at: (col, i) => {
        const v = col[i] as number | null
        return v === null ? NULL_HASH : hashNumber(v)
      },
      one: (v) => (v === null ? NULL_HASH : hashNumber(v as number)),
      copy: (dst, s, src, i) => {
        dst[s] = src[i]
      },
    }
  }
  return {
    at: (col, i) => {
      const v = col[i]
      return v === null ? NULL_HASH : hashValue(v, type)
    },
    one: (v) => (v === null ? NULL_HASH : hashValue(v, type)),
    copy: (dst, s, src, i) => {
      dst[s] = src[i]
    },
  }
}

export class KeySlots {
  /** Key column k of slot s is `keys[k][s]`; freed slots hold null or a stale number. */
  readonly keys: Value[][]
  private hashes = new Int32Array(MIN_TABLE)
  private live = new Uint8Array(MIN_TABLE)
  /** Open-addressing table: slot + 1, or 0 for an empty position. */
  private table = new Int32Array(MIN_TABLE * 2)
  private mask = MIN_TABLE * 2 - 1
  private readonly freed: number[] = []
  /** Slots ever handed out (free or live): every slot is below this. */
  private high = 0
  private count = 0

  private readonly columns: readonly KeyColumn[]

  constructor(readonly keyTypes: readonly DataType[]) {
    this.keys = keyTypes.map(() => [])
    this.columns = keyTypes.map(keyColumn)
  }

  get size(): number {
    return this.count
  }

  /** One past the largest slot handed out so far: per-slot arrays need this length. */
  get capacity(): number {
    return this.high
  }

  /** Hash of row `i`, reading key column k from `columns[keyIndex[k]]`. */
  hashAt(columns: readonly Column[], keyIndex: readonly number[], i: number): number {
    let h = 17
    for (let k = 0; k < keyIndex.length; k++) h = hashCombine(h, this.columns[k].at(columns[keyIndex[k]], i))
    return h
  }

  /** Hash of a key tuple. */
  hashKey(key: readonly Value[]): number {
    let h = 17
    for (let k = 0; k < key.length; k++) h = hashCombine(h, this.columns[k].one(key[k]))
    return h
  }

  /** The slot whose key equals row `i`'s key columns, or -1. */
  findAt(columns: readonly Column[], keyIndex: readonly number[], i: number, hash: number): number {
    const table = this.table
    const mask = this.mask
    for (let p = spread(hash) & mask; ; p = (p + 1) & mask) {
      const e = table[p]
      if (e === 0) return -1
      const s = e - 1
      if (this.hashes[s] === hash && this.matchesAt(s, columns, keyIndex, i)) return s
    }
  }

  /** The slot holding `key`, or -1. */
  find(key: readonly Value[], hash = this.hashKey(key)): number {
    const table = this.table
    const mask = this.mask
    for (let p = spread(hash) & mask; ; p = (p + 1) & mask) {
      const e = table[p]
      if (e === 0) return -1
      const s = e - 1
      if (this.hashes[s] === hash && this.matches(s, key)) return s
    }
  }

  /** Adds row `i`'s key (the caller checked it is absent) and returns its new slot. */
  insertAt(columns: readonly Column[], keyIndex: readonly number[], i: number, hash: number): number {
    const s = this.claim(hash)
    const keys = this.keys
    for (let k = 0; k < keyIndex.length; k++) this.columns[k].copy(keys[k], s, columns[keyIndex[k]], i)
    return s
  }

  /** Adds a key tuple (the caller checked it is absent) and returns its new slot. */
  insert(key: readonly Value[], hash = this.hashKey(key)): number {
    const s = this.claim(hash)
    for (let k = 0; k < key.length; k++) this.keys[k][s] = key[k]
    return s
  }

  /**
   * Room for `slots` keys without growing: the hash table at its load factor, and the per-slot
   * arrays (a restore that knows how many groups follow).
   */
  reserve(slots: number): void {
    if (slots > this.hashes.length) {
      this.hashes = grownInt32(this.hashes, slots - 1)
      this.live = grownUint8(this.live, slots - 1)
    }
    // Key columns too: a million stores into a growing array cost 90-160 ms, into a filled one 2
    // ms. Numbers fill with 0, so a column of numbers stays unboxed.
    for (let k = 0; k < this.keys.length; k++) {
      const column = this.keys[k]
      if (column.length >= slots) continue
      this.keys[k] = grownArray(column, slots, columnFill(this.keyTypes[k]))
    }
    let size = this.table.length
    while (slots * 2 > size) size *= 2
    if (size > this.table.length) this.rehash(size)
  }

  /**
   * Adds a key tuple (the caller checked it is absent) at `slot`, which must be free: a restore
   * that keeps the slot numbers of the checkpoint it reads (in ascending order, mostly). Slots
   * skipped over become free, and the key columns are written through them, so they stay dense
   * arrays.
   */
  insertInto(slot: number, key: readonly Value[], hash = this.hashKey(key)): number {
    if (slot < this.high) {
      const at = this.live[slot] === 1 ? -1 : this.freed.lastIndexOf(slot)
      if (at < 0) throw new Error(`slot ${slot} is taken`)
      this.freed.splice(at, 1)
    } else {
      if (slot >= this.hashes.length) {
        this.hashes = grownInt32(this.hashes, slot)
        this.live = grownUint8(this.live, slot)
      }
      for (let s = this.high; s < slot; s++) {
        this.freed.push(s)
        for (let k = 0; k < this.keys.length; k++) this.keys[k][s] = columnFill(this.keyTypes[k])
      }
      this.high = slot + 1
    }
    this.place(slot, hash)
    for (let k = 0; k < key.length; k++) this.keys[k][slot] = key[k]
    return slot
  }

  /** Frees a live slot; it may be handed out again by the next insert. */
  delete(s: number): void {
    if (this.live[s] === 0) return
    const table = this.table
    const mask = this.mask
    let p = spread(this.hashes[s]) & mask
    while (table[p] !== s + 1) p = (p + 1) & mask
    // Backward-shift deletion: move later members of the probe run into the hole so that every
    // key stays reachable from its home position without tombstones.
    let hole = p
    for (let q = (p + 1) & mask; table[q] !== 0; q = (q + 1) & mask) {
      const home = spread(this.hashes[table[q] - 1]) & mask
      // q's entry may move to the hole iff its home is not cyclically in (hole, q].
      if (hole <= q ? home <= hole || home > q : home <= hole && home > q) {
        table[hole] = table[q]
        hole = q
      }
    }
    table[hole] = 0
    this.live[s] = 0
    // Drop references to freed keys, but leave numbers: writing null into a column of doubles
    // would turn it into a column of boxed numbers, one allocation per key copied in.
    for (let k = 0; k < this.keys.length; k++) if (typeof this.keys[k][s] !== 'number') this.keys[k][s] = null
    this.freed.push(s)
    this.count--
  }

  isLive(s: number): boolean {
    return this.live[s] === 1
  }

  /** Copies the keys of `slot` into row `n` of `out` (key column k into `out[k]`), unboxed. */
  copyKeys(out: Value[][], n: number, slot: number): void {
    for (let k = 0; k < this.keys.length; k++) this.columns[k].copy(out[k], n, this.keys[k], slot)
  }

  /** The key tuple of a live slot, as a new array (cold paths: snapshots, tests). */
  keyOf(s: number): Value[] {
    const key = new Array<Value>(this.keys.length)
    for (let k = 0; k < key.length; k++) key[k] = this.keys[k][s]
    return key
  }

  /** Every live slot, in slot order. */
  *slots(): IterableIterator<number> {
    for (let s = 0; s < this.high; s++) if (this.live[s] === 1) yield s
  }

  clear(): void {
    for (const s of [...this.slots()]) this.delete(s)
  }

  private claim(hash: number): number {
    let s: number
    if (this.freed.length > 0) s = this.freed.pop()!
    else {
      s = this.high++
      if (s >= this.hashes.length) {
        this.hashes = grownInt32(this.hashes, s)
        this.live = grownUint8(this.live, s)
      }
    }
    this.place(s, hash)
    return s
  }

  /** Makes free slot `s` live with `hash` and enters it in the table. */
  private place(s: number, hash: number): void {
    if ((this.count + 1) * 2 > this.table.length) this.rehash(this.table.length * 2)
    this.hashes[s] = hash
    this.live[s] = 1
    const table = this.table
    const mask = this.mask
    let p = spread(hash) & mask
    while (table[p] !== 0) p = (p + 1) & mask
    table[p] = s + 1
    this.count++
  }

  private rehash(size: number): void {
    const table = new Int32Array(size)
    const mask = size - 1
    for (let s = 0; s < this.high; s++) {
      if (this.live[s] === 0) continue
      let p = spread(this.hashes[s]) & mask
      while (table[p] !== 0) p = (p + 1) & mask
      table[p] = s + 1
    }
    this.table = table
    this.mask = mask
  }

  private matchesAt(s: number, columns: readonly Column[], keyIndex: readonly number[], i: number): boolean {
    for (let k = 0; k < keyIndex.length; k++) {
      const a = this.keys[k][s]
      const b = columns[keyIndex[k]][i]
      if (a === null || b === null) {
        if (a !== b) return false
      } else if (a !== b && !valuesEqual(a, b, this.keyTypes[k])) return false
    }
    return true
  }

  private matches(s: number, key: readonly Value[]): boolean {
    for (let k = 0; k < key.length; k++) {
      const a = this.keys[k][s]
      const b = key[k]
      if (a === null || b === null) {
        if (a !== b) return false
      } else if (a !== b && !valuesEqual(a, b, this.keyTypes[k])) return false
    }
    return true
  }
}

/** Mixes the high bits of a hash into the low ones, which pick the table position. */
function spread(h: number): number {
  return h ^ (h >>> 15)
}

/** What a column of `type` is filled with: 0 for types held as numbers (so it stays unboxed). */
export function columnFill(type: DataType): 0 | null {
  return NUMBER_KINDS.has(type.kind) ? 0 : null
}

/** A copy of `a` with `length` elements, the new ones `fill`. */
export function grownArray<T>(a: readonly T[], length: number, fill: T): T[] {
  const b = new Array<T>(length).fill(fill)
  for (let i = 0; i < a.length; i++) b[i] = a[i]
  return b
}

/** A copy of `a` long enough to index `at` (doubling, so growth is amortised). */
export function grownInt32(a: Int32Array, at: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(Math.max(at + 1, a.length * 2, MIN_TABLE))
  b.set(a)
  return b
}

export function grownUint8(a: Uint8Array, at: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(Math.max(at + 1, a.length * 2, MIN_TABLE))
  b.set(a)
  return b
}

export function grownFloat64(a: Float64Array, at: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(Math.max(at + 1, a.length * 2, MIN_TABLE))
  b.set(a)
  return b
}
