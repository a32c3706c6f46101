/**
 * The console's calls to the server: the credentials (kept for the tab in sessionStorage), JSON
 * requests, SQL through the public POST /v1/sql, and a SUBSCRIBE stream over Server-Sent Events
 * read with fetch (EventSource cannot send the Authorization header) that reconnects by itself.
 */

/** An RFC 9457 problem document as the API sends it. */
export interface Problem {
  readonly status: number
  readonly code: string
  readonly detail: string
  readonly position?: number
  readonly hint?: string
  readonly results?: readonly SqlResult[]
}

export interface SqlResult {
  readonly tag: string
  readonly columns?: readonly { readonly name: string; readonly type: string }[]
  readonly rows?: readonly (readonly unknown[])[]
  readonly notices?: readonly string[]
}

const AUTH_KEY = 'sluice-authorization'

/** The Authorization header the tab signs in with (a bearer token or basic user:password), if any. */
export function authorization(): string | null {
  return sessionStorage.getItem(AUTH_KEY)
}

/** Signs in with a bearer token or a user and password; null signs out. */
export function setCredentials(
  c: { readonly token: string } | { readonly user: string; readonly password: string } | null,
): void {
  if (c === null) sessionStorage.removeItem(AUTH_KEY)
  else if ('token' in c) sessionStorage.setItem(AUTH_KEY, `Bearer ${c.token}`)
  else {
    // btoa takes Latin-1 only: encode the UTF-8 bytes of the pair.
    const bytes = new TextEncoder().encode(`${c.user}:${c.password}`)
    sessionStorage.setItem(AUTH_KEY, `Basic ${btoa(String.fromCharCode(...bytes))}`)
  }
}

/** Raised when the server wants a (valid) token: the page shows the login form. */
export class Unauthorized extends Error {}

/** Connection state listeners (the header's indicator). */
type ConnListener = (ok: boolean, message: string) => void
const listeners: ConnListener[] = []
export function onConnection(l: ConnListener): void {
  listeners.push(l)
}
function connection(ok: boolean, message: string): void {
  for (const l of listeners) l(ok, message)
}

function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = {}
  const a = authorization()
  if (a !== null) h.authorization = a
  if (json) h['content-type'] = 'application/json'
  return h
}

async function request(path: string, init: RequestInit): Promise<Response> {
  let res: Response
  try {
    res = await fetch(path, init)
  } catch (e) {
    connection(false, 'server unreachable, retrying…')
    throw e
  }
  connection(true, 'live')
  if (res.status === 401) throw new Unauthorized('a token is needed')
  return res
}

/** GET a JSON endpoint; a problem answer throws it. */
export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await request(path, { headers: headers(false), signal })
  const body = (await res.json()) as unknown
  if (!res.ok) throw body as Problem
  return body as T
}

/** Runs SQL through POST /v1/sql: its results, or the problem (with the results before it). */
export async function runSql(sql: string, params?: readonly unknown[]): Promise<{ results: SqlResult[] } | Problem> {
  const res = await request('/v1/sql', {
    method: 'POST',
    headers: headers(true),
    body: JSON.stringify(params === undefined ? { sql } : { sql, params }),
  })
  return (await res.json()) as { results: SqlResult[] } | Problem
}

export function isProblem(x: unknown): x is Problem {
  return typeof x === 'object' && x !== null && 'code' in x && 'status' in x
}

/** One change of a SUBSCRIBE stream. */
export interface Change {
  readonly op: 'insert' | 'delete'
  readonly row: Record<string, unknown>
}

export interface StreamHandlers {
  /** A new snapshot starts (first connect, reconnect, reset): drop what is held. */
  begin(): void
  changes(batch: readonly Change[]): void
  /** The snapshot is complete. */
  snapshotEnd(): void
  /** The stream failed for good (the view was dropped, a bad name). */
  problem(p: Problem): void
  status(state: 'live' | 'reconnecting'): void
}

/**
 * Follows `/v1/subscribe/:view` until `signal` aborts. After a lost connection (a server restart)
 * it reconnects with a fresh snapshot — positions do not survive a restart — waiting a little
 * longer each time, up to 5 s.
 */
export async function follow(view: string, h: StreamHandlers, signal: AbortSignal): Promise<void> {
  let wait = 250
  while (!signal.aborted) {
    try {
      const res = await fetch(`/v1/subscribe/${encodeURIComponent(view)}`, {
        headers: { ...headers(false), accept: 'text/event-stream' },
        signal,
      })
      if (res.status === 401) throw new Unauthorized('a token is needed')
      if (!res.ok || res.body === null) {
        const body = (await res.json().catch(() => null)) as unknown
        if (isProblem(body) && res.status < 500) {
          h.problem(body)
          return
        }
        throw new Error(`HTTP ${res.status}`)
      }
      h.status('live')
      connection(true, 'live')
      h.begin()
      wait = 250
      if ((await readEvents(res.body, h, signal)) === 'failed') return
    } catch (e) {
      if (e instanceof Unauthorized) throw e
      if (signal.aborted) return
    }
    if (signal.aborted) return
    h.status('reconnecting')
    connection(false, 'reconnecting…')
    await new Promise((r) => setTimeout(r, wait))
    wait = Math.min(5000, wait * 2)
  }
}

/** Parses the SSE stream; changes are handed over per network read, not per row. */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  h: StreamHandlers,
  signal: AbortSignal,
): Promise<'ended' | 'failed'> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  signal.addEventListener('abort', () => void reader.cancel(), { once: true })
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return 'ended'
    buffer += decoder.decode(value, { stream: true })
    const batch: Change[] = []
    let end: number
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      let event = 'message'
      let data = ''
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim()
        else if (line.startsWith('data:')) data += line.slice(5).trimStart()
      }
      if (data === '') continue
      if (event === 'message') batch.push(JSON.parse(data) as Change)
      else if (event === 'snapshot' || event === 'reset') {
        if (batch.length > 0) h.changes(batch.splice(0))
        if (event === 'snapshot') h.snapshotEnd()
        else h.begin()
      } else if (event === 'problem') {
        if (batch.length > 0) h.changes(batch.splice(0))
        const p = JSON.parse(data) as Problem
        // Shutdown (57P01) ends the stream but the server comes back: reconnect.
        if (p.code === '57P01') return 'ended'
        h.problem(p)
        return 'failed'
      }
    }
    if (batch.length > 0) h.changes(batch)
  }
}
