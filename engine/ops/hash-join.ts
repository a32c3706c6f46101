/**
 * Equi-join with retractions (inner, left, right and full outer): a symmetric hash join that
 * keeps every row of both inputs, keyed by the join key. A change on one side joins against the
 * other side's current rows, then updates its own side, so the output is the change of the join
 * (ΔL ⋈ R + L' ⋈ ΔR) even when both inputs are the same stream.
 *
 * Outer sides track, per stored row, how many rows of the other side match it: a row whose match
 * count goes 0 → 1 retracts its NULL-extended result, 1 → 0 brings it back. A residual predicate
 * (the non-equality part of ON) decides matches, so it applies before NULL extension, as SQL says.
 * NULL keys never match.
 */
import { expiryBoundary } from './ttl.ts'
import type { Chunk, Watermark } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { CheckpointWriter, Emitter, Operator, OperatorContext, OperatorStore, StateEntry } from './operator.ts'
import { describeRow } from './operator.ts'
import { ChangeTracker } from '../state/change-tracker.ts'
import { decodeSnapshot, encodeSnapshot } from '../state/snapshot-codec.ts'
import { valuesEqual } from '../types/compare.ts'
import type { PredicateFn } from './filter-project.ts'
import { ChunkBuilder, rowAt } from '../chunk.ts'
import { RowMap, type RowEntry } from '../util/row-map.ts'
import { JOIN_COLD_PREFIX, JOIN_DIR_ENTRY, JoinTable, ROW_ENTRY, rowKey } from './join-table.ts'
import type { TableBucket, TableRow } from './join-table.ts'
import { ClosingKeys } from './join-closing.ts'
import { LookupResults, residualMask } from './join-lookup.ts'
import { IntervalExpiry } from './join-interval.ts'

export type JoinType = 'inner' | 'left' | 'right' | 'full'

/** A stored row: its count, match count, input, checkpoint id and last change (join-table.ts). */
type StoredRow = TableRow

// Checkpoint keys: stored rows by id (ROW_ENTRY, rowKey), lookup results by left row (join-lookup.ts).

/**
 * The rows of one join key: by whole row (so a delete finds its row in O(1)), or, for an input
 * that never retracts, a plain list (nothing is ever looked up by content).
 */
type Bucket = TableBucket

function bucketSize(b: Bucket): number {
  return Array.isArray(b) ? b.length : b.size
}

interface Side {
  readonly index: 0 | 1
  readonly keys: readonly number[]
  readonly types: readonly DataType[]
  readonly all: readonly number[]
  readonly table: RowMap<Bucket>
  readonly outer: boolean
  readonly width: number
  readonly appendOnly: boolean
}

export interface HashJoinSpec {
  readonly type: JoinType
  readonly leftKeys: readonly number[]
  readonly rightKeys: readonly number[]
  readonly leftTypes: readonly DataType[]
  readonly rightTypes: readonly DataType[]
  /** Evaluated over [left columns..., right columns...] of candidate pairs. */
  readonly residual: PredicateFn | undefined
  /**
   * Lookup (temporal) join: right-side changes only update its state; a left row joins the right
   * rows present when it arrives, and later right changes never revise that result.
   */
  readonly lookup?: boolean
  /** The left input never retracts: a lookup join need not remember what each left row produced. */
  readonly leftAppendOnly?: boolean
  /** The right input never retracts. */
  readonly rightAppendOnly?: boolean
  /**
   * Interval join bound (inner joins): right.t − left.t ∈ [lo, hi]. A row behind its own input's
   * watermark is late; a stored row that no future row of the other side can match is freed.
   */
  readonly interval?: {
    readonly leftTime: number
    readonly rightTime: number
    readonly lo: number
    readonly hi: number
  }
  /**
   * The view's `ttl` (ms): a stored row unchanged for that long (processing time) is evicted
   * without retracting what it produced (later rows of the other side no longer match it).
   * Not for interval joins, whose state the watermark bounds.
   */
  readonly ttlMs?: number
  /**
   * The place among the join keys of a closing key (join-closing.ts): a bucket whose value there
   * is at or below both inputs' watermarks on it is freed. Not for lookup or interval joins.
   */
  readonly closing?: number
  readonly detail: string
}

export class HashJoin implements Operator {
  readonly name = 'HashJoin'
  private readonly sides: [Side, Side]
  /** Interval joins: what the watermarks let each side forget (join-interval.ts). */
  private readonly expiry: IntervalExpiry | undefined
  private readonly width: number

  /** Watermark per input on its interval time column. */
  private readonly wm = [-Infinity, -Infinity]
  /** Id of the next stored row. */
  private nextId = 0
  /** The runtime's clock as of the last tick (ttl). */
  private clock = 0
  /** The ttl quarter boundary of the last expiry scan (engine/ops/ttl.ts). */
  private scannedAt = -Infinity
  /** Whether rows expire (ttl), so checkpoints keep when each last changed. */
  private readonly ttlOn: boolean
  /** Stored rows changed since the last checkpoint. */
  private readonly rowChanges = new ChangeTracker<StoredRow>()
  /** Lookup joins: what each left row produced (join-lookup.ts). */
  private readonly lookups: LookupResults | undefined
  /**
   * The state table (join-table.ts): with a store attached, a regular keyed join without ttl
   * holds the buckets the cache allows and reads the others on demand.
   */
  private table: JoinTable | undefined
  /** Buckets by closing key value, when the join frees closed windows. */
  private readonly closing: ClosingKeys | undefined

  constructor(
    private readonly spec: HashJoinSpec,
    private readonly ctx?: OperatorContext,
  ) {
    const keyTypes = spec.leftKeys.map((k) => spec.leftTypes[k])
    this.sides = [
      {
        index: 0,
        keys: spec.leftKeys,
        types: spec.leftTypes,
        all: spec.leftTypes.map((_t, i) => i),
        table: new RowMap(keyTypes),
        outer: spec.type === 'left' || spec.type === 'full',
        width: spec.leftTypes.length,
        appendOnly: spec.leftAppendOnly === true,
      },
      {
        index: 1,
        keys: spec.rightKeys,
        types: spec.rightTypes,
        all: spec.rightTypes.map((_t, i) => i),
        table: new RowMap(keyTypes),
        outer: spec.type === 'right' || spec.type === 'full',
        width: spec.rightTypes.length,
        appendOnly: spec.rightAppendOnly === true,
      },
    ]
    this.width = spec.leftTypes.length + spec.rightTypes.length
    this.ttlOn = spec.ttlMs !== undefined && spec.interval === undefined
    this.lookups = spec.lookup === true ? new LookupResults(spec.leftTypes, this.ttlOn) : undefined
    this.expiry =
      spec.interval === undefined
        ? undefined
        : new IntervalExpiry(spec.interval, (side, s) => this.unstore(this.sides[side], s))
    const at = spec.closing
    if (at !== undefined && spec.lookup !== true && spec.interval === undefined)
      this.closing = new ClosingKeys(at, [spec.leftKeys[at], spec.rightKeys[at]])
  }

  /**
   * Checkpoint: one entry per stored row (by id: count, matches, side, row) and per lookup
   * result; changed ones are rewritten, removed ones deleted. The first checkpoint writes all.
   */
  checkpoint(out: CheckpointWriter): void {
    if (!this.rowChanges.tracking) {
      out.clear()
      for (const side of this.sides)
        for (const e of side.table.entries())
          if (this.table?.backs(e) !== true) for (const s of this.candidates(e.value)) this.writeRow(out, s)
      this.lookups?.writeAll(out)
      this.rowChanges.start()
    } else {
      for (const s of this.rowChanges.drain()) this.writeRow(out, s)
      this.lookups?.writeChanged(out)
    }
    // Buckets beyond the cache allowance go to the cold tier (after their rows' writes: the
    // batch applies in order, so a victim's row entries end deleted).
    this.table?.collect(out)
  }

  /**
   * State tables (join-table.ts): a keyed join other than a lookup, interval or ttl join (those
   * scan or never revisit their rows) keeps the buckets the cache allows. Row entries are
   * restored (restore()); the cold tier is read on demand.
   */
  attachStore(store: OperatorStore): void {
    const { spec } = this
    if (spec.leftKeys.length > 0 && spec.lookup !== true && spec.interval === undefined && spec.ttlMs === undefined)
      this.table = new JoinTable(
        {
          tables: [this.sides[0].table, this.sides[1].table],
          keyTypes: this.sides[0].table.keyTypes,
          rowTypes: [spec.leftTypes, spec.rightTypes],
          appendOnly: [this.sides[0].appendOnly, this.sides[1].appendOnly],
          nextId: () => this.nextId++,
          opened: this.closing === undefined ? undefined : (side, key) => this.closing?.opened(side, key),
        },
        store,
      )
  }

  /** With a state table, recovery reads the row entries and the meta entry, not the cold tier. */
  get restoreBelow(): Uint8Array | undefined {
    return this.table === undefined ? undefined : JOIN_COLD_PREFIX
  }

  detachStore(): void {
    this.table?.detach()
  }

  checkpointed(): void {
    this.table?.checkpointed()
  }

  /**
   * Entries come in the store's batches, each restored as it arrives: holding every entry of a
   * join with millions of rows in memory before restoring them took a third more heap than the
   * rows themselves (a 2M-row-per-side join died restoring in a 2 GB heap).
   */
  readonly restoresInBatches = true

  restore(entries: readonly StateEntry[]): void {
    for (const [key, value] of entries) {
      if (key.length === 0)
        this.table?.restoreMeta(value) // the state table's meta entry
      else if (key[0] === JOIN_DIR_ENTRY) this.table?.restoreDir(key)
      else if (key[0] === ROW_ENTRY) {
        const [side, count, matches, row, touched] = decodeSnapshot(value) as [
          0 | 1,
          number,
          number,
          Value[],
          number | undefined,
        ]
        const id = Number(new DataView(key.buffer, key.byteOffset + 1, 8).getBigUint64(0))
        this.restoreRow({ row, count, matches, side, id, touched: touched ?? 0 })
        if (id >= this.nextId) this.nextId = id + 1
      } else this.lookups?.restore(key, value)
    }
    this.rowChanges.start()
    this.lookups?.restored()
  }

  private writeRow(out: CheckpointWriter, s: StoredRow): void {
    const key = rowKey(s.id)
    // With a ttl, when the row last changed on the processing clock (a restart continues it).
    if (s.count > 0)
      out.put(
        key,
        encodeSnapshot(
          this.ttlOn ? [s.side, s.count, s.matches, s.row, s.touched] : [s.side, s.count, s.matches, s.row],
        ),
      )
    else out.del(key)
  }

  /** Puts a checkpointed row back into its side's bucket. */
  private restoreRow(s: StoredRow): void {
    const side = this.sides[s.side]
    const nullKey = side.keys.some((k) => s.row[k] === null)
    // A row with a NULL key lives in the all-NULL bucket, where store() looks for it.
    const keyTuple = side.keys.map((k) => (nullKey ? null : s.row[k]))
    const hash = nullKey ? 0 : side.table.hashKey(keyTuple)
    let entry = side.table.find(keyTuple, hash)
    if (entry === undefined) {
      entry = side.table.insert(keyTuple, hash, side.appendOnly ? [] : new RowMap<StoredRow>(side.types))
      this.closing?.opened(side.index, keyTuple)
    }
    const bucket = entry.value
    if (Array.isArray(bucket)) bucket.push(s)
    else bucket.insert(s.row, bucket.hashKey(s.row), s)
    this.expiry?.stored(side.index, s)
    if (this.table !== undefined) this.table.rows++
  }

  private lookupChunk(chunk: Chunk, input: number, out: Emitter): void {
    const cols = chunk.columns
    if (input === 1) {
      const right = this.sides[1]
      for (let i = 0; i < chunk.length; i++) {
        const row = new Array<Value>(right.width)
        for (let c = 0; c < right.width; c++) row[c] = cols[c][i]
        if (right.keys.some((k) => row[k] === null)) continue
        this.store(right, cols, i, right.table.hashAt(cols, right.keys, i), row, chunk.ops[i] as 1 | -1, 0, false)
      }
      return
    }
    const left = this.sides[0]
    const right = this.sides[1]
    const builder = new ChunkBuilder(this.width)
    const lookups = this.spec.leftAppendOnly === true ? undefined : this.lookups
    for (let i = 0; i < chunk.length; i++) {
      const op = chunk.ops[i] as 1 | -1
      const row = new Array<Value>(left.width)
      for (let c = 0; c < left.width; c++) row[c] = cols[c][i]
      if (op < 0 && lookups !== undefined) {
        lookups.retract(cols, i, builder) // what it produced when it arrived, not a fresh lookup
        continue
      }
      const outputs: Value[][] = []
      const nullKey = left.keys.some((k) => row[k] === null)
      const bucket = nullKey ? undefined : right.table.findAt(cols, left.keys, i, left.table.hashAt(cols, left.keys, i))
      if (bucket !== undefined) {
        const candidates = this.candidates(bucket.value)
        const pass = residualMask(this.spec.residual, this.width, 0, row, candidates)
        for (let m = 0; m < candidates.length; m++) {
          if (pass !== undefined && pass[m] === 0) continue
          for (let n = 0; n < candidates[m].count; n++) outputs.push([...row, ...candidates[m].row])
        }
      }
      if (outputs.length === 0 && left.outer) outputs.push([...row, ...new Array<Value>(right.width).fill(null)])
      for (const r of outputs) builder.push(1, r)
      lookups?.record(cols, i, row, outputs, this.clock)
    }
    const result = builder.take()
    if (result !== undefined) out.chunk(result)
  }

  onChunk(chunk: Chunk, input: number, out: Emitter): void {
    if (this.spec.lookup === true) {
      this.lookupChunk(chunk, input, out)
      return
    }
    const self = this.sides[input]
    const other = this.sides[1 - input]
    const builder = new ChunkBuilder(this.width)
    const cols = chunk.columns
    const interval = this.spec.interval
    const timeCol = interval === undefined ? -1 : input === 0 ? interval.leftTime : interval.rightTime
    let late = 0
    // Two passes. The first builds each row and finds its candidates; the residual (the rest of
    // ON) is then evaluated once over every (row, candidate) pair of the chunk, instead of once
    // per row over a chunk built for that row. The second applies matches and stores, in order.
    // Probes read the other side only and stores write this side, so the split changes nothing.
    const n = chunk.length
    const rows = new Array<Value[] | undefined>(n)
    const hashes = new Float64Array(n)
    const nullKeys = new Uint8Array(n)
    const found = new Array<StoredRow[] | undefined>(n)
    const foundIn = new Array<RowEntry<Bucket> | undefined>(n)
    const residual = this.spec.residual
    const pairs = residual === undefined ? undefined : new ChunkBuilder(this.width)
    const maskAt = residual === undefined ? undefined : new Int32Array(n)
    let pairCount = 0
    for (let i = 0; i < n; i++) {
      if (timeCol >= 0) {
        const t = cols[timeCol][i] as number | null
        if (t !== null && t < this.wm[input]) {
          if (chunk.ops[i] > 0) {
            late++
            this.ctx?.deadLetter({
              reason: 'late',
              detail: 'event time is behind the watermark of this interval join input',
              payload: describeRow(rowAt(chunk, i), self.types),
            })
          }
          continue
        }
      }
      const row = new Array<Value>(self.width)
      for (let c = 0; c < self.width; c++) row[c] = cols[c][i]
      rows[i] = row
      let hasNullKey = false
      for (const k of self.keys) if (row[k] === null) hasNullKey = true
      if (hasNullKey) {
        nullKeys[i] = 1
        continue
      }
      const hash = self.table.hashAt(cols, self.keys, i)
      hashes[i] = hash
      let bucket = other.table.findAt(cols, self.keys, i, hash)
      const table = this.table
      if (table !== undefined) {
        if (bucket !== undefined) table.hit(bucket)
        else if (table.spill.onDisk) bucket = table.load(other.index, cols, self.keys, i, hash)
      }
      if (bucket === undefined) continue
      const candidates = this.candidates(bucket.value)
      found[i] = candidates
      foundIn[i] = bucket
      if (pairs === undefined || maskAt === undefined) continue
      maskAt[i] = pairCount
      pairCount += candidates.length
      for (const o of candidates) {
        if (input === 0) pairs.pushPair(1, row, o.row)
        else pairs.pushPair(1, o.row, row)
      }
    }
    const pairChunk = pairs?.take()
    const mask = residual === undefined || pairChunk === undefined ? undefined : residual(pairChunk)
    for (let i = 0; i < n; i++) {
      const row = rows[i]
      if (row === undefined) continue
      const op = chunk.ops[i] as 1 | -1
      const hasNullKey = nullKeys[i] === 1
      const hash = hashes[i]
      // With a ttl, the retraction of a row evicted earlier retracts nothing: what it produced
      // stays, and pairs with rows that came after the eviction were never produced.
      if (op < 0 && this.spec.ttlMs !== undefined && !hasNullKey && !this.holds(self, cols, i, hash)) continue
      let matched = 0
      const candidates = found[i]
      if (candidates !== undefined) {
        const at = maskAt === undefined ? 0 : maskAt[i]
        for (let m = 0; m < candidates.length; m++) {
          if (residual !== undefined && (mask === undefined || mask[at + m] === 0)) continue
          const o = candidates[m]
          matched += o.count
          for (let c = 0; c < o.count; c++) {
            if (input === 0) builder.pushPair(op, row, o.row)
            else builder.pushPair(op, o.row, row)
          }
          if (other.outer) {
            const before = o.matches
            o.matches += op
            this.noteRow(foundIn[i]!, o)
            if (before === 0 && o.matches > 0) this.pushNullExtended(builder, -1, 1 - input, o.row, o.count)
            else if (before > 0 && o.matches === 0) this.pushNullExtended(builder, 1, 1 - input, o.row, o.count)
          }
        }
      }
      if (self.outer && matched === 0) this.pushNullExtended(builder, op, input, row, 1)
      if (!hasNullKey || self.outer) this.store(self, cols, i, hash, row, op, matched, hasNullKey)
    }
    if (late > 0) this.ctx?.countLate(late)
    const result = builder.take()
    if (result !== undefined) out.chunk(result)
  }

  onWatermark(w: Watermark, input: number, out: Emitter): void {
    out.watermark(input === 0 ? w : { kind: 'watermark', column: w.column + this.sides[0].width, value: w.value })
    const closed = this.closing?.advance(input, w.column, w.value)
    if (closed !== undefined)
      this.closing!.free(closed, {
        tables: [this.sides[0].table, this.sides[1].table],
        forget: (s) => this.forget(s),
        table: this.table,
      })
    const interval = this.spec.interval
    if (
      interval === undefined ||
      w.column !== (input === 0 ? interval.leftTime : interval.rightTime) ||
      w.value <= this.wm[input]
    )
      return
    this.wm[input] = w.value
    // Free the other side's rows that no future row of this side can match.
    this.expiry?.watermark(input as 0 | 1, w.value)
  }

  /** Takes a stored row out of its bucket, as if retracted, without output (freed by the watermark). */
  private unstore(side: Side, s: StoredRow): void {
    const key = side.keys.map((k) => s.row[k])
    const entry = side.table.find(key, side.table.hashKey(key))
    if (entry === undefined) return // its bucket is on disk: the cold tier frees it
    const bucket = entry.value
    if (Array.isArray(bucket)) {
      const at = bucket.indexOf(s)
      if (at < 0) return
      bucket.splice(at, 1)
    } else {
      const found = bucket.find(s.row, bucket.hashKey(s.row))
      if (found === undefined || found.value !== s) return
      bucket.delete(found)
    }
    this.forget(s, entry, -1)
    if (bucketSize(bucket) === 0) this.dropBucket(side, entry)
  }

  /**
   * TTL: evicts stored rows (and lookup results) unchanged for `ttlMs`. Scans all state, so it
   * runs at most every quarter of the TTL.
   */
  onTick(now: number, _out: Emitter): void {
    const ttl = this.spec.ttlMs
    if (ttl === undefined || this.spec.interval !== undefined) return
    this.clock = now
    const at = expiryBoundary(now, ttl)
    if (at <= this.scannedAt) return
    this.scannedAt = at
    const expired = (s: { touched: number }): boolean => {
      if (s.touched === 0) s.touched = now
      return at - s.touched >= ttl
    }
    for (const side of this.sides) this.evict(side, expired)
    this.lookups?.expire(expired)
  }

  /** Removes the stored rows of `side` for which `dead` holds. */
  private evict(side: Side, dead: (s: StoredRow) => boolean): void {
    for (const entry of [...side.table.entries()]) {
      const bucket = entry.value
      if (Array.isArray(bucket)) {
        const live: StoredRow[] = []
        for (const s of bucket) {
          if (dead(s)) this.forget(s)
          else live.push(s)
        }
        bucket.length = 0
        bucket.push(...live)
      } else {
        for (const stored of [...bucket.entries()]) {
          if (!dead(stored.value)) continue
          bucket.delete(stored)
          this.forget(stored.value)
        }
      }
      if (bucketSize(bucket) === 0) side.table.delete(entry)
    }
  }

  /** Whether `side` holds row `i` of `cols` (hash: of its join key). */
  private holds(side: Side, cols: Chunk['columns'], i: number, hash: number): boolean {
    const entry = side.table.findAt(cols, side.keys, i, hash)
    if (entry === undefined) return false
    const bucket = entry.value
    return Array.isArray(bucket) || bucket.findAt(cols, side.all, i, bucket.hashAt(cols, side.all, i)) !== undefined
  }

  /**
   * A stored row left the state (its checkpoint entry is deleted, or its bucket's rewritten);
   * `rows`: −1 when it left its bucket in `entry` (the state table's count).
   */
  private forget(s: StoredRow, entry?: RowEntry<Bucket>, rows = 0): void {
    s.count = 0
    if (entry === undefined) this.rowChanges.note(s)
    else this.noteRow(entry, s, rows)
  }

  /**
   * A stored row of the bucket `entry` changed, and the bucket gained `rows` rows (1, or −1 when
   * one left it): the row's entry is written at the next checkpoint or, when the bucket is backed
   * by a cold entry (join-table.ts), that is rewritten instead. One lookup per change.
   */
  private noteRow(entry: RowEntry<Bucket>, s: StoredRow, rows = 0): void {
    const table = this.table
    if (table === undefined) {
      this.rowChanges.note(s)
      return
    }
    table.rows += rows
    if (table.backs(entry)) table.changed(entry, rows)
    else this.rowChanges.note(s)
  }

  stateSize(): number {
    if (this.table !== undefined) return this.table.totalRows()
    let n = 0
    for (const side of this.sides) for (const e of side.table.entries()) n += bucketSize(e.value)
    return n
  }

  /** A side's columns are carried where every row it contributes to has them (inner, or its outer side). */
  carries(input: number, column: number): number | undefined {
    const t = this.spec.type
    if (input === 0) return t === 'inner' || t === 'left' ? column : undefined
    return t === 'inner' || t === 'right' ? this.spec.leftTypes.length + column : undefined
  }

  explain(): string {
    return this.spec.ttlMs === undefined || this.spec.interval !== undefined
      ? this.spec.detail
      : `${this.spec.detail} ttl=${this.spec.ttlMs / 1000}s`
  }

  /** The rows of a bucket as an array (the bucket may change while its matches are emitted). */
  private candidates(bucket: Bucket): StoredRow[] {
    // A list bucket belongs to the other side than the one being stored into: safe to share.
    if (Array.isArray(bucket)) return bucket
    const out: StoredRow[] = []
    for (const e of bucket.entries()) out.push(e.value)
    return out
  }

  private pushNullExtended(
    builder: ChunkBuilder,
    op: 1 | -1,
    side: number,
    row: readonly Value[],
    times: number,
  ): void {
    const nulls = new Array<Value>(this.sides[1 - side].width).fill(null)
    const joined = side === 0 ? [...row, ...nulls] : [...nulls, ...row]
    for (let n = 0; n < times; n++) builder.push(op, joined)
  }

  private store(
    side: Side,
    cols: Chunk['columns'],
    i: number,
    hash: number,
    row: Value[],
    op: 1 | -1,
    matches: number,
    nullKey: boolean,
  ): void {
    // Rows with NULL keys never match; outer sides still keep them so a delete finds its row.
    const nullTuple = nullKey ? side.keys.map(() => null) : undefined
    let entry = nullTuple !== undefined ? side.table.find(nullTuple, 0) : side.table.findAt(cols, side.keys, i, hash)
    const table = this.table
    if (table !== undefined && nullTuple === undefined) {
      // The bucket's rows in the cold tier are read back before it changes (the unit is a bucket).
      if (entry !== undefined) table.hit(entry)
      else if (table.spill.onDisk) entry = table.load(side.index, cols, side.keys, i, hash)
    }
    if (entry === undefined) {
      if (op < 0) return
      entry = side.table.insert(
        nullTuple ?? side.table.keyAt(cols, side.keys, i),
        nullTuple !== undefined ? 0 : hash,
        side.appendOnly ? [] : new RowMap<StoredRow>(side.types),
      )
      this.closing?.opened(side.index, entry.key)
    }
    const bucket = entry.value
    if (Array.isArray(bucket)) {
      if (op > 0) {
        const s: StoredRow = { row, count: 1, matches, side: side.index, id: this.nextId++, touched: this.clock }
        bucket.push(s)
        this.expiry?.stored(side.index, s)
        this.noteRow(entry, s, 1)
      } else {
        // Not expected (the input is append-only); handled for safety.
        const at = bucket.findIndex((s) =>
          s.row.every(
            (v, c) => v === row[c] || (v !== null && row[c] !== null && valuesEqual(v, row[c], side.types[c])),
          ),
        )
        if (at >= 0) this.forget(bucket.splice(at, 1)[0], entry, -1)
        if (bucket.length === 0) this.dropBucket(side, entry)
      }
      return
    }
    const rowHash = bucket.hashAt(cols, side.all, i)
    const stored = bucket.findAt(cols, side.all, i, rowHash)
    if (op > 0) {
      if (stored !== undefined) {
        stored.value.count++
        stored.value.touched = this.clock
        this.noteRow(entry, stored.value)
      } else {
        const s = bucket.insert(row, rowHash, {
          row,
          count: 1,
          matches,
          side: side.index,
          id: this.nextId++,
          touched: this.clock,
        }).value
        this.expiry?.stored(side.index, s)
        this.noteRow(entry, s, 1)
      }
      return
    }
    if (stored === undefined) return
    const left = --stored.value.count === 0
    if (left) bucket.delete(stored)
    stored.value.touched = this.clock
    this.noteRow(entry, stored.value, left ? -1 : 0)
    if (bucket.size === 0) this.dropBucket(side, entry)
  }

  /** An emptied bucket leaves its side (and the state table's clock). */
  private dropBucket(side: Side, entry: RowEntry<Bucket>): void {
    side.table.delete(entry)
    this.table?.dropped(entry)
  }
}
