/**
 * One client's session: its settings (time zone, search_path, ...), transaction-block state as
 * far as Sluice tracks it (BEGIN/COMMIT are accepted; every statement applies at once), and the
 * entry points pgwire, HTTP and in-process users call.
 */
import type { Engine } from '../engine.ts'
import type { PreparedDescription, Session, SessionOptions, StatementResult } from '../session-api.ts'
import type { DataType, Value } from '../types/datatype.ts'
import { parseSql } from '../sql/front-door.ts'
import { describeStatement, executeStatement } from './statement.ts'
import { SluiceError, SqlState, toSluiceError } from '../errors.ts'
import { StatementInterrupt, parseStatementTimeout } from './interrupt.ts'
import { checkReadOnly } from './privileges.ts'

/** Settings every session starts with, and which of them pgwire reports as ParameterStatus. */
const DEFAULT_SETTINGS: ReadonlyMap<string, string> = new Map([
  ['timezone', 'UTC'],
  ['datestyle', 'ISO, MDY'],
  ['intervalstyle', 'postgres'],
  ['search_path', '"$user", public'],
  ['statement_timeout', '0'],
  ['client_encoding', 'UTF8'],
  ['server_encoding', 'UTF8'],
  ['server_version', '16.0'],
  ['server_version_num', '160000'],
  ['standard_conforming_strings', 'on'],
  ['integer_datetimes', 'on'],
  ['application_name', ''],
  ['extra_float_digits', '1'],
  ['transaction_isolation', 'read committed'],
  ['max_identifier_length', '63'],
  ['lc_messages', 'C'],
  ['is_superuser', 'on'],
])

const REPORTED: ReadonlyMap<string, string> = new Map([
  ['timezone', 'TimeZone'],
  ['datestyle', 'DateStyle'],
  ['intervalstyle', 'IntervalStyle'],
  ['client_encoding', 'client_encoding'],
  ['server_encoding', 'server_encoding'],
  ['server_version', 'server_version'],
  ['standard_conforming_strings', 'standard_conforming_strings'],
  ['integer_datetimes', 'integer_datetimes'],
  ['application_name', 'application_name'],
  ['is_superuser', 'is_superuser'],
])

export class EngineSession implements Session {
  readonly settings = new Map(DEFAULT_SETTINGS)
  readonly user: string
  readonly database: string
  inTransaction = false
  readonly readOnly: boolean
  readonly maxResultBytes: number
  /** The running statement's timeout and cancel flag (a fresh one per statement). */
  interrupt: StatementInterrupt = new StatementInterrupt(undefined)
  private reported = new Map<string, string>()

  constructor(
    readonly engine: Engine,
    options: SessionOptions,
  ) {
    this.user = options.user ?? 'sluice'
    this.database = options.database ?? 'sluice'
    this.readOnly = options.readOnly === true
    this.maxResultBytes = options.maxResultBytes ?? 256 * 1024 * 1024
    if (this.readOnly) this.settings.set('is_superuser', 'off')
    if (options.applicationName !== undefined) this.settings.set('application_name', options.applicationName)
    this.refreshReported()
  }

  get timezone(): string {
    return this.settings.get('timezone') ?? 'UTC'
  }

  get reportedSettings(): ReadonlyMap<string, string> {
    return this.reported
  }

  setting(name: string): string | undefined {
    return this.settings.get(name.toLowerCase())
  }

  async execute(sql: string, params?: readonly Value[]): Promise<StatementResult[]> {
    if (this.engine.closed) throw new SluiceError(SqlState.admin_shutdown, 'the server is shutting down')
    const statements = await parseSql(sql)
    if (params !== undefined && params.length > 0 && statements.length > 1) {
      throw new SluiceError(SqlState.syntax_error, 'cannot insert multiple commands into a prepared statement')
    }
    const results: StatementResult[] = []
    for (const stmt of statements) {
      try {
        if (this.readOnly) checkReadOnly(stmt, this.user)
        const timeout = parseStatementTimeout(this.settings.get('statement_timeout') ?? '0')
        this.interrupt = new StatementInterrupt(timeout > 0 ? this.engine.now() + timeout : undefined, this.engine.now)
        results.push(await executeStatement(this, stmt, params ?? []))
      } catch (e) {
        // The statements before the failing one took effect: hand their results along.
        throw Object.assign(withPosition(e, stmt.location), { partial: results })
      } finally {
        this.refreshReported()
      }
    }
    return results
  }

  async describe(sql: string, paramTypes: readonly (DataType | undefined)[] = []): Promise<PreparedDescription> {
    const statements = await parseSql(sql)
    if (statements.length === 0) return { paramTypes: [], columns: undefined }
    if (statements.length > 1) throw new SluiceError(SqlState.syntax_error, 'cannot insert multiple commands into a prepared statement')
    try {
      return await describeStatement(this, statements[0], paramTypes)
    } catch (e) {
      throw withPosition(e, statements[0].location)
    }
  }

  /** A client's cancel request: the running statement ends with 57014 if it is waiting. */
  cancel(): void {
    this.interrupt.cancel()
  }

  close(): void {
    this.interrupt.cancel()
  }

  private refreshReported(): void {
    const next = new Map<string, string>()
    for (const [key, name] of REPORTED) next.set(name, this.settings.get(key) ?? '')
    this.reported = next
  }
}

/** Errors keep the position the parser or binder computed (already relative to the whole input). */
function withPosition(e: unknown, _location: number): SluiceError {
  return toSluiceError(e)
}
