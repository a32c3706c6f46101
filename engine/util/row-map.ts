/**
 * A hash map keyed by a tuple of SQL values, looked up straight from a chunk's columns.
 *
 * Why not `Map<string, V>` with a joined key: building a string per row costs an allocation and
 * a formatting pass per key column on the hot path. Here a row's key is hashed column by column
 * (numbers without allocation) and compared in place; the key tuple is only materialised when a
 * new entry is inserted. Nulls compare equal to each other, as GROUP BY and DISTINCT require.
 */
import type { Column } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import { hashCombine, hashValue, valuesEqual } from '../types/compare.ts'

export interface RowEntry<V> {
  readonly key: Value[]
  readonly hash: number
  value: V
}

const NULL_HASH = 0x5bd1e995

export class RowMap<V> {
  private readonly buckets = new Map<number, RowEntry<V> | RowEntry<V>[]>()
  private count = 0

  constructor(readonly keyTypes: readonly DataType[]) {}

  get size(): number {
    return this.count
  }

  /** Hash of row `i`, reading key column k from `columns[keyIndex[k]]`. */
  hashAt(columns: readonly Column[], keyIndex: readonly number[], i: number): number {
    let h = 17
    for (let k = 0; k < keyIndex.length; k++) {
      const v = columns[keyIndex[k]][i]
      h = hashCombine(h, v === null ? NULL_HASH : hashValue(v, this.keyTypes[k]))
    }
    return h
  }

  /** Hash of a key tuple. */
  hashKey(key: readonly Value[]): number {
    let h = 17
    for (let k = 0; k < key.length; k++) {
      const v = key[k]
      h = hashCombine(h, v === null ? NULL_HASH : hashValue(v, this.keyTypes[k]))
    }
    return h
  }

  /** The entry whose key equals row `i`'s key columns, if any. */
  findAt(columns: readonly Column[], keyIndex: readonly number[], i: number, hash: number): RowEntry<V> | undefined {
    const slot = this.buckets.get(hash)
    if (slot === undefined) return undefined
    if (!Array.isArray(slot)) return this.matchesAt(slot.key, columns, keyIndex, i) ? slot : undefined
    for (let s = 0; s < slot.length; s++) {
      if (this.matchesAt(slot[s].key, columns, keyIndex, i)) return slot[s]
    }
    return undefined
  }

  find(key: readonly Value[], hash = this.hashKey(key)): RowEntry<V> | undefined {
    const slot = this.buckets.get(hash)
    if (slot === undefined) return undefined
    if (!Array.isArray(slot)) return this.matches(slot.key, key) ? slot : undefined
    for (let s = 0; s < slot.length; s++) if (this.matches(slot[s].key, key)) return slot[s]
    return undefined
  }

  /** Inserts a new entry (the caller checked it is absent). */
  insert(key: Value[], hash: number, value: V): RowEntry<V> {
    const entry: RowEntry<V> = { key, hash, value }
    const slot = this.buckets.get(hash)
    if (slot === undefined) this.buckets.set(hash, entry)
    else if (Array.isArray(slot)) slot.push(entry)
    else this.buckets.set(hash, [slot, entry])
    this.count++
    return entry
  }

  /** Copies row `i`'s key columns into a new tuple (for inserting). */
  keyAt(columns: readonly Column[], keyIndex: readonly number[], i: number): Value[] {
    const key = new Array<Value>(keyIndex.length)
    for (let k = 0; k < keyIndex.length; k++) key[k] = columns[keyIndex[k]][i]
    return key
  }

  delete(entry: RowEntry<V>): void {
    const slot = this.buckets.get(entry.hash)
    if (slot === undefined) return
    if (!Array.isArray(slot)) {
      if (slot === entry) {
        this.buckets.delete(entry.hash)
        this.count--
      }
      return
    }
    const at = slot.indexOf(entry)
    if (at < 0) return
    slot.splice(at, 1)
    if (slot.length === 1) this.buckets.set(entry.hash, slot[0])
    this.count--
  }

  *entries(): IterableIterator<RowEntry<V>> {
    for (const slot of this.buckets.values()) {
      if (Array.isArray(slot)) yield* slot
      else yield slot
    }
  }

  clear(): void {
    this.buckets.clear()
    this.count = 0
  }

  private matchesAt(
    key: readonly Value[],
    columns: readonly Column[],
    keyIndex: readonly number[],
    i: number,
  ): boolean {
    for (let k = 0; k < keyIndex.length; k++) {
      const a = key[k]
      const b = columns[keyIndex[k]][i]
      if (a === null || b === null) {
        if (a !== b) return false
      } else if (a !== b && !valuesEqual(a, b, this.keyTypes[k])) return false
    }
    return true
  }

  private matches(key: readonly Value[], other: readonly Value[]): boolean {
    for (let k = 0; k < key.length; k++) {
      const a = key[k]
      const b = other[k]
      if (a === null || b === null) {
        if (a !== b) return false
      } else if (a !== b && !valuesEqual(a, b, this.keyTypes[k])) return false
    }
    return true
  }
}
