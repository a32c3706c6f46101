/**
 * The Sluice server process: the engine with its connectors, the pgwire and HTTP servers, and
 * the demo objects for a first run. Shuts down cleanly on SIGINT/SIGTERM.
 */
import { collectDefaultMetrics } from 'prom-client'
import { Sluice } from '../engine/index.ts'
import { startPgServer, type AuthConfig } from './pgwire/server.ts'
import { buildHttpApp } from './http/app.ts'
import { createLogger, engineLog } from './log.ts'
import { datagenSourceFactory } from '../connectors/datagen/index.ts'
import { kafkaSourceFactory } from '../connectors/kafka/index.ts'

export interface ServerOptions {
  readonly dataDir: string
  readonly host: string
  readonly pgPort: number
  readonly httpPort: number
  readonly demo: boolean
  readonly auth: AuthConfig
  readonly logLevel: string
  readonly tokens?: readonly string[]
}

export interface RunningServer {
  readonly pgPort: number
  readonly httpPort: number
  readonly db: Sluice
  close(): Promise<void>
}

/** The demo: a Nexmark bid stream and a view whose counts change every second. */
export const DEMO_STATEMENTS = [
  `CREATE SOURCE bid WITH (connector = 'datagen', generator = 'nexmark', table = 'bid', rate = '2000')`,
  `CREATE MATERIALIZED VIEW bids_per_channel AS
  SELECT channel, count(*) AS bids, max(price) AS top_price, max(date_time) AS last_bid
  FROM bid
  WHERE channel IN ('Google', 'Facebook', 'Baidu', 'Apple')
  GROUP BY channel`,
  `CREATE MATERIALIZED VIEW bids_per_10s AS
  SELECT window_start, count(*) AS bids, avg(price) AS avg_price
  FROM TUMBLE(bid, date_time, INTERVAL '10 seconds')
  GROUP BY window_start`,
]

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logger = createLogger(options.logLevel)
  const log = engineLog(logger)
  const db = await Sluice.open({ dataDir: options.dataDir, sources: [datagenSourceFactory, kafkaSourceFactory], log })
  collectDefaultMetrics({ register: db.metrics })
  if (options.demo) {
    const sources = await db.sql('SHOW SOURCES')
    if ((sources[0].rows ?? []).length === 0) {
      for (const stmt of DEMO_STATEMENTS) await db.sql(stmt)
    }
  }
  const pg = await startPgServer({
    host: options.host,
    port: options.pgPort,
    auth: options.auth,
    openSession: (startup) => db.session({ user: startup.user, database: startup.database, applicationName: startup.applicationName }),
    log,
  })
  const app = buildHttpApp({ db, tokens: options.tokens })
  await app.listen({ host: options.host, port: options.httpPort })
  const address = app.server.address()
  const httpPort = typeof address === 'object' && address !== null ? address.port : options.httpPort
  let closing: Promise<void> | undefined
  return {
    pgPort: pg.port,
    httpPort,
    db,
    close: () => {
      closing ??= (async () => {
        await pg.close()
        await app.close()
        await db.close()
      })()
      return closing
    },
  }
}
