/**
 * The interfaces connectors implement. The engine depends only on these; connectors/ depends on
 * the engine (never the other way round), and registers factories at startup.
 */
import type { Chunk, Watermark } from './chunk.ts'
import type { DataType } from './types/datatype.ts'
import type { TypeMod } from './types/typmod.ts'

export interface ColumnSchema {
  readonly name: string
  readonly type: DataType
  /**
   * The declared type's modifier and PostgreSQL spelling (types/typmod.ts): VARCHAR(5) columns
   * hold text values but describe as `character varying(5)` and check lengths, NUMERIC(12,2)
   * columns round to 2 digits.
   */
  readonly typmod?: TypeMod
  /**
   * Set on a source column filled from the record's metadata instead of its payload
   * (`INCLUDE key AS k`, `INCLUDE header 'trace' AS t`, ...); decoders never see these columns.
   */
  readonly include?: SourceMetadata
}

/** Record metadata a source column can hold (Kafka: `INCLUDE key | partition | offset | timestamp | header 'name'`). */
export type SourceMetadata =
  | { readonly kind: 'key' }
  | { readonly kind: 'partition' }
  | { readonly kind: 'offset' }
  | { readonly kind: 'timestamp' }
  | { readonly kind: 'header'; readonly name: string }

/** One partition's position against the end of its input (`sluice_catalog.lag`, lag metrics). */
export interface PartitionLag {
  readonly topic: string
  readonly partition: number
  /** The next offset the reader will return. */
  readonly offset: bigint
  /** The partition's end (high watermark, or last stable offset) as last seen. */
  readonly end: bigint
  /** Whether the reader has paused fetching this partition (its queue is full). */
  readonly paused: boolean
}

export type DeadLetterReason = 'decode_error' | 'type_error' | 'late' | 'schema_mismatch' | 'eval_error'

export interface DeadLetter {
  /** The source, table or view that rejected the record. */
  readonly object: string
  readonly reason: DeadLetterReason
  readonly detail: string
  /** The original bytes or row text, when there is one. */
  readonly payload: string | null
  /** Where it came from, e.g. `topic=bids partition=0 offset=42`. */
  readonly origin?: string
}

/** What the runtime gives a connector: its name, a dead-letter outlet, a clock and a logger. */
export interface ConnectorContext {
  readonly name: string
  deadLetter(letter: DeadLetter): void
  /** Wall-clock milliseconds. Connectors use this instead of Date.now() so tests can steer time. */
  now(): number
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void
  /**
   * Sharded views: this reader reads only split `index` of `count` of the source (Kafka: the
   * partitions p with p % count === index; datagen: its share of the event sequence). Absent:
   * the whole source. Offsets and clocks a split reader returns are its own: a restart gives
   * them back to the reader of the same split.
   */
  readonly split?: { readonly index: number; readonly count: number }
}

/**
 * A dead-letter destination that takes part in the checkpoint protocol like a transactional sink
 * (docs/design/checkpoints.md, "Dead-letter destinations"): the letters of epoch n are logged with
 * checkpoint n and made visible by `commit(n)` once it is durable, together with a progress marker,
 * so a commit at or below the progress is a no-op.
 */
export interface DeadLetterOutlet {
  /**
   * The letters received since the last call belong to the records of the position the source
   * driver has just recorded (called in the same synchronous step): they join the current epoch.
   * A reader's own rejects arrive during `poll`, before that position covers their records.
   */
  settle(): void
  /** Letters received and not yet handed to a checkpoint (FLUSH takes one when there are any). */
  readonly waiting: number
  /** Ends epoch `epoch`: its letters, encoded for the write-ahead log (undefined if none). */
  preCommit(epoch: number): Uint8Array | undefined
  /** Makes epoch `epoch`'s letters visible with its progress marker; idempotent per epoch. */
  commit(epoch: number, logged: Uint8Array): Promise<void>
  /** The highest epoch known committed (0 if none). */
  committedEpoch(): Promise<number>
  /** After the last commit (shutdown, DROP SOURCE): releases connections. */
  close?(): Promise<void>
}

/** Options from the WITH clause, keys lower-cased. A factory must reject keys it does not know. */
export type ConnectorOptions = ReadonlyMap<string, string>

/**
 * One input partition's event-time progress, checkpointed with its offset: what decides which
 * windows a restart may close (docs/design/watermarks.md, "What a restart keeps").
 */
export interface PartitionClock {
  /** Max event time (µs) returned so far, by the time column's index among the source's columns. */
  readonly marks: Readonly<Record<string, number>>
  /** How long (ms, on the connector's clock) the partition had been without data at the checkpoint. */
  readonly quietMs: number
}

/** A reader's clocks by the same partition keys as its offsets (e.g. `topic/partition`); JSON-safe. */
export type SourceClocks = Readonly<Record<string, PartitionClock>>

export interface SourceReader {
  /**
   * Connects; resumes from `restoredOffsets` when given (written with each checkpoint), and from
   * `restoredClocks` (from `clocks()` at the same checkpoint) for per-partition event time.
   */
  open(restoredOffsets?: Readonly<Record<string, string>>, restoredClocks?: SourceClocks): Promise<void>
  /**
   * The next batch of at most `maxRows` rows in the declared column order, or undefined when no
   * data is ready right now (the runtime then waits a little before polling again).
   */
  poll(maxRows: number): Promise<Chunk | undefined>
  /** Current positions (e.g. per Kafka partition `topic/partition` → next offset). */
  offsets(): Record<string, string>
  /**
   * Per-partition event-time progress as of the same point as `offsets()`, for readers whose
   * `watermarks()` combine partitions: without it a restart would forget a lagging partition that
   * has nothing new to read and let the others' event time close its windows.
   */
  clocks?(): SourceClocks
  /**
   * For FLUSH: the end of the input as of now. Undefined for endless generators, which FLUSH
   * does not wait for.
   */
  endOffsets?(): Promise<Record<string, string>>
  /** Whether every record before `end` (from endOffsets) has been returned by poll. */
  reached?(end: Readonly<Record<string, string>>): boolean
  /**
   * Event-time high marks (max event time per timestamp column, µs) the reader vouches for, e.g.
   * per Kafka partition combined as the minimum. When present, the runtime pushes these after
   * each batch and on idle polls instead of each batch's own maximum.
   */
  watermarks?(): readonly Watermark[]
  /**
   * Whether the reader vouches for no event time now: every partition has been silent for the
   * idle timeout or never had data, and none has data waiting. A sharded view's other shards
   * then need not wait for this split's watermark (engine/shard/).
   */
  idle?(): boolean
  /** Per-partition position and end, for lag reporting. */
  lag?(): readonly PartitionLag[]
  /** ALTER SOURCE ... ADD COLUMN: decode `column` (appended last) from the next record on. */
  addColumn?(column: ColumnSchema): void
  /**
   * A dead letter of a view over this source (late, eval_error): sent to the source's own
   * dead-letter destination (e.g. its Kafka topic) when it has one.
   */
  forwardDeadLetter?(letter: DeadLetter): void
  /**
   * Checkpoints are on: the reader's own dead-letter destination (e.g. its Kafka topic), if it
   * has one, as an outlet the checkpoint coordinator commits per epoch, so a replay after a crash
   * never writes a reject twice. Asked once, before `open`; from then on the reader hands its
   * letters to the outlet instead of sending them as they come.
   */
  deadLetterOutlet?(): DeadLetterOutlet | undefined
  /**
   * ALTER SOURCE, before addColumn: rejects a column list the input cannot be read as (e.g. an
   * Avro column whose type contradicts the registry's latest schema), with a SluiceError.
   */
  checkColumns?(columns: readonly ColumnSchema[]): Promise<void>
  close(): Promise<void>
}

/**
 * What a reader feeds: a SOURCE (rows are inserts), or a TABLE with a connector, whose rows are
 * applied by primary key (op +1 upserts, -1 deletes; e.g. Debezium change events).
 */
export interface SourceTarget {
  readonly kind: 'source' | 'table'
  /** The table's primary key column indexes. */
  readonly primaryKey?: readonly number[]
}

export interface SourceFactory {
  readonly connector: string
  /** Validates options (throw SluiceError 22023 for unknown or invalid ones) and builds a reader. */
  create(
    columns: readonly ColumnSchema[],
    options: ConnectorOptions,
    ctx: ConnectorContext,
    target?: SourceTarget,
  ): SourceReader
  /**
   * Columns a source gets when its CREATE SOURCE lists none (e.g. the Nexmark generator).
   * Undefined when columns are required.
   */
  defaultColumns?(options: ConnectorOptions): readonly ColumnSchema[] | undefined
  /**
   * Set when the connector reads a split of its input (ConnectorContext.split) and can run on a
   * sharded view's worker threads: the module (URL) and export name of this factory, which each
   * shard's thread imports to build its own reader.
   */
  readonly splits?: { readonly module: string; readonly exportName: string }
}

/**
 * A sink's writer. The checkpoint protocol (ARCHITECTURE.md "Exactly-once", docs/design/checkpoints.md):
 *
 * 1. While epoch n runs, the sink's dataflow calls `write` with each output chunk, synchronously:
 *    the writer only buffers (no I/O on the hot path).
 * 2. When checkpoint n is taken, `preCommit(n)` hands back the epoch's buffered output, encoded;
 *    the coordinator writes it into the same atomic LevelDB batch as operator state and source
 *    offsets (a write-ahead log). Checkpoint n is now durable.
 * 3. The coordinator then calls `commit(n, logged)`: the writer makes epoch n's output visible
 *    externally together with a progress marker `(sink, n)` (Kafka: one transaction with a progress
 *    record; PostgreSQL: one transaction with the upserts and a progress row; Redis: one MULTI/EXEC
 *    with a progress key). A commit of an epoch at or below the external progress is a no-op, so
 *    it is safe to repeat. Once it resolves, the coordinator drops the logged output.
 * 4. On restart, after `open`, the coordinator compares `committedEpoch()` with the logged epochs
 *    and calls `commit` again for each logged epoch above it, in order.
 */
export interface SinkWriter {
  /** Connects (with backoff left to the caller's retries) and reads the external progress. */
  open(): Promise<void>
  /** Buffers one chunk of the current epoch's output. Synchronous; must not throw on bad rows. */
  write(chunk: Chunk): void
  /** Ends epoch `epoch`: its buffered output, encoded for the write-ahead log (undefined if none). */
  preCommit(epoch: number): Uint8Array | undefined
  /** Makes epoch `epoch` visible externally with its progress marker; idempotent per epoch. */
  commit(epoch: number, logged: Uint8Array | undefined): Promise<void>
  /** The highest epoch whose output is known committed externally (0 if none). */
  committedEpoch(): Promise<number>
  close(): Promise<void>
}

/** What a sink is told about the relation it writes. */
export interface SinkSpec {
  readonly columns: readonly ColumnSchema[]
  /** Column indexes of the stream key (upsert key): the view's GROUP BY keys or primary key; empty if none. */
  readonly key: readonly number[]
  /** True when the input never retracts (e.g. EMIT ON WINDOW CLOSE, a filter over a source). */
  readonly appendOnly: boolean
}

export interface SinkFactory {
  readonly connector: string
  /**
   * Loads what the connector needs before its first writer is built (e.g. a client library it
   * imports on first use, so a server that never creates such a sink does not pay for it).
   */
  prepare?(): Promise<void>
  /** Validates options (throw SluiceError 22023 for unknown or invalid ones) and builds a writer. */
  create(spec: SinkSpec, options: ConnectorOptions, ctx: ConnectorContext): SinkWriter
}
