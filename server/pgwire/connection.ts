/**
 * One client connection's state machine: startup (SSL refusal, cancel requests, protocol
 * version), authentication, then the simple and extended query protocols until Terminate.
 * Messages are handled strictly one after another in arrival order. Whatever a client sends ends
 * at worst in an ErrorResponse, or a FATAL one and a closed socket for protocol violations; no
 * exception leaves this class, so one client can never disturb another.
 */
import type { Socket } from 'node:net'
import { TLSSocket, type SecureContext } from 'node:tls'
import type { Session } from '../../engine/session-api.ts'
import type { AuthConfig, PasswordExchange, Role } from './auth.ts'
import { checkLogin, passwordExchange, roleOf } from './auth.ts'
import type { LogFn } from './errors.ts'
import { WireError, errorResponse, noticeResponse } from './errors.ts'
import type { FrontendMessage, StartupPhaseMessage } from './frontend.ts'
import { decodeMessage, decodeStartup } from './frontend.ts'
import { Output } from './output.ts'
import type { RawMessage } from './reader.ts'
import { MessageReader } from './reader.ts'
import { QueryPhase } from './query-phase.ts'
import { startupSettings } from './startup.ts'
import * as W from './writer.ts'

/** What the server hands each connection. */
export interface ConnectionOptions {
  readonly openSession: (startup: { user: string; database: string; applicationName?: string; role: Role }) => Session
  readonly auth: AuthConfig
  /** Offered on SSLRequest when set; otherwise the answer is 'N'. */
  readonly tls?: SecureContext
  /** Refuse clients that did not upgrade to TLS (28000). */
  readonly tlsRequired?: boolean
  readonly log: LogFn
  /** BackendKeyData: the process id and secret a CancelRequest must quote. */
  readonly pid: number
  readonly secret: number
  readonly maxMessageLength: number
  /** Over the connection limit: refuse with 53300 once the startup packet is read. */
  readonly tooMany: boolean
  /** Forwards a CancelRequest received on this (fresh) connection to the server's registry. */
  readonly cancel: (pid: number, secret: number) => void
  /** Closes connections that have not finished authenticating by then. */
  readonly authTimeoutMs: number
}

type Phase = 'startup' | 'auth' | 'ready' | 'closed'

/** Buffered input above which we stop reading from the socket until the backlog is handled. */
const PAUSE_BYTES = 1024 * 1024

const EXTENDED = new Set<FrontendMessage['kind']>(['parse', 'bind', 'describe', 'execute', 'close'])

export class Connection {
  private readonly reader: MessageReader
  /** Both replaced once, when the client upgrades to TLS. */
  private socket: Socket
  private out: Output
  private encrypted = false
  private phase: Phase = 'startup'
  private session: Session | undefined
  private user = ''
  private database = ''
  private applicationName: string | undefined
  private startupParams: ReadonlyMap<string, string> = new Map()
  private role: Role = 'admin'
  private exchange: PasswordExchange | undefined
  private busy = false
  /** The query protocols, once the session is open (query-phase.ts). */
  private query: QueryPhase | undefined
  private authTimer: NodeJS.Timeout | undefined

  private readonly onSocketData = (data: Buffer): void => this.onData(data)
  private readonly onSocketError = (e: Error): void => {
    this.options.log('debug', 'pgwire socket error', { pid: this.options.pid, error: e.message })
    this.close()
  }
  private readonly onSocketClose = (): void => this.close()

  constructor(
    socket: Socket,
    private readonly options: ConnectionOptions,
  ) {
    this.reader = new MessageReader(options.maxMessageLength)
    this.socket = socket
    this.out = new Output(socket)
    socket.setNoDelay(true)
    this.listen(socket)
    this.authTimer = setTimeout(() => {
      if (this.phase !== 'ready') this.close()
    }, options.authTimeoutMs)
    this.authTimer.unref()
  }

  private listen(socket: Socket): void {
    socket.on('data', this.onSocketData)
    socket.on('error', this.onSocketError)
    socket.on('close', this.onSocketClose)
  }

  /**
   * SSLRequest with TLS configured: answer 'S' in plain text, then run the TLS handshake on the
   * same socket; every later byte, both ways, goes through the TLS socket.
   */
  private upgrade(context: SecureContext): void {
    // A client must wait for the answer before sending anything (CVE-2021-23214): bytes already
    // here were sent in the clear and would be taken as coming from inside the TLS session.
    if (this.reader.buffered > 0) throw new WireError('08P01', 'received unencrypted data after SSL request', 'FATAL')
    const raw = this.socket
    raw.off('data', this.onSocketData)
    raw.off('error', this.onSocketError)
    raw.off('close', this.onSocketClose)
    raw.write(W.encryptionAccepted())
    const secure = new TLSSocket(raw, { isServer: true, secureContext: context })
    secure.on('error', () => {})
    this.socket = secure
    this.out = new Output(secure)
    this.encrypted = true
    this.listen(secure)
    // The raw socket's own errors and close still end the connection (TLSSocket forwards most).
    raw.on('error', this.onSocketError)
    raw.on('close', this.onSocketClose)
  }

  get pid(): number {
    return this.options.pid
  }

  get secret(): number {
    return this.options.secret
  }

  /** Asks the engine to stop the running statement, if the session supports it. */
  cancel(): void {
    this.query?.cancel(this.session, (e) =>
      this.options.log('warn', 'cancel failed', { pid: this.pid, error: e instanceof Error ? e.message : String(e) }),
    )
  }

  /** Ends the connection, optionally with a last (FATAL) message. Safe to call repeatedly. */
  close(last?: Buffer): void {
    if (this.phase === 'closed') return
    this.phase = 'closed'
    this.query?.subscriptions.closeAll()
    if (this.authTimer !== undefined) clearTimeout(this.authTimer)
    if (last !== undefined) this.out.send(last)
    this.out.end()
    // A client that never closes its side must not hold the socket forever.
    const socket = this.socket
    setTimeout(() => socket.destroy(), 2000).unref()
    const session = this.session
    this.session = undefined
    try {
      session?.close()
    } catch (e) {
      this.options.log('warn', 'session close failed', {
        pid: this.pid,
        error: e instanceof Error ? e.message : String(e),
      })
    }
  }

  // ---- input ----

  private onData(data: Buffer): void {
    if (this.phase === 'closed') return
    this.reader.push(data)
    if (this.reader.buffered > PAUSE_BYTES && this.busy) this.socket.pause()
    if (!this.busy) void this.pump()
  }

  /** Handles every complete message buffered, one at a time; new input joins the same loop. */
  private async pump(): Promise<void> {
    this.busy = true
    try {
      while (this.phase !== 'closed') {
        let raw: RawMessage | undefined
        try {
          raw = this.reader.next()
        } catch (e) {
          this.fail(e)
          break
        }
        if (raw === undefined) break
        await this.handle(raw)
      }
    } catch (e) {
      // handle() catches everything; this is the last line of defence for the server.
      this.options.log('error', 'pgwire connection loop failed', {
        pid: this.pid,
        error: e instanceof Error ? e.stack : String(e),
      })
      this.close()
    } finally {
      this.busy = false
      if (this.phase !== 'closed') {
        this.out.flush()
        if (this.socket.isPaused()) this.socket.resume()
      }
    }
  }

  private async handle(raw: RawMessage): Promise<void> {
    let kind: FrontendMessage['kind'] | undefined
    try {
      // `await` inside the try: a returned promise's rejection would escape the catch.
      if (this.phase === 'startup') return await this.onStartup(decodeStartup(raw))
      const m = decodeMessage(raw)
      kind = m.kind
      if (this.phase === 'auth') return await this.onPassword(m)
      const query = this.query
      if (query === undefined) throw new WireError('08P01', 'no session', 'FATAL')
      if (query.skipUntilSync && m.kind !== 'sync' && m.kind !== 'terminate') return
      await query.onMessage(m)
    } catch (e) {
      if (this.fail(e)) return
      if (kind !== undefined && EXTENDED.has(kind)) {
        if (this.query !== undefined) this.query.skipUntilSync = true
      } else if (kind === 'query') this.query?.ready()
    }
  }

  /** Sends the ErrorResponse for `e`; returns true when it was FATAL and the connection closed. */
  private fail(e: unknown): boolean {
    // Before the session is ready every error ends the connection, so it must say FATAL.
    const { message, fatal } = errorResponse(e, this.options.log, this.phase !== 'ready')
    if (fatal) {
      this.close(message)
      return true
    }
    if (this.query?.txStatus === 'T') this.query.txStatus = 'E'
    this.out.send(message)
    return false
  }

  // ---- startup and authentication ----

  private async onStartup(m: StartupPhaseMessage): Promise<void> {
    switch (m.kind) {
      case 'sslRequest':
        if (this.options.tls !== undefined && !this.encrypted) {
          this.upgrade(this.options.tls)
          return
        }
        this.out.send(W.encryptionRefused())
        this.out.flush()
        return
      case 'gssEncRequest':
        // Not offered: the client goes on in plain text (or asks for SSL) with another message.
        this.out.send(W.encryptionRefused())
        this.out.flush()
        return
      case 'cancelRequest':
        this.options.cancel(m.pid, m.secret)
        this.close()
        return
      case 'startup':
        break
    }
    this.reader.startup = false
    const user = m.params.get('user') ?? ''
    if (user === '') throw new WireError('28000', 'no PostgreSQL user name specified in startup packet', 'FATAL')
    if (this.options.tooMany) throw new WireError('53300', 'sorry, too many clients already', 'FATAL')
    if (this.options.tlsRequired === true && !this.encrypted)
      throw new WireError(
        '28000',
        `connection for user "${user}" requires SSL (the server is configured with TLS required)`,
        'FATAL',
      )
    this.user = user
    this.database = m.params.get('database') || user
    this.applicationName = m.params.get('application_name') ?? m.params.get('fallback_application_name')
    this.startupParams = m.params
    const unknownOptions = [...m.params.keys()].filter((k) => k.startsWith('_pq_.'))
    if (m.minorVersion > 0 || unknownOptions.length > 0) this.out.send(W.negotiateProtocolVersion(0, unknownOptions))
    const auth = this.options.auth
    this.role = roleOf(auth, user)
    checkLogin(auth, user)
    if (auth.mode === 'trust') return this.finishStartup()
    this.exchange = passwordExchange(auth, user)
    this.phase = 'auth'
    this.out.send(this.exchange.request)
  }

  private async onPassword(m: FrontendMessage): Promise<void> {
    if (m.kind !== 'password')
      throw new WireError('08P01', `expected password response, got message type ${m.kind}`, 'FATAL')
    const exchange = this.exchange
    if (exchange === undefined) throw new WireError('08P01', 'unexpected password message', 'FATAL')
    const { send, done } = exchange.step(m.body)
    for (const b of send) this.out.send(b)
    if (!done) return
    this.exchange = undefined
    return this.finishStartup()
  }

  private async finishStartup(): Promise<void> {
    if (this.authTimer !== undefined) clearTimeout(this.authTimer)
    let session: Session
    try {
      session = this.options.openSession({
        user: this.user,
        database: this.database,
        applicationName: this.applicationName,
        role: this.role,
      })
    } catch (e) {
      this.options.log('error', 'could not open a session', {
        user: this.user,
        error: e instanceof Error ? e.message : String(e),
      })
      throw e instanceof WireError ? e : new WireError(codeOf(e), e instanceof Error ? e.message : String(e), 'FATAL')
    }
    this.session = session
    const query = new QueryPhase(session, this.out, {
      fail: (e) => this.fail(e),
      close: () => this.close(),
    })
    this.query = query
    this.phase = 'ready'
    this.options.log('debug', 'pgwire client authenticated', {
      pid: this.pid,
      user: this.user,
      database: this.database,
      applicationName: this.applicationName,
      role: this.role,
      tls: this.encrypted,
    })
    this.out.send(W.authenticationOk())
    for (const notice of await startupSettings(session, this.startupParams)) this.out.send(noticeResponse(notice))
    const status = new Map<string, string>([
      ['server_version', '16.0'],
      ['server_encoding', 'UTF8'],
      ['client_encoding', 'UTF8'],
      ['DateStyle', 'ISO, MDY'],
      ['TimeZone', session.setting('timezone') ?? 'UTC'],
      ['integer_datetimes', 'on'],
      ['standard_conforming_strings', 'on'],
      ['IntervalStyle', 'postgres'],
      ['application_name', this.applicationName ?? ''],
      ['is_superuser', this.role === 'admin' ? 'on' : 'off'],
      ['session_authorization', this.user],
    ])
    for (const [k, v] of session.reportedSettings) status.set(k, v)
    if (this.role !== 'admin') status.set('is_superuser', 'off')
    for (const [k, v] of status) {
      query.reported.set(k, v)
      this.out.send(W.parameterStatus(k, v))
    }
    this.out.send(W.backendKeyData(this.pid, this.secret))
    query.ready()
  }
}

function codeOf(e: unknown): string {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code))
    return e.code
  return 'XX000'
}
