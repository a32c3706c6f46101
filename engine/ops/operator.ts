/**
 * The one interface every dataflow operator implements. Only `onChunk` is required; watermark
 * and start hooks have defaults (a watermark is forwarded unchanged when an operator does not
 * handle it). Operators never read clocks or timers: the runtime drives them.
 */
import type { Chunk, Watermark } from '../chunk.ts'
import type { DeadLetter } from '../connector.ts'
import type { DataType, Value } from '../types/datatype.ts'
import { formatText } from '../types/text.ts'

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

/** One entry of an operator's checkpointed state: its local key and value. */
export type StateEntry = readonly [key: Uint8Array, value: Uint8Array]

/** Where an operator writes its checkpoint; keys are local, the coordinator prefixes them. */
export interface CheckpointWriter {
  put(key: Uint8Array, value: Uint8Array): void
  del(key: Uint8Array): void
  /** Removes every entry this operator wrote before (ahead of a full rewrite). */
  clear(): void
}

export interface Operator {
  /** Short name for EXPLAIN and metrics, e.g. `HashAggregate`. */
  readonly name: string
  /** Called once when the dataflow is wired, before any input (e.g. a global aggregate's first row). */
  onStart?(out: Emitter): void
  onChunk(chunk: Chunk, input: number, out: Emitter): void
  /** Handles a watermark from `input`; default: forward unchanged. */
  onWatermark?(w: Watermark, input: number, out: Emitter): void
  /**
   * The runtime's wall clock (ms), about once a second, between pushes: operators with
   * processing-time state (a view's `ttl`) expire it here. Operators never read clocks themselves.
   */
  onTick?(now: number, out: Emitter): void
  /** Approximate number of state entries (groups, rows) held, for metrics and the catalog. */
  stateSize?(): number
  /**
   * Checkpoint barrier: writes what changed since the last checkpoint (dirty entries and deletes
   * of freed ones). Called between two pushes, so the state is aligned with the inputs consumed;
   * synchronous, the writes are only collected (one atomic batch for the whole checkpoint).
   */
  checkpoint?(out: CheckpointWriter): void
  /**
   * Rebuilds state from the entries of the last checkpoint (keys as written by `checkpoint`),
   * before the dataflow sees any input; the operator then starts as if it had run up to there.
   */
  restore?(entries: readonly StateEntry[]): void
  /**
   * The rows downstream currently holds from this operator, as inserts, or undefined when the
   * operator cannot tell (then a Materialize after it checkpoints its own copy).
   */
  currentOutput?(): Chunk | undefined
  /**
   * With currentOutput: `handler` receives, as they happen, the rows downstream keeps although
   * this operator forgets them (a closed window's rows), so downstream checkpoints just those.
   */
  onRetired?(handler: (rows: Chunk) => void): void
  /** EXPLAIN detail, e.g. `keys=[0, 1] aggs=[count(*)]`. */
  explain?(): string
}

/**
 * Renders a row for dead-letter payloads and messages (cold path): a JSON array of each value as
 * PostgreSQL prints it for its column type (`"2024-03-01 12:00:00"` rather than the µs number a
 * timestamp is inside the engine), null as null. Without types, the values as they are.
 */
export function describeRow(values: readonly Value[], types?: readonly DataType[]): string {
  if (types === undefined) return JSON.stringify(values, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
  return JSON.stringify(
    values.map((v, i) => {
      const type = types[i]
      if (v === null || type === undefined) return typeof v === 'bigint' ? v.toString() : v
      return formatText(type, v)
    }),
  )
}
