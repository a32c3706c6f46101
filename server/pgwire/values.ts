/**
 * Engine values ↔ wire values: text format through PostgreSQL's output/input functions, binary
 * format for the common fixed-width types, text-like types, jsonb and numeric.
 */
import type { DataType, Value } from '../../engine/types/datatype.ts'
import { formatText, parseText } from '../../engine/types/text.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import type { Decimal } from '../../engine/types/decimal.ts'
import { formatTypeName } from '../../engine/types/oid.ts'

/** µs between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
const PG_EPOCH_US = 946_684_800_000_000
const PG_EPOCH_DAYS = 10_957

const BINARY_OUT = new Set(['bool', 'int2', 'int4', 'int8', 'float4', 'float8', 'text', 'bytea', 'timestamp', 'timestamptz', 'date', 'time', 'jsonb', 'numeric', 'unknown'])

export function encodeValue(v: Value, type: DataType, binary: boolean, tz: string): Buffer | null {
  if (v === null) return null
  if (!binary || type.kind === 'array' || !BINARY_OUT.has(type.kind)) return Buffer.from(formatText(type, v, tz), 'utf8')
  switch (type.kind) {
    case 'bool':
      return Buffer.from([v === true ? 1 : 0])
    case 'int2': {
      const b = Buffer.allocUnsafe(2)
      b.writeInt16BE(v as number)
      return b
    }
    case 'int4': {
      const b = Buffer.allocUnsafe(4)
      b.writeInt32BE(v as number)
      return b
    }
    case 'int8': {
      const b = Buffer.allocUnsafe(8)
      b.writeBigInt64BE(v as bigint)
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
    case 'bytea':
      return Buffer.from(v as Uint8Array)
    case 'jsonb':
      return Buffer.concat([Buffer.from([1]), Buffer.from(formatText(type, v, tz), 'utf8')])
    case 'numeric':
      return encodeNumeric(v as Decimal)
    default:
      return Buffer.from(formatText(type, v, tz), 'utf8')
  }
}

export function decodeParam(data: Buffer, type: DataType, binary: boolean, tz: string): Value {
  if (!binary) return parseText(type.kind === 'unknown' ? { kind: 'text' } : type, data.toString('utf8'), tz)
  const need = (n: number): void => {
    if (data.length !== n) throw new SluiceError(SqlState.protocol_violation, `incorrect binary data format in bind parameter (${formatTypeName(type)})`)
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
    case 'date':
      need(4)
      return data.readInt32BE(0) + PG_EPOCH_DAYS
    case 'bytea':
      return Uint8Array.from(data)
    case 'jsonb':
      return parseText(type, data.subarray(1).toString('utf8'), tz)
    case 'text':
    case 'unknown':
      return data.toString('utf8')
    default:
      throw new SluiceError(SqlState.feature_not_supported, `binary format for parameters of type ${formatTypeName(type)} is not supported; send it as text`)
  }
}

/** PostgreSQL's binary NUMERIC: base-10000 digits with weight, sign and display scale. */
function encodeNumeric(d: Decimal): Buffer {
  const neg = d.unscaled < 0n
  const scale = Math.max(d.scale, 0)
  let digits = (neg ? -d.unscaled : d.unscaled).toString()
  if (d.scale < 0) digits += '0'.repeat(-d.scale)
  const intLen = digits.length - scale
  let intPart = intLen > 0 ? digits.slice(0, intLen) : '0'
  let fracPart = intLen > 0 ? digits.slice(intLen) : '0'.repeat(-intLen) + digits
  intPart = intPart.padStart(Math.ceil(intPart.length / 4) * 4, '0')
  fracPart = fracPart.padEnd(Math.ceil(fracPart.length / 4) * 4, '0')
  const groups: number[] = []
  for (let i = 0; i < intPart.length; i += 4) groups.push(Number(intPart.slice(i, i + 4)))
  const intGroups = groups.length
  for (let i = 0; i < fracPart.length; i += 4) groups.push(Number(fracPart.slice(i, i + 4)))
  let weight = intGroups - 1
  while (groups.length > 0 && groups[0] === 0) {
    groups.shift()
    weight--
  }
  while (groups.length > 0 && groups[groups.length - 1] === 0) groups.pop()
  if (groups.length === 0) weight = 0
  const b = Buffer.allocUnsafe(8 + groups.length * 2)
  b.writeInt16BE(groups.length, 0)
  b.writeInt16BE(weight, 2)
  b.writeUInt16BE(neg ? 0x4000 : 0, 4)
  b.writeInt16BE(scale, 6)
  groups.forEach((g, i) => b.writeInt16BE(g, 8 + i * 2))
  return b
}
