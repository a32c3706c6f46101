// SUBSCRIBE over HTTP against a listening server with real clients: Server-Sent Events read with
// node's fetch (snapshot, changes with ids, resume with Last-Event-ID, reset when too old, the
// problem event when a client falls behind) and WebSocket with the `ws` package.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import type { FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import { Sluice } from '../../engine/index.ts'
import { buildHttpApp } from './app.ts'

let db: Sluice
let app: FastifyInstance
let base = ''

beforeAll(async () => {
  db = await Sluice.open({ dataDir: ':memory:', changeLogRows: 20 })
  await db.sql('CREATE TABLE httpsub_t (k BIGINT, name TEXT) APPEND ONLY')
  await db.sql('CREATE MATERIALIZED VIEW httpsub_v AS SELECT k, count(*) AS n FROM httpsub_t GROUP BY k')
  await db.sql(`INSERT INTO httpsub_t VALUES (1, 'a'), (2, 'b')`)
  app = buildHttpApp({ db, heartbeatMs: 50 })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
})

afterAll(async () => {
  await app.close()
  await db.close()
})

interface SseEvent {
  id?: string
  event?: string
  data: string
}

/** An SSE reader over fetch: `next()` gives the next event (comments skipped). */
async function sse(path: string, headers: Record<string, string> = {}) {
  const abort = new AbortController()
  const res = await fetch(base + path, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal })
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  let ended = false
  const next = async (): Promise<SseEvent | undefined> => {
    for (;;) {
      const cut = buffer.indexOf('\n\n')
      if (cut >= 0) {
        const block = buffer.slice(0, cut)
        buffer = buffer.slice(cut + 2)
        const ev: SseEvent = { data: '' }
        let any = false
        for (const line of block.split('\n')) {
          if (line.startsWith(':') || line === '') continue
          const colon = line.indexOf(':')
          const field = line.slice(0, colon)
          const value = line.slice(colon + 1).replace(/^ /, '')
          if (field === 'id') ev.id = value
          else if (field === 'event') ev.event = value
          else if (field === 'data') ev.data += value
          else continue
          any = true
        }
        if (any) return ev
        continue
      }
      if (ended) return undefined
      const { value, done } = await reader.read()
      if (done) ended = true
      else buffer += decoder.decode(value, { stream: true })
    }
  }
  /** Events until one matches `stop` (included). */
  const until = async (stop: (e: SseEvent) => boolean): Promise<SseEvent[]> => {
    const out: SseEvent[] = []
    for (;;) {
      const e = await next()
      if (e === undefined) return out
      out.push(e)
      if (stop(e)) return out
    }
  }
  return { res, next, until, close: () => abort.abort() }
}

describe('SUBSCRIBE over Server-Sent Events', () => {
  it('streams the snapshot, a snapshot marker, then changes with positions as ids', async () => {
    const s = await sse('/v1/subscribe/httpsub_v')
    expect(s.res.status).toBe(200)
    expect(s.res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const snapshot = await s.until((e) => e.event === 'snapshot')
    const marker = snapshot.pop()!
    const p0 = JSON.parse(marker.data).position as number
    expect(marker.id).toBe(String(p0))
    expect(snapshot.map((e) => JSON.parse(e.data)).sort((a, b) => a.row.k - b.row.k)).toEqual([
      { position: p0, op: 'insert', row: { k: 1, n: 1 } },
      { position: p0, op: 'insert', row: { k: 2, n: 1 } },
    ])
    expect(snapshot.every((e) => e.id === undefined)).toBe(true)
    await db.sql(`INSERT INTO httpsub_t VALUES (2, 'c')`)
    const a = (await s.next())!
    const b = (await s.next())!
    expect([a.id, JSON.parse(a.data)]).toEqual([
      String(p0 + 1),
      { position: p0 + 1, op: 'delete', row: { k: 2, n: 1 } },
    ])
    expect([b.id, JSON.parse(b.data)]).toEqual([
      String(p0 + 2),
      { position: p0 + 2, op: 'insert', row: { k: 2, n: 2 } },
    ])
    s.close()
  })

  it('resumes after Last-Event-ID with the changes missed, and resets when it is too old', async () => {
    const s = await sse('/v1/subscribe/httpsub_v?snapshot=false')
    await db.sql(`INSERT INTO httpsub_t VALUES (3, 'x')`)
    const seen = (await s.next())!
    s.close()
    await db.sql(`INSERT INTO httpsub_t VALUES (4, 'y')`)
    const resumed = await sse('/v1/subscribe/httpsub_v', { 'last-event-id': seen.id! })
    const missed = (await resumed.next())!
    expect(Number(missed.id)).toBe(Number(seen.id) + 1)
    expect(JSON.parse(missed.data).row).toEqual({ k: 4, n: 1 })
    resumed.close()
    // Push the old position out of the 20-row change log.
    for (let i = 0; i < 12; i++) await db.sql(`INSERT INTO httpsub_t VALUES (${100 + i}, 'z'), (${200 + i}, 'z')`)
    const old = await sse('/v1/subscribe/httpsub_v', { 'last-event-id': seen.id! })
    const first = (await old.next())!
    expect(first.event).toBe('reset')
    const rest = await old.until((e) => e.event === 'snapshot')
    expect(rest.length - 1).toBe(28)
    old.close()
  })

  it('sends a problem event and ends the stream when the client falls behind (54000)', async () => {
    const s = await sse('/v1/subscribe/httpsub_v?snapshot=false&queue_max=3')
    // One batch of more changes than the queue holds: the subscriber is cut off at once.
    await db.sql(`INSERT INTO httpsub_t VALUES (900, 'q'), (901, 'q'), (902, 'q'), (903, 'q'), (904, 'q')`)
    const events = await s.until((e) => e.event === 'problem')
    const problem = JSON.parse(events[events.length - 1].data)
    expect(problem.code).toBe('54000')
    expect(await s.next()).toBeUndefined()
    // The engine goes on.
    const [r] = await db.sql('SELECT n FROM httpsub_v WHERE k = 900')
    expect(r.rows).toEqual([[1n]])
  })

  it('answers bad requests with problem documents before streaming', async () => {
    const missing = await fetch(`${base}/v1/subscribe/httpsub_missing`)
    expect(missing.status).toBe(404)
    expect(missing.headers.get('content-type')).toMatch(/problem\+json/)
    expect(((await missing.json()) as { code: string }).code).toBe('42P01')
    for (const q of ['from=abc', 'snapshot=maybe', 'queue_max=0', 'bogus=1', 'from=99999999999999999']) {
      const res = await fetch(`${base}/v1/subscribe/httpsub_v?${q}`)
      expect([q, res.status]).toEqual([q, 400])
      expect(((await res.json()) as { code: string }).code).toBe('22023')
    }
  })

  it('keeps idle streams alive with comments', async () => {
    const res = await fetch(`${base}/v1/subscribe/httpsub_v?snapshot=false`)
    const reader = res.body!.getReader()
    let text = ''
    while (!text.includes(': keepalive')) text += new TextDecoder().decode((await reader.read()).value)
    await reader.cancel()
  })
})

/** A WebSocket client collecting JSON messages. */
async function ws(path: string) {
  const socket = new WebSocket(base.replace('http', 'ws') + path)
  const messages: Record<string, unknown>[] = []
  let closeCode: number | undefined
  socket.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as Record<string, unknown>))
  socket.on('close', (code: number) => (closeCode = code))
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
  })
  const waitFor = async (n: number): Promise<void> => {
    for (let i = 0; i < 500 && messages.length < n; i++) await new Promise((r) => setTimeout(r, 10))
    expect(messages.length).toBeGreaterThanOrEqual(n)
  }
  return { socket, messages, waitFor, closeCode: () => closeCode }
}

describe('SUBSCRIBE over WebSocket', () => {
  it('sends the snapshot, the marker and then changes as JSON messages', async () => {
    const c = await ws('/v1/subscribe/httpsub_v')
    const [r] = await db.sql('SELECT count(*) FROM httpsub_v')
    const rows = Number(r.rows![0][0])
    await c.waitFor(rows + 1)
    const marker = c.messages[rows]
    expect(marker.type).toBe('snapshot')
    await db.sql(`INSERT INTO httpsub_t VALUES (5000, 'w')`)
    await c.waitFor(rows + 2)
    expect(c.messages[rows + 1]).toEqual({
      position: (marker.position as number) + 1,
      op: 'insert',
      row: { k: 5000, n: 1 },
    })
    c.socket.close()
  })

  it('resumes with ?from= and reports errors as a problem message and close code 4000', async () => {
    const c = await ws('/v1/subscribe/httpsub_v?snapshot=false')
    await db.sql(`INSERT INTO httpsub_t VALUES (6000, 'w')`)
    await c.waitFor(1)
    const at = c.messages[0].position as number
    c.socket.close()
    await db.sql(`INSERT INTO httpsub_t VALUES (6001, 'w')`)
    const again = await ws(`/v1/subscribe/httpsub_v?from=${at}`)
    await again.waitFor(1)
    expect(again.messages[0]).toEqual({ position: at + 1, op: 'insert', row: { k: 6001, n: 1 } })
    again.socket.close()
    const bad = await ws('/v1/subscribe/httpsub_nope')
    await bad.waitFor(1)
    expect(bad.messages[0]).toMatchObject({ type: 'problem', problem: { code: '42P01', status: 404 } })
    for (let i = 0; i < 200 && bad.closeCode() === undefined; i++) await new Promise((r) => setTimeout(r, 10))
    expect(bad.closeCode()).toBe(4000)
  })
})
