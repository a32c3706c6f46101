// The protocol byte by byte over raw sockets: encryption refusal, binary formats, Describe,
// row-limited Execute, error recovery at Sync, and robustness against garbage, truncated
// messages, huge length prefixes and messages before startup. The server must stay up and a
// `pg` client must still work afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, type Socket } from 'node:net'
import pg from 'pg'
import { serialize } from 'pg-protocol'
import type { PreparedDescription, ResultColumn, Session, StatementResult } from '../../engine/session-api.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import { T } from '../../engine/types/datatype.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { SluiceError } from '../../engine/errors.ts'
import { startPgServer } from './server.ts'
import type { PgServer } from './server.ts'

const col = (name: string, type: DataType): ResultColumn => ({ name, type })
const US_2024 = Date.parse('2024-01-02T03:04:05Z') * 1000
const TYPED: StatementResult = {
  tag: 'SELECT 1',
  columns: [
    col('i8', T.int8),
    col('t', T.text),
    col('ts', T.timestamptz),
    col('n', T.numeric),
    col('b', T.bool),
    col('d', T.date),
    col('f', T.float8),
    col('arr', { kind: 'array', element: T.int4 }),
  ],
  rows: [[-2n, 'ü', US_2024, Decimal.fromString('-1234.5678'), false, 19_724, 1.5, [1, 2]]],
}
const FIVE: StatementResult = { tag: 'SELECT 5', columns: [col('n', T.int4)], rows: [[1], [2], [3], [4], [5]] }
const BIG_ROWS = 20_000
const BIG: StatementResult = {
  tag: `SELECT ${BIG_ROWS}`,
  columns: [col('pad', T.text)],
  rows: Array.from({ length: BIG_ROWS }, () => ['y'.repeat(1000)]),
}

/** A deterministic stand-in for the engine. */
class TestSession implements Session {
  readonly reportedSettings: ReadonlyMap<string, string> = new Map()
  async execute(sql: string, params: readonly Value[] = []): Promise<StatementResult[]> {
    return sql
      .split(';')
      .filter((s) => s.trim() !== '')
      .map((s) => this.one(s.trim(), params))
  }
  private one(sql: string, params: readonly Value[]): StatementResult {
    if (sql === 'SELECT 1') return { tag: 'SELECT 1', columns: [col('?column?', T.int4)], rows: [[1]] }
    if (sql === 'SELECT typed') return TYPED
    if (sql === 'SELECT five') return FIVE
    if (sql === 'SELECT big') return BIG
    if (sql === 'SELECT $1::int8, $2::text')
      return { tag: 'SELECT 1', columns: [col('a', T.int8), col('b', T.text)], rows: [[params[0], params[1]]] }
    throw new SluiceError('42601', `syntax error at or near "${sql.split(' ')[0]}"`, { position: 1 })
  }
  async describe(sql: string): Promise<PreparedDescription> {
    if (sql === 'SELECT $1::int8, $2::text')
      return { paramTypes: [T.int8, T.text], columns: [col('a', T.int8), col('b', T.text)] }
    return { paramTypes: [], columns: this.one(sql, []).columns }
  }
  setting(): string | undefined {
    return undefined
  }
  close(): void {}
}

interface BackendMessage {
  readonly type: string
  readonly body: Buffer
}

/** A minimal client that records every backend message. */
class RawClient {
  readonly messages: BackendMessage[] = []
  closed = false
  private buf = Buffer.alloc(0)
  private expectSslByte = false
  private waiters: (() => void)[] = []

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => this.onData(d))
    socket.on('close', () => {
      this.closed = true
      this.wake()
    })
    socket.on('error', () => {})
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawClient(s)))
      s.once('error', reject)
    })
  }

  send(...bufs: Buffer[]): void {
    this.socket.write(Buffer.concat(bufs))
  }

  sslRequest(code = 80877103): void {
    const b = Buffer.alloc(8)
    b.writeInt32BE(8, 0)
    b.writeInt32BE(code, 4)
    this.expectSslByte = true
    this.send(b)
  }

  async startup(): Promise<void> {
    this.send(serialize.startup({ user: 'sluice', database: 'sluice' }))
    await this.until('Z')
  }

  /** Waits for a message of `type` after `from`, or the socket closing; returns the new messages. */
  async until(type: string, from = this.messages.length): Promise<BackendMessage[]> {
    while (!this.messages.slice(from).some((m) => m.type === type) && !this.closed) {
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
    return this.messages.slice(from)
  }

  async untilClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((resolve) => this.waiters.push(resolve))
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d])
    if (this.expectSslByte && this.buf.length > 0) {
      this.messages.push({ type: `ssl:${String.fromCharCode(this.buf[0])}`, body: Buffer.alloc(0) })
      this.buf = this.buf.subarray(1)
      this.expectSslByte = false
    }
    while (this.buf.length >= 5) {
      const len = this.buf.readInt32BE(1)
      if (this.buf.length < 1 + len) break
      this.messages.push({ type: String.fromCharCode(this.buf[0]), body: this.buf.subarray(5, 1 + len) })
      this.buf = this.buf.subarray(1 + len)
    }
    this.wake()
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }
}

/** ErrorResponse fields by code letter. */
function fields(m: BackendMessage | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (m === undefined) return out
  let at = 0
  while (at < m.body.length && m.body[at] !== 0) {
    const code = String.fromCharCode(m.body[at])
    const end = m.body.indexOf(0, at + 1)
    out[code] = m.body.toString('utf8', at + 1, end)
    at = end + 1
  }
  return out
}

/** DataRow cells. */
function cells(m: BackendMessage): (Buffer | null)[] {
  const n = m.body.readInt16BE(0)
  const out: (Buffer | null)[] = []
  let at = 2
  for (let i = 0; i < n; i++) {
    const len = m.body.readInt32BE(at)
    at += 4
    out.push(len === -1 ? null : m.body.subarray(at, at + len))
    if (len > 0) at += len
  }
  return out
}

const types = (ms: readonly BackendMessage[]): string => ms.map((m) => m.type).join('')

let server: PgServer

beforeAll(async () => {
  server = await startPgServer({
    host: '127.0.0.1',
    port: 0,
    openSession: () => new TestSession(),
    auth: { mode: 'trust' },
    maxMessageLength: 1 << 20,
  })
})

afterAll(async () => {
  await server.close()
})

async function fatalOn(...payload: Buffer[]): Promise<Record<string, string>> {
  const c = await RawClient.open(server.port)
  c.send(...payload)
  await c.untilClosed()
  return fields(c.messages.find((m) => m.type === 'E'))
}

describe('pgwire on the wire', () => {
  it('refuses SSL and GSS encryption with N, then accepts a plain startup', async () => {
    const c = await RawClient.open(server.port)
    c.sslRequest()
    await c.until('ssl:N')
    c.sslRequest(80877104)
    await c.until('ssl:N', 1)
    await c.startup()
    expect(types(c.messages)).toMatch(/^ssl:Nssl:NR(S)+KZ$/)
    const from = c.messages.length
    c.send(serialize.query('SELECT 1'))
    expect(types(await c.until('Z', from))).toBe('TDCZ')
    c.send(serialize.query(''))
    expect(types(await c.until('Z', from + 4))).toBe('IZ')
    c.socket.end()
  })

  it('sends binary results for the binary-capable types and text for the rest', async () => {
    const c = await RawClient.open(server.port)
    await c.startup()
    const from = c.messages.length
    c.send(
      serialize.parse({ text: 'SELECT typed' }),
      serialize.bind({ binary: true }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    )
    const got = await c.until('Z', from)
    expect(types(got)).toBe('12TDCZ')
    // RowDescription formats: binary everywhere except the array column.
    const formats = readFormats(got[2])
    expect(formats).toEqual([1, 1, 1, 1, 1, 1, 1, 0])
    const [i8, t, ts, n, b, d, f, arr] = cells(got[3]) as Buffer[]
    expect(i8.readBigInt64BE()).toBe(-2n)
    expect(t.toString()).toBe('ü')
    expect(ts.readBigInt64BE()).toBe(BigInt(US_2024 - 946_684_800_000_000))
    // -1234.5678: digits [1234, 5678], weight 0, sign negative, dscale 4
    expect([...n]).toEqual([0, 2, 0, 0, 0x40, 0, 0, 4, 0x04, 0xd2, 0x16, 0x2e])
    expect([...b]).toEqual([0])
    expect(d.readInt32BE()).toBe(19_724 - 10_957)
    expect(f.readDoubleBE()).toBe(1.5)
    expect(arr.toString()).toBe('{1,2}')
    c.socket.end()
  })

  it('describes statements and accepts binary parameters', async () => {
    const c = await RawClient.open(server.port)
    await c.startup()
    const from = c.messages.length
    const i8 = Buffer.alloc(8)
    i8.writeBigInt64BE(77n)
    c.send(
      serialize.parse({ name: 'echo', text: 'SELECT $1::int8, $2::text' }),
      serialize.describe({ type: 'S', name: 'echo' }),
      serialize.bind({ statement: 'echo', values: [i8, Buffer.from('b')] }),
      serialize.execute({}),
      serialize.close({ type: 'S', name: 'echo' }),
      serialize.sync(),
    )
    const got = await c.until('Z', from)
    expect(types(got)).toBe('1tT2DC3Z')
    const oids = got[1].body
    expect([oids.readInt16BE(0), oids.readInt32BE(2), oids.readInt32BE(6)]).toEqual([2, 20, 25])
    expect(cells(got[4]).map((x) => x?.toString())).toEqual(['77', 'b'])
    c.socket.end()
  })

  it('hands out rows in pieces with PortalSuspended', async () => {
    const c = await RawClient.open(server.port)
    await c.startup()
    const from = c.messages.length
    c.send(
      serialize.parse({ text: 'SELECT five' }),
      serialize.bind({ portal: 'p' }),
      serialize.execute({ portal: 'p', rows: 2 }),
      serialize.flush(),
    )
    expect(types(await c.until('s', from))).toBe('12DDs')
    c.send(serialize.execute({ portal: 'p', rows: 2 }), serialize.execute({ portal: 'p', rows: 2 }), serialize.sync())
    const rest = await c.until('Z', from + 5)
    expect(types(rest)).toBe('DDsDCZ')
    expect(rest.filter((m) => m.type === 'D').map((m) => cells(m)[0]?.toString())).toEqual(['3', '4', '5'])
    c.socket.end()
  })

  it('ignores messages after an error until Sync, then carries on', async () => {
    const c = await RawClient.open(server.port)
    await c.startup()
    const from = c.messages.length
    c.send(serialize.parse({ text: 'SELEC 1' }), serialize.bind({}), serialize.execute({}), serialize.sync())
    const got = await c.until('Z', from)
    expect(types(got)).toBe('EZ')
    expect(fields(got[0])).toMatchObject({ S: 'ERROR', C: '42601', M: 'syntax error at or near "SELEC"', P: '1' })
    expect(got[1].body.toString()).toBe('I')
    c.send(serialize.bind({ statement: 'nope' }), serialize.sync())
    const missing = await c.until('Z', from + 2)
    expect(fields(missing[0])).toMatchObject({ C: '26000', M: 'prepared statement "nope" does not exist' })
    c.send(serialize.query('SELECT 1'))
    expect(types(await c.until('Z', from + 4))).toBe('TDCZ')
    c.socket.end()
  })

  it('waits for a slow reader instead of failing', async () => {
    const c = await RawClient.open(server.port)
    await c.startup()
    c.socket.pause()
    const from = c.messages.length
    c.send(serialize.query('SELECT big'))
    await new Promise((r) => setTimeout(r, 100))
    c.socket.resume()
    const got = await c.until('Z', from)
    expect(got.filter((m) => m.type === 'D')).toHaveLength(BIG_ROWS)
    c.socket.end()
  })

  it('answers NegotiateProtocolVersion to a newer minor version', async () => {
    const c = await RawClient.open(server.port)
    const body = Buffer.from('user\0sluice\0_pq_.fancy\0on\0\0')
    const head = Buffer.alloc(8)
    head.writeInt32BE(8 + body.length, 0)
    head.writeInt32BE(0x00030002, 4)
    c.send(head, body)
    const got = await c.until('Z')
    expect(got[0].type).toBe('v')
    expect(got[0].body.readInt32BE(0)).toBe(0)
    expect(got[0].body.subarray(8).toString()).toBe('_pq_.fancy\0')
    c.socket.end()
  })
})

describe('pgwire robustness', () => {
  it('refuses garbage before startup with FATAL 08P01', async () => {
    expect(await fatalOn(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).toMatchObject({ S: 'FATAL', C: '08P01' })
    expect(await fatalOn(serialize.query('SELECT 1'))).toMatchObject({ S: 'FATAL', C: '08P01' })
    const zero = Buffer.alloc(8)
    zero.writeInt32BE(8, 0)
    expect(await fatalOn(zero)).toMatchObject({ S: 'FATAL', C: '0A000' })
    // A startup packet whose parameter list ends inside a string.
    expect(await fatalOn(Buffer.from([0, 0, 0, 10, 0, 3, 0, 0, 0x61, 0x62]))).toMatchObject({ S: 'FATAL', C: '08P01' })
  })

  it('refuses a startup packet without a user', async () => {
    const body = Buffer.from('database\0x\0\0')
    const head = Buffer.alloc(8)
    head.writeInt32BE(8 + body.length, 0)
    head.writeInt32BE(196608, 4)
    expect(await fatalOn(head, body)).toMatchObject({ S: 'FATAL', C: '28000' })
  })

  it('closes on huge length prefixes, unknown types and malformed bodies after startup', async () => {
    const payloads = [
      Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]),
      Buffer.from([0x51, 0x00, 0x20, 0x00, 0x00]),
      Buffer.from([0x59, 0, 0, 0, 4]),
      Buffer.from([0x42, 0, 0, 0, 10, 0, 0, 0x7f, 0x7f, 0, 0]),
      Buffer.from([0x44, 0, 0, 0, 6, 0x58, 0]),
      Buffer.from([0x51, 0, 0, 0, 6, 0x41, 0x42]),
    ]
    for (const p of payloads) {
      const c = await RawClient.open(server.port)
      await c.startup()
      c.send(p)
      await c.untilClosed()
      expect(fields(c.messages.find((m) => m.type === 'E'))).toMatchObject({ S: 'FATAL', C: '08P01' })
    }
  })

  it('survives truncated messages, abrupt closes and a flood of bad connections', async () => {
    const jobs: Promise<void>[] = []
    for (let i = 0; i < 50; i++) {
      jobs.push(
        (async () => {
          const c = await RawClient.open(server.port)
          if (i % 3 === 0) c.send(serialize.startup({ user: 'x' }).subarray(0, 7 + (i % 5)))
          else if (i % 3 === 1) {
            await c.startup()
            c.send(serialize.query('SELECT 1').subarray(0, 6))
          } else c.send(Buffer.from(Array.from({ length: 64 }, (_, k) => (k * 37 + i) & 0xff)))
          c.socket.destroy()
        })(),
      )
    }
    await Promise.all(jobs)
    const client = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'sluice', database: 'sluice' })
    await client.connect()
    expect((await client.query('SELECT $1::int8, $2::text', [5, 'ok'])).rows).toEqual([{ a: '5', b: 'ok' }])
    await client.end()
    for (let i = 0; i < 300 && server.connections > 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(server.connections).toBe(0)
  })
})

function readFormats(rowDescription: BackendMessage): number[] {
  const b = rowDescription.body
  const n = b.readInt16BE(0)
  const out: number[] = []
  let at = 2
  for (let i = 0; i < n; i++) {
    at = b.indexOf(0, at) + 1
    out.push(b.readInt16BE(at + 16))
    at += 18
  }
  return out
}
