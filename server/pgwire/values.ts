/**
 * Engine values ↔ wire values. Text format goes through the engine's PostgreSQL-exact
 * output/input functions; binary format follows PostgreSQL's send/recv functions for the
 * fixed-width, text-like, date/time and numeric types. Types without a binary form here (arrays)
 * fall back to text, and RowDescription says so, which clients honour per column.
 */
import type { DataType, Value } from '../../engine/types/datatype.ts'
import { formatText, parseText } from '../../engine/types/text.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { Interval } from '../../engine/types/interval.ts'
import { formatTypeName } from '../../engine/types/oid.ts'
import { WireError } from './errors.ts'

/** µs between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
const PG_EPOCH_US = 946_684_800_000_000
const PG_EPOCH_DAYS = 10_957

/** The format actually used for a column when the client asked for `requested` (0 text, 1 binary). */
export function resultFormat(type: DataType, requested: number): number {
  return requested === 1 && type.kind !== 'array' ? 1 : 0
}

/** One cell; `format` must come from resultFormat. */
export function encodeValue(v: Value, type: DataType, format: number, tz: string): Buffer | null {
  if (v === null) return null
  if (format === 0) return Buffer.from(formatText(type, v, tz), 'utf8')
  switch (type.kind) {
    case 'bool':
      return Buffer.from([v === true ? 1 : 0])
    case 'int2': {
      const b = Buffer.allocUnsafe(2)
      b.writeInt16BE(Number(v))
      return b
    }
    case 'int4': {
      const b = Buffer.allocUnsafe(4)
      b.writeInt32BE(Number(v))
      return b
    }
    case 'int8': {
      const b = Buffer.allocUnsafe(8)
      b.writeBigInt64BE(typeof v === 'bigint' ? v : BigInt(v as number))
      return b
    }
    case 'float4': {
      const b = Buffer.allocUnsafe(4)
      b.writeFloatBE(v as number)
      return b
    }
    case 'float8': {
      const b = Buffer.allocUnsafe(8)
      b.writeDoubleBE(v as number)
      return b
    }
    case 'timestamp':
    case 'timestamptz':
    case 'time': {
      const b = Buffer.allocUnsafe(8)
      b.writeBigInt64BE(BigInt(Math.round((v as number) - (type.kind === 'time' ? 0 : PG_EPOCH_US))))
      return b
    }
    case 'date': {
      const b = Buffer.allocUnsafe(4)
      b.writeInt32BE((v as number) - PG_EPOCH_DAYS)
      return b
    }
    case 'interval': {
      const iv = v as Interval
      const b = Buffer.allocUnsafe(16)
      b.writeBigInt64BE(BigInt(Math.round(iv.micros)), 0)
      b.writeInt32BE(iv.days, 8)
      b.writeInt32BE(iv.months, 12)
      return b
    }
    case 'bytea':
      return Buffer.from(v as Uint8Array)
    case 'jsonb':
      // jsonb's binary form is a version byte (1) before the text.
      return Buffer.concat([Buffer.from([1]), Buffer.from(formatText(type, v, tz), 'utf8')])
    case 'numeric':
      return encodeNumeric(v instanceof Decimal ? v : Decimal.fromString(String(v)))
    case 'text':
    case 'unknown':
    case 'array':
      return Buffer.from(formatText(type, v, tz), 'utf8')
  }
}

/** One Bind parameter in text (format 0) or binary (format 1) form, as a value of `type`. */
export function decodeParam(data: Buffer, type: DataType, format: number, tz: string): Value {
  if (format === 0) return parseText(type.kind === 'unknown' ? { kind: 'text' } : type, data.toString('utf8'), tz)
  if (format !== 1) throw new WireError('08P01', `unsupported format code: ${format}`)
  const need = (n: number): void => {
    if (data.length !== n) throw new WireError('22P03', `incorrect binary data format in bind parameter`)
  }
  switch (type.kind) {
    case 'bool':
      need(1)
      return data[0] !== 0
    case 'int2':
      need(2)
      return data.readInt16BE(0)
    case 'int4':
      need(4)
      return data.readInt32BE(0)
    case 'int8':
      need(8)
      return data.readBigInt64BE(0)
    case 'float4':
      need(4)
      return data.readFloatBE(0)
    case 'float8':
      need(8)
      return data.readDoubleBE(0)
    case 'timestamp':
    case 'timestamptz':
      need(8)
      return Number(data.readBigInt64BE(0)) + PG_EPOCH_US
    case 'time':
      need(8)
      return Number(data.readBigInt64BE(0))
    case 'date':
      need(4)
      return data.readInt32BE(0) + PG_EPOCH_DAYS
    case 'interval':
      need(16)
      return new Interval(data.readInt32BE(12), data.readInt32BE(8), Number(data.readBigInt64BE(0)))
    case 'numeric':
      return decodeNumeric(data)
    case 'bytea':
      return Uint8Array.from(data)
    case 'jsonb':
      if (data.length === 0 || data[0] !== 1) throw new WireError('22P03', 'unsupported jsonb version number')
      return parseText(type, data.subarray(1).toString('utf8'), tz)
    case 'text':
    case 'unknown':
      return data.toString('utf8')
    case 'array':
      throw new WireError(
        '0A000',
        `binary format for parameters of type ${formatTypeName(type)} is not supported; send it as text`,
      )
  }
}

const NUMERIC_NEG = 0x4000
const NUMERIC_NAN = 0xc000

/** PostgreSQL's binary NUMERIC: base-10000 digits, weight of the first digit, sign, display scale. */
export function encodeNumeric(d: Decimal): Buffer {
  const neg = d.unscaled < 0n
  const scale = Math.max(d.scale, 0)
  let digits = (neg ? -d.unscaled : d.unscaled).toString()
  if (d.scale < 0) digits += '0'.repeat(-d.scale)
  const intLen = digits.length - scale
  let intPart = intLen > 0 ? digits.slice(0, intLen) : ''
  let fracPart = intLen > 0 ? digits.slice(intLen) : '0'.repeat(-intLen) + digits
  intPart = intPart.padStart(Math.ceil(intPart.length / 4) * 4, '0')
  fracPart = fracPart.padEnd(Math.ceil(fracPart.length / 4) * 4, '0')
  const groups: number[] = []
  for (let i = 0; i < intPart.length; i += 4) groups.push(Number(intPart.slice(i, i + 4)))
  let weight = groups.length - 1
  for (let i = 0; i < fracPart.length; i += 4) groups.push(Number(fracPart.slice(i, i + 4)))
  let first = 0
  while (first < groups.length && groups[first] === 0) {
    first++
    weight--
  }
  let last = groups.length
  while (last > first && groups[last - 1] === 0) last--
  const used = groups.slice(first, last)
  if (used.length === 0) weight = 0
  const b = Buffer.allocUnsafe(8 + used.length * 2)
  b.writeInt16BE(used.length, 0)
  b.writeInt16BE(weight, 2)
  b.writeUInt16BE(neg && used.length > 0 ? NUMERIC_NEG : 0, 4)
  b.writeInt16BE(scale, 6)
  for (let i = 0; i < used.length; i++) b.writeInt16BE(used[i], 8 + i * 2)
  return b
}

/** The inverse of encodeNumeric. */
export function decodeNumeric(data: Buffer): Decimal {
  if (data.length < 8) throw new WireError('22P03', 'insufficient data left in message')
  const ndigits = data.readInt16BE(0)
  const weight = data.readInt16BE(2)
  const sign = data.readUInt16BE(4)
  const dscale = data.readInt16BE(6)
  if (sign === NUMERIC_NAN) throw new WireError('0A000', 'NaN is not supported for numeric parameters')
  if (ndigits < 0 || data.length !== 8 + ndigits * 2 || dscale < 0)
    throw new WireError('22P03', 'invalid numeric binary data')
  // value = Σ digit[i] · 10000^(weight - i); collect as an integer times 10000^(weight - ndigits + 1).
  let unscaled = 0n
  for (let i = 0; i < ndigits; i++) {
    const g = data.readInt16BE(8 + i * 2)
    if (g < 0 || g > 9999) throw new WireError('22P03', 'invalid digit in external "numeric" value')
    unscaled = unscaled * 10000n + BigInt(g)
  }
  const exp4 = weight - ndigits + 1
  let value: Decimal = exp4 >= 0 ? new Decimal(unscaled * 10000n ** BigInt(exp4), 0) : new Decimal(unscaled, -exp4 * 4)
  if (value.scale !== dscale) value = rescale(value, dscale)
  return sign === NUMERIC_NEG ? new Decimal(-value.unscaled, value.scale) : value
}

function rescale(d: Decimal, scale: number): Decimal {
  if (scale >= d.scale) return new Decimal(d.unscaled * 10n ** BigInt(scale - d.scale), scale)
  return new Decimal(d.unscaled / 10n ** BigInt(d.scale - scale), scale)
}
