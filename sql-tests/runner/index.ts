/**
 * The sqllogictest runner's public face: parse and run .slt files against any SqlClient, with
 * adapters for PostgreSQL-protocol servers and in-process engine sessions.
 */
export type { SqlClient, SqlOutcome, SqlRows, SqlError } from './client.ts'
export { isSqlError } from './client.ts'
export type { PgwireTarget } from './pgwire-client.ts'
export { pgwireClient } from './pgwire-client.ts'
export { inProcessClient } from './in-process-client.ts'
export type { RunOptions, SltFailure, SltResult } from './runner.ts'
export { runSltFile, applyEdits } from './runner.ts'
export type { SltRecord, QueryRecord, StatementRecord, ErrorPattern, Condition } from './parser.ts'
export { parseSlt, SltParseError } from './parser.ts'
export { formatValue, hashValues } from './format.ts'
export { findSltFiles, openEngineClient } from './files.ts'
