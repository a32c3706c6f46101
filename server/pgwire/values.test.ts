// Binary wire formats checked against PostgreSQL itself: for each value, the bytes PostgreSQL's
// send function produces must equal what encodeValue produces, and decodeParam must read them back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, type Socket } from 'node:net'
import { serialize } from 'pg-protocol'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import { T } from '../../engine/types/datatype.ts'
import { parseText } from '../../engine/types/text.ts'
import { decodeParam, encodeValue } from './values.ts'

/** Just enough of a client to fetch one binary cell from PostgreSQL. */
class Oracle {
  private buf = Buffer.alloc(0)
  private waiting: (() => void) | undefined

  constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d])
      this.waiting?.()
    })
  }

  static async open(): Promise<Oracle> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(5432, '127.0.0.1', () => resolve(s))
      s.once('error', reject)
    })
    const o = new Oracle(socket)
    socket.write(serialize.startup({ user: 'postgres', database: 'postgres', TimeZone: 'UTC' }))
    await o.untilReady()
    return o
  }

  /** The binary form PostgreSQL sends for `sql` (one row, one column). */
  async binary(sql: string): Promise<Buffer> {
    this.buf = Buffer.alloc(0)
    this.socket.write(
      Buffer.concat([
        serialize.parse({ text: sql }),
        serialize.bind({ binary: true }),
        serialize.execute({}),
        serialize.sync(),
      ]),
    )
    const messages = await this.untilReady()
    const error = messages.find((m) => m.type === 'E')
    if (error !== undefined) throw new Error(error.body.toString())
    const row = messages.find((m) => m.type === 'D')
    if (row === undefined) throw new Error('no row')
    const len = row.body.readInt32BE(2)
    return Buffer.from(row.body.subarray(6, 6 + len))
  }

  private async untilReady(): Promise<{ type: string; body: Buffer }[]> {
    for (;;) {
      const out: { type: string; body: Buffer }[] = []
      let at = 0
      while (at + 5 <= this.buf.length) {
        const len = this.buf.readInt32BE(at + 1)
        if (at + 1 + len > this.buf.length) break
        out.push({ type: String.fromCharCode(this.buf[at]), body: this.buf.subarray(at + 5, at + 1 + len) })
        at += 1 + len
      }
      if (out.some((m) => m.type === 'Z')) return out
      await new Promise<void>((resolve) => (this.waiting = resolve))
    }
  }

  close(): void {
    this.socket.end()
  }
}

const CASES: [string, DataType][] = [
  ['12.50', T.numeric],
  ['-1234.5678', T.numeric],
  ['0', T.numeric],
  ['0.00', T.numeric],
  ['0.0001', T.numeric],
  ['-0.00012345', T.numeric],
  ['10000', T.numeric],
  ['123456789012345678901234567890.123456789', T.numeric],
  ['1e20', T.numeric],
  ['9223372036854775807', T.int8],
  ['-32768', T.int2],
  ['2147483647', T.int4],
  ['3.14159', T.float4],
  ['-2.5e-300', T.float8],
  ['true', T.bool],
  ['2024-02-29', T.date],
  ['1969-07-20', T.date],
  ['2024-01-02 03:04:05.678901', T.timestamp],
  ['1900-01-01 00:00:00', T.timestamp],
  ['2024-06-01 12:00:00+02', T.timestamptz],
  ['13:14:15.5', T.time],
  ['1 year 2 mons 3 days 04:05:06.789', T.interval],
  ['-3 days -00:00:01', T.interval],
  ['héllo', T.text],
  ['\\x00ff10', T.bytea],
  ['{"a": [1, 2.5, null]}', T.jsonb],
]

let oracle: Oracle
beforeAll(async () => {
  oracle = await Oracle.open()
})
afterAll(() => oracle.close())

describe('binary formats match PostgreSQL', () => {
  it.each(CASES)('%s as %o', async (text, type) => {
    const name = type.kind === 'jsonb' ? 'jsonb' : type.kind
    const expected = await oracle.binary(`SELECT '${text.replaceAll("'", "''")}'::${name}`)
    const value: Value = parseText(type, text, 'UTC')
    expect(encodeValue(value, type, 1, 'UTC')).toEqual(expected)
    const back = decodeParam(expected, type, 1, 'UTC')
    expect(encodeValue(back, type, 1, 'UTC')).toEqual(expected)
  })
})
