/**
 * The shapes the engine hands to its front ends (pgwire, HTTP, in-process users, the slt runner).
 * Nothing here knows about sockets or wire formats.
 */
import type { DataType, Value } from './types/datatype.ts'

export interface ResultColumn {
  readonly name: string
  readonly type: DataType
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
}
