// The frontend message reader and decoder: one byte stream split at every offset (and into
// single bytes) yields the same messages; bad lengths are refused before any body is buffered.
import { describe, expect, it } from 'vitest'
import { serialize } from 'pg-protocol'
import { MessageReader } from './reader.ts'
import type { RawMessage } from './reader.ts'
import { decodeMessage, decodeStartup } from './frontend.ts'
import type { FrontendMessage } from './frontend.ts'
import { WireError } from './errors.ts'

const stream = Buffer.concat([
  serialize.startup({ user: 'sluice', database: 'db', application_name: 'psql' }),
  serialize.query('SELECT 1'),
  serialize.parse({ name: 's1', text: 'SELECT $1::int8', types: [20] }),
  serialize.bind({ portal: 'p', statement: 's1', values: ['42', null], binary: true }),
  serialize.describe({ type: 'P', name: 'p' }),
  serialize.execute({ portal: 'p', rows: 10 }),
  serialize.close({ type: 'S', name: 's1' }),
  serialize.flush(),
  serialize.sync(),
  serialize.end(),
])

function readAll(chunks: readonly Buffer[]): RawMessage[] {
  const reader = new MessageReader(1 << 20)
  const out: RawMessage[] = []
  for (const chunk of chunks) {
    reader.push(chunk)
    for (let m = reader.next(); m !== undefined; m = reader.next()) {
      // The body must survive later pushes (the reader may not reuse its memory).
      out.push({ type: m.type, body: Buffer.from(m.body) })
      if (m.type === '') reader.startup = false
    }
  }
  expect(reader.buffered).toBe(0)
  return out
}

const kinds = (ms: readonly RawMessage[]): string[] =>
  ms.map((m) => (m.type === '' ? decodeStartup(m).kind : decodeMessage(m).kind))

describe('MessageReader', () => {
  const whole = readAll([stream])

  it('frames a stream of startup and typed messages', () => {
    expect(kinds(whole)).toEqual([
      'startup',
      'query',
      'parse',
      'bind',
      'describe',
      'execute',
      'close',
      'flush',
      'sync',
      'terminate',
    ])
    const startup = decodeStartup(whole[0])
    expect(startup.kind === 'startup' && Object.fromEntries(startup.params)).toEqual({
      user: 'sluice',
      database: 'db',
      application_name: 'psql',
      client_encoding: 'UTF8',
    })
    const bind = decodeMessage(whole[3]) as Extract<FrontendMessage, { kind: 'bind' }>
    expect(bind.portal).toBe('p')
    expect(bind.params.map((p) => (p === null ? null : p.toString()))).toEqual(['42', null])
    expect(bind.resultFormats).toEqual([1])
  })

  it('yields the same messages when the stream is split at every offset', () => {
    for (let at = 0; at <= stream.length; at++) {
      expect(readAll([stream.subarray(0, at), stream.subarray(at)])).toEqual(whole)
    }
  })

  it('yields the same messages when every byte arrives alone', () => {
    const bytes: Buffer[] = []
    for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1))
    expect(readAll(bytes)).toEqual(whole)
  })

  it('refuses a length word over the cap before the body arrives', () => {
    const reader = new MessageReader(1000)
    reader.startup = false
    reader.push(Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]))
    expect(() => reader.next()).toThrow(WireError)
    const small = new MessageReader(1000)
    small.startup = false
    small.push(Buffer.from([0x51, 0, 0, 0, 2]))
    expect(() => small.next()).toThrow(/invalid message of type "Q" length 2/)
  })

  it('refuses startup packets that are too long, as an HTTP request would look', () => {
    const reader = new MessageReader(1 << 20)
    reader.push(Buffer.from('GET / HTTP/1.1\r\n\r\n'))
    expect(() => reader.next()).toThrow(/invalid startup packet length/)
  })
})

describe('decodeMessage', () => {
  const typed = (type: string, body: number[]): RawMessage => ({ type, body: Buffer.from(body) })

  it('refuses unknown message types and malformed bodies as FATAL protocol violations', () => {
    for (const m of [
      typed('Y', []),
      typed('E', [0]),
      typed('B', [0, 0, 0x7f, 0x7f]),
      typed('D', [0x58, 0]),
      typed('S', [1]),
    ]) {
      let error: unknown
      try {
        decodeMessage(m)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(WireError)
      expect((error as WireError).code).toBe('08P01')
      expect((error as WireError).severity).toBe('FATAL')
    }
  })
})
