/**
 * Grouped aggregation with retractions. Input rows are laid out as [group keys..., aggregate
 * arguments...] by the pre-projection. Each chunk updates the accumulators of its groups and
 * marks them dirty; at the end of the chunk every dirty group emits its change: a delete of the
 * row it emitted before and an insert of its new row (nothing when the row did not change).
 *
 * Windowed aggregation (EMIT CHANGES): a watermark on the window_end key closes windows; their
 * groups' state is freed, their result rows stay downstream. EMIT ON WINDOW CLOSE: a group emits
 * nothing until its window closes, then its final row once (append-only output).
 *
 * A global aggregate (no GROUP BY) always holds exactly one row, as the batch query does.
 *
 * State layout (struct of arrays, so that opening a group allocates nothing): every group is a
 * slot number handed out by KeySlots, which stores the group keys in one array per key column.
 * Per slot the operator keeps `rows` (rows counted, NULLs included; 0 = empty group), `dirty`
 * (changed since the group's last emitted change; dirty slots are listed in `dirtyList`), and the
 * row it last emitted (`hasEmitted`, and the aggregate values in `emitted[call][slot]`; the keys
 * are the slot's keys). Each aggregate call's accumulators are one AccumulatorColumns indexed by
 * slot. Checkpoints write the groups a page of 32 slots at a time (`checkpoint()`, `restore()`).
 */
import { expiryBoundary } from './ttl.ts'
import type { Chunk, Watermark } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { Accumulator, AccumulatorColumns } from '../expr/aggregates.ts'
import type { CheckpointWriter, Emitter, Operator, OperatorStore, StateBackedOutput, StateEntry } from './operator.ts'
import { SnapshotReader, encodeSnapshot } from '../state/snapshot-codec.ts'
import { piecesOf } from './group-spill.ts'
import { COLD_PREFIX, GroupTable, type GroupHost } from './group-table.ts'
import { Output } from './aggregate-output.ts'
import { accumulatorColumns } from '../expr/aggregates.ts'
import { KeySlots, columnFill, grownArray, grownFloat64, grownUint8 } from '../util/key-slots.ts'
import { valuesEqual } from '../types/compare.ts'

export interface AggregateCall {
  /** Display name for EXPLAIN, e.g. `count(*)`. */
  readonly label: string
  /** Input column of the argument, or -1 for count(*). */
  readonly arg: number
  /** Second argument column (string_agg's delimiter), or -1. */
  readonly arg2: number
  readonly returnType: DataType
  create(): Accumulator
}

export interface HashAggregateSpec {
  readonly keyTypes: readonly DataType[]
  readonly calls: readonly AggregateCall[]
  /**
   * Position among the keys of the window column (window_end, else window_start) for windowed
   * aggregation: a watermark value v on it closes every group whose key is ≤ v.
   */
  readonly windowKey?: number
  readonly emitOnWindowClose: boolean
  /**
   * The view's `ttl` (ms) for unwindowed grouping: a group unchanged for that long (processing
   * time, from onTick) is dropped and its row retracted. Undefined: groups live until empty.
   */
  readonly ttlMs?: number
}

const COUNT_STAR_MARKER = true
/**
 * hasEmitted[slot] of a restored group: it emitted the row its accumulators give, computed when
 * first needed (emittedReady), so a restore builds no aggregate values (a Decimal and a bigint per
 * group for sum(int8)).
 */
const LAZY = 2

export class HashAggregate implements Operator, StateBackedOutput {
  readonly name: string = 'HashAggregate'
  private readonly groups: KeySlots
  private readonly accs: AccumulatorColumns[]
  private readonly keyIndex: number[]
  private rows = new Float64Array(0)
  private dirty = new Uint8Array(0)
  private hasEmitted = new Uint8Array(0)
  /** emitted[a][slot]: aggregate a of the row the group in `slot` last emitted. */
  private readonly emitted: Value[][]
  private readonly dirtyList: number[] = []
  /** window key → slots of that window, so closing a window touches only its groups. */
  private readonly byWindow = new Map<number, number[]>()
  /** The window list last appended to: consecutive new groups mostly share a window. */
  private lastWindow: number[] | undefined
  private lastWindowEnd = NaN
  private watermark = -Infinity
  private readonly width: number
  /** Scratch for one group's new aggregate values during a flush. */
  private readonly next: Value[]
  // Checkpoint bookkeeping, by page of PAGE slots (touched once per changed group per chunk, not
  // per row). A checkpoint rewrites each page that changed as one entry: one LevelDB write and
  // one encode call per page instead of per group (docs/design/checkpoints.md).
  /** pageDirty[p] = 1: a group of page p changed since the last checkpoint (listed in dirtyPages). */
  private pageDirty = new Uint8Array(0)
  private readonly dirtyPages: number[] = []
  /** storedPages[p] = 1: the last checkpoint holds an entry for page p. */
  private storedPages = new Uint8Array(0)
  /** Set by restore(): slots differ from the checkpoint's, so the next one rewrites everything. */
  private rewriteAll = false
  /** The page numbers restore() read, deleted by that rewrite. */
  private restoredPages: number[] = []
  // TTL (spec.ttlMs): the runtime's clock as of the last tick, and when each group last changed
  // by that clock (0: before any tick, read as "now" by the next expiry scan).
  private clock = 0
  private touched = new Float64Array(0)
  /** The ttl quarter boundary of the last expiry scan (engine/ops/ttl.ts). */
  private scannedAt = -Infinity
  /** Where rows of groups freed at window close (kept downstream) are handed (see onRetired). */
  private retired: ((rows: Chunk) => void) | undefined
  /**
   * The state table (docs/design/state.md): with a store attached, an unwindowed keyed aggregate
   * keeps one entry per group there, holds the groups the cache allows and reads the others on
   * demand.
   */
  private table: GroupTable | undefined

  constructor(private readonly spec: HashAggregateSpec) {
    this.groups = new KeySlots(spec.keyTypes)
    this.accs = spec.calls.map((c) => accumulatorColumns(() => c.create()))
    this.keyIndex = spec.keyTypes.map((_t, i) => i)
    this.width = spec.keyTypes.length + spec.calls.length
    this.emitted = spec.calls.map(() => [])
    this.next = spec.calls.map(() => null)
  }

  get keyCount(): number {
    return this.spec.keyTypes.length
  }

  get stateBacked(): boolean {
    return this.spillable
  }

  /** Whether groups may live in a state table: unwindowed, keyed, without ttl (all scan every group). */
  private get spillable(): boolean {
    return this.spec.keyTypes.length > 0 && this.spec.windowKey === undefined && this.spec.ttlMs === undefined
  }

  onStart(out: Emitter): void {
    if (this.spec.keyTypes.length > 0) return
    const slot = this.openGroup(this.groups.insert([]))
    this.markDirty(slot)
    this.flush(out)
  }

  onChunk(chunk: Chunk, _input: number, out: Emitter): void {
    this.accumulate(chunk)
    if (!this.spec.emitOnWindowClose) this.flush(out)
  }

  /**
   * Applies a chunk's rows to their groups and marks those dirty; emits nothing (see flush).
   * With `times`, row i stands for times[i] equal rows (window-aggregate.ts merges duplicates).
   */
  protected accumulate(chunk: Chunk, times?: Int32Array): void {
    const { calls, windowKey } = this.spec
    const cols = chunk.columns
    const keyIndex = this.keyIndex
    const groups = this.groups
    const accs = this.accs
    for (let i = 0; i < chunk.length; i++) {
      const hash = groups.hashAt(cols, keyIndex, i)
      let slot = groups.findAt(cols, keyIndex, i, hash)
      if (slot < 0) {
        // With a ttl, a retraction for a group that is gone (expired) has nothing to retract.
        if (chunk.ops[i] < 0 && this.spec.ttlMs !== undefined && this.spec.windowKey === undefined) continue
        const table = this.table
        if (table?.spill.onDisk === true) slot = table.load(cols, i, hash)
        if (slot < 0) {
          slot = this.openGroup(groups.insertAt(cols, keyIndex, i, hash))
          if (windowKey !== undefined) this.trackWindow(slot, windowKey)
        }
      } else this.table?.hit(slot)
      // Before the accumulators change: a restored group's emitted row is computed from them.
      if (this.dirty[slot] === 0) this.markDirty(slot)
      const op = chunk.ops[i] as 1 | -1
      const m = times === undefined ? 1 : times[i]
      this.rows[slot] += op * m
      for (let r = 0; r < m; r++)
        for (let a = 0; a < calls.length; a++) {
          const call = calls[a]
          const arg = call.arg
          if (call.arg2 >= 0) accs[a].add(slot, [cols[arg][i], cols[call.arg2][i]], op)
          else accs[a].add(slot, arg < 0 ? COUNT_STAR_MARKER : cols[arg][i], op)
        }
    }
  }

  onWatermark(w: Watermark, _input: number, out: Emitter): void {
    const { windowKey } = this.spec
    if (w.column < this.spec.keyTypes.length) out.watermark(w) // keys are the first output columns
    if (windowKey === undefined || w.column !== windowKey || w.value <= this.watermark) return
    this.watermark = w.value
    const output = new Output(this.width, 0)
    // EMIT CHANGES: the rows downstream keeps of the groups freed here.
    const retired = this.retired !== undefined && !this.spec.emitOnWindowClose ? new Output(this.width, 0) : undefined
    for (const [end, slots] of this.byWindow) {
      if (end > w.value) continue
      this.byWindow.delete(end)
      if (slots === this.lastWindow) this.lastWindow = undefined
      for (const slot of slots) {
        if (this.spec.emitOnWindowClose && this.rows[slot] > 0) {
          for (let a = 0; a < this.accs.length; a++) this.next[a] = this.accs[a].result(slot)
          output.push(1, this.groups, slot, this.next)
        }
        if (retired !== undefined && this.emittedReady(slot)) retired.pushEmitted(1, this.groups, slot, this.emitted)
        this.dirty[slot] = 0
        this.freeGroup(slot)
      }
    }
    if (this.spec.emitOnWindowClose) this.clearDirty()
    else this.flush(out) // groups closed mid-chunk were already flushed; this is a no-op guard
    const chunk = output.take()
    if (chunk !== undefined) {
      out.chunk(chunk)
      this.retired?.(chunk) // EMIT ON WINDOW CLOSE: a row is final as it is emitted
    }
    const gone = retired?.take()
    if (gone !== undefined) this.retired?.(gone)
  }

  /**
   * Asks for the rows downstream keeps although this operator forgets their groups (closed
   * windows), as they are forgotten. With it, currentOutput() covers windowed aggregation too:
   * downstream's rows = currentOutput() + everything retired.
   */
  onRetired(handler: (rows: Chunk) => void): void {
    this.retired = handler
  }

  /**
   * TTL: drops the groups unchanged for `ttlMs` and retracts their rows. Scans every group, so
   * it runs at most every quarter of the TTL (a group goes between ttl and 1.25 ttl after its
   * last change).
   */
  onTick(now: number, out: Emitter): void {
    const ttl = this.spec.ttlMs
    if (ttl === undefined || this.spec.windowKey !== undefined || this.spec.keyTypes.length === 0) return
    this.clock = now
    const at = expiryBoundary(now, ttl)
    if (at <= this.scannedAt) return
    this.scannedAt = at
    const output = new Output(this.width, 0)
    for (const slot of [...this.groups.slots()]) {
      if (this.touched[slot] === 0) {
        this.touched[slot] = now
        this.notePage(slot)
        continue
      }
      if (at - this.touched[slot] < ttl || this.dirty[slot] === 1) continue
      if (this.emittedReady(slot)) output.pushEmitted(-1, this.groups, slot, this.emitted)
      this.freeGroup(slot)
    }
    const chunk = output.take()
    if (chunk !== undefined) out.chunk(chunk)
  }

  stateSize(): number {
    return this.table?.totalRows() ?? this.groups.size
  }

  /** Group keys are the first input and output columns alike. */
  carries(_input: number, column: number): number | undefined {
    return column < this.spec.keyTypes.length ? column : undefined
  }

  explain(): string {
    const keys = this.spec.keyTypes.map((_t, i) => `#${i}`).join(', ')
    const emit = this.spec.emitOnWindowClose ? ' emit=on_window_close' : ''
    const ttl =
      this.spec.ttlMs === undefined || this.spec.windowKey !== undefined ? '' : ` ttl=${this.spec.ttlMs / 1000}s`
    return `keys=[${keys}] aggs=[${this.spec.calls.map((c) => c.label).join(', ')}]${emit}${ttl}`
  }

  /**
   * Checkpoint: every page with a changed group, as page number → its live groups; a page left
   * empty is deleted.
   */
  checkpoint(out: CheckpointWriter): void {
    if (this.rewriteAll) {
      // Restored from pages without slot offsets (written before they were recorded): slots
      // were renumbered, so every page is written anew. With a state table only the old pages
      // go (the cold tier stays).
      if (this.table === undefined) out.clear()
      else for (const page of this.restoredPages) out.del(pageKey(page))
      this.restoredPages = []
      this.rewriteAll = false
      this.storedPages.fill(0)
      for (const slot of this.groups.slots()) this.notePage(slot)
    }
    // Groups beyond the cache allowance go to the cold tier; their pages are rewritten without them.
    const table = this.table
    table?.collect(out)
    // EMIT ON WINDOW CLOSE groups change without a flush: their dirty list holds them.
    if (this.spec.emitOnWindowClose) for (const slot of this.dirtyList) this.notePage(slot)
    const ttl = this.spec.ttlMs !== undefined
    for (const page of this.dirtyPages) {
      this.pageDirty[page] = 0
      // One flat array per page: the live groups' slot offsets in the page (bytes), then per
      // group its keys, rows, accumulator snapshots, whether it has emitted (fewer arrays to
      // build and encode than one array per group). The emitted aggregates are not written:
      // between pushes every group is flushed, so they equal the accumulators' results, which
      // restore() recomputes. With a ttl, each group also carries when it last changed on the
      // processing clock, which a restart continues. A restore puts each group back in its slot,
      // so the pages stay valid as they are.
      const groups: unknown[] = [undefined]
      const offsets: number[] = []
      const keys = this.groups.keys
      const end = (page + 1) << PAGE_BITS
      for (let slot = page << PAGE_BITS; slot < end; slot++) {
        if (!this.groups.isLive(slot) || table?.isPaged(slot) === false) continue
        offsets.push(slot & PAGE_MASK)
        for (let k = 0; k < keys.length; k++) groups.push(keys[k][slot])
        groups.push(this.rows[slot])
        for (let a = 0; a < this.accs.length; a++) groups.push(this.accs[a].snapshot(slot))
        groups.push(this.hasEmitted[slot] === 0 ? 0 : 1)
        if (ttl) groups.push(this.touched[slot])
      }
      if (offsets.length > 0) {
        groups[0] = Uint8Array.from(offsets)
        if (page >= this.storedPages.length) this.storedPages = grownUint8(this.storedPages, page)
        out.put(pageKey(page), encodeSnapshot(groups))
        this.storedPages[page] = 1
      } else if (this.storedPages[page] === 1) {
        out.del(pageKey(page))
        this.storedPages[page] = 0
      }
    }
    this.dirtyPages.length = 0
  }

  /**
   * The rows downstream holds from this operator (each group's emitted row), so a Materialize
   * right after it rebuilds from here instead of checkpointing a second copy. For windowed
   * aggregation only with onRetired: downstream also keeps the rows of closed windows whose
   * groups this operator freed.
   */
  currentOutput(): Chunk | undefined {
    if (this.spec.windowKey !== undefined && this.retired === undefined) return undefined
    const output = new Output(this.width, this.groups.size)
    for (const slot of this.groups.slots())
      if (this.emittedReady(slot)) output.pushEmitted(1, this.groups, slot, this.emitted)
    return output.take() ?? { columns: Array.from({ length: this.width }, () => []), ops: new Int8Array(0), length: 0 }
  }

  /** Recovery hands the pages over as they are read (restore() is called once per batch). */
  readonly restoresInBatches = true

  restore(entries: readonly StateEntry[]): void {
    const k = this.spec.keyTypes.length
    const accs = this.accs
    const ttl = this.spec.ttlMs !== undefined
    const width = k + 1 + accs.length + 1 + (ttl ? 1 : 0)
    const { windowKey } = this.spec
    const key = new Array<Value>(k) // KeySlots.insert copies it: one array for every group
    for (const [local, v] of entries) {
      if (local.length === 0) {
        // The state table's meta entry, first in key order: it tells how many groups follow.
        if (this.table !== undefined) this.reserve(this.table.restoreMeta(v), true)
        continue
      }
      const page = new DataView(local.buffer, local.byteOffset, local.byteLength).getUint32(0)
      // The page's flat array (see checkpoint()), read value by value into the columns. Pages
      // from before slot offsets were recorded hold groups only (a multiple of width values).
      const r = new SnapshotReader(v)
      const values = r.array()
      const offsets = values % width === 1 ? (r.value() as Uint8Array) : undefined
      if (offsets === undefined) {
        this.restoredPages.push(page)
        this.rewriteAll = true
      } else {
        if (page >= this.storedPages.length) this.storedPages = grownUint8(this.storedPages, page)
        this.storedPages[page] = 1
      }
      for (let at = offsets === undefined ? 0 : 1, g = 0; at + width <= values; at += width, g++) {
        for (let c = 0; c < k; c++) key[c] = r.value() as Value
        const slot = this.openGroup(
          offsets === undefined
            ? this.groups.insert(key)
            : this.groups.insertInto((page << PAGE_BITS) + offsets[g], key),
        )
        if (windowKey !== undefined) this.trackWindow(slot, windowKey)
        this.rows[slot] = r.number()
        for (let a = 0; a < accs.length; a++) {
          const acc = accs[a]
          if (acc.restoreFrom !== undefined) acc.restoreFrom(slot, r)
          else acc.restore(slot, r.value())
        }
        // Its emitted row equals the accumulators' results: computed when first needed.
        if (r.number() === 1) this.hasEmitted[slot] = LAZY
        if (ttl) this.touched[slot] = r.number()
      }
      r.end()
    }
  }

  /**
   * Room for `groups` groups in the per-slot columns (growing them by doubling as slots are
   * opened, or at once when a restore knows how many groups follow).
   */
  private reserve(groups: number, all = false): void {
    if (groups <= this.rows.length) return
    this.rows = grownFloat64(this.rows, groups - 1)
    this.dirty = grownUint8(this.dirty, groups - 1)
    this.hasEmitted = grownUint8(this.hasEmitted, groups - 1)
    if (this.spec.ttlMs !== undefined) this.touched = grownFloat64(this.touched, groups - 1)
    // Emitted values are written in slot order by flushes but anywhere once restored groups are
    // computed (LAZY): a write far past an array's end would make it a slow dictionary.
    const { calls } = this.spec
    for (let a = 0; a < calls.length; a++)
      this.emitted[a] = grownArray(this.emitted[a], this.rows.length, columnFill(calls[a].returnType))
    if (all) {
      this.groups.reserve(groups)
      for (const acc of this.accs) acc.reserve?.(groups)
      this.table?.reserve(groups)
    }
  }

  /**
   * State tables: an unwindowed keyed aggregate keeps the groups its cache share allows in
   * memory (checkpointed as pages) and the others as cold entries read on demand (group-table.ts).
   */
  attachStore(store: OperatorStore): void {
    if (this.spillable) this.table = new GroupTable(this.host(), store)
  }

  /** With a state table, recovery reads the pages and the meta entry, not the cold tier. */
  get restoreBelow(): Uint8Array | undefined {
    return this.table === undefined ? undefined : COLD_PREFIX
  }

  detachStore(): void {
    this.table?.detach()
  }

  checkpointed(): void {
    this.table?.checkpointed()
  }

  outputRowCount(): number {
    return this.table?.totalRows() ?? this.groups.size
  }

  fullyInMemory(): boolean {
    return this.table?.spill.onDisk !== true
  }

  outputRowOf(key: readonly Value[]): Value[] | undefined {
    if (this.table !== undefined) return this.table.outputRowOf(key)
    const slot = this.groups.find(key)
    return slot >= 0 ? this.emittedRow(slot) : undefined
  }

  openOutputScan(maxRows: number): AsyncIterable<Chunk> {
    return this.table?.openOutputScan(maxRows) ?? piecesOf(this.currentOutput(), maxRows)
  }

  /** The aggregate's side of its state table. */
  private host(): GroupHost {
    const entry: unknown[] = [] // entryOf's, reused: each entry is encoded before the next
    return {
      groups: this.groups,
      keyTypes: this.spec.keyTypes,
      keyIndex: this.keyIndex,
      calls: this.accs.length,
      open: (slot) => this.openGroup(slot),
      free: (slot) => this.dropSlot(slot),
      notePage: (slot) => this.notePage(slot),
      entryOf: (slot) => {
        const emitted = this.emittedReady(slot)
        entry.length = 0
        entry.push(this.rows[slot], emitted ? 1 : 0)
        for (let a = 0; a < this.accs.length; a++) entry.push(emitted ? this.emitted[a][slot] : null)
        for (let a = 0; a < this.accs.length; a++) entry.push(this.accs[a].snapshot(slot))
        return entry
      },
      restoreEntry: (slot, r) => {
        const n = this.accs.length
        r.array(2 + 2 * n)
        this.rows[slot] = r.number()
        const emitted = r.number() === 1
        for (let a = 0; a < n; a++) {
          const v = r.value() as Value
          if (emitted) this.emitted[a][slot] = v
        }
        for (let a = 0; a < n; a++) {
          const acc = this.accs[a]
          if (acc.restoreFrom !== undefined) acc.restoreFrom(slot, r)
          else acc.restore(slot, r.value())
        }
        if (emitted) this.hasEmitted[slot] = 1
        r.end()
      },
      emittedRow: (slot) => this.emittedRow(slot),
      currentOutput: () => this.currentOutput(),
    }
  }

  private emittedRow(slot: number): Value[] | undefined {
    if (!this.emittedReady(slot)) return undefined
    const row = this.groups.keyOf(slot)
    for (let a = 0; a < this.emitted.length; a++) row.push(this.emitted[a][slot])
    return row
  }

  private notePage(slot: number): void {
    // A group backed by its cold entry is written there, not in a page (group-table.ts).
    if (this.table?.changedBacked(slot) === true) return
    const page = slot >>> PAGE_BITS
    if (page >= this.pageDirty.length) this.pageDirty = grownUint8(this.pageDirty, page)
    if (this.pageDirty[page] === 1) return
    this.pageDirty[page] = 1
    this.dirtyPages.push(page)
  }

  /** Resets the per-group columns of a newly claimed slot. */
  private openGroup(slot: number): number {
    if (slot >= this.rows.length) this.reserve(slot + 1)
    this.table?.opened(slot)
    this.rows[slot] = 0
    this.dirty[slot] = 0
    this.hasEmitted[slot] = 0
    for (let a = 0; a < this.accs.length; a++) this.accs[a].init(slot)
    return slot
  }

  /** Whether the group has emitted a row; a restored group's row is computed here, once. */
  private emittedReady(slot: number): boolean {
    const has = this.hasEmitted[slot]
    if (has !== LAZY) return has === 1
    for (let a = 0; a < this.accs.length; a++) this.emitted[a][slot] = this.accs[a].result(slot)
    this.hasEmitted[slot] = 1
    return true
  }

  private markDirty(slot: number): void {
    if (this.hasEmitted[slot] === LAZY) this.emittedReady(slot)
    this.dirty[slot] = 1
    this.dirtyList.push(slot)
    if (this.spec.ttlMs !== undefined) this.touched[slot] = this.clock
  }

  private clearDirty(): void {
    for (const slot of this.dirtyList) {
      this.dirty[slot] = 0
      if (this.groups.isLive(slot)) this.notePage(slot)
    }
    this.dirtyList.length = 0
  }

  private trackWindow(slot: number, windowKey: number): void {
    const end = this.groups.keys[windowKey][slot] as number
    if (end === this.lastWindowEnd && this.lastWindow !== undefined) {
      this.lastWindow.push(slot)
      return
    }
    let list = this.byWindow.get(end)
    if (list === undefined) this.byWindow.set(end, (list = [slot]))
    else list.push(slot)
    this.lastWindow = list
    this.lastWindowEnd = end
  }

  /** Emits the change of every dirty group and forgets groups that became empty. */
  protected flush(out: Emitter): void {
    const dirty = this.dirtyList
    if (dirty.length === 0) return
    const output = new Output(this.width, dirty.length)
    const global = this.spec.keyTypes.length === 0
    const keys = this.groups
    const accs = this.accs
    const next = this.next
    const emitted = this.emitted
    for (let d = 0; d < dirty.length; d++) {
      const slot = dirty[d]
      this.dirty[slot] = 0
      if (!this.groups.isLive(slot)) continue // freed by a window close after it changed
      this.notePage(slot)
      const live = this.rows[slot] > 0 || global
      const had = this.hasEmitted[slot] === 1 // a dirty group's row is computed (markDirty)
      if (live) for (let a = 0; a < accs.length; a++) next[a] = accs[a].result(slot)
      if (had && live && this.sameAsEmitted(slot)) continue
      if (had) output.pushEmitted(-1, keys, slot, emitted)
      if (live) {
        output.push(1, keys, slot, next)
        for (let a = 0; a < accs.length; a++) emitted[a][slot] = next[a]
        this.hasEmitted[slot] = 1
      } else this.forget(slot)
    }
    dirty.length = 0
    const chunk = output.take()
    if (chunk !== undefined) out.chunk(chunk)
  }

  private sameAsEmitted(slot: number): boolean {
    const { calls } = this.spec
    for (let a = 0; a < calls.length; a++) {
      const x = this.emitted[a][slot]
      const y = this.next[a]
      if (x === y) continue
      if (x === null || y === null) return false
      if (!valuesEqual(x, y, calls[a].returnType)) return false
    }
    return true
  }

  /** Frees the slot of a group whose window closed (its window list is dropped by the caller). */
  private freeGroup(slot: number): void {
    if (this.table?.deleted(slot) !== true) this.notePage(slot)
    this.dropSlot(slot)
  }

  /** Frees a group's slot and columns (an evicted group's page was rewritten when it was chosen). */
  private dropSlot(slot: number): void {
    for (let a = 0; a < this.accs.length; a++) {
      this.accs[a].free(slot)
      // hasEmitted says whether the value is current; numbers are left (see KeySlots.delete).
      if (typeof this.emitted[a][slot] !== 'number') this.emitted[a][slot] = null
    }
    this.hasEmitted[slot] = 0
    this.groups.delete(slot)
  }

  /** Frees the slot of a group that became empty, taking it out of its window's list. */
  private forget(slot: number): void {
    const { windowKey } = this.spec
    if (windowKey !== undefined) {
      const list = this.byWindow.get(this.groups.keys[windowKey][slot] as number)
      const at = list === undefined ? -1 : list.indexOf(slot)
      if (at >= 0) list!.splice(at, 1)
    }
    this.freeGroup(slot)
  }
}

/** Slots per checkpoint page (2^PAGE_BITS). */
const PAGE_BITS = 5
const PAGE_MASK = (1 << PAGE_BITS) - 1

function pageKey(page: number): Uint8Array {
  const key = new Uint8Array(4)
  new DataView(key.buffer).setUint32(0, page)
  return key
}
