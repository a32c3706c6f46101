/**
 * One error type for everything the engine reports. Each carries a PostgreSQL SQLSTATE, a fault
 * domain (who has to act: the user, an external system, or us), and optional detail, hint and
 * 1-based character position in the statement. pgwire maps it to ErrorResponse fields; HTTP maps
 * the domain to a status code. Every code used is listed in docs/errors.md (a test checks).
 */

export type FaultDomain = 'user' | 'external' | 'internal'

export const SqlState = {
  successful_completion: '00000',
  warning: '01000',
  feature_not_supported: '0A000',
  invalid_grant_operation: '0LP01',
  invalid_transaction_state: '25000',
  cardinality_violation: '21000',
  data_exception: '22000',
  string_data_right_truncation: '22001',
  numeric_value_out_of_range: '22003',
  null_value_not_allowed: '22004',
  invalid_datetime_format: '22007',
  datetime_field_overflow: '22008',
  division_by_zero: '22012',
  substring_error: '22011',
  invalid_argument_for_logarithm: '2201E',
  invalid_argument_for_power_function: '2201F',
  invalid_parameter_value: '22023',
  invalid_text_representation: '22P02',
  invalid_escape_sequence: '22025',
  not_null_violation: '23502',
  unique_violation: '23505',
  invalid_authorization_specification: '28000',
  invalid_password: '28P01',
  syntax_error: '42601',
  insufficient_privilege: '42501',
  undefined_column: '42703',
  undefined_function: '42883',
  undefined_table: '42P01',
  undefined_object: '42704',
  duplicate_object: '42710',
  duplicate_table: '42P07',
  wrong_object_type: '42809',
  duplicate_column: '42701',
  ambiguous_column: '42702',
  datatype_mismatch: '42804',
  grouping_error: '42803',
  invalid_column_reference: '42P10',
  dependent_objects_still_exist: '2BP01',
  protocol_violation: '08P01',
  invalid_sql_statement_name: '26000',
  invalid_cursor_name: '34000',
  duplicate_prepared_statement: '42P05',
  insufficient_resources: '53000',
  out_of_memory: '53200',
  too_many_connections: '53300',
  program_limit_exceeded: '54000',
  object_in_use: '55006',
  statement_too_complex: '54001',
  query_canceled: '57014',
  admin_shutdown: '57P01',
  cannot_connect_now: '57P03',
  io_error: '58030',
  internal_error: 'XX000',
} as const

export type SqlStateCode = (typeof SqlState)[keyof typeof SqlState]

export interface SluiceErrorOptions {
  readonly domain?: FaultDomain
  readonly retryable?: boolean
  readonly detail?: string
  readonly hint?: string
  /** 1-based character position in the statement text, as PostgreSQL reports it. */
  readonly position?: number
  readonly cause?: unknown
}

export class SluiceError extends Error {
  readonly code: SqlStateCode
  readonly domain: FaultDomain
  readonly retryable: boolean
  readonly detail: string | undefined
  readonly hint: string | undefined
  position: number | undefined

  constructor(code: SqlStateCode, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SluiceError'
    this.code = code
    this.domain = options.domain ?? (code === SqlState.internal_error ? 'internal' : 'user')
    this.retryable = options.retryable ?? false
    this.detail = options.detail
    this.hint = options.hint
    this.position = options.position
  }
}

/** Wraps anything thrown into a SluiceError; unknown errors are internal (a bug to report). */
export function toSluiceError(e: unknown): SluiceError {
  if (e instanceof SluiceError) return e
  const message = e instanceof Error ? e.message : String(e)
  return new SluiceError(SqlState.internal_error, message, { domain: 'internal', cause: e })
}

export function userError(code: SqlStateCode, message: string, options: SluiceErrorOptions = {}): SluiceError {
  return new SluiceError(code, message, { ...options, domain: 'user' })
}
