/**
 * `GET /v1/subscribe/:view`: SUBSCRIBE over HTTP, as Server-Sent Events or — on a WebSocket
 * upgrade of the same URL — as WebSocket text messages.
 *
 * Every change is one JSON document `{"position": p, "op": "insert"|"delete", "row": {...}}`
 * (values by the rule of json.ts). SSE: an unnamed event whose `id` is the position. Snapshot
 * rows carry the snapshot's position but no SSE id; after them one `event: snapshot` with
 * `id: p` and `{"position": p}` marks the end of the snapshot — so an EventSource that
 * reconnects mid-snapshot sends no (or an older) Last-Event-ID and gets a new snapshot, and
 * one that reconnects later resumes after the last change it saw. WebSocket: the same documents,
 * the marker as `{"type": "snapshot", "position": p}`.
 *
 * Query parameters: `snapshot=false`, `from=p` (resume after p), `queue_max=n`. SSE also honours
 * `Last-Event-ID` (a resume from that position). A resume from a position the server no longer
 * keeps answers with a fresh snapshot preceded by `event: reset` (WebSocket: `{"type": "reset"}`):
 * the client drops what it holds and starts over. When the stream fails (the client fell behind:
 * 54000; the view was dropped: 42P01; shutdown: 57P01) the last event is `event: problem` with a
 * problem document (WebSocket: `{"type": "problem", "problem": {...}}` and close code 4000), then the stream ends.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import type { ChangeBatch, ChangeSubscription, ResultColumn, SubscribeOptions } from '../../engine/session-api.ts'
import type { JsonValue } from '../../engine/types/jsonb.ts'
import type { Problem } from './problem.ts'
import { SluiceError, SqlState, toSluiceError } from '../../engine/errors.ts'
import { toJson } from './json.ts'
import { problemBody, problemFromError, sendProblem } from './problem.ts'

/** What the subscribe routes need from the engine; `Sluice` satisfies it. */
export interface SubscribeDatabase {
  subscribe(name: string, options?: SubscribeOptions): ChangeSubscription
}

export interface SubscribeRouteOptions {
  readonly db: SubscribeDatabase
  /** SSE comment lines this often keep proxies from closing an idle stream (default 15 s). */
  readonly heartbeatMs?: number
  /** Called with +1 / -1 as streams open and close (the subscribers gauge). */
  readonly onStream?: (transport: 'sse' | 'websocket', delta: number) => void
}

/** Rows taken from the subscription per step. */
const STEP_ROWS = 512
/** WebSocket bytes buffered before the sender waits for the client. */
const WS_HIGH_WATER = 1024 * 1024

interface Query {
  snapshot?: string
  from?: string
  queue_max?: string
}

/** The subscribe options of a request, or the problem with them. */
export function requestOptions(query: unknown, lastEventId: string | undefined): SubscribeOptions | Problem {
  const q = (typeof query === 'object' && query !== null ? query : {}) as Record<string, unknown>
  for (const key of Object.keys(q)) {
    if (key !== 'snapshot' && key !== 'from' && key !== 'queue_max') {
      return {
        status: 400,
        code: SqlState.invalid_parameter_value,
        detail: `unknown parameter "${key.slice(0, 100)}"`,
        hint: 'The parameters are snapshot, from and queue_max.',
      }
    }
  }
  const { snapshot, from, queue_max: queueMax } = q as Query
  const bad = (name: string, value: unknown): Problem => ({
    status: 400,
    code: SqlState.invalid_parameter_value,
    detail: `invalid value for "${name}": ${JSON.stringify(value)?.slice(0, 100)}`,
  })
  let snap: boolean | undefined
  if (snapshot !== undefined) {
    if (snapshot !== 'true' && snapshot !== 'false') return bad('snapshot', snapshot)
    snap = snapshot === 'true'
  }
  let position: number | undefined
  const resume = lastEventId ?? from
  if (resume !== undefined) {
    if (typeof resume !== 'string' || !/^\d{1,16}$/.test(resume.trim()))
      return bad(lastEventId !== undefined ? 'Last-Event-ID' : 'from', resume)
    position = Number(resume.trim())
    snap = undefined
  }
  let maxQueueRows: number | undefined
  if (queueMax !== undefined) {
    if (typeof queueMax !== 'string' || !/^\d{1,9}$/.test(queueMax) || Number(queueMax) < 1)
      return bad('queue_max', queueMax)
    maxQueueRows = Number(queueMax)
  }
  return { snapshot: snap, from: position, maxQueueRows }
}

/** Subscribes; a resume from a position no longer kept falls back to a fresh snapshot (`reset`). */
function open(
  db: SubscribeDatabase,
  name: string,
  options: SubscribeOptions,
): { sub: ChangeSubscription; reset: boolean } {
  try {
    return { sub: db.subscribe(name, options), reset: false }
  } catch (e) {
    if (options.from !== undefined && e instanceof SluiceError && e.code === SqlState.invalid_parameter_value) {
      return { sub: db.subscribe(name, { maxQueueRows: options.maxQueueRows }), reset: true }
    }
    throw e
  }
}

function problemOf(e: unknown): Problem {
  const p = problemFromError(e)
  return p.code === SqlState.undefined_table ? { ...p, status: 404 } : p
}

/** One change as its JSON document (the row as an object by column name). */
function changeJson(columns: readonly ResultColumn[], batch: ChangeBatch, i: number): string {
  const row: Record<string, JsonValue> = {}
  const chunk = batch.chunk
  for (let c = 0; c < columns.length; c++)
    row[columns[c].name] = toJson(chunk.columns[c][i] ?? null, columns[c].type, 'UTC')
  const position = batch.snapshot ? batch.position : batch.position + i
  return `{"position":${position},"op":"${chunk.ops[i] > 0 ? 'insert' : 'delete'}","row":${JSON.stringify(row)}}`
}

/** Streams until the subscription ends; `write` returns false when the client is not keeping up. */
async function pump(
  sub: ChangeSubscription,
  onBatch: (batch: ChangeBatch) => boolean,
  onSnapshotEnd: () => void,
  drained: () => Promise<void>,
): Promise<void> {
  let inSnapshot = true
  for (;;) {
    const batch = sub.poll(STEP_ROWS)
    // A snapshot still being read from disk has not ended because nothing is ready yet.
    if (batch === undefined ? sub.readingSnapshot !== true : !batch.snapshot) {
      if (inSnapshot) {
        inSnapshot = false
        onSnapshotEnd()
      }
    }
    if (batch === undefined) {
      if (sub.closed) return
      await sub.ready()
      continue
    }
    if (!onBatch(batch)) await drained()
  }
}

export function registerSubscribeRoutes(app: FastifyInstance, options: SubscribeRouteOptions): void {
  const { db, onStream } = options
  const heartbeatMs = options.heartbeatMs ?? 15_000
  const live = new Set<ChangeSubscription>()

  app.addHook('preClose', async () => {
    for (const s of live) s.close()
  })

  const sse = async (
    req: FastifyRequest<{ Params: { view: string } }>,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> => {
    const header = req.headers['last-event-id']
    const opts = requestOptions(req.query, typeof header === 'string' && header.trim() !== '' ? header : undefined)
    if ('status' in opts) return sendProblem(reply, opts)
    let opened: { sub: ChangeSubscription; reset: boolean }
    try {
      opened = open(db, req.params.view, opts)
    } catch (e) {
      return sendProblem(reply, problemOf(e))
    }
    const { sub, reset } = opened
    live.add(sub)
    onStream?.('sse', 1)
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    const close = (): void => sub.close()
    res.on('close', close)
    const heartbeat = setInterval(() => res.write(': keepalive\n\n'), heartbeatMs)
    heartbeat.unref()
    res.write('retry: 1000\n\n')
    if (reset) res.write(`event: reset\ndata: {"position":${sub.startPosition}}\n\n`)
    const columns = sub.columns
    try {
      await pump(
        sub,
        (batch) => {
          const parts: string[] = []
          for (let i = 0; i < batch.chunk.length; i++) {
            const data = changeJson(columns, batch, i)
            parts.push(batch.snapshot ? `data: ${data}\n\n` : `id: ${batch.position + i}\ndata: ${data}\n\n`)
          }
          return res.write(parts.join(''))
        },
        () => {
          if (opts.snapshot !== false && opts.from === undefined)
            res.write(`id: ${sub.startPosition}\nevent: snapshot\ndata: {"position":${sub.startPosition}}\n\n`)
          else if (reset)
            res.write(`id: ${sub.startPosition}\nevent: snapshot\ndata: {"position":${sub.startPosition}}\n\n`)
        },
        () =>
          new Promise<void>((resolve) => {
            if (res.destroyed) return resolve()
            const done = (): void => {
              res.off('drain', done)
              res.off('close', done)
              resolve()
            }
            res.on('drain', done)
            res.on('close', done)
          }),
      )
    } catch (e) {
      if (!res.destroyed)
        res.write(`event: problem\ndata: ${JSON.stringify(problemBody(problemOf(toSluiceError(e))))}\n\n`)
    } finally {
      clearInterval(heartbeat)
      res.off('close', close)
      live.delete(sub)
      sub.close()
      onStream?.('sse', -1)
      res.end()
    }
    return undefined
  }

  const websocket = (socket: WebSocket, req: FastifyRequest): void => {
    const params = req.params as { view?: string }
    const opts = requestOptions(req.query, undefined)
    const fail = (p: Problem): void => {
      socket.send(JSON.stringify({ type: 'problem', problem: problemBody(p) }))
      socket.close(4000, p.code)
    }
    if ('status' in opts) return fail(opts)
    let opened: { sub: ChangeSubscription; reset: boolean }
    try {
      opened = open(db, params.view ?? '', opts)
    } catch (e) {
      return fail(problemOf(e))
    }
    const { sub, reset } = opened
    live.add(sub)
    onStream?.('websocket', 1)
    socket.on('close', () => sub.close())
    socket.on('error', () => sub.close())
    // Client messages are not part of the protocol: they are ignored.
    socket.on('message', () => {})
    if (reset) socket.send(`{"type":"reset","position":${sub.startPosition}}`)
    const columns = sub.columns
    let lastSend: Promise<void> = Promise.resolve()
    void pump(
      sub,
      (batch) => {
        for (let i = 0; i < batch.chunk.length; i++) {
          const frame = changeJson(columns, batch, i)
          lastSend = new Promise<void>((resolve) => socket.send(frame, () => resolve()))
        }
        return socket.bufferedAmount < WS_HIGH_WATER
      },
      () => {
        if ((opts.snapshot !== false && opts.from === undefined) || reset)
          socket.send(`{"type":"snapshot","position":${sub.startPosition}}`)
      },
      () => lastSend,
    )
      .then(
        () => {
          if (socket.readyState === socket.OPEN) socket.close(1000)
        },
        (e: unknown) => {
          if (socket.readyState === socket.OPEN) fail(problemOf(toSluiceError(e)))
        },
      )
      .finally(() => {
        live.delete(sub)
        sub.close()
        onStream?.('websocket', -1)
      })
  }

  app.route<{ Params: { view: string } }>({
    method: 'GET',
    url: '/v1/subscribe/:view',
    handler: sse,
    wsHandler: websocket,
  })
}
