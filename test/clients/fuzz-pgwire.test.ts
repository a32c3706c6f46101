/**
 * 100,000 random and mutated frontend messages against a Sluice server process over real sockets:
 * well-framed messages of every type with random fields, valid messages with flipped bytes,
 * truncated and lying length words, unknown types. The server never crashes, every fuzzing
 * connection either keeps answering or is closed with an error, and a healthy session keeps
 * running queries before, during and after. A seeded generator makes a failure reproducible:
 * the seed is in the test name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Socket } from 'node:net'
import { connect } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type pg from 'pg'
import { SluiceProcess } from '../sluice-process.ts'

const SEED = 20_240_229
const MESSAGES = 100_000
const WORKERS = 8
const BATCH = 100

/** mulberry32: a small seeded generator. */
function generator(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Statements the fuzzer starts from (never SUBSCRIBE, which streams until cancelled). */
const SQL = [
  'SELECT 1',
  'SELECT k, v FROM fz WHERE k = $1',
  'SELECT $1::int8 + $2::int4',
  'SELECT $1::text',
  "SELECT * FROM pg_catalog.pg_class WHERE relname = 'fz'",
  'SELECT count(*) FROM fz',
  'SELECT * FROM nowhere',
  'SELECT 1/0',
  'INSERT INTO fz_log VALUES ($1)',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  "SET timezone = 'Europe/Paris'",
  'SET statement_timeout = 1000',
  'SHOW timezone',
  'FLUSH',
  'SELECT a.attname FROM pg_attribute a WHERE a.attrelid = (SELECT oid FROM pg_class WHERE relname = $1)',
  'COPY (SELECT k FROM fz) TO STDOUT',
  'COPY fz FROM STDIN',
  'CREATE TABLE fz_tmp (a INT)',
  'DROP TABLE IF EXISTS fz_tmp',
  '',
  ';;',
  'SELECT',
]
/** Message types by weight: mostly the query protocols, now and then one that ends the session. */
const TYPES = 'QQQQPPPPPBBBBBDDDEEEECCSSSHH' + 'QPBDES'.repeat(10) + 'XpdcfF'

function frame(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5)
  head.write(type, 0, 'latin1')
  head.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([head, body])
}

const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8')
const i16 = (n: number): Buffer => {
  const b = Buffer.alloc(2)
  b.writeInt16BE(n)
  return b
}
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n | 0)
  return b
}

class Fuzzer {
  constructor(private readonly rand: () => number) {}

  int(n: number): number {
    return Math.floor(this.rand() * n)
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]
  }

  bytes(n: number): Buffer {
    return Buffer.from(Array.from({ length: n }, () => this.int(256)))
  }

  name(): string {
    return this.pick(['', '', 's1', 's2', 'p1', 'x'.repeat(this.int(70))])
  }

  sql(): string {
    const s = this.pick(SQL)
    if (this.rand() < 0.2 && s.length > 0) {
      // A mutated statement: a character replaced, dropped or doubled.
      const i = this.int(s.length)
      const c = String.fromCharCode(32 + this.int(95))
      return this.pick([
        s.slice(0, i) + c + s.slice(i + 1),
        s.slice(0, i) + s.slice(i + 1),
        s.slice(0, i) + s[i] + s.slice(i),
      ])
    }
    return s
  }

  param(): Buffer {
    const r = this.rand()
    if (r < 0.1) return i32(-1)
    const data =
      r < 0.5
        ? Buffer.from(String(this.int(1000) - 500))
        : r < 0.7
          ? Buffer.from(this.pick(['fz', 'abc', '2024-01-01', '{1,2}', 't', 'NaN']))
          : this.bytes(this.int(12))
    return Buffer.concat([i32(data.length), data])
  }

  /** One well-framed message of a random type with random (often valid) fields. */
  message(): Buffer {
    const type = this.pick(TYPES.split(''))
    switch (type) {
      case 'Q':
        return frame('Q', cstr(this.sql()))
      case 'P': {
        const n = this.int(4)
        return frame(
          'P',
          Buffer.concat([
            cstr(this.name()),
            cstr(this.sql()),
            i16(n),
            ...Array.from({ length: n }, () => i32(this.pick([0, 0, 20, 23, 25, 1043, 16, 1700, 99999, -1]))),
          ]),
        )
      }
      case 'B': {
        const nf = this.int(3)
        const np = this.int(4)
        const nr = this.int(3)
        return frame(
          'B',
          Buffer.concat([
            cstr(this.name()),
            cstr(this.name()),
            i16(nf),
            ...Array.from({ length: nf }, () => i16(this.int(3))),
            i16(np),
            ...Array.from({ length: np }, () => this.param()),
            i16(nr),
            ...Array.from({ length: nr }, () => i16(this.int(3))),
          ]),
        )
      }
      case 'D':
      case 'C':
        return frame(
          type,
          Buffer.concat([Buffer.from(this.rand() < 0.02 ? 'Z' : this.pick(['S', 'P'])), cstr(this.name())]),
        )
      case 'E':
        return frame('E', Buffer.concat([cstr(this.name()), i32(this.pick([0, 1, 2, 5, -1, 1000]))]))
      case 'S':
      case 'H':
        return frame(type, Buffer.alloc(0))
      case 'X':
        return this.rand() < 0.2 ? frame('X', Buffer.alloc(0)) : frame('S', Buffer.alloc(0))
      default:
        return frame(type, this.bytes(this.int(20)))
    }
  }

  /**
   * A message, sometimes mutated: flipped bytes, a cut, a lying length or an unknown type.
   * `desync`: the framing no longer matches what was sent, so nothing after it can be read as
   * intended (the server rightly waits for the rest, as PostgreSQL does): the sender hangs up.
   */
  next(): { data: Buffer; desync: boolean } {
    const m = this.message()
    const r = this.rand()
    if (r < 0.9) return { data: m, desync: false }
    if (r < 0.97) return { data: this.mutate(m, r), desync: r >= 0.95 }
    return { data: this.mutate(m, r), desync: r < 0.99 }
  }

  private mutate(m: Buffer, r: number): Buffer {
    if (r < 0.95) {
      const copy = Buffer.from(m)
      for (let k = 0; k < 1 + this.int(3); k++) {
        const at = 5 + this.int(Math.max(1, copy.length - 5))
        if (at < copy.length) copy[at] ^= 1 << this.int(8)
      }
      return copy
    }
    if (r < 0.97) return m.subarray(0, this.int(m.length))
    if (r < 0.99) {
      const copy = Buffer.from(m)
      copy.writeInt32BE(this.pick([0, 3, 2 ** 31 - 1, -5, copy.length + 100]), 1)
      return copy
    }
    return frame(String.fromCharCode(this.int(256)), this.bytes(this.int(30)))
  }
}

function startup(): Buffer {
  const body = Buffer.concat([
    i32(196608),
    cstr('user'),
    cstr('sluice'),
    cstr('database'),
    cstr('sluice'),
    Buffer.from([0]),
  ])
  return Buffer.concat([i32(body.length + 4), body])
}

/** Reads backend messages off a socket: resolves when a DataRow holding `marker` arrives, or the socket closes. */
class Session {
  private buf: Buffer = Buffer.alloc(0)
  private waiting: { marker: string; resolve: (answered: boolean) => void } | undefined
  closed = false

  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => this.onData(d))
    socket.on('error', () => {})
    socket.on('close', () => {
      this.closed = true
      this.waiting?.resolve(false)
    })
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d])
    while (this.buf.length >= 5) {
      const len = this.buf.readInt32BE(1)
      if (this.buf.length < len + 1) break
      const type = String.fromCharCode(this.buf[0])
      const body = this.buf.subarray(5, len + 1)
      this.buf = this.buf.subarray(len + 1)
      if (type === 'D' && this.waiting !== undefined && body.includes(this.waiting.marker)) this.waiting.resolve(true)
    }
  }

  /** Sends `data` and hangs up; resolves once the server has closed the connection. */
  async hangUp(data: Buffer): Promise<void> {
    if (this.closed) return
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()))
    this.socket.end(data)
    const timer = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000).unref())
    if ((await Promise.race([closed, timer])) === 'hung')
      throw new Error('the server kept a connection open after the client hung up')
  }

  /** Sends `data`, then Sync and a marker query; true when the marker came back, false when closed. */
  async roundTrip(data: Buffer, marker: string): Promise<boolean> {
    if (this.closed) return false
    const answered = new Promise<boolean>((resolve) => (this.waiting = { marker, resolve }))
    this.socket.write(Buffer.concat([data, frame('S', Buffer.alloc(0)), frame('Q', cstr(`SELECT '${marker}'`))]))
    const timer = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000).unref())
    const outcome = await Promise.race([answered, timer])
    this.waiting = undefined
    if (outcome === 'hung') throw new Error(`the server stopped answering a fuzzing connection (${marker})`)
    return outcome
  }
}

async function open(port: number): Promise<Session> {
  const socket = connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve())
    socket.once('error', reject)
  })
  const s = new Session(socket)
  socket.write(startup())
  return s
}

describe('pgwire fuzzing', () => {
  let dir: string
  let sluice: SluiceProcess
  let health: pg.Client

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-fuzz-'))
    sluice = await SluiceProcess.create(dir, ['--checkpoint-interval', '0'])
    await sluice.start()
    await sluice.query('CREATE TABLE fz (k BIGINT PRIMARY KEY, v TEXT)')
    await sluice.query("INSERT INTO fz VALUES (1, 'one'), (2, 'two')")
    await sluice.query('CREATE TABLE fz_log (v TEXT) APPEND ONLY')
    await sluice.query('CREATE TABLE health_check_rows (k BIGINT PRIMARY KEY)')
    await sluice.query('INSERT INTO health_check_rows VALUES (1), (2), (3)')
    health = await sluice.client()
  })

  afterAll(async () => {
    await health?.end().catch(() => {})
    await sluice.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const healthy = async (): Promise<void> => {
    expect((await health.query('SELECT count(*) AS n FROM health_check_rows')).rows).toEqual([{ n: '3' }])
  }

  it(`survives ${MESSAGES} random and mutated messages (seed ${SEED})`, async () => {
    await healthy()
    const rand = generator(SEED)
    let sent = 0
    let connections = 0
    let closedByServer = 0
    let healthChecks = 0
    let stop = false
    const checker = (async () => {
      while (!stop) {
        await healthy()
        healthChecks++
        await new Promise((r) => setTimeout(r, 50))
      }
    })()
    const worker = async (w: number): Promise<void> => {
      const fuzz = new Fuzzer(generator(Math.floor(rand() * 2 ** 31)))
      let session = await open(sluice.pgPort)
      connections++
      let round = 0
      while (sent < MESSAGES) {
        const batch: Buffer[] = []
        let desync = false
        for (let i = 0; i < BATCH && sent < MESSAGES && !desync; i++, sent++) {
          const m = fuzz.next()
          batch.push(m.data)
          desync = m.desync
        }
        const answered = desync
          ? (await session.hangUp(Buffer.concat(batch)), false)
          : await session.roundTrip(Buffer.concat(batch), `marker-${w}-${round++}`)
        if (!answered) {
          closedByServer++
          session.socket.destroy()
          session = await open(sluice.pgPort)
          connections++
        }
      }
      session.socket.destroy()
    }
    try {
      await Promise.all(Array.from({ length: WORKERS }, (_x, w) => worker(w)))
    } finally {
      stop = true
      await checker
    }
    expect(sent).toBe(MESSAGES)
    expect(healthChecks).toBeGreaterThan(0)
    // The server is alive, answers new sessions and the old healthy one.
    await healthy()
    const fresh = await sluice.query('SELECT v FROM fz WHERE k = 2')
    expect(fresh.rows).toEqual([{ v: 'two' }])
    expect(sluice.output).not.toMatch(/pgwire connection loop failed|uncaughtException|unhandledRejection/)
    console.log(
      `pgwire fuzz: ${sent} messages over ${connections} connections (${closedByServer} ended: the server closed them after an error, or the fuzzer hung up after a broken frame), ${healthChecks} health checks`,
    )
  }, 180_000)
})
