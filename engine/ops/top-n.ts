/**
 * ROW_NUMBER() OVER (PARTITION BY .. ORDER BY ..), maintained with retractions: each partition
 * keeps its rows sorted; a change re-emits only the positions whose row or number changed. With
 * a limit (from `rn <= N` above it), only the first N positions are emitted — top-N per group,
 * and dedup with N = 1. State holds every row of a partition, so a retracted leader is replaced
 * by the next row.
 *
 * Ties in ORDER BY are broken by the whole row, so numbering is deterministic (PostgreSQL leaves
 * the order of ties unspecified).
 */
import { expiryBoundary } from './ttl.ts'
import type { Chunk } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { CheckpointWriter, Emitter, Operator, StateEntry } from './operator.ts'
import { ChunkBuilder } from '../chunk.ts'
import { RowMap, type RowEntry } from '../util/row-map.ts'
import { compareValues } from '../types/compare.ts'
import { ChangeTracker } from '../state/change-tracker.ts'
import { decodeKey, encodeKey } from '../state/codec.ts'
import { decodeSnapshot, encodeSnapshot } from '../state/snapshot-codec.ts'

export interface SortSpec {
  readonly column: number
  readonly descending: boolean
  readonly nullsFirst: boolean
}

export interface TopNSpec {
  readonly types: readonly DataType[]
  readonly partition: readonly number[]
  readonly order: readonly SortSpec[]
  /** Number only the first `limit` rows of each partition (Infinity: all). */
  readonly limit: number
  /**
   * The input never retracts, so a row that falls past `limit` can never move up again: state
   * keeps only the first `limit` rows of each partition.
   */
  readonly appendOnly?: boolean
  /** The view's `ttl` (ms): a partition unchanged for that long (processing time) is dropped and its rows retracted. */
  readonly ttlMs?: number
}

interface Partition {
  /** Sorted rows; identical rows appear once per copy. */
  readonly rows: Value[][]
  /** The first `limit` rows as last emitted, or undefined when not dirty. */
  before: Value[][] | undefined
  /** Runtime clock (ms) of its last change, for ttl (0: before any tick). */
  touched: number
}

export class TopN implements Operator {
  readonly name = 'TopN'
  private readonly partitions: RowMap<Partition>
  private readonly dirty: RowEntry<Partition>[] = []
  private readonly width: number
  private readonly partitionTypes: readonly DataType[]
  /**
   * Partitions changed since the last checkpoint. A checkpoint rewrites a changed partition
   * whole: small for top-N over append-only input (at most `limit` rows), as large as the
   * partition otherwise.
   */
  private readonly changes = new ChangeTracker<RowEntry<Partition>>()
  /** The runtime's clock as of the last tick (ttl). */
  private clock = 0
  /** The ttl quarter boundary of the last expiry scan (engine/ops/ttl.ts). */
  private scannedAt = -Infinity

  constructor(private readonly spec: TopNSpec) {
    this.partitionTypes = spec.partition.map((c) => spec.types[c])
    this.partitions = new RowMap(this.partitionTypes)
    this.width = spec.types.length + 1
  }

  onChunk(chunk: Chunk, _input: number, out: Emitter): void {
    const { partition } = this.spec
    const cols = chunk.columns
    for (let i = 0; i < chunk.length; i++) {
      const hash = this.partitions.hashAt(cols, partition, i)
      let entry = this.partitions.findAt(cols, partition, i, hash)
      if (entry === undefined)
        entry = this.partitions.insert(this.partitions.keyAt(cols, partition, i), hash, {
          rows: [],
          before: undefined,
          touched: 0,
        })
      const p = entry.value
      if (p.before === undefined) {
        p.before = p.rows.slice(0, this.spec.limit)
        p.touched = this.clock
        this.dirty.push(entry)
      }
      const row = new Array<Value>(cols.length)
      for (let c = 0; c < cols.length; c++) row[c] = cols[c][i]
      const at = this.search(p.rows, row)
      if (chunk.ops[i] > 0) {
        if (this.spec.appendOnly === true && at >= this.spec.limit) continue
        p.rows.splice(at, 0, row)
        if (this.spec.appendOnly === true && p.rows.length > this.spec.limit) p.rows.length = this.spec.limit
      } else if (at < p.rows.length && this.compare(p.rows[at], row) === 0) p.rows.splice(at, 1)
    }
    const builder = new ChunkBuilder(this.width)
    for (const entry of this.dirty) {
      const p = entry.value
      const before = p.before!
      p.before = undefined
      this.changes.note(entry)
      const after = p.rows.slice(0, this.spec.limit)
      const n = Math.max(before.length, after.length)
      for (let j = 0; j < n; j++) {
        const a = before[j]
        const b = after[j]
        if (a !== undefined && b !== undefined && a === b) continue
        if (a !== undefined) builder.push(-1, [...a, BigInt(j + 1)])
        if (b !== undefined) builder.push(1, [...b, BigInt(j + 1)])
      }
      if (p.rows.length === 0) this.partitions.delete(entry)
    }
    this.dirty.length = 0
    const result = builder.take()
    if (result !== undefined) out.chunk(result)
  }

  /** TTL: drops partitions unchanged for `ttlMs`, retracting their rows (at most every quarter of the TTL). */
  onTick(now: number, out: Emitter): void {
    const ttl = this.spec.ttlMs
    if (ttl === undefined) return
    this.clock = now
    const at = expiryBoundary(now, ttl)
    if (at <= this.scannedAt) return
    this.scannedAt = at
    const builder = new ChunkBuilder(this.width)
    for (const entry of [...this.partitions.entries()]) {
      const p = entry.value
      if (p.touched === 0) p.touched = now
      if (at - p.touched < ttl) continue
      const shown = p.rows.slice(0, this.spec.limit)
      for (let j = 0; j < shown.length; j++) builder.push(-1, [...shown[j], BigInt(j + 1)])
      p.rows.length = 0
      this.partitions.delete(entry)
      this.changes.note(entry)
    }
    const result = builder.take()
    if (result !== undefined) out.chunk(result)
  }

  /** Checkpoint: each changed partition → its sorted rows, or a delete once empty. */
  checkpoint(out: CheckpointWriter): void {
    if (!this.changes.tracking) {
      out.clear()
      for (const entry of this.partitions.entries()) this.write(out, entry)
      this.changes.start()
      return
    }
    for (const entry of this.changes.drain()) this.write(out, entry)
  }

  restore(entries: readonly StateEntry[]): void {
    for (const [k, v] of entries) {
      const key = decodeKey(k, this.partitionTypes)
      const value = decodeSnapshot(v) as Value[][] | [Value[][], number]
      // With a ttl: [rows, when last changed on the processing clock]; rows are never numbers.
      const timed = value.length === 2 && typeof value[1] === 'number'
      const rows = timed ? (value[0] as Value[][]) : (value as Value[][])
      this.partitions.insert(key, this.partitions.hashKey(key), {
        rows,
        before: undefined,
        touched: timed ? (value[1] as number) : 0,
      })
    }
    this.changes.start()
  }

  private write(out: CheckpointWriter, entry: RowEntry<Partition>): void {
    const key = encodeKey(entry.key, this.partitionTypes)
    const p = entry.value
    if (p.rows.length > 0) out.put(key, encodeSnapshot(this.spec.ttlMs === undefined ? p.rows : [p.rows, p.touched]))
    else out.del(key)
  }

  stateSize(): number {
    let n = 0
    for (const e of this.partitions.entries()) n += e.value.rows.length
    return n
  }

  explain(): string {
    const order = this.spec.order.map((o) => `#${o.column}${o.descending ? ' desc' : ''}`).join(', ')
    return `partition=[${this.spec.partition.map((c) => `#${c}`).join(', ')}] order=[${order}]${this.spec.limit === Infinity ? '' : ` limit=${this.spec.limit}`}${this.spec.ttlMs === undefined ? '' : ` ttl=${this.spec.ttlMs / 1000}s`}`
  }

  /** First index whose row sorts at or after `row`. */
  private search(rows: readonly Value[][], row: readonly Value[]): number {
    let lo = 0
    let hi = rows.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.compare(rows[mid], row) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private compare(a: readonly Value[], b: readonly Value[]): number {
    for (const o of this.spec.order) {
      const x = a[o.column]
      const y = b[o.column]
      if (x === null || y === null) {
        if (x === y) continue
        return (x === null) === o.nullsFirst ? -1 : 1
      }
      const c = compareValues(x, y, this.spec.types[o.column])
      if (c !== 0) return o.descending ? -c : c
    }
    for (let c = 0; c < a.length; c++) {
      const d = compareNullable(a[c], b[c], this.spec.types[c], false)
      if (d !== 0) return d
    }
    return 0
  }
}

/** Total order for the tie-break: NULLs last. */
function compareNullable(x: Value, y: Value, type: DataType, nullsFirst: boolean): number {
  if (x === null || y === null) {
    if (x === y) return 0
    return (x === null) !== nullsFirst ? 1 : -1
  }
  return compareValues(x, y, type)
}
