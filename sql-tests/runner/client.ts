/**
 * The one interface the sqllogictest runner talks to: run SQL, get PostgreSQL text values or a
 * SQLSTATE error. Adapters exist for a PostgreSQL-protocol server (Sluice's pgwire or a real
 * PostgreSQL) and for an in-process engine session.
 */

/** A result set with every value already in PostgreSQL text format; SQL NULL is `null`. */
export interface SqlRows {
  readonly columns: readonly string[]
  readonly rows: readonly (readonly (string | null)[])[]
}

/** An error the database reported (not a broken connection: that is thrown). */
export interface SqlError {
  readonly error: { readonly code: string; readonly message: string }
}

export type SqlOutcome = SqlRows | SqlError

export interface SqlClient {
  /**
   * Runs `sql` (one or more statements). Returns the rows of the last statement (statements
   * without rows give no columns and no rows), or the error of the first failing statement.
   * Throws only when the client itself fails (connection lost).
   */
  run(sql: string): Promise<SqlOutcome>
  close(): Promise<void>
}

export function isSqlError(outcome: SqlOutcome): outcome is SqlError {
  return 'error' in outcome
}
