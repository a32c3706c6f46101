/**
 * Which state items of an operator changed since its last checkpoint, for operators that write
 * one checkpoint entry per item (a join's stored row, a top-N partition, a session group).
 *
 * Nothing is tracked before the first checkpoint, so a dataflow that never checkpoints (a pull
 * query, an engine with checkpoints off) pays one branch per change. The operator's first
 * checkpoint clears its entries and writes every live item, then calls `start()`; a restore
 * calls `start()` at once, because its state is exactly the checkpoint's entries.
 *
 * Items are objects whose identity outlives their removal from the operator's maps, so a removed
 * item still names the entry to delete. The set keeps first-change order: an item removed and a
 * new item with the same key created later are written del-then-put.
 */
export class ChangeTracker<T> {
  private on = false
  private readonly items = new Set<T>()

  /** Whether changes are tracked (false until the first checkpoint or a restore). */
  get tracking(): boolean {
    return this.on
  }

  /** Records that `item` changed (was created, updated or removed). */
  note(item: T): void {
    if (this.on) this.items.add(item)
  }

  /** Starts tracking from a state that equals the checkpoint's entries. */
  start(): void {
    this.on = true
    this.items.clear()
  }

  /** The items changed since the last call, in first-change order; forgets them. */
  drain(): T[] {
    const out = [...this.items]
    this.items.clear()
    return out
  }
}
