/**
 * `POST /v1/ingest/:table`: JSON lines (`application/x-ndjson`, one JSON object per line) appended
 * to an APPEND ONLY table as one batch. Fields map to columns as for Kafka JSON sources
 * (connectors/formats/json.ts): by name, missing fields NULL, timestamps as text or epoch ms.
 *
 * All or nothing: a line that is not a JSON object, or a field that does not fit its column, is
 * 400 (22P02) naming the line (`line` in the problem, 1-based), and nothing is applied. Blank lines
 * are skipped. Unknown table 404 (42P01); a relation that is not a table 409 (42809); a table that
 * is not APPEND ONLY 409 (0A000).
 *
 * Backpressure: at most `maxInFlight` ingest requests are being decoded or applied at once; one
 * more is answered 429 with `Retry-After` (53000) rather than queued, so memory stays bounded by
 * maxInFlight × body limit. A 200 means the rows are durable and have reached every view.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { IngestTarget } from '../../engine/exec/ingest.ts'
import type { Problem } from './problem.ts'
import { SqlState } from '../../engine/errors.ts'
import { emptyColumns } from '../../engine/chunk.ts'
import { createJsonDecoder } from '../../connectors/formats/json.ts'
import { problemFromError, sendProblem } from './problem.ts'

/** What ingest needs from the engine; `Sluice` satisfies it. */
export interface IngestDatabase {
  ingestTarget(name: string): IngestTarget
}

/** Content types taken as JSON lines. */
export const NDJSON_TYPES: readonly string[] = ['application/x-ndjson', 'application/jsonl', 'application/x-jsonlines']

export const DEFAULT_MAX_IN_FLIGHT = 8

export interface IngestCounters {
  rows(table: string, n: number): void
  rejected(reason: 'busy' | 'bad_request' | 'error'): void
}

/** The route handler; `inFlight` is shared by all requests of one app. */
export function ingestHandler(db: IngestDatabase, maxInFlight: number, counters: IngestCounters) {
  let inFlight = 0
  return async (req: FastifyRequest<{ Params: { table: string } }>, reply: FastifyReply): Promise<unknown> => {
    if (inFlight >= maxInFlight) {
      counters.rejected('busy')
      return sendProblem(reply.header('retry-after', '1'), {
        status: 429,
        code: SqlState.insufficient_resources,
        detail: `ingest is behind: ${inFlight} requests are in flight`,
        hint: 'Retry after the delay in Retry-After.',
      })
    }
    inFlight++
    try {
      const outcome = await ingest(db, req.params.table, req.body)
      if ('status' in outcome) {
        counters.rejected(outcome.status >= 500 ? 'error' : 'bad_request')
        return sendProblem(reply, outcome)
      }
      counters.rows(req.params.table, outcome.rows)
      return outcome
    } finally {
      inFlight--
    }
  }
}

async function ingest(
  db: IngestDatabase,
  table: string,
  body: unknown,
): Promise<{ table: string; rows: number } | Problem> {
  let target: IngestTarget
  try {
    target = db.ingestTarget(table)
  } catch (e) {
    const p = problemFromError(e)
    if (p.code === SqlState.undefined_table) return { ...p, status: 404 }
    if (p.code === SqlState.wrong_object_type || p.code === SqlState.feature_not_supported) return { ...p, status: 409 }
    return p
  }
  if (typeof body !== 'string') {
    return {
      status: 400,
      code: SqlState.protocol_violation,
      detail: 'the body must be JSON lines',
      hint: 'Send one JSON object per line with Content-Type: application/x-ndjson.',
    }
  }
  const decoder = createJsonDecoder(target.columns)
  const columns = emptyColumns(target.columns.length)
  let length = 0
  let line = 0
  let start = 0
  while (start <= body.length) {
    let end = body.indexOf('\n', start)
    if (end < 0) end = body.length
    line++
    const text = body.slice(start, end)
    start = end + 1
    if (text.trim() === '') continue
    const failure = decoder.decode(text, columns)
    if (failure !== undefined) {
      return {
        status: 400,
        code: SqlState.invalid_text_representation,
        detail: `line ${line}: ${failure.detail}`,
        line,
        hint: 'Nothing was applied; fix the line and send the whole body again.',
      }
    }
    length++
  }
  try {
    await target.append(columns, length)
  } catch (e) {
    const p = problemFromError(e)
    return p.code === SqlState.undefined_table ? { ...p, status: 404 } : p
  }
  return { table, rows: length }
}
