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
import { QueryBudget, defaultQueryMemoryLimit, formatBytes, parseMemorySetting } from '../batch/budget.ts'
import { checkPrivileges } from './privileges.ts'
import { recordOwner } from './roles.ts'
import { redactText } from '../catalog/redact.ts'
import { logDdl } from './ddl-log.ts'
import { runDuringRestore } from '../restore-progress.ts'

/** Settings every session starts with, and which of them pgwire reports as ParameterStatus. */
const DEFAULT_SETTINGS: ReadonlyMap<string, string> = new Map([
  ['timezone', 'UTC'],
  ['datestyle', 'ISO, MDY'],
  ['intervalstyle', 'postgres'],
  ['search_path', '"$user", public'],
  ['statement_timeout', '0'],
  // Longer statements fail with 54000 before they are parsed (a parse holds the event loop).
  ['max_statement_bytes', '4MB'],
  ['query_memory_limit', formatBytes(defaultQueryMemoryLimit())],
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
  /** The running statement's memory budget (`query_memory_limit`; a fresh one per statement). */
  budget: QueryBudget = new QueryBudget(Infinity)
  private reported = new Map<string, string>()

  constructor(
    readonly engine: Engine,
    options: SessionOptions,
    /** The session replaying the catalog at startup (engine/restore.ts). */
    private readonly replaying = false,
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
    this.checkStatementSize(sql)
    const statements = await parseSql(sql)
    if (params !== undefined && params.length > 0 && statements.length > 1) {
      throw new SluiceError(SqlState.syntax_error, 'cannot insert multiple commands into a prepared statement')
    }
    const results: StatementResult[] = []
    for (const stmt of statements) {
      const started = performance.now()
      try {
        const timeout = parseStatementTimeout(this.settings.get('statement_timeout') ?? '0')
        this.interrupt = new StatementInterrupt(timeout > 0 ? this.engine.now() + timeout : undefined, this.engine.now)
        this.budget = new QueryBudget(
          parseMemorySetting('query_memory_limit', this.settings.get('query_memory_limit') ?? '256MB'),
        )
        // The catalog's own replay at startup runs as the bootstrap superuser, unchecked; client
        // statements go through the restore policy while it runs (restore-progress.ts).
        if (this.replaying) results.push(await executeStatement(this, stmt, params ?? []))
        else
          results.push(
            await runDuringRestore(this.engine.restoring, stmt, this.interrupt, () => {
              checkPrivileges(this.engine, this.user, this.readOnly, stmt)
              return executeStatement(this, stmt, params ?? [])
            }),
          )
        await recordOwner(this.engine, this.user, stmt)
        if (!this.replaying) logDdl(this.engine, this.user, stmt, performance.now() - started, undefined)
      } catch (e) {
        const error = withPosition(e, stmt.location)
        // A connector's message may quote a URL from the options: never its password.
        error.message = redactText(error.message)
        if (!this.replaying) logDdl(this.engine, this.user, stmt, performance.now() - started, error)
        // The statements before the failing one took effect: hand their results along.
        throw Object.assign(error, { partial: results })
      } finally {
        this.budget.releaseAll()
        this.refreshReported()
      }
    }
    return results
  }

  async describe(sql: string, paramTypes: readonly (DataType | undefined)[] = []): Promise<PreparedDescription> {
    this.checkStatementSize(sql)
    const statements = await parseSql(sql)
    if (statements.length === 0) return { paramTypes: [], columns: undefined }
    if (statements.length > 1)
      throw new SluiceError(SqlState.syntax_error, 'cannot insert multiple commands into a prepared statement')
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

  /**
   * 54000 for a statement over `max_statement_bytes`, checked before anything reads it: parsing
   * and binding take time in proportion to the text, on the thread every session shares.
   */
  private checkStatementSize(sql: string): void {
    const limit = parseMemorySetting('max_statement_bytes', this.settings.get('max_statement_bytes') ?? '4MB')
    // UTF-16 length is a cheap lower bound; count bytes only when it could matter.
    if (sql.length * 3 <= limit) return
    const bytes = Buffer.byteLength(sql, 'utf8')
    if (bytes <= limit) return
    throw new SluiceError(
      SqlState.program_limit_exceeded,
      `statement too long: ${bytes} bytes, more than max_statement_bytes (${formatBytes(limit)})`,
      {
        hint: 'Send the data in several statements (or through HTTP ingest), or raise max_statement_bytes (SET max_statement_bytes = ...).',
      },
    )
  }

  private refreshReported(): void {
    const next = new Map<string, string>()
    for (const [key, name] of REPORTED) next.set(name, this.settings.get(key) ?? '')
    this.reported = next
  }
}

/** Errors keep the position the parser or binder computed (already relative to the whole input). */
function withPosition(e: unknown, _location: number): SluiceError {
  // The one place a stack overflow from any recursive pass (binder, planner, compiler) over a
  // too deeply nested statement becomes the statement's error rather than an internal one.
  const overflow = e instanceof SluiceError && e.code === SqlState.internal_error ? e.cause : e
  if (overflow instanceof RangeError && /call stack/i.test(overflow.message)) {
    return new SluiceError(SqlState.statement_too_complex, 'statement too complex: expressions nested too deeply', {
      hint: 'Write long chains of operators as several statements, or use IN (...) or an array.',
      cause: e,
    })
  }
  return toSluiceError(e)
}
