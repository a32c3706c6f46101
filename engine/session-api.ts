/**
 * The shapes the engine hands to its front ends (pgwire, HTTP, in-process users, the slt runner).
 * Nothing here knows about sockets or wire formats.
 */
import type { DataType, Value } from './types/datatype.ts'
import type { Chunk } from './chunk.ts'
import type { TypeMod } from './types/typmod.ts'

export interface ResultColumn {
  readonly name: string
  readonly type: DataType
  /** The column's type modifier and PostgreSQL spelling (RowDescription's type OID and modifier). */
  readonly typmod?: TypeMod
}

/** The outcome of one statement. */
export interface StatementResult {
  /** PostgreSQL command tag, e.g. `SELECT 5`, `INSERT 0 1`, `CREATE MATERIALIZED VIEW`. */
  readonly tag: string
  /** Present for statements that return rows (SELECT, SHOW, DESCRIBE, EXPLAIN, ...). */
  readonly columns?: readonly ResultColumn[]
  readonly rows?: readonly (readonly Value[])[]
  /** NOTICE messages raised while running the statement. */
  readonly notices?: readonly string[]
  /**
   * SUBSCRIBE: the live change stream (`columns` are then `position, op, ...`, `rows` empty).
   * The receiver reads it until it ends and must close it when done.
   */
  readonly subscription?: ChangeSubscription
}

/** How a SUBSCRIBE starts (SQL: `WITH (snapshot = false, from = p, queue.max = n)`). */
export interface SubscribeOptions {
  /** Send the current rows first (default true; false with `from`). */
  readonly snapshot?: boolean
  /** Resume: deliver the changes after this position, no snapshot. */
  readonly from?: number
  /** Change rows that may wait for this subscriber before it is cut off (54000). */
  readonly maxQueueRows?: number
}

/** A run of changes: snapshot rows all carry `position`; change row i carries `position + i`. */
export interface ChangeBatch {
  readonly chunk: Chunk
  readonly position: number
  readonly snapshot: boolean
}

/** One change, as the in-process iterator hands them out. */
export interface Change {
  readonly op: 'insert' | 'delete'
  readonly position: number
  readonly row: readonly Value[]
  readonly snapshot: boolean
}

/** A live SUBSCRIBE: a bounded queue of the relation's changes, snapshot first. */
export interface ChangeSubscription extends AsyncIterable<Change> {
  /** The relation's columns (without `position` and `op`). */
  readonly columns: readonly ResultColumn[]
  /** The position the snapshot reflects (or the resume position). */
  readonly startPosition: number
  /** The position of the last change handed out: resume from here. */
  readonly lastPosition: number
  /** True once ended and drained. */
  readonly closed: boolean
  /**
   * True while the snapshot is still being read (from disk, a piece at a time): poll() may
   * return undefined before the snapshot's end then.
   */
  readonly readingSnapshot?: boolean
  /** Up to `maxRows` queued changes without waiting; undefined when none; throws the failure (54000 cut off, 57014 cancelled, 42P01 dropped) once drained. */
  poll(maxRows?: number): ChangeBatch | undefined
  /** Resolves when poll() has something, or the subscription ended. */
  ready(): Promise<void>
  /** The next batch, waiting for it; undefined once closed. */
  next(maxRows?: number): Promise<ChangeBatch | undefined>
  close(): void
  /** Ends the subscription with 57014 (a cancelled statement). */
  cancel(): void
}

/** What Parse/Describe in the extended protocol needs before execution. */
export interface PreparedDescription {
  /** Types of $1..$n as inferred (or as declared by the client). */
  readonly paramTypes: readonly DataType[]
  /** Result columns, or undefined when the statement returns no rows. */
  readonly columns: readonly ResultColumn[] | undefined
}

/** One client connection's view of the engine: settings (timezone, search_path...) live here. */
export interface Session {
  /**
   * Runs every statement of `sql` (a simple query may hold several) and returns one result per
   * statement. With `params`, `sql` must be a single statement using $1..$n.
   * Throws SluiceError; statements before the failing one have taken effect.
   */
  execute(sql: string, params?: readonly Value[]): Promise<StatementResult[]>
  /** Parses and binds one statement without running it. `paramTypes` are the client's hints. */
  describe(sql: string, paramTypes?: readonly (DataType | undefined)[]): Promise<PreparedDescription>
  /** Current value of a session setting (`timezone`, `DateStyle`, `server_version`, ...). */
  setting(name: string): string | undefined
  /** Settings pgwire reports as ParameterStatus at startup and when changed. */
  readonly reportedSettings: ReadonlyMap<string, string>
  close(): void
}

export interface SessionOptions {
  readonly user?: string
  readonly database?: string
  readonly applicationName?: string
  /** A read-only role: statements that change anything fail with 42501 (engine/exec/privileges.ts). */
  readonly readOnly?: boolean
  /** Largest result (estimated bytes) one statement may build; beyond it 54000. Default 256 MiB. */
  readonly maxResultBytes?: number
}
