/**
 * How many pull queries run at once. Each one yields the event loop while it computes, so
 * without a limit twenty heavy queries would all hold their hash tables and buffered rows at the
 * same time and add up to an out-of-memory crash, each getting 1/20 of the CPU. Past the limit a
 * query waits its turn in arrival order; a cancel request or its statement_timeout ends the wait
 * (57014) as it would end the query.
 */
import { availableParallelism } from 'node:os'
import type { StatementInterrupt } from './interrupt.ts'

/** The default limit: twice the cores (a query often waits on I/O or yields; more would only share memory). */
export function defaultMaxConcurrentQueries(): number {
  return 2 * availableParallelism()
}

export class QueryGate {
  private running = 0
  private readonly waiting: (() => void)[] = []

  constructor(private readonly limit: number = defaultMaxConcurrentQueries()) {}

  /** Queries running now and waiting for a turn (for /metrics and tests). */
  get load(): { readonly running: number; readonly waiting: number } {
    return { running: this.running, waiting: this.waiting.length }
  }

  /** Runs `work` once fewer than `limit` queries run; the wait ends early (57014) on interrupt. */
  async run<T>(interrupt: StatementInterrupt, work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await this.turn(interrupt)
    else this.running++
    try {
      return await work()
    } finally {
      this.leave()
    }
  }

  /** Waits for a running query to hand over its slot (the count then stays the same). */
  private async turn(interrupt: StatementInterrupt): Promise<void> {
    let wake: (() => void) | undefined
    const granted = new Promise<void>((resolve) => {
      wake = resolve
      this.waiting.push(resolve)
    })
    const { promise, dispose } = interrupt.whenInterrupted()
    try {
      await Promise.race([granted, promise])
    } catch (e) {
      const i = wake === undefined ? -1 : this.waiting.indexOf(wake)
      // Still queued: leave the queue. Already woken (the slot is ours): give the slot back.
      if (i >= 0) this.waiting.splice(i, 1)
      else this.leave()
      throw e
    } finally {
      dispose()
    }
  }

  private leave(): void {
    const next = this.waiting.shift()
    if (next !== undefined) next()
    else this.running--
  }
}
