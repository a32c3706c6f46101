/**
 * One client connection's state machine: startup (SSL refusal, cancel requests, protocol
 * version), authentication, then the simple and extended query protocols until Terminate.
 * Messages are handled strictly one after another in arrival order. Whatever a client sends ends
 * at worst in an ErrorResponse, or a FATAL one and a closed socket for protocol violations; no
 * exception leaves this class, so one client can never disturb another.
 */
import type { Socket } from 'node:net'
import { TLSSocket, type SecureContext } from 'node:tls'
import type { Session, StatementResult } from '../../engine/session-api.ts'
import type { AuthConfig, PasswordExchange, Role } from './auth.ts'
import { checkLogin, passwordExchange, roleOf } from './auth.ts'
import type { CopyOut } from './copy.ts'
import { copyHeader, copyLine, parseCopy } from './copy.ts'
import type { LogFn } from './errors.ts'
import { WireError, errorResponse, noticeResponse } from './errors.ts'
import { ExtendedState, isEmptyQuery } from './extended.ts'
import type { FrontendMessage, StartupPhaseMessage } from './frontend.ts'
import { decodeMessage, decodeStartup } from './frontend.ts'
import { Output } from './output.ts'
import type { RawMessage } from './reader.ts'
import { MessageReader } from './reader.ts'
import { describeColumns, sendRows } from './results.ts'
import { ConnectionSubscriptions } from './subscribe.ts'
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
type TxStatus = 'I' | 'T' | 'E'

/** Buffered input above which we stop reading from the socket until the backlog is handled. */
const PAUSE_BYTES = 1024 * 1024

/** COPY TO STDOUT lets the event loop run after this much sending (ms). */
const COPY_YIELD_MS = 5

const EXTENDED = new Set<FrontendMessage['kind']>(['parse', 'bind', 'describe', 'execute', 'close'])

/** An engine may offer cancellation; the Session contract does not require it (yet). */
interface Cancellable {
  cancel(): void
}

function isCancellable(s: Session | undefined): s is Session & Cancellable {
  return s !== undefined && typeof (s as Partial<Cancellable>).cancel === 'function'
}

export class Connection {
  private readonly reader: MessageReader
  /** Both replaced once, when the client upgrades to TLS. */
  private socket: Socket
  private out: Output
  private encrypted = false
  private readonly ext = new ExtendedState()
  /** SUBSCRIBE results being streamed or held by portals (subscribe.ts). */
  private readonly subscriptions = new ConnectionSubscriptions()
  private phase: Phase = 'startup'
  private session: Session | undefined
  private user = ''
  private database = ''
  private applicationName: string | undefined
  private startupParams: ReadonlyMap<string, string> = new Map()
  private role: Role = 'admin'
  private exchange: PasswordExchange | undefined
  private txStatus: TxStatus = 'I'
  private skipUntilSync = false
  private busy = false
  /** True while the engine runs a statement for this connection: what a cancel would interrupt. */
  private running = false
  /** While COPY TO STDOUT sends its rows: a cancel request stops the sending (57014). */
  private copy: { cancelled: boolean; wake: () => void } | undefined
  private readonly reported = new Map<string, string>()
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
    if (this.subscriptions.cancel()) return
    if (this.copy !== undefined) {
      this.copy.cancelled = true
      this.copy.wake()
      return
    }
    const session = this.session
    if (!this.running || !isCancellable(session)) return
    try {
      session.cancel()
    } catch (e) {
      this.options.log('warn', 'cancel failed', { pid: this.pid, error: e instanceof Error ? e.message : String(e) })
    }
  }

  /** Ends the connection, optionally with a last (FATAL) message. Safe to call repeatedly. */
  close(last?: Buffer): void {
    if (this.phase === 'closed') return
    this.phase = 'closed'
    this.subscriptions.closeAll()
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
      if (this.skipUntilSync && m.kind !== 'sync' && m.kind !== 'terminate') return
      await this.onMessage(m)
    } catch (e) {
      if (this.fail(e)) return
      if (kind !== undefined && EXTENDED.has(kind)) this.skipUntilSync = true
      else if (kind === 'query') this.ready()
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
    if (this.txStatus === 'T') this.txStatus = 'E'
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
      this.reported.set(k, v)
      this.out.send(W.parameterStatus(k, v))
    }
    this.out.send(W.backendKeyData(this.pid, this.secret))
    this.ready()
  }

  // ---- queries ----

  private async onMessage(m: FrontendMessage): Promise<void> {
    const session = this.session
    if (session === undefined) throw new WireError('08P01', 'no session', 'FATAL')
    switch (m.kind) {
      case 'query':
        return this.simpleQuery(session, m.sql)
      case 'parse':
        this.running = true
        try {
          await this.ext.parse(session, m)
        } finally {
          this.running = false
        }
        this.out.send(W.parseComplete())
        return
      case 'bind':
        this.ext.bind(m, this.timezone(session))
        this.out.send(W.bindComplete())
        return
      case 'describe':
        if (m.target === 'S') {
          const s = this.ext.statement(m.name)
          this.out.send(W.parameterDescription(s.paramOids))
          this.out.send(s.columns === undefined ? W.noData() : describeColumns(s.columns, []))
        } else {
          const p = this.ext.portal(m.name)
          const columns = p.statement.columns
          this.out.send(columns === undefined ? W.noData() : describeColumns(columns, p.formats))
        }
        return
      case 'execute':
        return this.executePortal(session, m.portal, m.maxRows)
      case 'close':
        this.ext.close(m.target, m.name)
        this.out.send(W.closeComplete())
        return
      case 'sync':
        this.skipUntilSync = false
        this.ready()
        this.out.flush()
        return
      case 'flush':
        this.out.flush()
        return
      case 'terminate':
        this.close()
        return
      case 'password':
        throw new WireError('08P01', 'unexpected password message', 'FATAL')
      case 'copy':
        return
    }
  }

  private async simpleQuery(session: Session, sql: string): Promise<void> {
    if (isEmptyQuery(sql)) {
      this.out.send(W.emptyQueryResponse())
      this.ready()
      return
    }
    const copy = /^\s*copy\b/i.test(sql) ? parseCopy(sql) : undefined
    if (copy !== undefined) {
      await this.copyOut(session, copy)
      this.reportSettings(session)
      this.ready()
      return
    }
    let results: readonly StatementResult[]
    let error: unknown
    this.running = true
    try {
      results = await session.execute(sql)
    } catch (e) {
      error = e
      results = partialResults(e)
    } finally {
      this.running = false
    }
    for (const r of results) {
      this.track(r.tag)
      this.sendNotices(r)
      if (r.columns !== undefined) {
        this.out.send(describeColumns(r.columns, []))
        if (r.subscription !== undefined) {
          try {
            await this.subscriptions.stream(this.out, r.subscription, r.columns, [], 0, this.timezone(session))
          } catch (e) {
            error = e
            for (const other of results) other.subscription?.close()
            break
          }
        }
        const rows = r.rows ?? []
        await sendRows(this.out, r.columns, [], rows, 0, rows.length, this.timezone(session))
      }
      this.out.send(W.commandComplete(r.tag))
    }
    if (error !== undefined) {
      if (this.fail(error)) return
    } else if (results.length === 0) this.out.send(W.emptyQueryResponse())
    this.reportSettings(session)
    this.ready()
  }

  /** COPY (query) TO STDOUT: CopyOutResponse, one CopyData per line, CopyDone, `COPY n`. */
  private async copyOut(session: Session, copy: CopyOut): Promise<void> {
    let results: readonly StatementResult[]
    this.running = true
    try {
      results = await session.execute(copy.query)
    } finally {
      this.running = false
    }
    const r = results[0]
    if (results.length !== 1 || r.columns === undefined)
      throw new WireError('42601', 'COPY needs exactly one query that returns rows')
    const columns = r.columns
    const rows = r.rows ?? []
    const tz = this.timezone(session)
    this.sendNotices(r)
    this.out.send(W.copyOutResponse(columns.length))
    if (copy.options.header) this.out.send(W.copyData(Buffer.from(copyHeader(columns, copy.options), 'utf8')))
    const state = { cancelled: false, wake: (): void => {} }
    // Resolves on a cancel request: a client that stopped reading must not keep the wait alive.
    const cancelled = new Promise<void>((resolve) => (state.wake = resolve))
    this.copy = state
    try {
      let since = performance.now()
      for (let i = 0; i < rows.length; i++) {
        this.out.send(W.copyData(Buffer.from(copyLine(rows[i], columns, copy.options, tz), 'utf8')))
        if (this.out.congested) await Promise.race([this.out.drained(), cancelled])
        // A fast client never congests the socket: let the event loop (and a cancel request) in.
        if ((i & 1023) === 1023 && performance.now() - since >= COPY_YIELD_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve))
          since = performance.now()
        }
        if (state.cancelled) throw new WireError('57014', 'canceling statement due to user request')
      }
    } finally {
      this.copy = undefined
    }
    this.out.send(W.copyDone())
    this.out.send(W.commandComplete(`COPY ${rows.length}`))
  }

  private async executePortal(session: Session, name: string, maxRows: number): Promise<void> {
    const portal = this.ext.portal(name)
    if (!portal.statement.hasQuery) {
      this.out.send(W.emptyQueryResponse())
      return
    }
    if (portal.result === undefined) {
      this.running = true
      let results: StatementResult[]
      try {
        results = await session.execute(portal.statement.sql, portal.params)
      } finally {
        this.running = false
      }
      const result = results[0]
      if (result === undefined) {
        this.out.send(W.emptyQueryResponse())
        return
      }
      portal.result = result
      if (result.subscription !== undefined) this.subscriptions.add(result.subscription)
      this.track(result.tag)
      this.sendNotices(result)
      this.reportSettings(session)
    }
    const { columns, rows = [], tag } = portal.result
    if (columns !== undefined && portal.result.subscription !== undefined) {
      const sub = portal.result.subscription
      const { done } = await this.subscriptions.stream(
        this.out,
        sub,
        columns,
        portal.formats,
        maxRows,
        this.timezone(session),
      )
      if (!done) {
        this.out.send(W.portalSuspended())
        return
      }
    } else if (columns !== undefined) {
      const start = portal.sent
      const end = maxRows > 0 ? Math.min(rows.length, start + maxRows) : rows.length
      await sendRows(this.out, columns, portal.formats, rows, start, end, this.timezone(session))
      portal.sent = end
      if (end < rows.length) {
        this.out.send(W.portalSuspended())
        return
      }
    }
    this.out.send(W.commandComplete(tag))
  }

  // ---- status ----

  private ready(): void {
    // Outside a transaction block, Sync ends the implicit transaction and with it every portal.
    if (this.txStatus === 'I') {
      this.ext.dropPortals()
      this.subscriptions.closeAll()
    }
    this.out.send(W.readyForQuery(this.txStatus))
  }

  /** Follows BEGIN/COMMIT/ROLLBACK by command tag, as the ReadyForQuery status must. */
  private track(tag: string): void {
    const t = tag.toUpperCase()
    if (t === 'BEGIN' || t === 'START TRANSACTION') {
      if (this.txStatus === 'I') this.txStatus = 'T'
    } else if (t === 'COMMIT' || t === 'ROLLBACK' || t === 'END' || t === 'ABORT') this.txStatus = 'I'
  }

  private sendNotices(r: StatementResult): void {
    for (const n of r.notices ?? []) this.out.send(noticeResponse(n))
  }

  private reportSettings(session: Session): void {
    for (const [k, v] of session.reportedSettings) {
      if (this.reported.get(k) === v) continue
      this.reported.set(k, v)
      this.out.send(W.parameterStatus(k, v))
    }
  }

  private timezone(session: Session): string {
    return session.setting('timezone') ?? 'UTC'
  }
}

/** The engine attaches the results of the statements that ran before a failing one as `partial`. */
function partialResults(e: unknown): readonly StatementResult[] {
  if (typeof e !== 'object' || e === null || !('partial' in e)) return []
  const partial = e.partial
  return Array.isArray(partial) ? (partial as StatementResult[]) : []
}

function codeOf(e: unknown): string {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code))
    return e.code
  return 'XX000'
}
