/**
 * An aggregate's groups as a state table with a bounded cache (docs/design/state.md). Two tiers
 * in the store:
 *
 * - **Pages** hold the groups in memory, 32 slots an entry, written when one of their groups
 *   changed (HashAggregate's checkpoint, as for every aggregate): one encode and one LevelDB write
 *   per page, which is what a high-churn view can afford at a checkpoint a second.
 * - **Cold entries** hold the evicted groups, one entry per group keyed by its encoded key (under
 *   COLD_PREFIX), so a miss reads exactly its group with one synchronous `getSync`.
 *
 * After every checkpoint each group is in exactly one tier. A group starts in a page. The first
 * time it is evicted (at a checkpoint's collect) its current value goes into a cold entry and its
 * page is rewritten without it, in the same atomic batch; from then on the group is **backed** by
 * its cold entry and no page holds it again. It leaves memory once that batch is durable (until
 * then the cold tier does not have it yet), unless input touched it meanwhile: it then stays in
 * memory, still backed. A miss reads a group back and it stays backed: while it is in memory its
 * cold entry is rewritten at each checkpoint it changed by, and evicting it again costs no write
 * at all when it did not change. So a group that cycles through the cache costs one read and one
 * put per round, not a delete, a page rewrite and a put (docs/design/state.md, "Backed groups").
 * A backed group that is deleted (its rows went to zero) has its cold entry deleted at the next
 * checkpoint; until that batch is durable the key is remembered (a tombstone), so a miss never
 * reads a cold entry that is about to go.
 *
 * A restart restores the pages (groups never evicted, bounded by the cache) and none of the cold
 * tier: backed groups that were in memory start on disk.
 *
 * A miss consults a Bloom filter of the cold tier's keys first (GroupSpill.mayBeCold): a group
 * never evicted, as every new group is, costs no store read. After a restart the filter is
 * rebuilt from a scan of the cold tier that starts at the first durable checkpoint.
 */
import type { Chunk, Column } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { CheckpointWriter, OperatorStore } from './operator.ts'
import type { KeySlots } from '../util/key-slots.ts'
import { GroupSpill, piecesOf, scanStored } from './group-spill.ts'
import { encodeKey } from '../state/codec.ts'
import { SnapshotReader, decodeSnapshot, encodeSnapshot } from '../state/snapshot-codec.ts'
import { grownUint8 } from '../util/key-slots.ts'
import { ByteSet } from '../util/byte-set.ts'

/** Cold entries' local keys start with this; page keys are 4 bytes below it, the meta key is empty. */
export const COLD_PREFIX = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff])
/** The meta entry's local key (the cold tier's group count). */
export const META_KEY = new Uint8Array(0)

/** What the table needs of the aggregate that holds the groups' values. */
export interface GroupHost {
  readonly groups: KeySlots
  readonly keyTypes: readonly DataType[]
  readonly keyIndex: readonly number[]
  readonly calls: number
  /** Resets the aggregate's columns of a slot just claimed from `groups`; returns the slot. */
  open(slot: number): number
  /** Frees an evicted group's slot and columns (no page to rewrite: its copy is its cold entry). */
  free(slot: number): void
  /** Marks the page of a slot to be rewritten at the next checkpoint. */
  notePage(slot: number): void
  /**
   * The group's cold entry: rows, whether it emitted, its emitted aggregates, its accumulators
   * (an array valid until the next call).
   */
  entryOf(slot: number): unknown[]
  /** Reads a cold entry (as entryOf wrote it) into a slot, to its end. */
  restoreEntry(slot: number, entry: SnapshotReader): void
  /** The row the group last emitted (keys, then aggregates), if it emitted one. */
  emittedRow(slot: number): Value[] | undefined
  /** Every group's emitted row, from memory. */
  currentOutput(): Chunk | undefined
}

export class GroupTable {
  readonly spill: GroupSpill
  /** Per slot: 1 = chosen at the last collect to leave memory once that checkpoint is durable. */
  private evicting = new Uint8Array(0)
  /** Per slot: used since the eviction sweep last passed (its second chance). */
  private recent = new Uint8Array(0)
  /** Per slot: 1 = the group's copy in the store is its cold entry, not a page. */
  private backed = new Uint8Array(0)
  /** Per slot: 1 = a backed group changed since the last collect (listed in `changed`). */
  private backedDirty = new Uint8Array(0)
  /** Backed slots that changed since the last collect (a slot may repeat; backedDirty decides). */
  private changed: number[] = []
  /** Backed groups in memory. */
  private backedCount = 0
  /** Slots chosen at the last collect, freed by checkpointed() unless touched. */
  private victims: number[] = []
  /** The eviction sweep's position among the slots. */
  private hand = 0
  /** A miss's or victim's key tuple (one array for all: encodeKey copies it into bytes). */
  private readonly key: Value[]

  constructor(
    private readonly host: GroupHost,
    store: OperatorStore,
  ) {
    this.spill = new GroupSpill(store, store.owner, () => host.groups.size)
    store.cache.join(this.spill)
    this.key = new Array<Value>(host.keyIndex.length).fill(null)
  }

  /**
   * The meta entry read back at restore: how many groups are in the cold tier, and how many the
   * pages hold (0 from checkpoints written before it was recorded), which the caller reserves
   * room for before the pages arrive.
   */
  restoreMeta(value: Uint8Array): number {
    const [cold, paged] = decodeSnapshot(value) as [number, number | undefined]
    this.spill.diskOnly = cold
    this.spill.onDisk = cold > 0
    if (cold > 0) this.spill.restoredCold(cold)
    return paged ?? 0
  }

  detach(): void {
    this.spill.detached = true
    this.spill.store.cache.leave(this.spill)
  }

  /** A slot was claimed for a group (new, or read from the cold tier). */
  /** Room for `slots` slots (see HashAggregate.reserve). */
  reserve(slots: number): void {
    if (slots <= this.evicting.length) return
    this.grow(slots - 1)
  }

  private grow(slot: number): void {
    this.evicting = grownUint8(this.evicting, slot)
    this.recent = grownUint8(this.recent, slot)
    this.backed = grownUint8(this.backed, slot)
    this.backedDirty = grownUint8(this.backedDirty, slot)
  }

  opened(slot: number): void {
    if (slot >= this.evicting.length) this.grow(slot)
    this.evicting[slot] = 0
    this.recent[slot] = 1
    this.backed[slot] = 0
    this.backedDirty[slot] = 0
  }

  /**
   * A group changed (the aggregate's page bookkeeping asks first): true when it is backed, its
   * change then noted for its cold entry, and no page is to be rewritten.
   */
  changedBacked(slot: number): boolean {
    if (this.backed[slot] === 0) return false
    if (this.backedDirty[slot] === 0) {
      this.backedDirty[slot] = 1
      this.changed.push(slot)
    }
    return true
  }

  /**
   * A group is deleted (its rows went to zero, a window closed, a ttl expired). True when it is
   * backed: its cold entry is deleted at the next checkpoint, and there is no page to rewrite.
   */
  deleted(slot: number): boolean {
    if (this.backed[slot] === 0) return false
    this.unback(slot)
    this.spill.noteDelete(encodeKey(this.host.groups.keyOf(slot), this.host.keyTypes, COLD_PREFIX))
    return true
  }

  private back(slot: number): void {
    this.backed[slot] = 1
    this.backedCount++
  }

  private unback(slot: number): void {
    this.backed[slot] = 0
    this.backedDirty[slot] = 0
    this.backedCount--
  }

  /** A group found in memory (the per-row path: a counter and a flag, a branch when evicting). */
  hit(slot: number): void {
    this.spill.hits++
    this.recent[slot] = 1
    if (this.evicting[slot] === 1) this.rescue(slot)
  }

  /**
   * A cache miss: reads the group of row i from the cold tier into a new slot, backed by that
   * entry (rewritten at a checkpoint once it changed). -1 when there is no such group.
   */
  load(cols: readonly Column[], i: number, hash: number): number {
    const { spill, host, key } = this
    for (let k = 0; k < key.length; k++) key[k] = cols[host.keyIndex[k]][i]
    const bytes = encodeKey(key, host.keyTypes, COLD_PREFIX)
    key.fill(null) // no reference to the row's values kept
    if (spill.isDeleted(bytes) || !spill.mayBeCold(bytes)) return -1
    const value = spill.store.getSync(bytes)
    spill.misses++
    if (value === undefined) return -1
    const slot = host.open(host.groups.insertAt(cols, host.keyIndex, i, hash))
    host.restoreEntry(slot, new SnapshotReader(value))
    this.back(slot)
    spill.diskOnly--
    return slot
  }

  /**
   * At a checkpoint's collect, before the pages are written: rewrites the cold entries of the
   * backed groups that changed, then chooses the groups beyond the cache allowance (a clock
   * sweep; a group used since the hand last passed gets a second chance). A backed victim needs
   * no write; a paged one is written as a cold entry, becomes backed, and its page is marked for
   * rewriting (the page writer skips backed groups, `isPaged`). Also writes the pending cold
   * deletes and the meta entry.
   */
  collect(out: CheckpointWriter): void {
    const { spill, host, key } = this
    const keyColumns = host.groups.keys
    for (const deleted of spill.takeDeletes()) out.del(deleted)
    for (const slot of this.changed) {
      if (this.backedDirty[slot] === 0) continue // freed, or a repeat
      this.backedDirty[slot] = 0
      for (let k = 0; k < key.length; k++) key[k] = keyColumns[k][slot]
      const value = encodeSnapshot(host.entryOf(slot))
      out.put(encodeKey(key, host.keyTypes, COLD_PREFIX), value)
    }
    this.changed = []
    let excess = host.groups.size - this.victims.length - spill.allowedItems()
    const end = host.groups.capacity
    for (let scanned = 0; excess > 0 && scanned < 2 * end; scanned++) {
      const slot = this.hand
      this.hand = slot + 1 >= end ? 0 : slot + 1
      if (!host.groups.isLive(slot) || this.evicting[slot] === 1) continue
      if (this.recent[slot] === 1) {
        this.recent[slot] = 0
        continue
      }
      if (this.backed[slot] === 0) {
        for (let k = 0; k < key.length; k++) key[k] = keyColumns[k][slot]
        const bytes = encodeKey(key, host.keyTypes, COLD_PREFIX)
        const value = encodeSnapshot(host.entryOf(slot))
        out.put(bytes, value)
        spill.noteCold(bytes)
        spill.noteEntryBytes(bytes.length + value.length)
        host.notePage(slot) // before it is backed: its page is rewritten without it
        this.back(slot)
      }
      this.evicting[slot] = 1
      this.victims.push(slot)
      excess--
    }
    key.fill(null) // no references kept to the groups' values
    const paged = host.groups.size - this.backedCount
    out.put(META_KEY, encodeSnapshot([spill.diskOnly + this.backedCount, paged]))
  }

  /** Whether the page writer writes this slot's group (it is not backed by a cold entry). */
  isPaged(slot: number): boolean {
    return this.backed[slot] === 0
  }

  /** The checkpoint of the last collect is durable: its victims leave memory. */
  checkpointed(): void {
    const { spill, host } = this
    spill.durable()
    spill.startFilterRebuild(COLD_PREFIX)
    for (const slot of this.victims) {
      if (this.evicting[slot] !== 1) continue // touched since: rescued
      this.evicting[slot] = 0
      this.unback(slot) // every victim is backed (collect backs the paged ones)
      host.free(slot)
      spill.diskOnly++
      spill.evictions++
      spill.onDisk = true
    }
    this.victims = []
  }

  totalRows(): number {
    return this.host.groups.size + this.spill.diskOnly
  }

  outputRowOf(key: readonly Value[]): Value[] | undefined {
    const { spill, host } = this
    const slot = host.groups.find(key)
    if (slot >= 0) return host.emittedRow(slot)
    if (!spill.onDisk) return undefined
    const bytes = encodeKey(key, host.keyTypes, COLD_PREFIX)
    if (spill.isDeleted(bytes) || !spill.mayBeCold(bytes)) return undefined
    const value = spill.store.getSync(bytes)
    if (value === undefined) return undefined
    const entry = decodeSnapshot(value) as unknown[]
    if (entry[1] !== 1) return undefined
    return key.concat(entry.slice(2, 2 + host.calls) as Value[])
  }

  /**
   * The current output as of this call: every group in memory, copied now, then the cold tier
   * from a store snapshot taken now, skipping the cold entries of groups that are in memory too
   * (read back since the last durable checkpoint, or chosen for eviction) and deleted ones.
   */
  openOutputScan(maxRows: number): AsyncIterable<Chunk> {
    const { spill, host } = this
    const inMemory = host.currentOutput()
    if (!spill.onDisk) return piecesOf(inMemory, maxRows) // victims are still in memory
    const shadow = new ByteSet()
    for (const key of spill.tombstones()) shadow.add(key)
    for (const slot of host.groups.slots())
      if (this.backed[slot] === 1) shadow.add(encodeKey(host.groups.keyOf(slot), host.keyTypes, COLD_PREFIX))
    const snapshot = spill.store.snapshot()
    return scanStored(spill, snapshot, COLD_PREFIX, shadow, inMemory, host.keyTypes, host.calls, maxRows)
  }

  /**
   * Input touched a victim after the collect chose it: it stays in memory, backed by the cold
   * entry that collect wrote (the change that touched it rewrites that at the next checkpoint).
   */
  private rescue(slot: number): void {
    this.evicting[slot] = 0
  }
}
