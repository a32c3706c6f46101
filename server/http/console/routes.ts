/**
 * The console's routes on Sluice's own HTTP server: the page (one HTML document for every console
 * path, the script routes by path), its bundled script and stylesheet, and three JSON endpoints —
 * the overview, the metrics history and a view's dataflow graph. Everything else the page needs
 * is the public HTTP API (POST /v1/sql, GET /v1/subscribe/:view), so the console has exactly the
 * rights of the token it was given.
 *
 * The page and its assets hold no data and are served without a token (the login form must
 * load); the JSON endpoints need the same bearer token as the rest of the API.
 */
import type { FastifyInstance } from 'fastify'
import type { DataflowInfo } from '../../../engine/index.ts'
import type { LogFn } from '../../../engine/index.ts'
import type { SqlDatabase } from '../sql.ts'
import type { HistoryDatabase, OperatorRates } from './history.ts'
import { SqlState } from '../../../engine/errors.ts'
import { principalOf, sessionsFor } from '../auth.ts'
import { problemFromError, sendProblem } from '../problem.ts'
import { INDEX_HTML, consoleAssets } from './assets.ts'
import { MetricsHistory } from './history.ts'
import { buildOverview } from './overview.ts'

/** What the console needs from the engine; `Sluice` satisfies it. */
export interface ConsoleDatabase extends SqlDatabase, HistoryDatabase {}

export interface ConsoleOptions {
  readonly db: ConsoleDatabase
  readonly log?: LogFn
  /** Metrics sample interval, ms (default 1000). */
  readonly sampleMs?: number
}

/** Paths the browser navigates to; each answers with the page. */
export const CONSOLE_PAGES: readonly string[] = ['/', '/sql', '/dead-letters', '/views/:name', '/graph/:name']

/** Whether a request path is the page or its assets (served without a token). */
export function isPublicConsolePath(path: string): boolean {
  if (
    path === '/' ||
    path === '/sql' ||
    path === '/dead-letters' ||
    path === '/console/app.js' ||
    path === '/console/app.css'
  )
    return true
  return /^\/(views|graph)\/[^/]+$/.test(path)
}

/** A view's or sink's graph for the page, with per-operator rates over the last sample. */
export interface GraphResponse {
  readonly name: string
  readonly kind: DataflowInfo['kind'] | 'source' | 'table'
  readonly failure: string | null
  readonly operators: readonly (DataflowInfo['operators'][number] & {
    readonly rowsInPerSec: number | null
    readonly rowsOutPerSec: number | null
  })[]
  /** Relations the dataflow reads (its leaves). */
  readonly upstream: readonly string[]
  /** Views and sinks that read this object, with their kind. */
  readonly downstream: readonly { readonly name: string; readonly kind: DataflowInfo['kind'] }[]
}

export function registerConsole(app: FastifyInstance, options: ConsoleOptions): void {
  const { db } = options
  const log: LogFn = options.log ?? (() => {})
  const history = new MetricsHistory(db, options.sampleMs, undefined, (e) =>
    log('warn', 'console metrics sample failed', { error: e instanceof Error ? e.message : String(e) }),
  )
  app.addHook('onReady', async () => history.start())
  app.addHook('onClose', async () => history.stop())

  for (const path of CONSOLE_PAGES) {
    app.get(path, async (_req, reply) =>
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(INDEX_HTML),
    )
  }
  app.get('/console/app.js', async (_req, reply) =>
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'no-cache')
      .send((await consoleAssets()).js),
  )
  app.get('/console/app.css', async (_req, reply) =>
    reply
      .type('text/css; charset=utf-8')
      .header('cache-control', 'no-cache')
      .send((await consoleAssets()).css),
  )

  // Who the request is, so the page can say so (and that a read-only user's DDL will be refused).
  app.get('/console/api/me', async (req) => principalOf(req))

  app.get('/console/api/overview', async (req, reply) => {
    try {
      return await buildOverview(sessionsFor(db, principalOf(req)), history)
    } catch (e) {
      return sendProblem(reply, problemFromError(e))
    }
  })

  app.get<{ Querystring: Record<string, unknown> }>('/console/api/history', async (req, reply) => {
    const { prefix, seconds } = req.query
    for (const key of Object.keys(req.query)) {
      if (key !== 'prefix' && key !== 'seconds')
        return sendProblem(reply, {
          status: 400,
          code: SqlState.invalid_parameter_value,
          detail: `unknown parameter "${key.slice(0, 100)}"`,
          hint: 'The parameters are prefix and seconds.',
        })
    }
    if (
      (prefix !== undefined && typeof prefix !== 'string') ||
      (seconds !== undefined && (typeof seconds !== 'string' || !/^\d{1,6}$/.test(seconds)))
    ) {
      return sendProblem(reply, {
        status: 400,
        code: SqlState.invalid_parameter_value,
        detail: 'prefix must be a comma-separated list of series prefixes, seconds a positive integer',
      })
    }
    const prefixes = prefix === undefined || prefix === '' ? [] : prefix.split(',')
    return history.series(prefixes, seconds === undefined ? Infinity : Number(seconds))
  })

  app.get<{ Params: { name: string } }>('/console/api/graph/:name', async (req, reply) => {
    const name = req.params.name
    const flows = db.dataflows?.() ?? []
    const downstream = flows.filter((f) => leaves(f).includes(name)).map((f) => ({ name: f.name, kind: f.kind }))
    const flow = flows.find((f) => f.name === name)
    if (flow === undefined) {
      const relation = await relationKind(sessionsFor(db, principalOf(req)), name)
      if (relation === undefined)
        return sendProblem(reply, {
          status: 404,
          code: SqlState.undefined_table,
          detail: `relation "${name.slice(0, 100)}" does not exist`,
        })
      return { name, kind: relation, failure: null, operators: [], upstream: [], downstream } satisfies GraphResponse
    }
    const rates: OperatorRates | undefined = history.operatorRates(name)
    return {
      name,
      kind: flow.kind,
      failure: flow.failure ?? null,
      operators: flow.operators.map((o, i) => ({
        ...o,
        rowsInPerSec: rates?.rowsInPerSec[i] ?? null,
        rowsOutPerSec: rates?.rowsOutPerSec[i] ?? null,
      })),
      upstream: leaves(flow),
      downstream,
    } satisfies GraphResponse
  })
}

/** The relations a dataflow reads. */
function leaves(flow: DataflowInfo): string[] {
  const out = new Set<string>()
  for (const o of flow.operators) for (const i of o.inputs) if ('relation' in i) out.add(i.relation)
  return [...out]
}

/** Whether `name` is a source or table (relations without a dataflow of their own). */
async function relationKind(db: SqlDatabase, name: string): Promise<'source' | 'table' | undefined> {
  const session = db.session({ applicationName: 'sluice-console' })
  try {
    for (const kind of ['source', 'table'] as const) {
      const [r] = await session.execute(`SELECT name FROM sluice_catalog.${kind}s WHERE name = $1`, [name])
      if ((r?.rows ?? []).length > 0) return kind
    }
    return undefined
  } finally {
    session.close()
  }
}
