/**
 * PostgreSQL's text input and output functions for every type: what pgwire sends in text
 * format, what casts from and to text do, and what the sqllogictest runner compares.
 */
import type { DataType, Value } from './datatype.ts'
import type { JsonValue } from './jsonb.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { Decimal } from './decimal.ts'
import { Interval } from './interval.ts'
import { Jsonb, formatJson } from './jsonb.ts'
import { formatDate, formatTime, formatTimestamp, formatTimestamptz, parseDate, parseTime, parseTimestamp, parseTimestamptz } from './time.ts'
import { formatTypeName } from './oid.ts'

const INT_RANGE = {
  int2: [-32768n, 32767n, 'smallint'],
  int4: [-2147483648n, 2147483647n, 'integer'],
  int8: [-9223372036854775808n, 9223372036854775807n, 'bigint'],
} as const

function invalid(type: DataType, text: string): SluiceError {
  return new SluiceError(SqlState.invalid_text_representation, `invalid input syntax for type ${formatTypeName(type)}: "${text}"`)
}

export function parseText(type: DataType, text: string, tz = 'UTC'): Value {
  if (type.kind === 'array') return parseArray(type.element, text, tz)
  switch (type.kind) {
    case 'bool': {
      const t = text.trim().toLowerCase()
      if (['t', 'true', 'y', 'yes', 'on', '1'].includes(t)) return true
      if (['f', 'false', 'n', 'no', 'off', '0'].includes(t)) return false
      throw invalid(type, text)
    }
    case 'int2':
    case 'int4':
    case 'int8': {
      const t = text.trim()
      if (!/^[+-]?\d+$/.test(t)) throw invalid(type, text)
      const n = BigInt(t)
      const [min, max, name] = INT_RANGE[type.kind]
      if (n < min || n > max) throw new SluiceError(SqlState.numeric_value_out_of_range, `value "${text}" is out of range for type ${name}`)
      return type.kind === 'int8' ? n : Number(n)
    }
    case 'float4':
    case 'float8': {
      const t = text.trim().toLowerCase()
      if (t === 'nan') return NaN
      if (t === 'infinity' || t === '+infinity' || t === 'inf') return Infinity
      if (t === '-infinity' || t === '-inf') return -Infinity
      if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) throw invalid(type, text)
      const v = Number(t)
      return type.kind === 'float4' ? Math.fround(v) : v
    }
    case 'numeric':
      return Decimal.fromString(text)
    case 'text':
    case 'unknown':
      return text
    case 'bytea': {
      if (text.startsWith('\\x')) {
        const hex = text.slice(2)
        if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw invalid(type, text)
        return Uint8Array.from(Buffer.from(hex, 'hex'))
      }
      return Uint8Array.from(Buffer.from(text, 'utf8'))
    }
    case 'date':
      return parseDate(text)
    case 'time':
      return parseTime(text)
    case 'timestamp':
      return parseTimestamp(text)
    case 'timestamptz':
      return parseTimestamptz(text, tz)
    case 'interval':
      return Interval.parse(text)
    case 'jsonb':
      try {
        return new Jsonb(JSON.parse(text) as JsonValue)
      } catch {
        throw new SluiceError(SqlState.invalid_text_representation, `invalid input syntax for type json`, { detail: `Token in "${text.slice(0, 40)}" is invalid.` })
      }
  }
}

export function formatText(type: DataType, value: Value, tz = 'UTC'): string {
  if (value === null) return ''
  if (type.kind === 'array') return formatArray(type.element, value as readonly Value[], tz)
  switch (type.kind) {
    case 'bool':
      return value === true ? 't' : 'f'
    case 'int2':
    case 'int4':
    case 'int8':
      return String(value)
    case 'float4':
      return formatFloat(value as number, true)
    case 'float8':
      return formatFloat(value as number, false)
    case 'numeric':
      return value instanceof Decimal ? value.toString() : String(value)
    case 'text':
    case 'unknown':
      return String(value)
    case 'bytea':
      return '\\x' + Buffer.from(value as Uint8Array).toString('hex')
    case 'date':
      return formatDate(value as number)
    case 'time':
      return formatTime(value as number)
    case 'timestamp':
      return formatTimestamp(value as number)
    case 'timestamptz':
      return formatTimestamptz(value as number, tz)
    case 'interval':
      return (value as Interval).toString()
    case 'jsonb':
      return value instanceof Jsonb ? formatJson(value.value) : String(value)
  }
}

/** PostgreSQL 12+ float output: the shortest text that reads back to the same value. */
function formatFloat(v: number, single: boolean): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return 'Infinity'
  if (v === -Infinity) return '-Infinity'
  if (Object.is(v, -0)) return '-0'
  let s: string
  if (single) {
    s = String(v)
    for (let p = 1; p <= 9; p++) {
      const c = v.toPrecision(p)
      if (Math.fround(Number(c)) === v) {
        s = String(Number(c))
        break
      }
    }
  } else s = String(v)
  // JS switches to exponents at 1e21 and below 1e-6; PostgreSQL at 1e15-ish and below 1e-4.
  const abs = Math.abs(Number(s))
  if (abs !== 0 && (abs >= 1e16 || abs < 1e-4)) {
    const [mant, exp] = Number(s).toExponential().split('e')
    const e = Number(exp)
    return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
  }
  return s.includes('e') ? Number(s).toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 }) : s
}

function formatArray(element: DataType, items: readonly Value[], tz: string): string {
  return `{${items
    .map((v) => {
      if (v === null) return 'NULL'
      const s = formatText(element, v, tz)
      return s === '' || /[{},"\\\s]/.test(s) || s.toUpperCase() === 'NULL' ? `"${s.replace(/[\\"]/g, '\\$&')}"` : s
    })
    .join(',')}}`
}

function parseArray(element: DataType, text: string, tz: string): Value[] {
  const t = text.trim()
  if (!t.startsWith('{') || !t.endsWith('}')) throw new SluiceError(SqlState.invalid_text_representation, `malformed array literal: "${text}"`)
  const body = t.slice(1, -1)
  const out: Value[] = []
  if (body.trim() === '') return out
  let i = 0
  while (i <= body.length) {
    while (body[i] === ' ') i++
    let item = ''
    let quoted = false
    if (body[i] === '"') {
      quoted = true
      i++
      while (i < body.length && body[i] !== '"') {
        if (body[i] === '\\') i++
        item += body[i++]
      }
      i++
    } else {
      while (i < body.length && body[i] !== ',') item += body[i++]
      item = item.trim()
    }
    out.push(!quoted && item.toUpperCase() === 'NULL' ? null : parseText(element, item, tz))
    while (body[i] === ' ') i++
    i++ // comma
  }
  return out
}
