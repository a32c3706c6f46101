/**
 * The query phase of a connection, once its session is open: the simple and extended query
 * protocols, COPY TO STDOUT, SUBSCRIBE streaming, and the status a client must track
 * (transaction status for ReadyForQuery, ParameterStatus when a setting changes).
 */
import type { Session, StatementResult } from '../../engine/session-api.ts'
import type { CopyOut } from './copy.ts'
import { copyHeader, copyLine, parseCopy } from './copy.ts'
import { WireError, noticeResponse } from './errors.ts'
import { ExtendedState, isEmptyQuery } from './extended.ts'
import type { FrontendMessage } from './frontend.ts'
import type { Output } from './output.ts'
import { describeColumns, sendRows } from './results.ts'
import { ConnectionSubscriptions } from './subscribe.ts'
import * as W from './writer.ts'

type TxStatus = 'I' | 'T' | 'E'

/** COPY TO STDOUT lets the event loop run after this much sending (ms). */
const COPY_YIELD_MS = 5

/** An engine may offer cancellation; the Session contract does not require it (yet). */
interface Cancellable {
  cancel(): void
}

function isCancellable(s: Session | undefined): s is Session & Cancellable {
  return s !== undefined && typeof (s as Partial<Cancellable>).cancel === 'function'
}

/** What the query phase asks of its connection. */
export interface QueryPhaseHooks {
  /** Sends the ErrorResponse for `e`; true when it was FATAL and the connection closed. */
  fail(e: unknown): boolean
  /** Terminate: ends the connection. */
  close(): void
}

export class QueryPhase {
  readonly ext = new ExtendedState()
  /** SUBSCRIBE results being streamed or held by portals (subscribe.ts). */
  readonly subscriptions = new ConnectionSubscriptions()
  txStatus: TxStatus = 'I'
  /** After an error in an extended-protocol message: messages up to Sync are ignored. */
  skipUntilSync = false
  /** True while the engine runs a statement for this connection: what a cancel would interrupt. */
  private running = false
  /** While COPY TO STDOUT sends its rows: a cancel request stops the sending (57014). */
  private copy: { cancelled: boolean; wake: () => void } | undefined
  /** ParameterStatus values the client has been sent. */
  readonly reported = new Map<string, string>()

  constructor(
    private readonly session: Session,
    private readonly out: Output,
    private readonly hooks: QueryPhaseHooks,
  ) {}

  /**
   * Stops what runs: a streaming SUBSCRIBE, a COPY TO STDOUT's sending, or else the engine's
   * statement, if `session` (the connection's, undefined once closed) supports it.
   */
  cancel(session: Session | undefined, failed: (e: unknown) => void): void {
    if (this.subscriptions.cancel()) return
    if (this.copy !== undefined) {
      this.copy.cancelled = true
      this.copy.wake()
      return
    }
    if (!this.running || !isCancellable(session)) return
    try {
      session.cancel()
    } catch (e) {
      failed(e)
    }
  }

  async onMessage(m: FrontendMessage): Promise<void> {
    const session = this.session
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
        this.hooks.close()
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
      if (this.hooks.fail(error)) return
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

  ready(): void {
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
