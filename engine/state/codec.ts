/**
 * Byte encodings of engine values for the state store.
 *
 * Keys (`encodeKey`) are order-preserving: comparing encoded keys byte by byte gives the SQL
 * order of the tuples (NULL first), so range scans and prefix deletes work on typed keys. Rows
 * (`encodeRow`) use a compact tagged JSON form; rows are read back only at startup.
 */
import type { DataType, Value } from '../types/datatype.ts'
import type { JsonValue } from '../types/jsonb.ts'
import { Decimal } from '../types/decimal.ts'
import { Interval } from '../types/interval.ts'
import { Jsonb } from '../types/jsonb.ts'
import { SluiceError, SqlState } from '../errors.ts'

const NULL_TAG = 0x00
const VALUE_TAG = 0x01

class Writer {
  private buf = new Uint8Array(64)
  length = 0
  ensure(n: number): void {
    if (this.length + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
  }
  byte(b: number): void {
    this.ensure(1)
    this.buf[this.length++] = b
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.length)
  }
}

const scratch = new DataView(new ArrayBuffer(8))

function writeInt64(w: Writer, v: bigint): void {
  scratch.setBigUint64(0, BigInt.asUintN(64, v) ^ (1n << 63n))
  w.bytes(new Uint8Array(scratch.buffer.slice(0)))
}

function writeFloat64(w: Writer, v: number): void {
  scratch.setFloat64(0, v)
  const hi = scratch.getUint32(0)
  if (hi & 0x80000000) {
    scratch.setUint32(0, ~hi >>> 0)
    scratch.setUint32(4, ~scratch.getUint32(4) >>> 0)
  } else scratch.setUint32(0, (hi | 0x80000000) >>> 0)
  w.bytes(new Uint8Array(scratch.buffer.slice(0)))
}

/** Text: bytes with 0x00 escaped as 0x00 0xff, terminated by 0x00 0x00. */
function writeBytes(w: Writer, b: Uint8Array): void {
  for (const x of b) {
    w.byte(x)
    if (x === 0) w.byte(0xff)
  }
  w.byte(0)
  w.byte(0)
}

export function encodeKey(values: readonly Value[], types: readonly DataType[], prefix?: Uint8Array): Uint8Array {
  const w = new Writer()
  if (prefix !== undefined) w.bytes(prefix)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v === null) {
      w.byte(NULL_TAG)
      continue
    }
    w.byte(VALUE_TAG)
    const t = types[i]
    switch (t.kind) {
      case 'bool':
        w.byte(v === true ? 1 : 0)
        break
      case 'int2':
      case 'int4':
      case 'int8':
      case 'date':
      case 'time':
      case 'timestamp':
      case 'timestamptz':
        writeInt64(w, typeof v === 'bigint' ? v : BigInt(Math.trunc(v as number)))
        break
      case 'float4':
      case 'float8':
        writeFloat64(w, v as number)
        break
      case 'numeric':
        // Ordered by value through a float approximation, then exact text (ties are rare).
        writeFloat64(w, (v as Decimal).toNumber())
        writeBytes(w, Buffer.from((v as Decimal).normalized().toString()))
        break
      case 'interval':
        writeInt64(w, BigInt(Math.round((v as Interval).totalMicros())))
        writeBytes(w, Buffer.from(JSON.stringify([(v as Interval).months, (v as Interval).days, (v as Interval).micros])))
        break
      case 'text':
      case 'unknown':
        writeBytes(w, Buffer.from(v as string, 'utf8'))
        break
      case 'bytea':
        writeBytes(w, v as Uint8Array)
        break
      case 'jsonb':
      case 'array':
        writeBytes(w, Buffer.from(JSON.stringify(toJson(v, t))))
        break
    }
  }
  return w.done()
}

export function decodeKey(bytes: Uint8Array, types: readonly DataType[], offset = 0): Value[] {
  const out: Value[] = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = offset
  const readInt64 = (): bigint => {
    const v = view.getBigUint64(at) ^ (1n << 63n)
    at += 8
    return BigInt.asIntN(64, v)
  }
  const readFloat64 = (): number => {
    const b = new DataView(new ArrayBuffer(8))
    let hi = view.getUint32(at)
    let lo = view.getUint32(at + 4)
    if (hi & 0x80000000) hi = (hi & 0x7fffffff) >>> 0
    else {
      hi = ~hi >>> 0
      lo = ~lo >>> 0
    }
    b.setUint32(0, hi)
    b.setUint32(4, lo)
    at += 8
    return b.getFloat64(0)
  }
  const readBytes = (): Uint8Array => {
    const parts: number[] = []
    for (;;) {
      const x = bytes[at++]
      if (x === 0) {
        const next = bytes[at++]
        if (next === 0) break
        parts.push(0)
      } else parts.push(x)
    }
    return Uint8Array.from(parts)
  }
  for (const t of types) {
    const tag = bytes[at++]
    if (tag === NULL_TAG) {
      out.push(null)
      continue
    }
    switch (t.kind) {
      case 'bool':
        out.push(bytes[at++] === 1)
        break
      case 'int8':
        out.push(readInt64())
        break
      case 'int2':
      case 'int4':
      case 'date':
      case 'time':
      case 'timestamp':
      case 'timestamptz':
        out.push(Number(readInt64()))
        break
      case 'float4':
      case 'float8':
        out.push(readFloat64())
        break
      case 'numeric':
        readFloat64()
        out.push(Decimal.fromString(Buffer.from(readBytes()).toString()))
        break
      case 'interval': {
        readInt64()
        const [m, d, us] = JSON.parse(Buffer.from(readBytes()).toString()) as [number, number, number]
        out.push(new Interval(m, d, us))
        break
      }
      case 'text':
      case 'unknown':
        out.push(Buffer.from(readBytes()).toString('utf8'))
        break
      case 'bytea':
        out.push(readBytes())
        break
      case 'jsonb':
      case 'array':
        out.push(fromJson(JSON.parse(Buffer.from(readBytes()).toString()) as JsonValue, t))
        break
    }
  }
  return out
}

/** A row as tagged JSON (bigints and decimals as strings), for durable table rows. */
export function encodeRow(values: readonly Value[], types: readonly DataType[]): Uint8Array {
  return Buffer.from(JSON.stringify(values.map((v, i) => (v === null ? null : toJson(v, types[i])))))
}

export function decodeRow(bytes: Uint8Array, types: readonly DataType[]): Value[] {
  const raw = JSON.parse(Buffer.from(bytes).toString('utf8')) as JsonValue[]
  if (!Array.isArray(raw) || raw.length !== types.length) {
    throw new SluiceError(SqlState.io_error, 'a stored row does not match its table (was the data directory written by another version?)', { domain: 'internal' })
  }
  return raw.map((v, i) => (v === null ? null : fromJson(v, types[i])))
}

function toJson(v: Value, t: DataType): JsonValue {
  if (v === null) return null
  if (t.kind === 'array') return (v as readonly Value[]).map((x) => toJson(x, t.element))
  switch (t.kind) {
    case 'int8':
      return String(v)
    case 'numeric':
      return (v as Decimal).toString()
    case 'interval':
      return [(v as Interval).months, (v as Interval).days, (v as Interval).micros]
    case 'jsonb':
      return { j: (v as Jsonb).value }
    case 'bytea':
      return Buffer.from(v as Uint8Array).toString('base64')
    case 'float4':
    case 'float8':
      return Number.isFinite(v) ? (v as number) : String(v)
    default:
      return v as JsonValue
  }
}

function fromJson(v: JsonValue, t: DataType): Value {
  if (v === null) return null
  if (t.kind === 'array') return (v as JsonValue[]).map((x) => fromJson(x, t.element))
  switch (t.kind) {
    case 'int8':
      return BigInt(v as string)
    case 'numeric':
      return Decimal.fromString(v as string)
    case 'interval': {
      const [m, d, us] = v as number[]
      return new Interval(m, d, us)
    }
    case 'jsonb':
      return new Jsonb((v as { j: JsonValue }).j)
    case 'bytea':
      return Uint8Array.from(Buffer.from(v as string, 'base64'))
    case 'float4':
    case 'float8':
      return typeof v === 'string' ? Number(v) : (v as number)
    default:
      return v as Value
  }
}
