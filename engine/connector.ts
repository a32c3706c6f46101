/**
 * The interfaces connectors implement. The engine depends only on these; connectors/ depends on
 * the engine (never the other way round), and registers factories at startup.
 */
import type { Chunk } from './chunk.ts'
import type { DataType } from './types/datatype.ts'

export interface ColumnSchema {
  readonly name: string
  readonly type: DataType
  /**
   * The type as declared, when the catalog should show it differently from the engine type
   * (VARCHAR columns hold text values but describe as `character varying`, as in PostgreSQL).
   */
  readonly display?: string
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
}

/** Options from the WITH clause, keys lower-cased. A factory must reject keys it does not know. */
export type ConnectorOptions = ReadonlyMap<string, string>

export interface SourceReader {
  /** Connects; resumes from `restoredOffsets` when given (written with each checkpoint). */
  open(restoredOffsets?: Readonly<Record<string, string>>): Promise<void>
  /**
   * The next batch of at most `maxRows` rows in the declared column order, or undefined when no
   * data is ready right now (the runtime then waits a little before polling again).
   */
  poll(maxRows: number): Promise<Chunk | undefined>
  /** Current positions (e.g. per Kafka partition `topic/partition` → next offset). */
  offsets(): Record<string, string>
  /**
   * For FLUSH: the end of the input as of now. Undefined for endless generators, which FLUSH
   * does not wait for.
   */
  endOffsets?(): Promise<Record<string, string>>
  /** Whether every record before `end` (from endOffsets) has been returned by poll. */
  reached?(end: Readonly<Record<string, string>>): boolean
  close(): Promise<void>
}

export interface SourceFactory {
  readonly connector: string
  /** Validates options (throw SluiceError 22023 for unknown or invalid ones) and builds a reader. */
  create(columns: readonly ColumnSchema[], options: ConnectorOptions, ctx: ConnectorContext): SourceReader
  /**
   * Columns a source gets when its CREATE SOURCE lists none (e.g. the Nexmark generator).
   * Undefined when columns are required.
   */
  defaultColumns?(options: ConnectorOptions): readonly ColumnSchema[] | undefined
}

export interface SinkWriter {
  write(chunk: Chunk): Promise<void>
  preCommit(epoch: number): Promise<void>
  commit(epoch: number): Promise<void>
  close(): Promise<void>
}

export interface SinkFactory {
  readonly connector: string
  create(columns: readonly ColumnSchema[], options: ConnectorOptions, ctx: ConnectorContext): SinkWriter
}
