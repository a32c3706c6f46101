/**
 * Compact binary encoding of row values (state values, table rows). Not order-preserving; the
 * reader must know the column types. Layout: column count (LEB128), a null bitmap, then each
 * non-null value: bool 1 byte; int2/int4/date int32; int8 int64; floats, time and timestamps
 * float64 (µs numbers are exact in a double); text, jsonb (JSON text) and bytea LEB128 length +
 * bytes; numeric int16 scale + (0, int64 unscaled | 1, length + decimal digits); interval int32
 * months, int32 days, float64 micros; array count + bitmap + elements. All little-endian.
 */
import type { DataType, Value } from '../types/datatype.ts'
import type { Decimal as DecimalValue } from '../types/decimal.ts'
import type { Interval as IntervalValue } from '../types/interval.ts'
import type { Jsonb as JsonbValue, JsonValue } from '../types/jsonb.ts'
import { Decimal } from '../types/decimal.ts'
import { Interval } from '../types/interval.ts'
import { Jsonb } from '../types/jsonb.ts'
import { ByteReader, ByteWriter, corrupt } from './bytes.ts'

const w = new ByteWriter()
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** Encodes one row; `types[i]` is the type of `values[i]`. */
export function encodeRow(values: readonly Value[], types: readonly DataType[]): Uint8Array {
  w.reset()
  writeValues(values, types, undefined)
  return w.finish()
}

/** Writes count, null bitmap and values; `element` set means all values have that type (arrays). */
function writeValues(values: readonly Value[], types: readonly DataType[], element: DataType | undefined): void {
  const n = values.length
  w.varuint(n)
  const mapBytes = (n + 7) >> 3
  w.ensure(mapBytes)
  const buf = w.buf
  const at = w.pos
  for (let i = 0; i < mapBytes; i++) buf[at + i] = 0
  for (let i = 0; i < n; i++) if (values[i] === null) buf[at + (i >> 3)] |= 1 << (i & 7)
  w.pos += mapBytes
  for (let i = 0; i < n; i++) {
    const v = values[i]
    if (v !== null) writeValue(v, element ?? types[i])
  }
}

function writeValue(v: Value, t: DataType): void {
  switch (t.kind) {
    case 'bool':
      w.byte(v === true ? 1 : 0)
      break
    case 'int2':
    case 'int4':
    case 'date':
      w.ensure(4)
      w.view.setInt32(w.pos, v as number, true)
      w.pos += 4
      break
    case 'int8':
      w.ensure(8)
      // A number here is a caller's slip, but an exact one: store it as the bigint it means.
      w.view.setBigInt64(w.pos, typeof v === 'bigint' ? v : BigInt(v as number), true)
      w.pos += 8
      break
    case 'float4':
    case 'float8':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      w.ensure(8)
      w.view.setFloat64(w.pos, v as number, true)
      w.pos += 8
      break
    case 'text':
    case 'unknown':
      w.string(v as string)
      break
    case 'jsonb':
      w.string(JSON.stringify((v as JsonbValue).value))
      break
    case 'bytea':
      w.varuint((v as Uint8Array).length)
      w.bytes(v as Uint8Array)
      break
    case 'numeric': {
      const d = v as DecimalValue
      w.ensure(11)
      w.view.setInt16(w.pos, d.scale, true)
      w.pos += 2
      if (d.unscaled >= INT64_MIN && d.unscaled <= INT64_MAX) {
        w.buf[w.pos++] = 0
        w.view.setBigInt64(w.pos, d.unscaled, true)
        w.pos += 8
      } else {
        w.buf[w.pos++] = 1
        w.string(d.unscaled.toString())
      }
      break
    }
    case 'interval': {
      const iv = v as IntervalValue
      w.ensure(16)
      w.view.setInt32(w.pos, iv.months, true)
      w.view.setInt32(w.pos + 4, iv.days, true)
      w.view.setFloat64(w.pos + 8, iv.micros, true)
      w.pos += 16
      break
    }
    case 'array':
      writeValues(v as readonly Value[], [], t.element)
      break
  }
}

/** Decodes a row written by encodeRow with the same types. */
export function decodeRow(bytes: Uint8Array, types: readonly DataType[]): Value[] {
  const r = new ByteReader(bytes, 'row')
  const out = readValues(r, types, undefined)
  if (out.length !== types.length || r.p !== bytes.length) throw corrupt('row')
  return out
}

function readValues(r: ByteReader, types: readonly DataType[], element: DataType | undefined): Value[] {
  const n = r.varuint()
  if (element === undefined && n !== types.length) throw corrupt('row')
  const map = r.p
  r.p += (n + 7) >> 3
  const out = new Array<Value>(n)
  for (let i = 0; i < n; i++) {
    out[i] = (r.b[map + (i >> 3)] & (1 << (i & 7))) !== 0 ? null : readValue(r, element ?? types[i])
  }
  return out
}

function readValue(r: ByteReader, t: DataType): Value {
  if (r.p >= r.b.length) throw corrupt('row')
  switch (t.kind) {
    case 'bool':
      return r.b[r.p++] === 1
    case 'int2':
    case 'int4':
    case 'date': {
      const x = r.v.getInt32(r.p, true)
      r.p += 4
      return x
    }
    case 'int8': {
      const x = r.v.getBigInt64(r.p, true)
      r.p += 8
      return x
    }
    case 'float4':
    case 'float8':
    case 'time':
    case 'timestamp':
    case 'timestamptz': {
      const x = r.v.getFloat64(r.p, true)
      r.p += 8
      return x
    }
    case 'text':
    case 'unknown':
      return r.string()
    case 'jsonb':
      return new Jsonb(JSON.parse(r.string()) as JsonValue)
    case 'bytea': {
      const len = r.varuint()
      const out = r.b.slice(r.p, r.p + len)
      r.p += len
      return out
    }
    case 'numeric': {
      const scale = r.v.getInt16(r.p, true)
      const big = r.b[r.p + 2] === 1
      r.p += 3
      if (big) return new Decimal(BigInt(r.string()), scale)
      const u = r.v.getBigInt64(r.p, true)
      r.p += 8
      return new Decimal(u, scale)
    }
    case 'interval': {
      const months = r.v.getInt32(r.p, true)
      const days = r.v.getInt32(r.p + 4, true)
      const micros = r.v.getFloat64(r.p + 8, true)
      r.p += 16
      return new Interval(months, days, micros)
    }
    case 'array':
      return readValues(r, [], t.element)
  }
}
