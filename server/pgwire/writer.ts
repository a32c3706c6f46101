/**
 * Backend message encoders (PostgreSQL protocol 3.0). Each function returns one complete message
 * (type byte, length word, body) as a Buffer; the connection concatenates and writes them.
 */

/** ErrorResponse/NoticeResponse fields by their one-letter code; undefined fields are left out. */
export type FieldMap = Readonly<Record<string, string | undefined>>

/** One RowDescription entry. */
export interface FieldDescription {
  readonly name: string
  readonly typeOid: number
  readonly typeLength: number
  /** The type modifier (varchar(5) → 9, numeric(12,2) → 786438); -1 for none. */
  readonly typeModifier?: number
  /** 0 = text, 1 = binary. */
  readonly format: number
}

const EMPTY = Buffer.alloc(0)

function message(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length)
  out[0] = type.charCodeAt(0)
  out.writeInt32BE(4 + body.length, 1)
  body.copy(out, 5)
  return out
}

function cstr(text: string): Buffer {
  // A NUL inside a string would end it early and desynchronise the client.
  const s = text.includes('\0') ? text.replaceAll('\0', '') : text
  const n = Buffer.byteLength(s, 'utf8')
  const b = Buffer.allocUnsafe(n + 1)
  b.write(s, 0, 'utf8')
  b[n] = 0
  return b
}

function int32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4)
  b.writeInt32BE(n)
  return b
}

function int16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2)
  b.writeInt16BE(n)
  return b
}

export const authenticationOk = (): Buffer => message('R', int32(0))
export const authenticationCleartextPassword = (): Buffer => message('R', int32(3))
export const authenticationMD5Password = (salt: Buffer): Buffer => message('R', Buffer.concat([int32(5), salt]))
/** AuthenticationSASL: the mechanisms offered, each NUL-terminated, then an empty one. */
export const authenticationSASL = (mechanisms: readonly string[]): Buffer =>
  message('R', Buffer.concat([int32(10), ...mechanisms.map(cstr), Buffer.from([0])]))
export const authenticationSASLContinue = (data: string): Buffer =>
  message('R', Buffer.concat([int32(11), Buffer.from(data, 'utf8')]))
export const authenticationSASLFinal = (data: string): Buffer =>
  message('R', Buffer.concat([int32(12), Buffer.from(data, 'utf8')]))
export const parameterStatus = (name: string, value: string): Buffer =>
  message('S', Buffer.concat([cstr(name), cstr(value)]))
export const backendKeyData = (pid: number, secret: number): Buffer =>
  message('K', Buffer.concat([int32(pid), int32(secret)]))
export const readyForQuery = (status: 'I' | 'T' | 'E'): Buffer => message('Z', Buffer.from(status, 'latin1'))
export const commandComplete = (tag: string): Buffer => message('C', cstr(tag))
export const emptyQueryResponse = (): Buffer => message('I', EMPTY)
export const parseComplete = (): Buffer => message('1', EMPTY)
export const bindComplete = (): Buffer => message('2', EMPTY)
export const closeComplete = (): Buffer => message('3', EMPTY)
export const noData = (): Buffer => message('n', EMPTY)
export const portalSuspended = (): Buffer => message('s', EMPTY)

export function parameterDescription(oids: readonly number[]): Buffer {
  const body = Buffer.allocUnsafe(2 + 4 * oids.length)
  body.writeInt16BE(oids.length, 0)
  for (let i = 0; i < oids.length; i++) body.writeInt32BE(oids[i], 2 + 4 * i)
  return message('t', body)
}

/** RowDescription; table OID and attribute number are 0. */
export function rowDescription(fields: readonly FieldDescription[]): Buffer {
  const parts: Buffer[] = [int16(fields.length)]
  for (const f of fields) {
    const meta = Buffer.allocUnsafe(18)
    meta.writeInt32BE(0, 0)
    meta.writeInt16BE(0, 4)
    meta.writeInt32BE(f.typeOid, 6)
    meta.writeInt16BE(f.typeLength, 10)
    meta.writeInt32BE(f.typeModifier ?? -1, 12)
    meta.writeInt16BE(f.format, 16)
    parts.push(cstr(f.name), meta)
  }
  return message('T', Buffer.concat(parts))
}

/** DataRow from already-encoded cells; null is SQL NULL (length -1). */
export function dataRow(cells: readonly (Buffer | null)[]): Buffer {
  let size = 7
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]
    size += 4 + (c === null ? 0 : c.length)
  }
  const out = Buffer.allocUnsafe(size)
  out[0] = 0x44 // 'D'
  out.writeInt32BE(size - 1, 1)
  out.writeInt16BE(cells.length, 5)
  let at = 7
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]
    if (c === null) {
      out.writeInt32BE(-1, at)
      at += 4
    } else {
      out.writeInt32BE(c.length, at)
      c.copy(out, at + 4)
      at += 4 + c.length
    }
  }
  return out
}

/** ErrorResponse ('E') or NoticeResponse ('N'). */
export function encodeFields(type: 'E' | 'N', fields: FieldMap): Buffer {
  const parts: Buffer[] = []
  for (const [code, value] of Object.entries(fields)) {
    if (value === undefined) continue
    parts.push(Buffer.from(code, 'latin1'), cstr(value))
  }
  parts.push(Buffer.from([0]))
  return message(type, Buffer.concat(parts))
}

/** CopyOutResponse: overall format 0 (text; CSV is text too) and every column in text. */
export function copyOutResponse(columns: number): Buffer {
  const body = Buffer.alloc(3 + 2 * columns)
  body.writeInt16BE(columns, 1)
  return message('H', body)
}
export const copyData = (data: Buffer): Buffer => message('d', data)
export const copyDone = (): Buffer => message('c', EMPTY)

/** The single byte answering SSLRequest/GSSENCRequest: 'N' = not supported, go on in plain text. */
export const encryptionRefused = (): Buffer => Buffer.from('N', 'latin1')
/** The single byte answering SSLRequest when TLS is configured: 'S', the TLS handshake follows. */
export const encryptionAccepted = (): Buffer => Buffer.from('S', 'latin1')

/** NegotiateProtocolVersion: the newest minor version we speak and the `_pq_.` options we ignored. */
export function negotiateProtocolVersion(minor: number, unknownOptions: readonly string[]): Buffer {
  return message('v', Buffer.concat([int32(minor), int32(unknownOptions.length), ...unknownOptions.map(cstr)]))
}
