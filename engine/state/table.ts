/**
 * StateTable: the typed view operators use over their slice of the state store (one id prefix).
 * Keys and rows are tuples of engine values; writes are buffered in memory until the barrier,
 * when `drain()` hands them to the checkpoint, which writes every table's writes in one atomic
 * batch. Reads see the table's own writes: the buffer, then the drained-but-not-yet-written
 * layers, then the store.
 *
 * Why the in-flight layers: between `drain()` and the checkpoint's batch landing, the operator
 * keeps processing the next epoch and must not read stale store values. The runtime calls
 * `committed()` once per drain, in order, after the batch holding it is durable.
 */
import type { DataType, Value } from '../types/datatype.ts'
import type { StateStore, StateWrite } from './store.ts'
import { T } from '../types/datatype.ts'
import { decodeKey, decodeRow, encodeKey, encodeRow } from './codec.ts'
import { compareBytes, hasPrefix } from './store.ts'

/** A buffered write of one key: the row to put, or null for a delete. */
interface Pending {
  readonly key: Uint8Array
  readonly row: Value[] | null
}

/** Writes of one epoch: per-key writes, applied after a delete of every key below `below` (if set). */
interface Layer {
  readonly entries: Map<string, Pending>
  below: Uint8Array | undefined
}

function newLayer(): Layer {
  return { entries: new Map(), below: undefined }
}

function mapKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
}

export class StateTable {
  /** The byte prefix of every key of this table. */
  readonly prefix: Uint8Array
  private buffer: Layer = newLayer()
  /** Drained layers not yet known durable, oldest first. */
  private readonly inFlight: Layer[] = []

  constructor(
    private readonly store: StateStore,
    readonly id: number,
    readonly keyTypes: readonly DataType[],
    readonly valueTypes: readonly DataType[],
  ) {
    this.prefix = encodeKey([BigInt(id)], [T.int8])
  }

  /** Buffered writes not yet drained (puts, deletes and range deletes). */
  get pending(): number {
    return this.buffer.entries.size + (this.buffer.below === undefined ? 0 : 1)
  }

  async get(key: readonly Value[]): Promise<Value[] | undefined> {
    const bytes = this.encode(key)
    const k = mapKey(bytes)
    for (let i = this.inFlight.length; i >= 0; i--) {
      const layer = i === this.inFlight.length ? this.buffer : this.inFlight[i]
      const hit = layer.entries.get(k)
      if (hit !== undefined) return hit.row ?? undefined
      if (layer.below !== undefined && compareBytes(bytes, layer.below) < 0) return undefined
    }
    const stored = await this.store.get(bytes)
    return stored === undefined ? undefined : decodeRow(stored, this.valueTypes)
  }

  /** Buffers a put. The row is copied; its values must not be mutated afterwards. */
  put(key: readonly Value[], row: readonly Value[]): void {
    const bytes = this.encode(key)
    this.buffer.entries.set(mapKey(bytes), { key: bytes, row: row.slice() })
  }

  delete(key: readonly Value[]): void {
    const bytes = this.encode(key)
    this.buffer.entries.set(mapKey(bytes), { key: bytes, row: null })
  }

  /** Drops every key whose first column is below `firstKeyColumnUpper` (windows the watermark closed). */
  deleteBelow(firstKeyColumnUpper: Value): void {
    const bound = encodeKey([firstKeyColumnUpper], [this.keyTypes[0]], this.prefix)
    const layer = this.buffer
    for (const [k, p] of layer.entries) if (compareBytes(p.key, bound) < 0) layer.entries.delete(k)
    if (layer.below === undefined || compareBytes(bound, layer.below) > 0) layer.below = bound
  }

  /**
   * Entries whose key starts with `prefix` (leading key columns), in key order, merging the
   * buffered writes over the store.
   */
  async *scan(prefix: readonly Value[] = []): AsyncIterable<[Value[], Value[]]> {
    const scanPrefix = prefix.length === 0 ? this.prefix : encodeKey(prefix, this.keyTypes, this.prefix)
    // Collapse the layers (oldest first) into one overlay; `hidden` covers store keys a range delete removed.
    const overlay = new Map<string, Pending>()
    let hidden: Uint8Array | undefined
    for (const layer of [...this.inFlight, this.buffer]) {
      if (layer.below !== undefined) {
        const below = layer.below
        for (const [k, p] of overlay) if (compareBytes(p.key, below) < 0) overlay.delete(k)
        if (hidden === undefined || compareBytes(below, hidden) > 0) hidden = below
      }
      for (const [k, p] of layer.entries) if (hasPrefix(p.key, scanPrefix)) overlay.set(k, p)
    }
    const local = [...overlay.values()].sort((a, b) => compareBytes(a.key, b.key))
    let i = 0
    const options = hidden !== undefined && compareBytes(hidden, scanPrefix) > 0 ? { gte: hidden } : {}
    for await (const [key, value] of this.store.scan(scanPrefix, options)) {
      let shadowed = false
      while (i < local.length) {
        const c = compareBytes(local[i].key, key)
        if (c > 0) break
        const p = local[i++]
        if (p.row !== null) yield [this.decode(p.key), p.row.slice()]
        if (c === 0) {
          shadowed = true
          break
        }
      }
      if (!shadowed) yield [this.decode(key), decodeRow(value, this.valueTypes)]
    }
    for (; i < local.length; i++) {
      const p = local[i]
      if (p.row !== null) yield [this.decode(p.key), p.row.slice()]
    }
  }

  /** The buffered writes, for the checkpoint's batch; the buffer moves to the in-flight layers. */
  drain(): StateWrite[] {
    const layer = this.buffer
    const writes: StateWrite[] = []
    if (layer.below !== undefined) writes.push({ type: 'delRange', gte: this.prefix, lt: layer.below })
    for (const p of layer.entries.values()) {
      writes.push(
        p.row === null
          ? { type: 'del', key: p.key }
          : { type: 'put', key: p.key, value: encodeRow(p.row, this.valueTypes) },
      )
    }
    this.inFlight.push(layer)
    this.buffer = newLayer()
    return writes
  }

  /** The writes of the oldest drain are durable in the store: stop overlaying them. */
  committed(): void {
    this.inFlight.shift()
  }

  /** Forgets buffered and in-flight writes (recovery: state is reloaded from the store). */
  reset(): void {
    this.buffer = newLayer()
    this.inFlight.length = 0
  }

  private encode(key: readonly Value[]): Uint8Array {
    return encodeKey(key, this.keyTypes, this.prefix)
  }

  private decode(key: Uint8Array): Value[] {
    return decodeKey(key, this.keyTypes, this.prefix.length)
  }
}
