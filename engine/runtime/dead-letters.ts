/**
 * The dead-letter outlet every source, table and view has (SQL.md, "Dead letters"). Rejected
 * records are kept in a bounded in-memory ring, readable as `sluice_catalog.dead_letters`, and
 * counted by object and reason in metrics. A `dead_letter` option on a source can add a route to
 * a Kafka topic or a table (see connectors).
 */
import type { DeadLetter } from '../connector.ts'

export interface StoredDeadLetter extends DeadLetter {
  /** µs since the epoch. */
  readonly receivedAt: number
}

export type DeadLetterListener = (letter: StoredDeadLetter) => void

export class DeadLetters {
  private readonly ring: StoredDeadLetter[] = []
  private start = 0
  /** Total ever received (the ring keeps the newest `capacity`). */
  total = 0
  private readonly listeners: DeadLetterListener[] = []

  constructor(
    private readonly capacity: number,
    private readonly now: () => number,
  ) {}

  add(letter: DeadLetter): void {
    const stored: StoredDeadLetter = { ...letter, receivedAt: this.now() * 1000 }
    if (this.ring.length < this.capacity) this.ring.push(stored)
    else {
      this.ring[this.start] = stored
      this.start = (this.start + 1) % this.capacity
    }
    this.total++
    for (const l of this.listeners) l(stored)
  }

  onLetter(listener: DeadLetterListener): void {
    this.listeners.push(listener)
  }

  /** Oldest first. */
  list(): StoredDeadLetter[] {
    return [...this.ring.slice(this.start), ...this.ring.slice(0, this.start)]
  }
}
