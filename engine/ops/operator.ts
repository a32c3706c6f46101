/**
 * The one interface every dataflow operator implements. Only `onChunk` is required; watermark
 * and start hooks have defaults (a watermark is forwarded unchanged when an operator does not
 * handle it). Operators never read clocks or timers: the runtime drives them.
 */
import type { Chunk, Watermark } from '../chunk.ts'
import type { DeadLetter } from '../connector.ts'

/** Where an operator sends its output. Calls are synchronous: downstream runs before they return. */
export interface Emitter {
  chunk(chunk: Chunk): void
  watermark(w: Watermark): void
}

/** Services the runtime offers operators. */
export interface OperatorContext {
  /** The view (or sink) the operator belongs to, for dead letters and metrics. */
  readonly owner: string
  deadLetter(letter: Omit<DeadLetter, 'object'>): void
  /** Counts rows dropped as late (each is also recorded as a dead letter by the operator). */
  countLate(n: number): void
  /** Counts rows that failed to evaluate (each is also recorded as a dead letter). */
  countEvalErrors(n: number): void
}

export interface Operator {
  /** Short name for EXPLAIN and metrics, e.g. `HashAggregate`. */
  readonly name: string
  /** Called once when the dataflow is wired, before any input (e.g. a global aggregate's first row). */
  onStart?(out: Emitter): void
  onChunk(chunk: Chunk, input: number, out: Emitter): void
  /** Handles a watermark from `input`; default: forward unchanged. */
  onWatermark?(w: Watermark, input: number, out: Emitter): void
  /** Approximate number of state entries (groups, rows) held, for metrics and the catalog. */
  stateSize?(): number
  /** EXPLAIN detail, e.g. `keys=[0, 1] aggs=[count(*)]`. */
  explain?(): string
}

/** Renders a row for dead-letter payloads and messages (cold path). */
export function describeRow(values: readonly unknown[]): string {
  return JSON.stringify(values, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
}
