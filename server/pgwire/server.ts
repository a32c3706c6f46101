/**
 * The PostgreSQL wire-protocol server: listens, enforces the connection limit, gives every
 * connection its BackendKeyData and routes CancelRequests to the connection they name. With a
 * certificate and key configured it answers SSLRequest with 'S' and upgrades to TLS. Each
 * socket is handed to a Connection, which contains its own failures; the server keeps serving.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { randomInt } from 'node:crypto'
import { createSecureContext } from 'node:tls'
import type { Session } from '../../engine/session-api.ts'
import type { AuthConfig, Role } from './auth.ts'
import { Connection } from './connection.ts'
import type { LogFn } from './errors.ts'
import { encodeFields } from './writer.ts'

export type { AuthConfig, AuthMethod, Role, UserConfig } from './auth.ts'
export type { LogFn } from './errors.ts'

/** What the client said in its StartupMessage. */
export interface StartupInfo {
  user: string
  database: string
  applicationName?: string
  /** From the auth config: `readonly` sessions may only read (42501 otherwise). */
  role: Role
}

/** TLS for pgwire: PEM certificate chain and private key. */
export interface PgTlsOptions {
  readonly cert: string | Buffer
  readonly key: string | Buffer
  /** Refuse clients that do not upgrade to TLS (default false: TLS is offered, not required). */
  readonly required?: boolean
}

export interface PgServerOptions {
  readonly host: string
  /** 0 picks a free port; PgServer.port tells which. */
  readonly port: number
  /** Called once a client has authenticated; the session lives as long as the connection. */
  readonly openSession: (startup: StartupInfo) => Session
  readonly auth: AuthConfig
  /** Offer TLS on SSLRequest ('S'); without it SSLRequest is answered 'N'. */
  readonly tls?: PgTlsOptions
  /** Connections beyond this are refused with 53300 (default 1000). */
  readonly maxConnections?: number
  readonly log?: LogFn
  /** Largest frontend message accepted, in bytes (default 64 MiB); larger ones end the connection. */
  readonly maxMessageLength?: number
  /** Time allowed from connect to the end of authentication (default 60 s, like PostgreSQL). */
  readonly authTimeoutMs?: number
}

export interface PgServer {
  readonly port: number
  /** Open client connections. */
  readonly connections: number
  /** Stops listening, tells every client the server is shutting down and closes them. */
  close(): Promise<void>
}

export async function startPgServer(options: PgServerOptions): Promise<PgServer> {
  const log: LogFn = options.log ?? (() => {})
  const max = options.maxConnections ?? 1000
  const live = new Map<number, Connection>()
  const sockets = new Set<Socket>()
  // Built once: a bad certificate or key fails the start, not the first client.
  const tls =
    options.tls === undefined ? undefined : createSecureContext({ cert: options.tls.cert, key: options.tls.key })
  let nextPid = 1

  const cancel = (pid: number, secret: number): void => {
    const target = live.get(pid)
    // A cancel for an unknown key, or with the wrong secret, is ignored without a word.
    if (target === undefined || target.secret !== secret) return
    log('info', 'cancel request', { pid })
    target.cancel()
  }

  const server: Server = createServer((socket) => {
    try {
      const pid = nextPid++
      sockets.add(socket)
      const connection = new Connection(socket, {
        openSession: options.openSession,
        auth: options.auth,
        tls,
        tlsRequired: options.tls?.required === true,
        log,
        pid,
        secret: randomInt(1, 2 ** 31 - 1),
        maxMessageLength: options.maxMessageLength ?? 64 * 1024 * 1024,
        tooMany: live.size >= max,
        cancel,
        authTimeoutMs: options.authTimeoutMs ?? 60_000,
      })
      live.set(pid, connection)
      socket.once('close', () => {
        live.delete(pid)
        sockets.delete(socket)
      })
    } catch (e) {
      log('error', 'could not set up a pgwire connection', { error: e instanceof Error ? e.stack : String(e) })
      socket.destroy()
    }
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
  log('info', 'pgwire listening', { host: options.host, port })

  return {
    port,
    get connections() {
      return live.size
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      const shutdown = encodeFields('E', {
        S: 'FATAL',
        V: 'FATAL',
        C: '57P01',
        M: 'terminating connection due to administrator command',
      })
      for (const c of live.values()) c.close(shutdown)
      // Sockets whose clients do not hang up are destroyed, so close() always finishes.
      const timer = setTimeout(() => {
        for (const s of sockets) s.destroy()
      }, 1000)
      await closed
      clearTimeout(timer)
    },
  }
}
