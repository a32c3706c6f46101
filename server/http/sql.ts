/**
 * `POST /v1/sql`: checks the request body, runs it in a fresh session and turns the results into
 * JSON (see json.ts for the value rule, params.ts for parameters, problem.ts for errors).
 *
 * A body that is not `{ "sql": string, "params"?: array }` (or has other members) is a malformed
 * request: 400 with SQLSTATE 08P01, as pgwire answers a malformed message.
 */
import type { Session, SessionOptions, StatementResult } from '../../engine/session-api.ts'
import type { Value } from '../../engine/types/datatype.ts'
import type { JsonValue } from '../../engine/types/jsonb.ts'
import type { Problem } from './problem.ts'
import { SqlState } from '../../engine/errors.ts'
import { formatTypeName } from '../../engine/types/oid.ts'
import { toJson } from './json.ts'
import { paramsFromJson } from './params.ts'
import { problemFromError } from './problem.ts'

/** What the HTTP API needs from the engine to run SQL. `Sluice` satisfies it. */
export interface SqlDatabase {
  session(options?: SessionOptions): Session
}

/** A checked request body. */
export interface SqlRequest {
  readonly sql: string
  readonly params?: readonly JsonValue[]
}

/** One statement's result as it goes out. */
export interface JsonStatementResult {
  readonly tag: string
  readonly columns?: readonly { readonly name: string; readonly type: string }[]
  readonly rows?: readonly (readonly JsonValue[])[]
  readonly notices?: readonly string[]
}

const ALLOWED_MEMBERS: ReadonlySet<string> = new Set(['sql', 'params'])

function malformed(detail: string, hint?: string): Problem {
  return { status: 400, code: SqlState.protocol_violation, detail, hint }
}

/** The body as a SqlRequest, or the problem with it. */
export function checkSqlRequest(body: unknown): SqlRequest | Problem {
  const hint = 'Send a JSON object such as {"sql": "SELECT 1"} with Content-Type: application/json.'
  if (body === undefined) return malformed('the request has no body', hint)
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return malformed('the body must be a JSON object', hint)
  const record = body as Record<string, unknown>
  for (const key of Object.keys(record)) {
    if (!ALLOWED_MEMBERS.has(key))
      return malformed(`unknown member "${key}" in the body`, 'The body has members "sql" and optionally "params".')
  }
  const { sql, params } = record
  if (sql === undefined) return malformed('the body has no "sql" member', hint)
  if (typeof sql !== 'string') return malformed('"sql" must be a string')
  if (params !== undefined && !Array.isArray(params)) return malformed('"params" must be an array')
  return { sql, params: params as readonly JsonValue[] | undefined }
}

/** Whether `x` is a Problem rather than a request or a result. */
export function isProblem<T extends object>(x: T | Problem): x is Problem {
  return 'status' in x
}

/** Runs a checked request; every engine error becomes a problem, never an exception. */
export async function runSqlRequest(
  db: SqlDatabase,
  request: SqlRequest,
): Promise<{ results: JsonStatementResult[] } | Problem> {
  const session = db.session({ applicationName: 'sluice-http' })
  try {
    let params: Value[] | undefined
    if (request.params !== undefined && request.params.length > 0) {
      const { paramTypes } = await session.describe(request.sql)
      params = paramsFromJson(request.params, paramTypes, timezone(session))
    }
    const results = await session.execute(request.sql, params)
    if (results.some((r) => r.subscription !== undefined)) {
      for (const r of results) r.subscription?.close()
      return {
        status: 400,
        code: SqlState.feature_not_supported,
        detail: 'SUBSCRIBE does not end, so POST /v1/sql cannot answer it',
        hint: 'Use GET /v1/subscribe/{view} (Server-Sent Events or WebSocket).',
      }
    }
    const tz = timezone(session)
    return { results: results.map((r) => resultJson(r, tz)) }
  } catch (e) {
    // The engine hands the results of the statements that ran before the failure along on the error.
    const partial =
      typeof e === 'object' && e !== null && 'partial' in e && Array.isArray(e.partial)
        ? (e.partial as StatementResult[])
        : []
    const tz = timezone(session)
    return problemFromError(
      e,
      partial.map((r) => resultJson(r, tz)),
    )
  } finally {
    session.close()
  }
}

function timezone(session: Session): string {
  return session.setting('timezone') ?? 'UTC'
}

/** One statement result with its values as JSON. */
export function resultJson(r: StatementResult, tz: string): JsonStatementResult {
  const columns = r.columns
  if (columns === undefined)
    return r.notices !== undefined && r.notices.length > 0 ? { tag: r.tag, notices: r.notices } : { tag: r.tag }
  const types = columns.map((c) => c.type)
  const rows: JsonValue[][] = []
  for (const row of r.rows ?? []) {
    const out = new Array<JsonValue>(types.length)
    for (let i = 0; i < types.length; i++) out[i] = toJson(row[i] ?? null, types[i], tz)
    rows.push(out)
  }
  const result: JsonStatementResult = {
    tag: r.tag,
    columns: columns.map((c) => ({ name: c.name, type: formatTypeName(c.type) })),
    rows,
  }
  return r.notices !== undefined && r.notices.length > 0 ? { ...result, notices: r.notices } : result
}
