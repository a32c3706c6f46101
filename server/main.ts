/**
 * The Sluice server process: the engine with its connectors, the pgwire and HTTP servers, and
 * the demo objects for a first run. `startServer` is what `sluice start` calls; tests call it
 * with port 0 and read the ports it got.
 */
import { Registry, collectDefaultMetrics } from 'prom-client'
import type { Logger } from 'pino'
import type { LogFn, StatementResult } from '../engine/index.ts'
import type { AuthConfig, PgServer, PgTlsOptions } from './pgwire/server.ts'
import type { FastifyInstance } from 'fastify'
import { Sluice, setServerQueryMemory } from '../engine/index.ts'
import { startPgServer } from './pgwire/server.ts'
import type { HttpAuthOptions } from './http/auth.ts'
import { createLogger, engineLog } from './log.ts'

export interface ServerOptions {
  /** State and catalog; ':memory:' keeps nothing (tests). */
  readonly dataDir: string
  readonly host: string
  /** 0 picks a free port; the running server says which. */
  readonly pgPort: number
  readonly httpPort: number
  /** Create the demo source and view (DEMO_STATEMENTS) when they do not exist yet. */
  readonly demo: boolean
  readonly auth: AuthConfig
  /** TLS for pgwire (SSLRequest answered 'S'); none: plain text only. */
  readonly pgTls?: PgTlsOptions
  /** HTTPS (and WSS) for the HTTP API with this pair; none: plain HTTP. */
  readonly httpTls?: { readonly cert: string | Buffer; readonly key: string | Buffer }
  /** pgwire connections beyond this are refused with 53300 (default 1000). */
  readonly maxConnections?: number
  /** Largest result one statement may build, estimated bytes (default 256 MiB): beyond it 54000. */
  readonly maxResultBytes?: number
  /** Pull queries computing at once; more wait their turn (default twice the cores). */
  readonly maxConcurrentQueries?: number
  /** Memory all running queries may hold together, bytes (default half the heap): beyond it 53200. */
  readonly queryMemoryBytes?: number
  /** Memory for operator state kept in memory, bytes (default a quarter of the heap); the rest is on disk. */
  readonly stateCacheBytes?: number
  /** Shards a new materialized view runs as when its plan can be split (default 1). */
  readonly workers?: number
  readonly logLevel: string
  /** Human-readable log lines instead of JSON. */
  readonly prettyLogs?: boolean
  /** A logger to use instead of creating one (tests); logLevel and prettyLogs are then ignored. */
  readonly logger?: Logger
  /** Checkpoint interval, ms (default 1000; 0: none). */
  readonly checkpointIntervalMs?: number
  /** Bearer tokens the HTTP API requires (none: open); they act as the bootstrap superuser `sluice`. */
  readonly tokens?: readonly string[]
  /**
   * Listen on a non-loopback host with no password and no token (anyone who can reach the ports
   * is a superuser). Without it such a start is refused.
   */
  readonly insecureNoAuth?: boolean
}

/** Whether `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/** Refuses to expose a server without any authentication, unless told so explicitly. */
export function checkListenAuth(options: Pick<ServerOptions, 'host' | 'auth' | 'tokens' | 'insecureNoAuth'>): void {
  if (isLoopback(options.host) || options.insecureNoAuth === true) return
  if (options.auth.mode === 'password' || (options.tokens !== undefined && options.tokens.length > 0)) return
  throw new Error(
    `refusing to listen on ${options.host} without authentication: anyone who can reach it would be a superuser. ` +
      'Give --password (and --http-token), listen on 127.0.0.1, or pass --insecure-no-auth to do it anyway.',
  )
}

/** HTTP users: the auth config's users, then the roles of the catalog; tokens of both. */
function httpAuth(options: ServerOptions, db: Sluice): HttpAuthOptions {
  const users = options.auth.users
  return {
    tokens: options.tokens,
    bootstrapUser: 'sluice',
    required: options.auth.mode === 'password' || (options.tokens !== undefined && options.tokens.length > 0),
    user: (name) => {
      const entry = users?.get(name)
      if (entry !== undefined) {
        const password = typeof entry === 'string' ? entry : entry.password
        return { password, readOnly: typeof entry === 'object' && entry.role === 'readonly', login: true }
      }
      const role = db.role(name)
      return role === undefined ? undefined : { password: role.verifier, readOnly: false, login: role.login }
    },
    tokenRole: (digest) => db.tokenRole(digest),
  }
}

export interface RunningServer {
  readonly pgPort: number
  readonly httpPort: number
  readonly db: Sluice
  /** Names of the demo objects this start created (empty on a restart), once `restored` resolves. */
  readonly demoCreated: readonly string[]
  /**
   * Resolves once every persisted object is restored (and the demo created): /readyz answers 200
   * from then on. The servers listen before (docs/operations.md "Restarts: listen first, restore after").
   */
  readonly restored: Promise<void>
  /** Stops both servers, then the engine. Safe to call more than once. */
  close(): Promise<void>
}

/**
 * The demo: a Nexmark bid stream and a view whose counts move every second. Each statement
 * creates one object; startServer runs the ones whose object does not exist yet.
 */
export const DEMO_STATEMENTS: readonly string[] = [
  `CREATE SOURCE bid WITH (connector = 'datagen', generator = 'nexmark', table = 'bid', rate = '2000')`,
  `CREATE MATERIALIZED VIEW bids_per_channel AS SELECT channel, count(*) AS bids, max(price) AS top_price, max(date_time) AS last_bid FROM bid WHERE channel IN ('Google', 'Facebook', 'Baidu', 'Apple') GROUP BY channel`,
]

/** A query on the demo view, for the start banner and docs. */
export const DEMO_QUERY = 'SELECT * FROM bids_per_channel ORDER BY bids DESC'

let processMetrics: Registry | undefined
/** Process metrics (CPU, memory, event loop lag), registered once per process. */
function processRegistry(): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry()
    collectDefaultMetrics({ register: processMetrics })
  }
  return processMetrics
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  checkListenAuth(options)
  const logger = options.logger ?? createLogger({ level: options.logLevel, pretty: options.prettyLogs })
  const log = engineLog(logger)
  if (options.queryMemoryBytes !== undefined) setServerQueryMemory(options.queryMemoryBytes)
  // Listen first, restore after (docs/design/fast-restart.md): the engine opens its data
  // directory and returns while its objects are restored in the background; the connectors'
  // libraries load during the restore, which begins once pgwire and HTTP listen.
  let listening!: () => void
  const listened = new Promise<void>((resolve) => (listening = resolve))
  const db = await Sluice.start(
    {
      dataDir: options.dataDir,
      log,
      checkpointIntervalMs: options.checkpointIntervalMs,
      maxConcurrentQueries: options.maxConcurrentQueries,
      stateCacheBytes: options.stateCacheBytes,
      workers: options.workers,
    },
    async () => {
      const { SOURCES, SINKS } = await import('./connectors.ts')
      return { sources: SOURCES, sinks: SINKS }
    },
    listened,
  )
  log('info', 'engine opened', { dataDir: options.dataDir })
  let ready = false
  let pg: PgServer | undefined
  let app: FastifyInstance | undefined
  try {
    pg = await startPgServer({
      host: options.host,
      port: options.pgPort,
      // Roles created in SQL log in with their stored SCRAM verifiers, beside the config's users.
      auth: { ...options.auth, directory: { lookup: (user) => db.role(user) } },
      tls: options.pgTls,
      maxConnections: options.maxConnections,
      openSession: (startup) =>
        db.session({
          user: startup.user,
          database: startup.database,
          applicationName: startup.applicationName,
          readOnly: startup.role === 'readonly',
          maxResultBytes: options.maxResultBytes,
        }),
      log,
    })
    const { buildHttpApp } = await import('./http/app.ts')
    app = buildHttpApp({
      db,
      tokens: options.tokens,
      auth: httpAuth(options, db),
      ready: () => ready,
      extraMetrics: [processRegistry()],
      log,
      https: options.httpTls,
    })
    await app.listen({ host: options.host, port: options.httpPort })
    const address = app.server.address()
    const httpPort = typeof address === 'object' && address !== null ? address.port : options.httpPort
    // Both front ends listen: the restore may have the thread now.
    listening()
    // code: 'dist' (compiled) or 'sources' (tsx), as bin/sluice.js chose; unset in-process.
    log('info', 'sluice is listening (restoring)', {
      host: options.host,
      pgPort: pg.port,
      httpPort,
      code: process.env.SLUICE_CODE,
    })
    const demoCreated: string[] = []
    const restored = (async () => {
      await db.restored
      if (options.demo) demoCreated.push(...(await createDemo(db, log)))
      // Closed while restoring: never ready.
      if (db.engine.closed) return
      ready = true
      log('info', 'sluice is ready', { host: options.host, pgPort: pg?.port, httpPort })
    })().catch((e: unknown) => log('error', 'could not finish starting', { error: String(e) }))
    const servers = { pg, app }
    let closing: Promise<void> | undefined
    return {
      pgPort: pg.port,
      httpPort,
      db,
      demoCreated,
      restored,
      close: () => {
        closing ??= (async () => {
          ready = false
          log('info', 'shutting down')
          await closeAll(db, servers.pg, servers.app, log)
          log('info', 'stopped')
        })()
        return closing
      },
    }
  } catch (e) {
    // The restore waits for the servers; let it begin, so closing can stop it.
    listening()
    await closeAll(db, pg, app, log)
    throw e
  }
}

async function closeAll(
  db: Sluice,
  pg: PgServer | undefined,
  app: FastifyInstance | undefined,
  log: LogFn,
): Promise<void> {
  const outcomes = await Promise.allSettled([pg?.close(), app?.close()])
  for (const o of outcomes)
    if (o.status === 'rejected') log('warn', 'error while closing a server', { error: String(o.reason) })
  await db.close()
}

/** The object a CREATE statement makes, e.g. `bid` from `CREATE SOURCE bid WITH (...)`. */
export function createdObject(statement: string): { kind: 'source' | 'view'; name: string } {
  const m = /^\s*CREATE\s+(SOURCE|MATERIALIZED\s+VIEW)\s+([a-z_][a-z0-9_$]*)\b/i.exec(statement)
  if (m === null)
    throw new Error(
      `a demo statement must be CREATE SOURCE or CREATE MATERIALIZED VIEW with a plain name: ${statement.slice(0, 60)}`,
    )
  return { kind: m[1].toUpperCase() === 'SOURCE' ? 'source' : 'view', name: m[2].toLowerCase() }
}

/**
 * Runs each DEMO_STATEMENTS entry whose object does not exist (SHOW SOURCES / SHOW MATERIALIZED
 * VIEWS, name first); returns the names created. A failing statement is logged, not thrown: the
 * server is useful without the demo.
 */
export async function createDemo(db: { sql(text: string): Promise<StatementResult[]> }, log: LogFn): Promise<string[]> {
  const existing = new Set<string>()
  for (const show of ['SHOW SOURCES', 'SHOW MATERIALIZED VIEWS']) {
    const [result] = await db.sql(show)
    for (const row of result?.rows ?? []) if (typeof row[0] === 'string') existing.add(row[0])
  }
  const created: string[] = []
  for (const statement of DEMO_STATEMENTS) {
    const { name } = createdObject(statement)
    if (existing.has(name)) continue
    try {
      await db.sql(statement)
      created.push(name)
      log('info', 'created demo object', { name })
    } catch (e) {
      log('warn', 'could not create demo object', { name, error: e instanceof Error ? e.message : String(e) })
    }
  }
  return created
}

/**
 * SIGINT/SIGTERM close the server (servers first, then the engine) and exit 0; a second signal
 * exits at once. Returns a function that removes the handlers.
 */
export function installSignalHandlers(
  server: Pick<RunningServer, 'close'>,
  log: LogFn,
  exit: (code: number) => void = (c) => process.exit(c),
): () => void {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log('warn', 'second signal: exiting without finishing the shutdown', { signal })
      exit(130)
      return
    }
    stopping = true
    log('info', 'signal received, shutting down', { signal })
    server.close().then(
      () => exit(0),
      (e: unknown) => {
        log('error', 'shutdown failed', { error: e instanceof Error ? e.message : String(e) })
        exit(1)
      },
    )
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return () => {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
