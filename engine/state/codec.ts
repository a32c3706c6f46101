/**
 * Order-preserving key encoding of tuples of engine values: comparing two encoded keys byte by
 * byte (memcmp, as LevelDB does) gives the SQL order of the tuples, column after column. So range
 * scans, prefix scans (the encoding of a tuple prefix is a byte prefix) and "delete every window
 * below the watermark" work directly on typed keys.
 *
 * Each column is a tag byte, then the value:
 *   - NULL sorts last (tag 0x02 after 0x01 for values), as PostgreSQL's default `ORDER BY ... ASC`.
 *   - bool: 0 / 1.  int2, int4, date: 2 / 4 / 4 bytes big-endian with the sign bit flipped;
 *     int8, time, timestamp(tz): 8 bytes likewise.
 *   - float4/8: IEEE 754 bits, sign bit flipped for positives, all bits for negatives; -0 is
 *     stored as 0 and every NaN as one NaN that sorts above +Infinity (PostgreSQL's order).
 *   - numeric: sign byte (1 negative, 2 zero, 3 positive), then the decimal exponent and the
 *     significant digits two per byte, terminated; every byte complemented for negatives.
 *     Equal values encode equally (1.0 = 1.00), so decodeKey returns the value without trailing
 *     fractional zeros: a key does not keep the display scale.
 *   - text, bytea: bytes with 0x00 escaped as 0x00 0xff, then 0x00. Text orders by UTF-8 bytes,
 *     i.e. by code point (PostgreSQL's C collation); compareValues orders by UTF-16 units, which
 *     differs only between U+E000..U+FFFF and characters above U+FFFF.
 *   - jsonb: PostgreSQL's jsonb B-tree order (see compareJsonb): top-level arrays and scalars by
 *     element count, raw scalar before array, then elements; objects after them, by key count,
 *     then keys and values; inside, a type rank (null < string < number < boolean < array < object).
 *   - interval: total µs (1 month = 30 days) as a 96-bit flipped integer, then months, days and
 *     micros, so '1 mon' and '30 days' sort together but stay distinct keys.
 *   - array: each element tagged like a column, then 0x00 (shorter arrays sort first).
 *
 * Row values (not ordered) use row.ts; encodeRow/decodeRow are re-exported here.
 */
import type { DataType, Value } from '../types/datatype.ts'
import type { Decimal as DecimalValue } from '../types/decimal.ts'
import type { Interval as IntervalValue } from '../types/interval.ts'
import type { Jsonb as JsonbValue, JsonValue } from '../types/jsonb.ts'
import { Decimal } from '../types/decimal.ts'
import { Interval } from '../types/interval.ts'
import { Jsonb } from '../types/jsonb.ts'
import { ByteWriter, corrupt, utf8Slice } from './bytes.ts'

export { encodeRow, decodeRow } from './row.ts'

const VALUE = 0x01
const NULL = 0x02
const END = 0x00
const TWO32 = 4294967296
const US_PER_DAY = 86_400_000_000n

const w = new ByteWriter()
const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)
// Index of the high word of a double in u32 (the platform's endianness).
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0
const LO = 1 - HI

/**
 * Encodes a key tuple, after `prefix` when given. Values must be non-null-typed per `types`
 * (number for int2/int4/date/time/timestamps/floats, bigint for int8, ...); NULL is `null`.
 */
export function encodeKey(values: readonly Value[], types: readonly DataType[], prefix?: Uint8Array): Uint8Array {
  w.reset()
  if (prefix !== undefined) w.bytes(prefix)
  for (let i = 0; i < values.length; i++) writeValue(values[i], types[i])
  return w.finish()
}

function writeValue(v: Value, t: DataType): void {
  if (v === null) {
    w.byte(NULL)
    return
  }
  w.byte(VALUE)
  switch (t.kind) {
    case 'bool':
      w.byte(v === true ? 1 : 0)
      break
    case 'int2':
      w.ensure(2)
      w.view.setUint16(w.pos, ((v as number) + 0x8000) & 0xffff)
      w.pos += 2
      break
    case 'int4':
    case 'date':
      w.ensure(4)
      w.view.setUint32(w.pos, ((v as number) ^ 0x80000000) >>> 0)
      w.pos += 4
      break
    case 'int8':
      writeInt64(Number(v), typeof v === 'bigint' ? v : undefined)
      break
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      writeInt64(v as number, undefined)
      break
    case 'float4':
    case 'float8':
      writeFloat(v as number)
      break
    case 'numeric':
      writeNumeric(v as DecimalValue)
      break
    case 'text':
    case 'unknown':
      writeText(v as string)
      break
    case 'bytea':
      writeEscaped(v as Uint8Array)
      break
    case 'jsonb':
      writeJsonb((v as JsonbValue).value)
      break
    case 'interval':
      writeInterval(v as IntervalValue)
      break
    case 'array':
      for (const e of v as readonly Value[]) writeValue(e, t.element)
      w.byte(END)
      break
  }
}

/** A signed 64-bit integer, flipped; `n` is its value as a number, `big` the exact bigint if any. */
function writeInt64(n: number, big: bigint | undefined): void {
  w.ensure(8)
  if (Number.isSafeInteger(n)) {
    const hi = Math.floor(n / TWO32)
    w.view.setUint32(w.pos, (hi ^ 0x80000000) >>> 0)
    w.view.setUint32(w.pos + 4, n - hi * TWO32)
  } else {
    w.view.setBigUint64(w.pos, BigInt.asUintN(64, big ?? BigInt(Math.trunc(n))) ^ 0x8000000000000000n)
  }
  w.pos += 8
}

function writeFloat(v: number): void {
  f64[0] = v === 0 ? 0 : Number.isNaN(v) ? NaN : v
  let hi = u32[HI]
  let lo = u32[LO]
  if (hi & 0x80000000) {
    hi = ~hi >>> 0
    lo = ~lo >>> 0
  } else hi = (hi | 0x80000000) >>> 0
  w.ensure(8)
  w.view.setUint32(w.pos, hi)
  w.view.setUint32(w.pos + 4, lo)
  w.pos += 8
}

function writeNumeric(d: DecimalValue): void {
  if (d.unscaled === 0n) {
    w.byte(2)
    return
  }
  const neg = d.unscaled < 0n
  let digits = (neg ? -d.unscaled : d.unscaled).toString()
  let end = digits.length
  while (digits.charCodeAt(end - 1) === 48) end--
  // value = 0.<digits> × 10^exp
  const exp = digits.length - d.scale
  digits = digits.slice(0, end)
  const flip = neg ? 0xff : 0
  w.byte(neg ? 1 : 3)
  w.ensure(4 + digits.length)
  w.view.setUint32(w.pos, (((exp ^ 0x80000000) >>> 0) ^ (neg ? 0xffffffff : 0)) >>> 0)
  w.pos += 4
  for (let i = 0; i < digits.length; i += 2) {
    const pair = (digits.charCodeAt(i) - 48) * 10 + (i + 1 < digits.length ? digits.charCodeAt(i + 1) - 48 : 0)
    w.buf[w.pos++] = (pair + 1) ^ flip
  }
  w.byte(flip)
}

function writeText(s: string): void {
  const start = w.pos
  const n = w.utf8(s)
  // Escape zero bytes (rare: only U+0000 encodes as 0x00).
  const buf = w.buf
  let zeros = 0
  for (let i = start; i < start + n; i++) if (buf[i] === 0) zeros++
  if (zeros > 0) {
    const raw = buf.slice(start, start + n)
    w.pos = start
    writeEscaped(raw)
    return
  }
  w.byte(END)
}

function writeEscaped(b: Uint8Array): void {
  w.ensure(b.length * 2 + 1)
  const buf = w.buf
  let p = w.pos
  for (let i = 0; i < b.length; i++) {
    const x = b[i]
    buf[p++] = x
    if (x === 0) buf[p++] = 0xff
  }
  buf[p++] = END
  w.pos = p
}

function writeInterval(iv: IntervalValue): void {
  const total = (BigInt(iv.months) * 30n + BigInt(iv.days)) * US_PER_DAY + BigInt(Math.trunc(iv.micros))
  const flipped = BigInt.asUintN(96, total) ^ (1n << 95n)
  w.ensure(12 + 16)
  w.view.setUint32(w.pos, Number(flipped >> 64n))
  w.view.setBigUint64(w.pos + 4, BigInt.asUintN(64, flipped))
  w.view.setUint32(w.pos + 12, (iv.months ^ 0x80000000) >>> 0)
  w.view.setUint32(w.pos + 16, (iv.days ^ 0x80000000) >>> 0)
  w.pos += 20
  writeInt64(iv.micros, undefined)
}

/** Decodes a key written by encodeKey, starting at `offset` (e.g. after a table prefix). */
export function decodeKey(bytes: Uint8Array, types: readonly DataType[], offset = 0): Value[] {
  const r: Reader = { b: bytes, v: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), p: offset }
  const out = new Array<Value>(types.length)
  for (let i = 0; i < types.length; i++) out[i] = readValue(r, types[i])
  return out
}

interface Reader {
  readonly b: Uint8Array
  readonly v: DataView
  p: number
}

function readValue(r: Reader, t: DataType): Value {
  if (r.p >= r.b.length) throw corrupt('key')
  const tag = r.b[r.p++]
  if (tag === NULL) return null
  if (tag !== VALUE) throw corrupt('key')
  switch (t.kind) {
    case 'bool':
      return r.b[r.p++] === 1
    case 'int2': {
      const x = r.v.getUint16(r.p) - 0x8000
      r.p += 2
      return x
    }
    case 'int4':
    case 'date': {
      const x = (r.v.getUint32(r.p) ^ 0x80000000) | 0
      r.p += 4
      return x
    }
    case 'int8': {
      const hi = (r.v.getUint32(r.p) ^ 0x80000000) | 0
      if (hi >= -0x200000 && hi < 0x200000) {
        const n = hi * TWO32 + r.v.getUint32(r.p + 4)
        r.p += 8
        return BigInt(n)
      }
      const x = BigInt.asIntN(64, r.v.getBigUint64(r.p) ^ 0x8000000000000000n)
      r.p += 8
      return x
    }
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      return readInt64(r)
    case 'float4':
    case 'float8':
      return readFloat(r)
    case 'numeric':
      return readNumeric(r)
    case 'text':
    case 'unknown':
      return readText(r)
    case 'bytea':
      return readEscaped(r)
    case 'jsonb':
      return new Jsonb(readJsonb(r))
    case 'interval': {
      r.p += 12
      const months = (r.v.getUint32(r.p) ^ 0x80000000) | 0
      const days = (r.v.getUint32(r.p + 4) ^ 0x80000000) | 0
      r.p += 8
      return new Interval(months, days, readInt64(r))
    }
    case 'array': {
      const out: Value[] = []
      while (r.b[r.p] !== END) {
        if (r.p >= r.b.length) throw corrupt('key')
        out.push(readValue(r, t.element))
      }
      r.p++
      return out
    }
  }
}

function readFloat(r: Reader): number {
  let hi = r.v.getUint32(r.p)
  let lo = r.v.getUint32(r.p + 4)
  r.p += 8
  if (hi & 0x80000000) hi = (hi & 0x7fffffff) >>> 0
  else {
    hi = ~hi >>> 0
    lo = ~lo >>> 0
  }
  u32[HI] = hi
  u32[LO] = lo
  return f64[0]
}

function readInt64(r: Reader): number {
  const hi = (r.v.getUint32(r.p) ^ 0x80000000) | 0
  const n = hi * TWO32 + r.v.getUint32(r.p + 4)
  r.p += 8
  return n
}

function readNumeric(r: Reader): DecimalValue {
  const sign = r.b[r.p++]
  if (sign === 2) return new Decimal(0n, 0)
  const neg = sign === 1
  const flip = neg ? 0xff : 0
  const e = (r.v.getUint32(r.p) ^ (neg ? 0xffffffff : 0) ^ 0x80000000) | 0
  r.p += 4
  let digits = ''
  for (;;) {
    if (r.p >= r.b.length) throw corrupt('key')
    const x = r.b[r.p++] ^ flip
    if (x === 0) break
    const pair = x - 1
    digits += pair < 10 ? '0' + String(pair) : String(pair)
  }
  // Normalised digits end in a non-zero digit, so a trailing 0 is the pair padding.
  if (digits.endsWith('0')) digits = digits.slice(0, -1)
  let unscaled = BigInt(digits)
  let scale = digits.length - e
  if (scale < 0) {
    unscaled *= 10n ** BigInt(-scale)
    scale = 0
  }
  return new Decimal(neg ? -unscaled : unscaled, scale)
}

/** End of an escaped byte string starting at r.p, and whether it contains escapes. */
function escapedEnd(r: Reader): [number, boolean] {
  const b = r.b
  let escapes = false
  for (let i = r.p; i < b.length; i++) {
    if (b[i] === 0) {
      if (b[i + 1] === 0xff) {
        escapes = true
        i++
      } else return [i, escapes]
    }
  }
  throw corrupt('key')
}

function unescape(b: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start)
  let n = 0
  for (let i = start; i < end; i++) {
    out[n++] = b[i]
    if (b[i] === 0) i++
  }
  return out.subarray(0, n)
}

function readText(r: Reader): string {
  const [end, escapes] = escapedEnd(r)
  let s: string
  if (escapes) {
    const raw = unescape(r.b, r.p, end)
    s = utf8Slice(raw, 0, raw.length)
  } else s = utf8Slice(r.b, r.p, end)
  r.p = end + 1
  return s
}

function readEscaped(r: Reader): Uint8Array {
  const [end, escapes] = escapedEnd(r)
  const out = escapes ? unescape(r.b, r.p, end).slice() : r.b.slice(r.p, end)
  r.p = end + 1
  return out
}

function writeCount(n: number): void {
  w.ensure(4)
  w.view.setUint32(w.pos, n)
  w.pos += 4
}

function readCount(r: Reader): number {
  const n = r.v.getUint32(r.p)
  r.p += 4
  return n
}

function keyOrder(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
}

const JSON_ARRAY = 1
const JSON_OBJECT = 2

/** Top level: PostgreSQL stores a scalar as a one-element "raw" array, compared with arrays. */
function writeJsonb(v: JsonValue): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    w.byte(JSON_OBJECT)
    writeJson(v)
    return
  }
  const raw = !Array.isArray(v)
  const items: readonly JsonValue[] = Array.isArray(v) ? v : [v]
  w.byte(JSON_ARRAY)
  writeCount(items.length)
  w.byte(raw ? 0 : 1)
  for (const x of items) writeJson(x)
}

function writeJson(v: JsonValue): void {
  if (v === null) w.byte(0)
  else if (typeof v === 'string') {
    w.byte(1)
    writeText(v)
  } else if (typeof v === 'number') {
    w.byte(2)
    writeFloat(v)
  } else if (typeof v === 'boolean') {
    w.byte(3)
    w.byte(v ? 1 : 0)
  } else if (Array.isArray(v)) {
    w.byte(4)
    writeCount(v.length)
    for (const x of v) writeJson(x)
  } else {
    const keys = Object.keys(v).sort(keyOrder)
    w.byte(5)
    writeCount(keys.length)
    for (const k of keys) {
      writeText(k)
      writeJson(v[k])
    }
  }
}

function readJsonb(r: Reader): JsonValue {
  if (r.b[r.p++] === JSON_OBJECT) return readJson(r)
  const n = readCount(r)
  const raw = r.b[r.p++] === 0
  const items: JsonValue[] = []
  for (let i = 0; i < n; i++) items.push(readJson(r))
  return raw ? items[0] : items
}

function readJson(r: Reader): JsonValue {
  if (r.p >= r.b.length) throw corrupt('key')
  switch (r.b[r.p++]) {
    case 0:
      return null
    case 1:
      return readText(r)
    case 2:
      return readFloat(r)
    case 3:
      return r.b[r.p++] === 1
    case 4: {
      const n = readCount(r)
      const out: JsonValue[] = []
      for (let i = 0; i < n; i++) out.push(readJson(r))
      return out
    }
    case 5: {
      const n = readCount(r)
      const out: { [key: string]: JsonValue } = {}
      for (let i = 0; i < n; i++) {
        const k = readText(r)
        out[k] = readJson(r)
      }
      return out
    }
    default:
      throw corrupt('key')
  }
}
