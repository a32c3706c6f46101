/** Backend message encoders (PostgreSQL protocol 3.0). Each returns one complete message. */

function message(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length)
  out.write(type, 0, 'latin1')
  out.writeInt32BE(4 + body.length, 1)
  body.copy(out, 5)
  return out
}

function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])])
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

export const Backend = {
  authenticationOk: (): Buffer => message('R', int32(0)),
  authenticationCleartextPassword: (): Buffer => message('R', int32(3)),
  authenticationMD5Password: (salt: Buffer): Buffer => message('R', Buffer.concat([int32(5), salt])),
  parameterStatus: (name: string, value: string): Buffer => message('S', Buffer.concat([cstr(name), cstr(value)])),
  backendKeyData: (pid: number, secret: number): Buffer => message('K', Buffer.concat([int32(pid), int32(secret)])),
  readyForQuery: (status: 'I' | 'T' | 'E'): Buffer => message('Z', Buffer.from(status, 'latin1')),
  rowDescription: (fields: readonly { name: string; oid: number; length: number; format: number }[]): Buffer =>
    message(
      'T',
      Buffer.concat([int16(fields.length), ...fields.map((f) => Buffer.concat([cstr(f.name), int32(0), int16(0), int32(f.oid), int16(f.length), int32(-1), int16(f.format)]))]),
    ),
  dataRow: (values: readonly (Buffer | null)[]): Buffer => {
    let size = 2
    for (const v of values) size += 4 + (v === null ? 0 : v.length)
    const body = Buffer.allocUnsafe(size)
    body.writeInt16BE(values.length, 0)
    let at = 2
    for (const v of values) {
      if (v === null) {
        body.writeInt32BE(-1, at)
        at += 4
      } else {
        body.writeInt32BE(v.length, at)
        v.copy(body, at + 4)
        at += 4 + v.length
      }
    }
    return message('D', body)
  },
  commandComplete: (tag: string): Buffer => message('C', cstr(tag)),
  emptyQueryResponse: (): Buffer => message('I', Buffer.alloc(0)),
  parseComplete: (): Buffer => message('1', Buffer.alloc(0)),
  bindComplete: (): Buffer => message('2', Buffer.alloc(0)),
  closeComplete: (): Buffer => message('3', Buffer.alloc(0)),
  noData: (): Buffer => message('n', Buffer.alloc(0)),
  portalSuspended: (): Buffer => message('s', Buffer.alloc(0)),
  parameterDescription: (oids: readonly number[]): Buffer => message('t', Buffer.concat([int16(oids.length), ...oids.map(int32)])),
  /** ErrorResponse ('E') or NoticeResponse ('N') with the standard fields. */
  fields: (type: 'E' | 'N', fields: Readonly<Record<string, string | undefined>>): Buffer => {
    const parts: Buffer[] = []
    for (const [code, value] of Object.entries(fields)) {
      if (value === undefined) continue
      parts.push(Buffer.from(code, 'latin1'), cstr(value))
    }
    parts.push(Buffer.from([0]))
    return message(type, Buffer.concat(parts))
  },
}
