/**
 * The HTTP API (fastify): `POST /v1/sql`, `GET /v1/views/:name` (views.ts), `POST
 * /v1/ingest/:table` (ingest.ts), `GET /v1/subscribe/:view` as SSE or WebSocket (subscribe.ts),
 * `/healthz`, `/readyz`, `/metrics` and the OpenAPI document at `/v1/openapi.json`. Every error is
 * an RFC 9457 problem document carrying a SQLSTATE (problem.ts). The app does not listen; the
 * caller (server/main.ts, or tests through `app.inject()`) decides where.
 *
 * Request faults: malformed JSON, a content type other than JSON, a body that is not
 * `{ sql, params? }`, an unknown route → 400/404/405 with SQLSTATE 08P01; a body over the limit
 * → 413 (08P01); a missing or wrong bearer token → 401 (28000).
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import websocketPlugin from '@fastify/websocket'
import { Counter, Gauge, Registry } from 'prom-client'
import type { LogFn } from '../../engine/index.ts'
import type { SqlDatabase } from './sql.ts'
import type { SubscribeDatabase } from './subscribe.ts'
import type { IngestDatabase } from './ingest.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { OPENAPI } from './openapi.ts'
import { problemFromError, sendProblem } from './problem.ts'
import type { HttpAuthOptions } from './auth.ts'
import { httpAuthenticator, principalOf, sessionsFor, setPrincipal } from './auth.ts'
import { redactSql } from '../../engine/catalog/redact.ts'
import { checkSqlRequest, isProblem, runSqlRequest } from './sql.ts'
import { registerSubscribeRoutes } from './subscribe.ts'
import { DEFAULT_MAX_IN_FLIGHT, NDJSON_TYPES, ingestHandler } from './ingest.ts'
import { VIEW_CONTENT_TYPES, chooseFormat, encodeView, readView } from './views.ts'
import { isPublicConsolePath, registerConsole } from './console/routes.ts'

/** 1 MiB: the default request body limit. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024

/**
 * What the app needs from the engine; `Sluice` satisfies it. Without `subscribe` or
 * `ingestTarget` those routes answer 404 (a database that cannot do them).
 */
export interface HttpDatabase extends SqlDatabase, Partial<SubscribeDatabase>, Partial<IngestDatabase> {
  readonly metrics: Registry
  /** Throws 42501 unless `user` holds `privilege` on `relation` (ingest and subscribe routes). */
  checkPrivilege?(user: string, readOnly: boolean, privilege: 'select' | 'insert', relation: string): void
}

export interface HttpAppOptions {
  readonly db: HttpDatabase
  /** When set, every route but /healthz needs `Authorization: Bearer <one of these>`. */
  readonly tokens?: readonly string[]
  /** Users and tokens (auth.ts); without it only `tokens` are checked and the API acts as `sluice`. */
  readonly auth?: HttpAuthOptions
  /** Largest request body in bytes (default 1 MiB); larger ones get 413. */
  readonly bodyLimit?: number
  /** /readyz answers 200 while this returns true (default: always). */
  readonly ready?: () => boolean
  /** Registries served on /metrics after the engine's (e.g. process metrics). */
  readonly extraMetrics?: readonly Registry[]
  /** Where internal errors (500s) and per-request debug lines go. */
  readonly log?: LogFn
  /** Ingest requests decoded or applied at once; more get 429 (default 8). */
  readonly maxIngestInFlight?: number
  /** SSE keep-alive comment interval, ms (default 15 s). */
  readonly heartbeatMs?: number
  /** Serve HTTPS (and WSS) with this certificate and key instead of plain HTTP. */
  readonly https?: { readonly cert: string | Buffer; readonly key: string | Buffer }
}

/** Routes and their methods, for 405 answers; the OpenAPI test keeps this list honest. */
const ROUTES: ReadonlyMap<string, string> = new Map([
  ['/v1/sql', 'POST'],
  ['/healthz', 'GET, HEAD'],
  ['/readyz', 'GET, HEAD'],
  ['/metrics', 'GET, HEAD'],
  ['/v1/openapi.json', 'GET, HEAD'],
])

/** Routes with a path parameter, by the path before it. */
const PARAM_ROUTES: ReadonlyMap<string, string> = new Map([
  ['/v1/views/', 'GET, HEAD'],
  ['/v1/ingest/', 'POST'],
  ['/v1/subscribe/', 'GET'],
])

function allowedMethods(path: string): string | undefined {
  const exact = ROUTES.get(path)
  if (exact !== undefined) return exact
  for (const [prefix, allow] of PARAM_ROUTES) {
    if (path.startsWith(prefix) && path.length > prefix.length && !path.slice(prefix.length).includes('/')) return allow
  }
  return undefined
}

function noSchemaCompiler(): () => never {
  return () => {
    throw new Error('a route schema was declared, but the HTTP app is built without schema compilers')
  }
}

/** Builds the app; call `listen` or `inject` on it. */
export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const log: LogFn = options.log ?? (() => {})
  // HTTPS when asked: the same routes and inject() over an https.Server (typed as the HTTP one).
  const tls: object =
    options.https === undefined
      ? {}
      : { https: { cert: options.https.cert, key: options.https.key, minVersion: 'TLSv1.2' } }
  const app = Fastify({
    ...tls,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    logger: false,
    // No route declares a schema, so fastify's validator and serializer compilers (ajv and
    // fast-json-stringify: about 100 ms of module loading at every start, before the HTTP port
    // opens and the restore begins) are never needed; one that is asked for fails loudly.
    schemaController: { compilersFactory: { buildValidator: noSchemaCompiler, buildSerializer: noSchemaCompiler } },
    // Errors the router raises before any route runs (a malformed URL, a path parameter over
    // fastify's 100-character limit) get the same problem body as every other error.
    frameworkErrors: (error, _req, reply) => {
      void sendProblem(reply, {
        status: error.statusCode ?? 400,
        code: SqlState.protocol_violation,
        detail: error.message,
      })
    },
  })
  const db = options.db
  const metrics = httpMetrics()
  const authenticate = httpAuthenticator(
    options.auth ?? { tokens: options.tokens, required: options.tokens !== undefined },
  )

  app.addHook('onRequest', async (req, reply) => {
    const path = pathOf(req.url)
    // The console's page and assets hold no data; its login form must load without a token.
    if (path === '/healthz' || isPublicConsolePath(path)) return
    const outcome = authenticate(req.headers.authorization)
    if (!outcome.ok) {
      // The challenge names Bearer only: a Basic challenge would make browsers pop up their own
      // login dialog over the console's sign-in form. Basic credentials work all the same.
      return sendProblem(reply.header('www-authenticate', 'Bearer realm="sluice"'), {
        status: 401,
        code: SqlState.invalid_authorization_specification,
        detail: outcome.detail,
        hint: 'Send "Authorization: Bearer <token>" or "Authorization: Basic <user:password in base64>".',
      })
    }
    setPrincipal(req, outcome.principal)
    // Ingest and subscribe act on one relation without a SQL statement: the same grants apply.
    const target = relationRoute(path)
    if (target !== undefined && db.checkPrivilege !== undefined) {
      try {
        db.checkPrivilege(outcome.principal.user, outcome.principal.readOnly, target.privilege, target.name)
      } catch (e) {
        return sendProblem(reply, problemFromError(e))
      }
    }
  })

  app.addHook('onResponse', async (req, reply) => {
    log('debug', 'http request', { method: req.method, url: req.url, status: reply.statusCode })
  })

  app.setErrorHandler((error: FastifyError, req, reply) => {
    const status = error.statusCode ?? 500
    if (status === 413) {
      return sendProblem(reply, {
        status,
        code: SqlState.protocol_violation,
        detail: `the request body is larger than the limit of ${app.initialConfig.bodyLimit} bytes`,
      })
    }
    if (status === 415) {
      const ingest = pathOf(req.url).startsWith('/v1/ingest/')
      return sendProblem(reply, {
        status: 400,
        code: SqlState.protocol_violation,
        detail: `unsupported content type "${req.headers['content-type'] ?? ''}"`,
        hint: ingest
          ? 'Send JSON lines with Content-Type: application/x-ndjson.'
          : 'Send the body as JSON with Content-Type: application/json.',
      })
    }
    if (status >= 400 && status < 500) {
      const detail = error instanceof SyntaxError ? `the body is not valid JSON: ${error.message}` : error.message
      return sendProblem(reply, { status, code: SqlState.protocol_violation, detail })
    }
    log('error', 'internal error in the HTTP API', {
      method: req.method,
      url: req.url,
      error: error.message,
      stack: error.stack,
    })
    return sendProblem(reply, { status: 500, code: SqlState.internal_error, detail: error.message })
  })

  app.setNotFoundHandler((req, reply) => {
    const path = pathOf(req.url)
    const allow = allowedMethods(path)
    if (allow !== undefined) {
      return sendProblem(reply.header('allow', allow), {
        status: 405,
        code: SqlState.protocol_violation,
        detail: `${path} does not take ${req.method}; use ${allow}`,
      })
    }
    return sendProblem(reply, {
      status: 404,
      code: SqlState.protocol_violation,
      detail: `no route ${req.method} ${path}`,
      hint: 'The API is described at /v1/openapi.json.',
    })
  })

  app.post('/v1/sql', async (req, reply) => {
    const request = checkSqlRequest(req.body)
    if (isProblem(request)) return sendProblem(reply, request)
    const outcome = await runSqlRequest(sessionsFor(db, principalOf(req)), request)
    if (!isProblem(outcome)) return outcome
    if (outcome.status === 500)
      log('error', 'internal error running SQL', { sql: redactSql(request.sql.slice(0, 1000)), error: outcome.detail })
    return sendProblem(reply, outcome)
  })

  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get('/readyz', async (_req, reply) => {
    if (options.ready === undefined || options.ready()) return { status: 'ready' }
    return sendProblem(reply, {
      status: 503,
      code: SqlState.admin_shutdown,
      detail: 'the server is starting or shutting down',
    })
  })

  app.get('/metrics', async (_req, reply) => {
    const registries = [options.db.metrics, metrics.registry, ...(options.extraMetrics ?? [])]
    const texts = await Promise.all(registries.map((r) => r.metrics()))
    return reply.type(options.db.metrics.contentType).send(texts.join('\n'))
  })

  app.get('/v1/openapi.json', async () => OPENAPI)

  app.get<{ Params: { name: string }; Querystring: Record<string, unknown> }>('/v1/views/:name', async (req, reply) => {
    const query = req.query
    for (const key of Object.keys(query)) {
      if (key !== 'format' && key !== 'limit') {
        return sendProblem(reply, {
          status: 400,
          code: SqlState.invalid_parameter_value,
          detail: `unknown parameter "${key.slice(0, 100)}"`,
          hint: 'The parameters are format and limit.',
        })
      }
    }
    const { format: f, limit: l } = query
    if (
      (f !== undefined && typeof f !== 'string') ||
      (l !== undefined && (typeof l !== 'string' || !/^\d{1,9}$/.test(l)))
    ) {
      return sendProblem(reply, {
        status: 400,
        code: SqlState.invalid_parameter_value,
        detail: 'format must be json, csv or arrow; limit a non-negative integer',
      })
    }
    const format = chooseFormat(f, req.headers.accept)
    if (typeof format !== 'string') return sendProblem(reply, format)
    const result = await readView(
      sessionsFor(db, principalOf(req)),
      req.params.name,
      l === undefined ? undefined : Number(l),
    )
    if (isProblem(result)) return sendProblem(reply, result)
    return reply
      .type(VIEW_CONTENT_TYPES[format])
      .header('vary', 'accept')
      .send(await encodeView(result, format, 'UTC'))
  })

  app.addContentTypeParser([...NDJSON_TYPES], { parseAs: 'string' }, (_req, body, done) => done(null, body))
  const ingestTarget = db.ingestTarget?.bind(db)
  app.post<{ Params: { table: string } }>(
    '/v1/ingest/:table',
    ingestHandler(
      {
        ingestTarget: (name) => {
          if (ingestTarget === undefined)
            throw new SluiceError(SqlState.undefined_table, `relation "${name}" does not exist`)
          return ingestTarget(name)
        },
      },
      options.maxIngestInFlight ?? DEFAULT_MAX_IN_FLIGHT,
      {
        rows: (table, n) => metrics.ingestRows.inc({ table }, n),
        rejected: (reason) => metrics.ingestRejected.inc({ reason }),
      },
    ),
  )

  const subscribe = db.subscribe?.bind(db)
  void app.register(websocketPlugin, { options: { maxPayload: 64 * 1024 } })
  void app.register(async (scope) => {
    registerSubscribeRoutes(scope, {
      db: {
        subscribe: (name, opts) => {
          if (subscribe === undefined)
            throw new SluiceError(SqlState.undefined_table, `relation "${name}" does not exist`)
          return subscribe(name, opts)
        },
      },
      heartbeatMs: options.heartbeatMs,
      onStream: (transport, delta) => metrics.subscribers.inc({ transport }, delta),
    })
  })
  registerConsole(app, { db, log })
  return app
}

/** The HTTP layer's own metrics, served on /metrics after the engine's. */
function httpMetrics() {
  const registry = new Registry()
  const registers = [registry]
  return {
    registry,
    ingestRows: new Counter({
      name: 'sluice_ingest_rows_total',
      help: 'Rows appended through HTTP ingest, per table',
      labelNames: ['table'],
      registers,
    }),
    ingestRejected: new Counter({
      name: 'sluice_ingest_rejected_total',
      help: 'HTTP ingest requests refused: busy (429), bad_request, error',
      labelNames: ['reason'],
      registers,
    }),
    subscribers: new Gauge({
      name: 'sluice_http_subscribers',
      help: 'Open SUBSCRIBE streams over HTTP, by transport (sse, websocket)',
      labelNames: ['transport'],
      registers,
    }),
  }
}

/** The relation an ingest or subscribe request acts on, and the privilege it needs. */
function relationRoute(path: string): { privilege: 'select' | 'insert'; name: string } | undefined {
  const m = /^\/v1\/(ingest|subscribe)\/([^/]+)$/.exec(path)
  if (m === null) return undefined
  let name: string
  try {
    name = decodeURIComponent(m[2])
  } catch {
    return undefined // the route answers the malformed name itself
  }
  return { privilege: m[1] === 'ingest' ? 'insert' : 'select', name }
}

function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}
