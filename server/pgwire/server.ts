/**
 * The PostgreSQL wire-protocol server: accepts connections, enforces the connection limit and
 * hands each socket to a Connection. A failing connection never affects the others.
 */
import { createServer, type Server } from 'node:net'
import { randomInt } from 'node:crypto'
import type { Session } from '../../engine/session-api.ts'
import type { AuthConfig, LogFn } from './connection.ts'
import { Connection } from './connection.ts'

export interface PgServerOptions {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  readonly openSession: (startup: { user: string; database: string; applicationName?: string }) => Session
  readonly auth: AuthConfig
  readonly maxConnections?: number
  readonly log?: LogFn
}

export interface PgServer {
  readonly port: number
  readonly connections: number
  close(): Promise<void>
}

export type { AuthConfig }

export async function startPgServer(options: PgServerOptions): Promise<PgServer> {
  const log: LogFn = options.log ?? (() => {})
  const max = options.maxConnections ?? 1000
  const live = new Set<Connection>()
  let nextPid = 1
  const server: Server = createServer((socket) => {
    const connection = new Connection(socket, {
      openSession: options.openSession,
      auth: options.auth,
      log,
      pid: nextPid++,
      secret: randomInt(1, 2 ** 31 - 1),
      tooMany: live.size >= max,
    })
    live.add(connection)
    socket.on('close', () => live.delete(connection))
  })
  server.on('error', (e) => log('error', 'pgwire server error', { error: e.message }))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : options.port
  return {
    port,
    get connections() {
      return live.size
    },
    close: async () => {
      for (const c of live) c.close()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
