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

/**
 * An operator's own key range of the state store, for operators whose state lives there beyond
 * checkpoints (state tables with a bounded cache, docs/design/state.md). Keys are local, as the
 * operator writes them in `checkpoint()`.
 */
export interface OperatorStore {
  /** The view or sink the operator belongs to (metrics, sluice_catalog). */
  readonly owner: string
  /** The durable value of a local key: as of the last durable checkpoint. */
  getSync(key: Uint8Array): Uint8Array | undefined
  /**
   * The durable entries as of this call (a store snapshot taken synchronously), with local keys,
   * a batch at a time, from local key `gte` on when given. `close` releases the snapshot (also
   * when the scan stops early).
   */
  snapshot(): { entries(gte?: Uint8Array): AsyncIterable<readonly StateEntry[]>; close(): void }
  /** The engine's state cache: the memory budget this operator's cached entries count against. */
  readonly cache: StateCache
}

/**
 * The process-wide budget for operator state held in memory (`--state-cache`). Operators with
 * state tables join it, report what they hold, and evict clean entries down to their allowance
 * after each durable checkpoint.
 */
export interface StateCache {
  readonly budgetBytes: number
  join(member: CacheMember): void
  leave(member: CacheMember): void
  /**
   * Bytes `member` may keep: the budget less what the other members hold, but never less than an
   * equal share (a busy view is not starved by an idle one that filled the cache first).
   */
  allowance(member: CacheMember): number
}

/** An operator's state as the cache and the catalog see it. */
export interface CacheMember {
  /** The view or sink the operator belongs to. */
  readonly owner: string
  /** Estimated bytes of entries held in memory. */
  cachedBytes(): number
  /** Entries held in memory. */
  cachedEntries(): number
  /** Entries of the operator's state in all (memory and store). */
  totalEntries(): number
  /** Lookups that found their entry in memory / had to read the store; entries evicted. */
  readonly hits: number
  readonly misses: number
  readonly evictions: number
}

/**
 * An operator whose current output can be read from its state, in memory and in the store, so
 * the view after it keeps no copy of its rows (Materialize in 'derived' mode): a GROUP BY view of
 * 50M keys serves its rows from the aggregate's state table instead of holding them twice.
 */
export interface StateBackedOutput {
  /**
   * Whether the output lives in a state table once the engine keeps state (checkpoints on), so
   * a view after it may keep no copy; decided by the operator's plan, before any store is attached.
   */
  readonly stateBacked: boolean
  /** Output columns 0..keyCount-1 are the group keys. */
  readonly keyCount: number
  /** Rows of the current output, in memory and on disk. */
  outputRowCount(): number
  /** Whether every group is in memory (then currentOutput() is complete and cheap). */
  fullyInMemory(): boolean
  /**
   * The current output as of this call (captured synchronously: later changes do not show),
   * read in pieces of about `maxRows` rows over later awaits.
   */
  openOutputScan(maxRows: number): AsyncIterable<Chunk>
  /** The current output row of the group with these key values (memory, then store), if any. */
  outputRowOf(key: readonly Value[]): Value[] | undefined
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
   * restore() takes the entries in several calls, one per batch read from the store and in key
   * order, so decoding a batch overlaps reading the next (recovery of a large aggregate).
   */
  readonly restoresInBatches?: boolean
  /**
   * With restore: only entries whose local key is below this are read back at recovery; the
   * rest is state the operator reads on demand (an aggregate's cold groups).
   */
  readonly restoreBelow?: Uint8Array
  /**
   * State tables: called once, before restore() and before any input, when the engine keeps
   * state in a store (restore() then reads only the entries below `restoreBelow`).
   */
  attachStore?(store: OperatorStore): void
  /** The checkpoint holding the writes of the last `checkpoint()` call is durable. */
  checkpointed?(): void
  /** Leaves the state cache (the dataflow is dropped). */
  detachStore?(): void
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
  /**
   * The output column that holds column `column` of input `input` unchanged in every output row
   * that input contributes to, if any: rows split by those input columns stay split by the
   * output column (a sharded view needs no exchange before an operator keyed by it).
   */
  carries?(input: number, column: number): number | undefined
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
