/**
 * RFC 9457 problem details for every HTTP error. The problem type is the SQLSTATE
 * (`https://sluice.dev/errors/42P01`), `title` is that condition's name ('undefined table'),
 * `detail` is the occurrence's message as PostgreSQL would word it, and `code` repeats the
 * SQLSTATE for clients that switch on it. Optional members: `position` (1-based, in the
 * submitted SQL), `hint`, `message_detail` (PostgreSQL's DETAIL field) and `results` (the
 * results of the statements that ran before the failing one).
 *
 * Status codes: a user fault is 400; an external failure is 503 when retrying may help, else 502;
 * an internal error (a bug) is 500. Shutting down and too many connections are 503.
 */
import type { FastifyReply } from 'fastify'
import type { SluiceError } from '../../engine/errors.ts'
import { SqlState, toSluiceError } from '../../engine/errors.ts'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'
export const PROBLEM_TYPE_BASE = 'https://sluice.dev/errors/'

/** A problem document, before `type` and `title` are derived from the code. */
export interface Problem {
  readonly status: number
  readonly code: string
  readonly detail: string
  readonly position?: number
  readonly hint?: string
  readonly messageDetail?: string
  readonly results?: readonly unknown[]
  /** 1-based line of a JSON-lines body that failed (ingest). */
  readonly line?: number
}

const CONDITION_NAMES: ReadonlyMap<string, string> = new Map(
  Object.entries(SqlState).map(([name, code]) => [code, name.replace(/_/g, ' ')]),
)

/** The condition name of a SQLSTATE ('42601' → 'syntax error'), the problem's stable title. */
export function conditionName(code: string): string {
  return CONDITION_NAMES.get(code) ?? 'error'
}

/** The HTTP status for an engine error, by fault domain (see the header). */
export function statusForError(err: SluiceError): number {
  if (err.code === SqlState.admin_shutdown || err.code === SqlState.too_many_connections) return 503
  // Authenticated but not allowed: 403, so a client can tell it from a bad statement.
  if (err.code === SqlState.insufficient_privilege) return 403
  switch (err.domain) {
    case 'user':
      return 400
    case 'external':
      return err.retryable ? 503 : 502
    case 'internal':
      return 500
  }
}

/** Anything thrown by the engine as a problem. */
export function problemFromError(e: unknown, results?: readonly unknown[]): Problem {
  const err = toSluiceError(e)
  return {
    status: statusForError(err),
    code: err.code,
    detail: err.message,
    position: err.position,
    hint: err.hint,
    messageDetail: err.detail,
    results: results !== undefined && results.length > 0 ? results : undefined,
  }
}

/** The JSON body of a problem. */
export function problemBody(p: Problem): Record<string, unknown> {
  const body: Record<string, unknown> = {
    type: PROBLEM_TYPE_BASE + p.code,
    title: conditionName(p.code),
    status: p.status,
    detail: p.detail,
    code: p.code,
  }
  if (p.position !== undefined) body.position = p.position
  if (p.hint !== undefined) body.hint = p.hint
  if (p.messageDetail !== undefined) body.message_detail = p.messageDetail
  if (p.results !== undefined) body.results = p.results
  if (p.line !== undefined) body.line = p.line
  return body
}

/** Sends `p` as `application/problem+json`; 503s say when to retry. */
export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  const r = p.status === 503 ? reply.header('retry-after', '1') : reply
  return r.code(p.status).type(PROBLEM_CONTENT_TYPE).send(problemBody(p))
}
