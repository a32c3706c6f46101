/**
 * Decodes framed frontend messages into one typed union, so the connection's state machine
 * switches over message kinds (exhaustively) and never touches raw bytes. Malformed bodies
 * throw WireError 08P01 (FATAL).
 */
import type { RawMessage } from './reader.ts'
import { BodyReader } from './reader.ts'
import { WireError } from './errors.ts'

/** Messages of the untyped startup phase. */
export type StartupPhaseMessage =
  | { readonly kind: 'sslRequest' }
  | { readonly kind: 'gssEncRequest' }
  | { readonly kind: 'cancelRequest'; readonly pid: number; readonly secret: number }
  | { readonly kind: 'startup'; readonly minorVersion: number; readonly params: ReadonlyMap<string, string> }

/** Typed messages after startup. */
export type FrontendMessage =
  | { readonly kind: 'query'; readonly sql: string }
  | { readonly kind: 'parse'; readonly name: string; readonly sql: string; readonly paramOids: readonly number[] }
  | {
      readonly kind: 'bind'
      readonly portal: string
      readonly statement: string
      readonly paramFormats: readonly number[]
      readonly params: readonly (Buffer | null)[]
      readonly resultFormats: readonly number[]
    }
  | { readonly kind: 'describe'; readonly target: 'S' | 'P'; readonly name: string }
  | { readonly kind: 'execute'; readonly portal: string; readonly maxRows: number }
  | { readonly kind: 'close'; readonly target: 'S' | 'P'; readonly name: string }
  | { readonly kind: 'sync' }
  | { readonly kind: 'flush' }
  | { readonly kind: 'terminate' }
  /** PasswordMessage, SASLInitialResponse or SASLResponse: the body is read by the exchange in progress. */
  | { readonly kind: 'password'; readonly body: Buffer }
  /** CopyData/CopyDone/CopyFail outside COPY: PostgreSQL ignores them, and so do we. */
  | { readonly kind: 'copy' }

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102

export function decodeStartup(m: RawMessage): StartupPhaseMessage {
  const r = new BodyReader(m.body)
  const code = r.int32()
  if (code === SSL_REQUEST) return { kind: 'sslRequest' }
  if (code === GSSENC_REQUEST) return { kind: 'gssEncRequest' }
  if (code === CANCEL_REQUEST) {
    const pid = r.int32()
    const secret = r.int32()
    return { kind: 'cancelRequest', pid, secret }
  }
  const major = code >>> 16
  const minor = code & 0xffff
  if (major !== 3)
    throw new WireError('0A000', `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`, 'FATAL')
  const params = new Map<string, string>()
  for (;;) {
    const key = r.cstring()
    if (key === '') break
    params.set(key, r.cstring())
  }
  return { kind: 'startup', minorVersion: minor, params }
}

export function decodeMessage(m: RawMessage): FrontendMessage {
  const r = new BodyReader(m.body)
  let out: FrontendMessage
  switch (m.type) {
    case 'Q':
      out = { kind: 'query', sql: r.cstring() }
      break
    case 'P': {
      const name = r.cstring()
      const sql = r.cstring()
      const paramOids = ints(r, r.uint16(), () => r.int32())
      out = { kind: 'parse', name, sql, paramOids }
      break
    }
    case 'B': {
      const portal = r.cstring()
      const statement = r.cstring()
      const paramFormats = ints(r, r.uint16(), () => r.int16())
      const params: (Buffer | null)[] = []
      const n = count(r, r.uint16())
      for (let i = 0; i < n; i++) {
        const len = r.int32()
        params.push(len === -1 ? null : r.bytes(len))
      }
      const resultFormats = ints(r, r.uint16(), () => r.int16())
      out = { kind: 'bind', portal, statement, paramFormats, params, resultFormats }
      break
    }
    case 'D':
    case 'C': {
      const target = r.byte()
      if (target !== 'S' && target !== 'P') {
        const what = m.type === 'D' ? 'DESCRIBE' : 'CLOSE'
        throw new WireError('08P01', `invalid ${what} message subtype ${target.charCodeAt(0)}`, 'FATAL')
      }
      out = { kind: m.type === 'D' ? 'describe' : 'close', target, name: r.cstring() }
      break
    }
    case 'E':
      out = { kind: 'execute', portal: r.cstring(), maxRows: r.int32() }
      break
    case 'S':
      out = { kind: 'sync' }
      break
    case 'H':
      out = { kind: 'flush' }
      break
    case 'X':
      out = { kind: 'terminate' }
      break
    case 'p':
      return { kind: 'password', body: m.body }
    case 'd':
    case 'c':
    case 'f':
      return { kind: 'copy' }
    default:
      throw new WireError('08P01', `invalid frontend message type ${m.type.charCodeAt(0)}`, 'FATAL')
  }
  r.end()
  return out
}

function count(r: BodyReader, n: number): number {
  // Each entry takes at least 2 bytes, so a count beyond that is a lie; refuse before allocating.
  if (n < 0 || n * 2 > r.remaining) throw new WireError('08P01', 'insufficient data left in message', 'FATAL')
  return n
}

function ints(r: BodyReader, n: number, read: () => number): number[] {
  const out: number[] = []
  const c = count(r, n)
  for (let i = 0; i < c; i++) out.push(read())
  return out
}
