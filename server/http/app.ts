/**
 * The HTTP API (fastify): `POST /v1/sql`, health and readiness, Prometheus metrics, and the
 * OpenAPI document. Errors are RFC 9457 problem documents carrying the SQLSTATE.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import type { Registry } from 'prom-client'
import type { Session } from '../../engine/session-api.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { toSluiceError, SqlState } from '../../engine/errors.ts'
import { formatTypeName } from '../../engine/types/oid.ts'
import { toJson } from './json.ts'
import { OPENAPI } from './openapi.ts'

export interface HttpOptions {
  readonly db: { session(): Session; readonly metrics: Registry }
  /** When set, every route but /healthz needs `Authorization: Bearer <token>`. */
  readonly tokens?: readonly string[]
  readonly bodyLimit?: number
}

interface Problem {
  readonly status: number
  readonly code: string
  readonly title: string
  readonly detail?: string
  readonly position?: number
  readonly hint?: string
}

function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply
    .code(p.status)
    .type('application/problem+json')
    .send({ type: `https://sluice.dev/errors/${p.code}`, title: p.title, status: p.status, code: p.code, detail: p.detail, position: p.position, hint: p.hint })
}

export function buildHttpApp(options: HttpOptions): FastifyInstance {
  const app = Fastify({ bodyLimit: options.bodyLimit ?? 1024 * 1024, logger: false })

  app.addHook('onRequest', async (req, reply) => {
    if (options.tokens === undefined || req.url === '/healthz') return
    const auth = req.headers.authorization ?? ''
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : undefined
    if (token === undefined || !options.tokens.includes(token)) {
      return sendProblem(reply, { status: 401, code: SqlState.invalid_authorization_specification, title: 'missing or invalid bearer token' })
    }
  })

  app.setErrorHandler((error: { statusCode?: number; message: string; code?: string }, _req, reply) => {
    const status = error.statusCode ?? 500
    if (status === 413) return sendProblem(reply, { status, code: SqlState.protocol_violation, title: 'request body too large', detail: error.message })
    if (status >= 400 && status < 500) return sendProblem(reply, { status, code: SqlState.protocol_violation, title: 'malformed request', detail: error.message })
    return sendProblem(reply, { status: 500, code: SqlState.internal_error, title: 'internal error', detail: error.message })
  })

  app.post('/v1/sql', async (req, reply) => {
    const body = req.body as { sql?: unknown; params?: unknown } | null | undefined
    if (body === null || typeof body !== 'object' || typeof body.sql !== 'string') {
      return sendProblem(reply, { status: 400, code: SqlState.invalid_parameter_value, title: 'the body must be a JSON object with a string "sql"' })
    }
    if (body.params !== undefined && !(Array.isArray(body.params) && body.params.every((p) => p === null || ['string', 'number', 'boolean'].includes(typeof p)))) {
      return sendProblem(reply, { status: 400, code: SqlState.invalid_parameter_value, title: '"params" must be an array of strings, numbers, booleans or nulls' })
    }
    const session = options.db.session()
    try {
      const params = (body.params as (string | number | boolean | null)[] | undefined)?.map((p): Value => (p === null ? null : String(p)))
      const results = await session.execute(body.sql, params)
      const tz = session.setting('timezone') ?? 'UTC'
      return {
        results: results.map((r) => ({
          tag: r.tag,
          columns: r.columns?.map((c) => ({ name: c.name, type: formatTypeName(c.type) })),
          rows: r.columns === undefined ? undefined : r.rows?.map((row) => row.map((v, i) => toJson(v, r.columns![i].type, tz))),
          notices: r.notices,
        })),
      }
    } catch (e) {
      const err = toSluiceError(e)
      const status = err.domain === 'user' ? 400 : err.domain === 'external' ? 503 : 500
      return sendProblem(reply, { status, code: err.code, title: err.message, detail: err.detail, position: err.position, hint: err.hint })
    } finally {
      session.close()
    }
  })

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async () => ({ status: 'ready' }))
  app.get('/metrics', async (_req, reply) => reply.type(options.db.metrics.contentType).send(await options.db.metrics.metrics()))
  app.get('/v1/openapi.json', async () => OPENAPI)
  return app
}
