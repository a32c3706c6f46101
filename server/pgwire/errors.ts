/**
 * Error mapping for the wire: anything thrown while serving a client becomes the fields of one
 * ErrorResponse. Engine errors (SluiceError) keep their SQLSTATE, detail, hint and position;
 * anything else is an internal error (XX000) that is also logged, because it is a bug.
 */
import { SluiceError } from '../../engine/errors.ts'
import { encodeFields, type FieldMap } from './writer.ts'

export type Severity = 'ERROR' | 'FATAL'

/** Logger the server is given; fields are structured context. */
export type LogFn = (
  level: 'debug' | 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void

/**
 * Errors that belong to the protocol layer rather than the engine: framing and message-format
 * violations, authentication failures, unknown statement or portal names. Their SQLSTATEs
 * (08P01, 26000, 34000, 42P05, ...) are PostgreSQL's and are not all in the engine's list.
 */
export class WireError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** FATAL errors end the connection after the ErrorResponse is sent. */
    readonly severity: Severity = 'ERROR',
  ) {
    super(message)
    this.name = 'WireError'
  }
}

/** The ErrorResponse fields for `e`, and whether the connection must close afterwards. */
export function errorFields(e: unknown, log: LogFn, forceFatal = false): { fields: FieldMap; fatal: boolean } {
  const { fields, fatal } = mapError(e, log)
  if (!forceFatal || fatal) return { fields, fatal }
  return { fields: { ...fields, S: 'FATAL', V: 'FATAL' }, fatal: true }
}

function mapError(e: unknown, log: LogFn): { fields: FieldMap; fatal: boolean } {
  if (e instanceof WireError) {
    return { fields: { S: e.severity, V: e.severity, C: e.code, M: e.message }, fatal: e.severity === 'FATAL' }
  }
  if (e instanceof SluiceError) {
    if (e.domain === 'internal')
      log('error', 'internal error while running a statement', { code: e.code, error: e.message, stack: stackOf(e) })
    return {
      fields: {
        S: 'ERROR',
        V: 'ERROR',
        C: e.code,
        M: e.message,
        D: e.detail,
        H: e.hint,
        P: e.position === undefined ? undefined : String(e.position),
      },
      fatal: false,
    }
  }
  const message = e instanceof Error ? e.message : String(e)
  log('error', 'unexpected error while serving a client', {
    error: message,
    stack: e instanceof Error ? e.stack : undefined,
  })
  return { fields: { S: 'ERROR', V: 'ERROR', C: 'XX000', M: message }, fatal: false }
}

/** An ErrorResponse message for `e`; `forceFatal` when the connection cannot go on anyway. */
export function errorResponse(e: unknown, log: LogFn, forceFatal = false): { message: Buffer; fatal: boolean } {
  const { fields, fatal } = errorFields(e, log, forceFatal)
  return { message: encodeFields('E', fields), fatal }
}

/** A NoticeResponse for one notice raised by a statement. */
export function noticeResponse(text: string): Buffer {
  return encodeFields('N', { S: 'NOTICE', V: 'NOTICE', C: '00000', M: text })
}

function stackOf(e: SluiceError): string | undefined {
  return e.cause instanceof Error ? e.cause.stack : e.stack
}
