/**
 * Operator state on disk, per view and sink (issue 14): the bytes each one's key range takes in
 * the store (sluice_catalog.state.disk_bytes, sluice_state_disk_bytes), and reclaiming the space
 * of what was deleted from it (docs/design/state.md, "Disk space and compaction").
 *
 * Both run in the background, started by a completed checkpoint or a DROP, never on a
 * dataflow's path: measuring reads LevelDB's file metadata on a worker thread; a compaction
 * rewrites table files on LevelDB's own thread while writes and checkpoints go on. At most one
 * measurement and one compaction run at a time; errors are logged, never thrown.
 */
import type { Engine } from '../engine.ts'
import type { StateWrite } from '../state/store.ts'
import { compareBytes } from '../state/store.ts'
import { operatorPrefix } from './checkpoint-store.ts'

/** Least time between two measurements started by checkpoints (ms of the engine's clock). */
export const REFRESH_MS = 5000

/**
 * Deletes written to one view's state since its last compaction that make it due for another
 * (an entry is a page of groups or one cold group or row). LevelDB drops a deleted entry only
 * when one of its own compactions reaches the file holding it, which for keys no longer written
 * (closed windows, expired groups) comes late or, at the deepest level, not at all.
 */
export const COMPACT_AFTER_DELETES = 1000

/**
 * A range is compacted again only once its figure has grown this many times over what the
 * last compaction left. A compaction rewrites the whole range: so the bytes rewritten stay
 * within a small multiple of the bytes written, however large the view's state.
 */
export const COMPACT_GROWTH = 2

/**
 * ... or once this long (ms of the engine's clock) has passed since: state that shrinks (groups
 * expire by ttl and no new ones come) leaves garbage without growing.
 */
export const COMPACT_AGE_MS = 3_600_000

/** The key range of one view's or sink's operator state. */
interface StateRange {
  readonly id: number
  readonly gte: Uint8Array
  readonly lt: Uint8Array
}

/** All of a view's or sink's operator state: its operators' ranges, pages and cold entries. */
export function stateRange(objectId: number): StateRange {
  // Operator indexes start at 0, so (state, id, 0) is the first key of the object's state and
  // (state, id + 1, 0) lies past its last.
  return { id: objectId, gte: operatorPrefix(objectId, 0), lt: operatorPrefix(objectId + 1, 0) }
}

export class StateDiskUsage {
  /** Object id → bytes of its state on disk at the last measurement. */
  private readonly sizes = new Map<number, number>()
  /** Object id → deletes written to its range since its last compaction (Infinity: dropped). */
  private readonly deletes = new Map<number, number>()
  private lastRefresh = -Infinity
  /** Object id → when its range was last compacted, and the bytes it took right after. */
  private readonly compacted = new Map<number, { readonly at: number; readonly bytes: number }>()
  private refreshing: Promise<void> | undefined
  private compacting: Promise<void> | undefined
  private stopped = false
  /** Settable by tests, like the threshold below. */
  refreshMs = REFRESH_MS
  compactAfterDeletes = COMPACT_AFTER_DELETES
  /** Compactions finished since start. */
  compactions = 0

  constructor(private readonly engine: Engine) {}

  /** Bytes of a view's or sink's state on disk at the last measurement; undefined before the first. */
  bytes(objectId: number): number | undefined {
    return this.sizes.get(objectId)
  }

  /** A checkpoint is durable: counts its deletes per view, then compacts and measures if due. */
  checkpointed(writes: readonly StateWrite[]): void {
    if (this.stopped) return
    this.countDeletes(writes)
    this.maybeCompact()
    if (this.refreshing === undefined && this.engine.now() - this.lastRefresh >= this.refreshMs) void this.refresh()
  }

  /** A view or sink was dropped and its state deleted: its range is the next to compact. */
  dropped(objectId: number): void {
    this.sizes.delete(objectId)
    if (this.stopped || !this.engine.checkpointing) return
    this.deletes.set(objectId, Infinity)
    this.maybeCompact()
  }

  /** Measures every view's and sink's state now (after a measurement already running). */
  refresh(): Promise<void> {
    const next = (this.refreshing ?? Promise.resolve()).then(() => this.measure())
    this.refreshing = next
    void next.finally(() => {
      if (this.refreshing === next) this.refreshing = undefined
    })
    return next
  }

  /** Resolves once no measurement or compaction runs (tests; shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const running = this.compacting ?? this.refreshing
      if (running === undefined) return
      await running
    }
  }

  /** No new work; waits for what runs, so the store can close. */
  async stop(): Promise<void> {
    this.stopped = true
    await this.idle()
  }

  /** Never rejects: a failure is logged and the last figures stay. */
  private async measure(): Promise<void> {
    this.lastRefresh = this.engine.now()
    const ids: number[] = []
    for (const obj of this.engine.objects.values())
      if (obj.kind === 'materialized_view' || obj.kind === 'sink') ids.push(obj.id)
    try {
      for (const id of ids) {
        if (this.stopped) return
        const r = stateRange(id)
        this.sizes.set(id, await this.engine.store.approximateSize(r.gte, r.lt))
      }
    } catch (e) {
      this.engine.log('warn', 'measuring state on disk failed', { error: e instanceof Error ? e.message : String(e) })
    }
    // Dropped while measuring: not shown again.
    const live = this.liveIds()
    for (const id of this.sizes.keys()) if (!live.has(id)) this.sizes.delete(id)
    this.maybeCompact()
  }

  private liveIds(): Set<number> {
    const live = new Set<number>()
    for (const obj of this.engine.objects.values()) live.add(obj.id)
    return live
  }

  /**
   * Deletes per view's range. A checkpoint's writes come one operator after another, so the
   * range of the previous delete mostly holds the next. Range deletes are not counted: an
   * operator's clear() precedes writing its whole state anew (its first checkpoint), which
   * overwrites most of what it deletes; a DROP's range delete goes through dropped().
   */
  private countDeletes(writes: readonly StateWrite[]): void {
    let ranges: StateRange[] | undefined
    let range: StateRange | undefined
    let count = 0
    for (const w of writes) {
      if (w.type !== 'del') continue
      if (range === undefined || compareBytes(w.key, range.gte) < 0 || compareBytes(w.key, range.lt) >= 0) {
        if (range !== undefined) this.addDeletes(range.id, count)
        count = 0
        ranges ??= this.liveRanges()
        range = ranges.find((r) => compareBytes(w.key, r.gte) >= 0 && compareBytes(w.key, r.lt) < 0)
        if (range === undefined) continue
      }
      count++
    }
    if (range !== undefined) this.addDeletes(range.id, count)
  }

  private liveRanges(): StateRange[] {
    const out: StateRange[] = []
    for (const obj of this.engine.objects.values())
      if (obj.kind === 'materialized_view' || obj.kind === 'sink') out.push(stateRange(obj.id))
    return out
  }

  private addDeletes(id: number, n: number): void {
    if (n > 0) this.deletes.set(id, (this.deletes.get(id) ?? 0) + n)
  }

  /**
   * Starts compacting the range with the most deletes past the threshold that has grown enough
   * or waited long enough since its last compaction (a dropped one first), unless one runs.
   */
  private maybeCompact(): void {
    if (this.compacting !== undefined || this.stopped) return
    // A compaction writes new files before it frees the old: on a full disk it would fail, and
    // LevelDB then refuses every write until reopened. Ranges stay due until space is back.
    if (this.engine.checkpoints.stalled !== undefined) return
    const now = this.engine.now()
    let pick: number | undefined
    let most = 0
    for (const [id, n] of this.deletes) {
      const last = this.compacted.get(id)
      const size = this.sizes.get(id)
      const due =
        n === Infinity ||
        last === undefined ||
        now - last.at >= COMPACT_AGE_MS ||
        (size !== undefined && size >= COMPACT_GROWTH * last.bytes)
      if (due && n >= this.compactAfterDeletes && n > most) {
        pick = id
        most = n
      }
    }
    if (pick === undefined) return
    // Deletes from here on count toward the next compaction of this range.
    this.deletes.delete(pick)
    const r = stateRange(pick)
    const dropped = most === Infinity
    const run = async (): Promise<void> => {
      const t0 = performance.now()
      try {
        await this.engine.store.compactRange(r.gte, r.lt)
        this.compactions++
        if (dropped) this.compacted.delete(r.id)
        else {
          // What is left is live state: the base the next compaction waits for it to outgrow.
          const size = await this.engine.store.approximateSize(r.gte, r.lt)
          this.compacted.set(r.id, { at: this.engine.now(), bytes: size })
          if (this.liveIds().has(r.id)) this.sizes.set(r.id, size)
        }
        this.engine.log('debug', 'state compacted', {
          object: r.id,
          deletes: dropped ? 'dropped' : most,
          ms: Math.round(performance.now() - t0),
        })
      } catch (e) {
        this.engine.log('warn', 'compacting state failed', {
          object: r.id,
          error: e instanceof Error ? e.message : String(e),
        })
      }
    }
    this.compacting = run().finally(() => {
      this.compacting = undefined
      this.maybeCompact()
    })
  }
}
