/**
 * PostgreSQL's text input and output functions for every type: what pgwire sends in text
 * format, what casts from and to text do, and what the sqllogictest runner compares.
 */
import type { DataType, Value } from './datatype.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { Decimal } from './decimal.ts'
import { Interval } from './interval.ts'
import { Jsonb, formatJson, parseJson } from './jsonb.ts'
import {
  formatDate,
  formatTime,
  formatTimestamp,
  formatTimestamptz,
  parseDate,
  parseTime,
  parseTimestamp,
  parseTimestamptz,
} from './time.ts'
import { formatTypeName } from './oid.ts'

const INT_RANGE = {
  int2: [-32768n, 32767n, 'smallint'],
  int4: [-2147483648n, 2147483647n, 'integer'],
  int8: [-9223372036854775808n, 9223372036854775807n, 'bigint'],
} as const

const TRUE_WORDS = ['true', 'yes', 'on']
const FALSE_WORDS = ['false', 'no', 'off']

function invalid(type: DataType, text: string): SluiceError {
  return new SluiceError(
    SqlState.invalid_text_representation,
    `invalid input syntax for type ${formatTypeName(type)}: "${text}"`,
  )
}

/** PostgreSQL's boolin: t/f, true/false, yes/no, on/off, 1/0 and unique prefixes, any case. */
function parseBool(text: string): boolean | undefined {
  const t = text.trim().toLowerCase()
  if (t === '1') return true
  if (t === '0') return false
  if (t === '') return undefined
  // 'o' alone is ambiguous (on/off); PostgreSQL needs 'on' or 'of'.
  if (t.length >= (t[0] === 'o' ? 2 : 1)) {
    if (TRUE_WORDS.some((w) => w.startsWith(t))) return true
    if (FALSE_WORDS.some((w) => w.startsWith(t))) return false
  }
  return undefined
}

function parseFloat(type: DataType, text: string): number {
  const t = text.trim().toLowerCase()
  if (t === 'nan') return NaN
  if (t === 'infinity' || t === '+infinity' || t === 'inf' || t === '+inf') return Infinity
  if (t === '-infinity' || t === '-inf') return -Infinity
  const m = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.exec(t)
  if (m === null) throw invalid(type, text)
  const v = Number(t)
  const out = type.kind === 'float4' ? Math.fround(v) : v
  // Overflow to infinity, or underflow of a non-zero mantissa to zero, is an error in PostgreSQL.
  if (!Number.isFinite(out) || (out === 0 && /[1-9]/.test(m[1]))) {
    throw new SluiceError(
      SqlState.numeric_value_out_of_range,
      `"${text}" is out of range for type ${formatTypeName(type)}`,
    )
  }
  return out
}

/** bytea input: hex ('\x0102') or PostgreSQL's escape format (octal '\001', '\\'). */
function parseBytea(type: DataType, text: string): Uint8Array {
  if (text.startsWith('\\x') || text.startsWith('\\X')) {
    const hex = text.slice(2).replace(/\s+/g, '')
    const badDigit = /[^0-9a-fA-F]/.exec(hex)
    if (badDigit !== null)
      throw new SluiceError(SqlState.invalid_parameter_value, `invalid hexadecimal digit: "${badDigit[0]}"`)
    if (hex.length % 2 !== 0)
      throw new SluiceError(SqlState.invalid_parameter_value, 'invalid hexadecimal data: odd number of digits')
    return Uint8Array.from(Buffer.from(hex, 'hex'))
  }
  const utf8 = Buffer.from(text, 'utf8')
  const out: number[] = []
  for (let i = 0; i < utf8.length; i++) {
    const c = utf8[i]
    if (c !== 0x5c) {
      out.push(c)
      continue
    }
    if (utf8[i + 1] === 0x5c) {
      out.push(0x5c)
      i++
      continue
    }
    const oct = utf8.subarray(i + 1, i + 4).toString('latin1')
    if (!/^[0-3][0-7][0-7]$/.test(oct))
      throw new SluiceError(SqlState.invalid_text_representation, 'invalid input syntax for type bytea')
    out.push(parseInt(oct, 8))
    i += 3
  }
  return Uint8Array.from(out)
}

/** Text input of `type`, with PostgreSQL's syntax and error messages. `tz` is the session zone for TIMESTAMPTZ. */
export function parseText(type: DataType, text: string, tz = 'UTC'): Value {
  if (type.kind === 'array') return parseArray(type, text, tz)
  switch (type.kind) {
    case 'bool': {
      const b = parseBool(text)
      if (b === undefined) throw invalid(type, text)
      return b
    }
    case 'int2':
    case 'int4':
    case 'int8': {
      const t = text.trim()
      if (!/^[+-]?\d+$/.test(t)) throw invalid(type, text)
      const n = BigInt(t)
      const [min, max, name] = INT_RANGE[type.kind]
      if (n < min || n > max)
        throw new SluiceError(SqlState.numeric_value_out_of_range, `value "${text}" is out of range for type ${name}`)
      return type.kind === 'int8' ? n : Number(n)
    }
    case 'float4':
    case 'float8':
      return parseFloat(type, text)
    case 'numeric':
      return Decimal.fromString(text)
    case 'text':
    case 'unknown':
      return text
    case 'bytea':
      return parseBytea(type, text)
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
      return new Jsonb(parseJson(text))
  }
}

/** Text output of a non-null value of `type`, as PostgreSQL prints it. `tz` is the session zone for TIMESTAMPTZ. */
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
      return (
        '\\x' +
        Buffer.from(
          (value as Uint8Array).buffer,
          (value as Uint8Array).byteOffset,
          (value as Uint8Array).byteLength,
        ).toString('hex')
      )
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

/**
 * PostgreSQL 12+ float output: the shortest digits that read back to the same value, in fixed
 * notation when the decimal exponent is in [-4, 15) (float8) or [-4, 6) (float4), else
 * `d.ddde+XX`. JS's String() yields the same shortest digits for doubles.
 */
export function formatFloat(v: number, single: boolean): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return 'Infinity'
  if (v === -Infinity) return '-Infinity'
  if (v === 0) return Object.is(v, -0) ? '-0' : '0'
  let digits = ''
  let exp = 0
  if (single) {
    for (let p = 1; p <= 9; p++) {
      const c = v.toExponential(p - 1)
      if (Math.fround(Number(c)) === v) {
        ;[digits, exp] = splitExponential(c)
        break
      }
    }
  } else [digits, exp] = splitExponential(v.toExponential())
  const neg = v < 0 ? '-' : ''
  if (exp < -4 || exp >= (single ? 6 : 15)) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    return `${neg}${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`
  }
  if (exp < 0) return `${neg}0.${'0'.repeat(-exp - 1)}${digits}`
  if (digits.length <= exp + 1) return neg + digits + '0'.repeat(exp + 1 - digits.length)
  return `${neg}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`
}

/** '-1.2345e+3' → ['12345', 3] (digits without sign or point, decimal exponent of the first). */
function splitExponential(s: string): [string, number] {
  const e = s.indexOf('e')
  return [s.slice(0, e).replace(/[-.]/g, ''), Number(s.slice(e + 1))]
}

function quoteArrayElement(s: string): string {
  if (s === '' || /[{},"\\\s]/.test(s) || s.toUpperCase() === 'NULL') return `"${s.replace(/[\\"]/g, '\\$&')}"`
  return s
}

function formatArray(element: DataType, items: readonly Value[], tz: string): string {
  let out = '{'
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ','
    const v = items[i]
    if (v === null) out += 'NULL'
    else if (element.kind === 'array') out += formatArray(element.element, v as readonly Value[], tz)
    else out += quoteArrayElement(formatText(element, v, tz))
  }
  return out + '}'
}

/** Array input: '{1,2,NULL}', '{"a b","x\\"y"}', nested '{{1,2},{3,4}}', an optional '[1:3]=' prefix. */
function parseArray(type: DataType & { kind: 'array' }, text: string, tz: string): Value[] {
  const malformed = (why: string): SluiceError =>
    new SluiceError(SqlState.invalid_text_representation, `malformed array literal: "${text}"`, { detail: why })
  let i = 0
  const s = text.replace(/^\s*(\[-?\d+:-?\d+\])+\s*=/, '')
  const skipSpace = (): void => {
    while (i < s.length && /\s/.test(s[i])) i++
  }
  const parseLevel = (t: DataType & { kind: 'array' }): Value[] => {
    skipSpace()
    if (s[i] !== '{')
      throw malformed(
        i === 0 ? 'Array value must start with "{" or dimension information.' : 'Unexpected array element.',
      )
    i++
    const out: Value[] = []
    skipSpace()
    if (s[i] === '}') {
      i++
      return out
    }
    for (;;) {
      skipSpace()
      if (s[i] === '{') {
        if (t.element.kind !== 'array')
          throw malformed('Multidimensional arrays are not supported for this element type.')
        out.push(parseLevel(t.element))
      } else {
        let item = ''
        let quoted = false
        if (s[i] === '"') {
          quoted = true
          i++
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\') i++
            item += s[i++]
          }
          if (i >= s.length) throw malformed('Unexpected end of input.')
          i++
        } else {
          while (i < s.length && s[i] !== ',' && s[i] !== '}') {
            if (s[i] === '{' || s[i] === '"') throw malformed('Unexpected array element.')
            if (s[i] === '\\') i++
            item += s[i++]
          }
          item = item.trim()
          if (item === '') throw malformed('Unexpected "," character.')
        }
        if (!quoted && item.toUpperCase() === 'NULL') out.push(null)
        else if (t.element.kind === 'array') throw malformed('Unexpected array element.')
        else out.push(parseText(t.element, item, tz))
      }
      skipSpace()
      if (s[i] === ',') {
        i++
        continue
      }
      if (s[i] === '}') {
        i++
        return out
      }
      throw malformed('Unexpected end of input.')
    }
  }
  const result = parseLevel(type)
  skipSpace()
  if (i < s.length) throw malformed('Junk after closing right brace.')
  return result
}
