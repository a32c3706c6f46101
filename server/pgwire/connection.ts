/**
 * One client connection: startup and authentication, the simple and extended query protocols,
 * error reporting with SQLSTATE and position. Messages are handled strictly in arrival order.
 * Anything a client sends — malformed, truncated, out of order — ends in an ErrorResponse (or a
 * FATAL one and a closed connection for protocol violations); it never reaches other connections.
 */
import type { Socket } from 'node:net'
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Session, StatementResult, ResultColumn } from '../../engine/session-api.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import type { FrontendMessage } from './reader.ts'
import { BodyReader, MessageReader, MessageTooLarge } from './reader.ts'
import { Backend } from './writer.ts'
import { decodeParam, encodeValue } from './values.ts'
import { SluiceError, SqlState, toSluiceError } from '../../engine/errors.ts'
import { typeFromOid, typeLength, typeOid } from '../../engine/types/oid.ts'

export type AuthConfig = { readonly mode: 'trust' } | { readonly mode: 'password'; readonly users: ReadonlyMap<string, string> }
export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void

export interface ConnectionOptions {
  readonly openSession: (startup: { user: string; database: string; applicationName?: string }) => Session
  readonly auth: AuthConfig
  readonly log: LogFn
  readonly pid: number
  readonly secret: number
  readonly tooMany: boolean
}

interface Prepared {
  readonly sql: string
  readonly paramTypes: readonly DataType[]
  readonly columns: readonly ResultColumn[] | undefined
}

interface Portal {
  readonly statement: Prepared
  readonly params: readonly Value[]
  readonly formats: readonly number[]
  result?: StatementResult
  sent: number
}

const MAX_MESSAGE = 64 * 1024 * 1024

export class Connection {
  private readonly reader = new MessageReader(MAX_MESSAGE)
  private session: Session | undefined
  private user = ''
  private database = ''
  private applicationName: string | undefined
  private phase: 'startup' | 'password' | 'ready' | 'closed' = 'startup'
  private md5Salt: Buffer | undefined
  private txStatus: 'I' | 'T' | 'E' = 'I'
  private skipUntilSync = false
  private readonly statements = new Map<string, Prepared>()
  private readonly portals = new Map<string, Portal>()
  private chain: Promise<void> = Promise.resolve()
  private reported = new Map<string, string>()

  constructor(
    private readonly socket: Socket,
    private readonly options: ConnectionOptions,
  ) {
    socket.setNoDelay(true)
    socket.on('data', (data: Buffer) => this.onData(data))
    socket.on('error', () => this.close())
    socket.on('close', () => this.close())
  }

  private onData(data: Buffer): void {
    if (this.phase === 'closed') return
    let messages: FrontendMessage[]
    try {
      messages = this.reader.push(data)
    } catch (e) {
      this.fatal(SqlState.protocol_violation, e instanceof MessageTooLarge ? e.message : 'invalid message framing')
      return
    }
    for (const m of messages) this.enqueue(m)
  }

  private enqueue(m: FrontendMessage): void {
    this.chain = this.chain
      .then(() => (this.phase === 'closed' ? undefined : this.handle(m)))
      .catch((e: unknown) => {
        this.options.log('error', 'pgwire connection failed', { error: e instanceof Error ? e.stack : String(e) })
        this.fatal(SqlState.internal_error, 'internal error while handling a message')
      })
  }

  private async handle(m: FrontendMessage): Promise<void> {
    if (this.phase === 'startup') return this.handleStartup(m)
    if (this.phase === 'password') return this.handlePassword(m)
    if (this.skipUntilSync && m.type !== 'S' && m.type !== 'X') return
    switch (m.type) {
      case 'Q':
        return this.simpleQuery(new BodyReader(m.body).cstring())
      case 'P':
        return this.guard(() => this.parse(m.body))
      case 'B':
        return this.guard(() => this.bind(m.body))
      case 'D':
        return this.guard(() => this.describe(m.body))
      case 'E':
        return this.guard(() => this.execute(m.body))
      case 'C':
        return this.guard(async () => this.closeObject(m.body))
      case 'S':
        this.skipUntilSync = false
        this.ready()
        return
      case 'H':
        return
      case 'X':
        this.close()
        return
      case 'd':
      case 'c':
      case 'f':
        return // COPY data outside COPY: ignored as PostgreSQL does
      default:
        this.fatal(SqlState.protocol_violation, `invalid frontend message type ${m.type.charCodeAt(0)}`)
    }
  }

  // ---- startup and authentication ----

  private handleStartup(m: FrontendMessage): void {
    const r = new BodyReader(m.body)
    let code: number
    try {
      code = r.int32()
    } catch {
      return this.fatal(SqlState.protocol_violation, 'invalid startup packet layout')
    }
    if (code === 80877103 || code === 80877104) {
      // SSLRequest / GSSENCRequest: not offered; the client continues in plain text.
      this.socket.write('N')
      this.reader.startup = true
      return
    }
    if (code === 80877102) {
      this.close() // CancelRequest: statements here are short and cannot be interrupted mid-way
      return
    }
    if (code >> 16 !== 3) return this.fatal(SqlState.protocol_violation, `unsupported frontend protocol ${code >> 16}.${code & 0xffff}: server supports 3.0`)
    const params = new Map<string, string>()
    try {
      while (r.remaining > 1) {
        const key = r.cstring()
        if (key === '') break
        params.set(key, r.cstring())
      }
    } catch {
      return this.fatal(SqlState.protocol_violation, 'invalid startup packet layout')
    }
    this.user = params.get('user') ?? ''
    if (this.user === '') return this.fatal(SqlState.invalid_authorization_specification, 'no PostgreSQL user name specified in startup packet')
    this.database = params.get('database') ?? this.user
    this.applicationName = params.get('application_name')
    if (this.options.tooMany) return this.fatal(SqlState.too_many_connections, 'sorry, too many clients already')
    // Messages pipelined after the startup packet are typed.
    const rest = this.reader.takeRest()
    if (this.options.auth.mode === 'password') {
      this.phase = 'password'
      this.md5Salt = randomBytes(4)
      this.socket.write(Backend.authenticationMD5Password(this.md5Salt))
    } else this.finishStartup()
    if (rest.length > 0) this.onData(rest)
  }

  private handlePassword(m: FrontendMessage): void {
    if (m.type !== 'p') return this.fatal(SqlState.protocol_violation, 'expected password response')
    let given: string
    try {
      given = new BodyReader(m.body).cstring()
    } catch {
      return this.fatal(SqlState.protocol_violation, 'invalid password packet')
    }
    const auth = this.options.auth
    const expected = auth.mode === 'password' ? auth.users.get(this.user) : undefined
    let ok = false
    if (expected !== undefined) {
      const md5 = (s: string | Buffer): string => createHash('md5').update(s).digest('hex')
      const want = 'md5' + md5(Buffer.concat([Buffer.from(md5(expected + this.user)), this.md5Salt ?? Buffer.alloc(0)]))
      ok = given.length === want.length && timingSafeEqual(Buffer.from(given), Buffer.from(want))
      if (!ok && given === expected) ok = true // a client answering in clear text
    }
    if (!ok) return this.fatal(SqlState.invalid_password, `password authentication failed for user "${this.user}"`)
    this.finishStartup()
  }

  private finishStartup(): void {
    this.session = this.options.openSession({ user: this.user, database: this.database, applicationName: this.applicationName })
    this.phase = 'ready'
    const out: Buffer[] = [Backend.authenticationOk()]
    for (const [k, v] of this.session.reportedSettings) {
      out.push(Backend.parameterStatus(k, v))
      this.reported.set(k, v)
    }
    out.push(Backend.parameterStatus('session_authorization', this.user))
    out.push(Backend.backendKeyData(this.options.pid, this.options.secret))
    out.push(Backend.readyForQuery('I'))
    this.socket.write(Buffer.concat(out))
  }

  // ---- simple query ----

  private async simpleQuery(sql: string): Promise<void> {
    const session = this.session!
    if (sql.trim() === '' || /^\s*;+\s*$/.test(sql)) {
      this.socket.write(Backend.emptyQueryResponse())
      this.ready()
      return
    }
    let results: readonly StatementResult[] = []
    let error: unknown
    try {
      results = await session.execute(sql)
    } catch (e) {
      error = e
      results = (e as { partial?: StatementResult[] }).partial ?? []
    }
    for (const r of results) {
      this.track(r.tag)
      await this.sendResult(r, r.columns?.map(() => 0) ?? [], true, 0)
    }
    if (error !== undefined) this.sendError(error)
    this.reportSettings()
    this.ready()
  }

  /** Sends one result: optional RowDescription, rows (up to `limit`, 0 = all), notices, completion. */
  private async sendResult(r: StatementResult, formats: readonly number[], describe: boolean, limit: number, portal?: Portal): Promise<void> {
    const tz = this.session?.setting('timezone') ?? 'UTC'
    const columns = r.columns
    if (describe && columns !== undefined) this.socket.write(this.rowDescription(columns, formats))
    for (const n of r.notices ?? []) this.socket.write(Backend.fields('N', { S: 'NOTICE', V: 'NOTICE', C: '00000', M: n }))
    if (columns !== undefined && r.rows !== undefined) {
      const start = portal?.sent ?? 0
      const end = limit > 0 ? Math.min(r.rows.length, start + limit) : r.rows.length
      const batch: Buffer[] = []
      let size = 0
      for (let i = start; i < end; i++) {
        const row = r.rows[i]
        const msg = Backend.dataRow(row.map((v, c) => encodeValue(v, columns[c].type, (formats[c] ?? 0) === 1, tz)))
        batch.push(msg)
        size += msg.length
        if (size > 256 * 1024) {
          await this.write(Buffer.concat(batch))
          batch.length = 0
          size = 0
        }
      }
      if (batch.length > 0) await this.write(Buffer.concat(batch))
      if (portal !== undefined) {
        portal.sent = end
        if (end < r.rows.length) {
          this.socket.write(Backend.portalSuspended())
          return
        }
      }
    }
    this.socket.write(Backend.commandComplete(r.tag))
  }

  /** Writes and waits for the socket to drain when the client reads slowly. */
  private async write(b: Buffer): Promise<void> {
    if (this.socket.write(b)) return
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done)
        this.socket.off('close', done)
        resolve()
      }
      this.socket.once('drain', done)
      this.socket.once('close', done)
    })
  }

  private rowDescription(columns: readonly ResultColumn[], formats: readonly number[]): Buffer {
    return Backend.rowDescription(columns.map((c, i) => ({ name: c.name, oid: typeOid(c.type), length: typeLength(c.type), format: formats[i] ?? 0 })))
  }

  // ---- extended protocol ----

  private async guard(fn: () => Promise<void>): Promise<void> {
    try {
      await fn()
    } catch (e) {
      this.sendError(e)
      this.skipUntilSync = true
    }
  }

  private async parse(body: Buffer): Promise<void> {
    const r = new BodyReader(body)
    const name = r.cstring()
    const sql = r.cstring()
    const n = r.int16()
    const hints: (DataType | undefined)[] = []
    for (let i = 0; i < n; i++) {
      const oid = r.int32()
      hints.push(oid === 0 ? undefined : typeFromOid(oid))
    }
    if (name !== '' && this.statements.has(name)) throw new SluiceError(SqlState.duplicate_prepared_statement, `prepared statement "${name}" already exists`)
    let prepared: Prepared
    if (sql.trim() === '') prepared = { sql, paramTypes: [], columns: undefined }
    else {
      const d = await this.session!.describe(sql, hints)
      prepared = { sql, paramTypes: d.paramTypes.map((t, i) => hints[i] ?? t), columns: d.columns }
    }
    this.statements.set(name, prepared)
    this.socket.write(Backend.parseComplete())
  }

  private async bind(body: Buffer): Promise<void> {
    const r = new BodyReader(body)
    const portalName = r.cstring()
    const stmtName = r.cstring()
    const statement = this.statements.get(stmtName)
    if (statement === undefined) throw new SluiceError(SqlState.invalid_sql_statement_name, `prepared statement "${stmtName}" does not exist`)
    const nFormats = r.int16()
    const formats: number[] = []
    for (let i = 0; i < nFormats; i++) formats.push(r.int16())
    const nParams = r.int16()
    if (nParams !== statement.paramTypes.length) {
      throw new SluiceError(SqlState.protocol_violation, `bind message supplies ${nParams} parameters, but prepared statement "${stmtName}" requires ${statement.paramTypes.length}`)
    }
    const tz = this.session!.setting('timezone') ?? 'UTC'
    const params: Value[] = []
    for (let i = 0; i < nParams; i++) {
      const len = r.int32()
      if (len === -1) {
        params.push(null)
        continue
      }
      const data = r.bytes(len)
      const format = nFormats === 0 ? 0 : nFormats === 1 ? formats[0] : formats[i]
      params.push(decodeParam(data, statement.paramTypes[i], format === 1, tz))
    }
    const nResult = r.int16()
    const resultFormats: number[] = []
    for (let i = 0; i < nResult; i++) resultFormats.push(r.int16())
    const width = statement.columns?.length ?? 0
    const expanded = nResult === 0 ? new Array<number>(width).fill(0) : nResult === 1 ? new Array<number>(width).fill(resultFormats[0]) : resultFormats
    this.portals.set(portalName, { statement, params, formats: expanded, sent: 0 })
    this.socket.write(Backend.bindComplete())
  }

  private async describe(body: Buffer): Promise<void> {
    const r = new BodyReader(body)
    const kind = r.byte()
    const name = r.cstring()
    if (kind === 'S') {
      const s = this.statements.get(name)
      if (s === undefined) throw new SluiceError(SqlState.invalid_sql_statement_name, `prepared statement "${name}" does not exist`)
      this.socket.write(Backend.parameterDescription(s.paramTypes.map(typeOid)))
      this.socket.write(s.columns === undefined ? Backend.noData() : this.rowDescription(s.columns, []))
      return
    }
    if (kind === 'P') {
      const p = this.portals.get(name)
      if (p === undefined) throw new SluiceError(SqlState.invalid_cursor_name, `portal "${name}" does not exist`)
      this.socket.write(p.statement.columns === undefined ? Backend.noData() : this.rowDescription(p.statement.columns, p.formats))
      return
    }
    throw new SluiceError(SqlState.protocol_violation, `invalid DESCRIBE message subtype ${kind.charCodeAt(0)}`)
  }

  private async execute(body: Buffer): Promise<void> {
    const r = new BodyReader(body)
    const name = r.cstring()
    const limit = r.int32()
    const portal = this.portals.get(name)
    if (portal === undefined) throw new SluiceError(SqlState.invalid_cursor_name, `portal "${name}" does not exist`)
    if (portal.statement.sql.trim() === '') {
      this.socket.write(Backend.emptyQueryResponse())
      return
    }
    if (portal.result === undefined) {
      const results = await this.session!.execute(portal.statement.sql, portal.params)
      portal.result = results[0] ?? { tag: '' }
      this.track(portal.result.tag)
      this.reportSettings()
    }
    await this.sendResult(portal.result, portal.formats, false, limit, portal)
  }

  private closeObject(body: Buffer): void {
    const r = new BodyReader(body)
    const kind = r.byte()
    const name = r.cstring()
    if (kind === 'S') this.statements.delete(name)
    else this.portals.delete(name)
    this.socket.write(Backend.closeComplete())
  }

  // ---- status, errors, closing ----

  private track(tag: string): void {
    if (tag === 'BEGIN') this.txStatus = 'T'
    else if (tag === 'COMMIT' || tag === 'ROLLBACK') this.txStatus = 'I'
  }

  private ready(): void {
    if (this.phase !== 'ready') return
    this.portals.delete('')
    this.socket.write(Backend.readyForQuery(this.txStatus))
  }

  private reportSettings(): void {
    const session = this.session
    if (session === undefined) return
    for (const [k, v] of session.reportedSettings) {
      if (this.reported.get(k) === v) continue
      this.reported.set(k, v)
      this.socket.write(Backend.parameterStatus(k, v))
    }
  }

  private sendError(e: unknown): void {
    const err = toSluiceError(e)
    if (err.domain === 'internal') this.options.log('error', 'internal error', { error: err.message, stack: (err.cause instanceof Error ? err.cause : err).stack })
    if (this.txStatus === 'T') this.txStatus = 'E'
    this.socket.write(
      Backend.fields('E', {
        S: 'ERROR',
        V: 'ERROR',
        C: err.code,
        M: err.message,
        D: err.detail,
        H: err.hint,
        P: err.position === undefined ? undefined : String(err.position),
      }),
    )
  }

  private fatal(code: string, message: string): void {
    if (this.phase === 'closed') return
    try {
      this.socket.write(Backend.fields('E', { S: 'FATAL', V: 'FATAL', C: code, M: message }))
    } finally {
      this.close()
    }
  }

  close(): void {
    if (this.phase === 'closed') return
    this.phase = 'closed'
    this.session?.close()
    this.socket.end()
  }
}
