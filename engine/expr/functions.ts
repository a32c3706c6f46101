/**
 * The scalar function and operator registry, with PostgreSQL-like overload resolution.
 *
 * Each overload is either an inline JS template (hot operators: arithmetic and comparisons, so
 * generated code has no call per row) or an implementation function. Strict overloads return
 * NULL when any argument is NULL; the compiler generates that check once.
 */
import type { DataType, ScalarKind, Value } from '../types/datatype.ts'
import type { CompileContext } from './compile.ts'
import { T } from '../types/datatype.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { Decimal } from '../types/decimal.ts'
import type { Interval } from '../types/interval.ts'
import { Jsonb, formatJson } from '../types/jsonb.ts'
import { canCast } from '../types/cast.ts'
import { compareValues } from '../types/compare.ts'
import { formatText } from '../types/text.ts'
import { datePart, dateTrunc, extractField, toTimestamp } from '../types/time.ts'
import { createHash } from 'node:crypto'

export type Impl = (args: Value[], ctx: CompileContext) => Value

export interface ResolvedFunction {
  readonly name: string
  readonly argTypes: readonly DataType[]
  readonly returnType: DataType
  /** JS expression over the argument variables (already non-null when strict); may use `H.`. */
  readonly inline?: (args: readonly string[]) => string
  readonly impl?: Impl
  /** NULL in → NULL out, without calling the implementation. */
  readonly strict: boolean
}

type Sig = readonly (ScalarKind | 'any')[]

interface Overload {
  readonly args: Sig
  /** Variadic: the last arg type repeats. */
  readonly variadic?: boolean
  readonly ret: ScalarKind | ((args: readonly DataType[]) => DataType)
  readonly inline?: (a: readonly string[]) => string
  readonly impl?: Impl
  readonly strict?: boolean
}

const registry = new Map<string, Overload[]>()

function def(names: string | readonly string[], ...overloads: Overload[]): void {
  for (const name of typeof names === 'string' ? [names] : names) registry.set(name, [...(registry.get(name) ?? []), ...overloads])
}

// ---- arithmetic ----
const ARITH: Record<string, { i4: (a: readonly string[]) => string; i8: (a: readonly string[]) => string; f8: (a: readonly string[]) => string; num: Impl }> = {
  '+': { i4: ([a, b]) => `H.i4(${a} + ${b})`, i8: ([a, b]) => `H.i8(${a} + ${b})`, f8: ([a, b]) => `H.f8(${a} + ${b}, ${a}, ${b})`, num: ([a, b]) => (a as Decimal).add(b as Decimal) },
  '-': { i4: ([a, b]) => `H.i4(${a} - ${b})`, i8: ([a, b]) => `H.i8(${a} - ${b})`, f8: ([a, b]) => `H.f8(${a} - ${b}, ${a}, ${b})`, num: ([a, b]) => (a as Decimal).sub(b as Decimal) },
  '*': { i4: ([a, b]) => `H.i4(${a} * ${b})`, i8: ([a, b]) => `H.i8(${a} * ${b})`, f8: ([a, b]) => `H.f8(${a} * ${b}, ${a}, ${b})`, num: ([a, b]) => (a as Decimal).mul(b as Decimal) },
  '/': { i4: ([a, b]) => `H.i4div(${a}, ${b})`, i8: ([a, b]) => `H.i8div(${a}, ${b})`, f8: ([a, b]) => `H.f8div(${a}, ${b})`, num: ([a, b]) => (a as Decimal).div(b as Decimal) },
  '%': { i4: ([a, b]) => `H.i4mod(${a}, ${b})`, i8: ([a, b]) => `H.i8mod(${a}, ${b})`, f8: ([a, b]) => `(${a} % ${b})`, num: ([a, b]) => (a as Decimal).mod(b as Decimal) },
}
for (const [op, f] of Object.entries(ARITH)) {
  def(op, { args: ['int4', 'int4'], ret: 'int4', inline: f.i4 }, { args: ['int8', 'int8'], ret: 'int8', inline: f.i8 }, { args: ['numeric', 'numeric'], ret: 'numeric', impl: f.num }, { args: ['float8', 'float8'], ret: 'float8', inline: f.f8 })
}
def('^', { args: ['float8', 'float8'], ret: 'float8', inline: ([a, b]) => `Math.pow(${a}, ${b})` })
def('neg', { args: ['int4'], ret: 'int4', inline: ([a]) => `H.i4(-${a})` }, { args: ['int8'], ret: 'int8', inline: ([a]) => `H.i8(-${a})` }, { args: ['numeric'], ret: 'numeric', impl: ([a]) => (a as Decimal).neg() }, { args: ['float8'], ret: 'float8', inline: ([a]) => `(-${a})` }, { args: ['interval'], ret: 'interval', impl: ([a]) => (a as Interval).neg() })

// ---- temporal arithmetic ----
def('+',
  { args: ['timestamp', 'interval'], ret: 'timestamp', inline: ([a, b]) => `H.tsPlusInterval(${a}, ${b})` },
  { args: ['timestamptz', 'interval'], ret: 'timestamptz', inline: ([a, b]) => `H.tsPlusInterval(${a}, ${b})` },
  { args: ['interval', 'timestamp'], ret: 'timestamp', inline: ([a, b]) => `H.tsPlusInterval(${b}, ${a})` },
  { args: ['date', 'int4'], ret: 'date', inline: ([a, b]) => `(${a} + ${b})` },
  { args: ['date', 'interval'], ret: 'timestamp', inline: ([a, b]) => `H.tsPlusInterval(${a} * 86400000000, ${b})` },
  { args: ['interval', 'interval'], ret: 'interval', impl: ([a, b]) => (a as Interval).add(b as Interval) },
)
def('-',
  { args: ['timestamp', 'interval'], ret: 'timestamp', inline: ([a, b]) => `H.tsPlusInterval(${a}, ${b}.neg())` },
  { args: ['timestamptz', 'interval'], ret: 'timestamptz', inline: ([a, b]) => `H.tsPlusInterval(${a}, ${b}.neg())` },
  { args: ['timestamp', 'timestamp'], ret: 'interval', inline: ([a, b]) => `H.tsMinusTs(${a}, ${b})` },
  { args: ['timestamptz', 'timestamptz'], ret: 'interval', inline: ([a, b]) => `H.tsMinusTs(${a}, ${b})` },
  { args: ['date', 'date'], ret: 'int4', inline: ([a, b]) => `(${a} - ${b})` },
  { args: ['date', 'int4'], ret: 'date', inline: ([a, b]) => `(${a} - ${b})` },
  { args: ['date', 'interval'], ret: 'timestamp', inline: ([a, b]) => `H.tsPlusInterval(${a} * 86400000000, ${b}.neg())` },
  { args: ['interval', 'interval'], ret: 'interval', impl: ([a, b]) => (a as Interval).sub(b as Interval) },
)
def('*', { args: ['interval', 'float8'], ret: 'interval', impl: ([a, b]) => (a as Interval).mul(b as number) }, { args: ['float8', 'interval'], ret: 'interval', impl: ([a, b]) => (b as Interval).mul(a as number) })
def('/', { args: ['interval', 'float8'], ret: 'interval', impl: ([a, b]) => ((b as number) === 0 ? divZero() : (a as Interval).mul(1 / (b as number))) })

// ---- comparisons: one overload per comparable kind ----
const CMP: Record<string, string> = { '=': '===', '<>': '!==', '<': '<', '<=': '<=', '>': '>', '>=': '>=' }
const PRIMITIVE: ScalarKind[] = ['int4', 'int8', 'float8', 'text', 'date', 'time', 'timestamp', 'timestamptz']
for (const [op, js] of Object.entries(CMP)) {
  for (const k of PRIMITIVE) {
    const floatEq = k === 'float8' && (op === '=' || op === '<>')
    def(op, { args: [k, k], ret: 'bool', inline: floatEq ? ([a, b]) => `(${op === '=' ? '' : '!'}(${a} === ${b} || (${a} !== ${a} && ${b} !== ${b})))` : ([a, b]) => `(${a} ${js} ${b})` })
  }
  for (const k of ['numeric', 'interval', 'bool', 'bytea', 'jsonb'] as const) {
    const test = op === '=' ? (c: number) => c === 0 : op === '<>' ? (c: number) => c !== 0 : op === '<' ? (c: number) => c < 0 : op === '<=' ? (c: number) => c <= 0 : op === '>' ? (c: number) => c > 0 : (c: number) => c >= 0
    const t = T[k]
    def(op, { args: [k, k], ret: 'bool', impl: ([a, b]) => test(compareValues(a, b, t)) })
  }
}

// ---- text ----
def('||', { args: ['text', 'text'], ret: 'text', inline: ([a, b]) => `(${a} + ${b})` }, { args: ['jsonb', 'jsonb'], ret: 'jsonb', impl: ([a, b]) => concatJson(a as Jsonb, b as Jsonb) })
def('~~', { args: ['text', 'text'], ret: 'bool', inline: ([a, b]) => `H.like(${a}, ${b}, false)` })
def('!~~', { args: ['text', 'text'], ret: 'bool', inline: ([a, b]) => `!H.like(${a}, ${b}, false)` })
def('~~*', { args: ['text', 'text'], ret: 'bool', inline: ([a, b]) => `H.like(${a}, ${b}, true)` })
def('!~~*', { args: ['text', 'text'], ret: 'bool', inline: ([a, b]) => `!H.like(${a}, ${b}, true)` })
def('~', { args: ['text', 'text'], ret: 'bool', impl: ([a, b]) => regex(b as string, '').test(a as string) })
def('~*', { args: ['text', 'text'], ret: 'bool', impl: ([a, b]) => regex(b as string, 'i').test(a as string) })
def('!~', { args: ['text', 'text'], ret: 'bool', impl: ([a, b]) => !regex(b as string, '').test(a as string) })
def('lower', { args: ['text'], ret: 'text', inline: ([a]) => `${a}.toLowerCase()` })
def('upper', { args: ['text'], ret: 'text', inline: ([a]) => `${a}.toUpperCase()` })
def(['length', 'char_length', 'character_length'], { args: ['text'], ret: 'int4', impl: ([a]) => [...(a as string)].length })
def('octet_length', { args: ['text'], ret: 'int4', impl: ([a]) => Buffer.byteLength(a as string) })
def(['substring', 'substr'],
  { args: ['text', 'int4'], ret: 'text', impl: ([s, from]) => substring(s as string, from as number, undefined) },
  { args: ['text', 'int4', 'int4'], ret: 'text', impl: ([s, from, len]) => substring(s as string, from as number, len as number) },
)
def(['btrim', 'trim'], { args: ['text'], ret: 'text', impl: ([s]) => (s as string).replace(/^ +| +$/g, '') }, { args: ['text', 'text'], ret: 'text', impl: ([s, c]) => trimChars(s as string, c as string, true, true) })
def('ltrim', { args: ['text'], ret: 'text', impl: ([s]) => (s as string).replace(/^ +/, '') }, { args: ['text', 'text'], ret: 'text', impl: ([s, c]) => trimChars(s as string, c as string, true, false) })
def('rtrim', { args: ['text'], ret: 'text', impl: ([s]) => (s as string).replace(/ +$/, '') }, { args: ['text', 'text'], ret: 'text', impl: ([s, c]) => trimChars(s as string, c as string, false, true) })
def('replace', { args: ['text', 'text', 'text'], ret: 'text', impl: ([s, a, b]) => ((a as string) === '' ? s : (s as string).split(a as string).join(b as string)) })
def('concat', { args: ['any'], variadic: true, ret: 'text', strict: false, impl: (args) => args.map((a) => (a === null ? '' : String(a))).join('') })
def('concat_ws', { args: ['text', 'any'], variadic: true, ret: 'text', strict: false, impl: ([sep, ...rest]) => (sep === null ? null : rest.filter((a) => a !== null).map(String).join(sep as string)) })
def(['strpos', 'position'], { args: ['text', 'text'], ret: 'int4', impl: ([s, sub]) => [...(s as string).slice(0, Math.max(0, (s as string).indexOf(sub as string)))].length + ((s as string).includes(sub as string) ? 1 : 0) })
def('left', { args: ['text', 'int4'], ret: 'text', impl: ([s, n]) => { const c = [...(s as string)]; return (n as number) >= 0 ? c.slice(0, n as number).join('') : c.slice(0, Math.max(0, c.length + (n as number))).join('') } })
def('right', { args: ['text', 'int4'], ret: 'text', impl: ([s, n]) => { const c = [...(s as string)]; return (n as number) >= 0 ? c.slice(Math.max(0, c.length - (n as number))).join('') : c.slice(-(n as number)).join('') } })
def('split_part', { args: ['text', 'text', 'int4'], ret: 'text', impl: ([s, d, n]) => splitPart(s as string, d as string, n as number) })
def('starts_with', { args: ['text', 'text'], ret: 'bool', inline: ([a, b]) => `${a}.startsWith(${b})` })
def('repeat', { args: ['text', 'int4'], ret: 'text', impl: ([s, n]) => (s as string).repeat(Math.max(0, n as number)) })
def('reverse', { args: ['text'], ret: 'text', impl: ([s]) => [...(s as string)].reverse().join('') })
def('lpad', { args: ['text', 'int4'], ret: 'text', impl: ([s, n]) => pad(s as string, n as number, ' ', true) }, { args: ['text', 'int4', 'text'], ret: 'text', impl: ([s, n, f]) => pad(s as string, n as number, f as string, true) })
def('rpad', { args: ['text', 'int4'], ret: 'text', impl: ([s, n]) => pad(s as string, n as number, ' ', false) }, { args: ['text', 'int4', 'text'], ret: 'text', impl: ([s, n, f]) => pad(s as string, n as number, f as string, false) })
def('initcap', { args: ['text'], ret: 'text', impl: ([s]) => (s as string).toLowerCase().replace(/(^|[^a-z0-9])([a-z])/g, (_m, p: string, c: string) => p + c.toUpperCase()) })
def('md5', { args: ['text'], ret: 'text', impl: ([s]) => createHash('md5').update(s as string).digest('hex') })

// ---- math ----
def('abs', { args: ['int4'], ret: 'int4', inline: ([a]) => `H.i4(Math.abs(${a}))` }, { args: ['int8'], ret: 'int8', inline: ([a]) => `(${a} < 0n ? H.i8(-${a}) : ${a})` }, { args: ['numeric'], ret: 'numeric', impl: ([a]) => (a as Decimal).abs() }, { args: ['float8'], ret: 'float8', inline: ([a]) => `Math.abs(${a})` })
def('round',
  { args: ['numeric'], ret: 'numeric', impl: ([a]) => (a as Decimal).round(0) },
  { args: ['numeric', 'int4'], ret: 'numeric', impl: ([a, s]) => (a as Decimal).round(s as number) },
  { args: ['float8'], ret: 'float8', impl: ([a]) => roundHalfEven(a as number) },
)
def(['ceil', 'ceiling'], { args: ['numeric'], ret: 'numeric', impl: ([a]) => ceilDec(a as Decimal) }, { args: ['float8'], ret: 'float8', inline: ([a]) => `Math.ceil(${a})` })
def('floor', { args: ['numeric'], ret: 'numeric', impl: ([a]) => ceilDec((a as Decimal).neg()).neg() }, { args: ['float8'], ret: 'float8', inline: ([a]) => `Math.floor(${a})` })
def('trunc', { args: ['numeric'], ret: 'numeric', impl: ([a]) => (a as Decimal).trunc(0) }, { args: ['numeric', 'int4'], ret: 'numeric', impl: ([a, s]) => (a as Decimal).trunc(s as number) }, { args: ['float8'], ret: 'float8', inline: ([a]) => `Math.trunc(${a})` })
def('mod', { args: ['int4', 'int4'], ret: 'int4', inline: ([a, b]) => `H.i4mod(${a}, ${b})` }, { args: ['int8', 'int8'], ret: 'int8', inline: ([a, b]) => `H.i8mod(${a}, ${b})` }, { args: ['numeric', 'numeric'], ret: 'numeric', impl: ([a, b]) => (a as Decimal).mod(b as Decimal) })
def(['power', 'pow'], { args: ['float8', 'float8'], ret: 'float8', inline: ([a, b]) => `Math.pow(${a}, ${b})` })
def('sqrt', { args: ['float8'], ret: 'float8', impl: ([a]) => ((a as number) < 0 ? fail(SqlState.invalid_parameter_value, 'cannot take square root of a negative number') : Math.sqrt(a as number)) })
def('cbrt', { args: ['float8'], ret: 'float8', inline: ([a]) => `Math.cbrt(${a})` })
def('ln', { args: ['float8'], ret: 'float8', impl: ([a]) => logOf(a as number, Math.log) })
def(['log', 'log10'], { args: ['float8'], ret: 'float8', impl: ([a]) => logOf(a as number, Math.log10) })
def('exp', { args: ['float8'], ret: 'float8', inline: ([a]) => `Math.exp(${a})` })
def('sign', { args: ['float8'], ret: 'float8', inline: ([a]) => `Math.sign(${a})` }, { args: ['numeric'], ret: 'numeric', impl: ([a]) => Decimal.fromBigInt(BigInt((a as Decimal).sign())) })
def('pi', { args: [], ret: 'float8', inline: () => 'Math.PI' })

// ---- time ----
def('date_trunc',
  { args: ['text', 'timestamp'], ret: 'timestamp', impl: ([u, ts]) => dateTrunc(u as string, ts as number) },
  { args: ['text', 'timestamptz'], ret: 'timestamptz', impl: ([u, ts], ctx) => dateTrunc(u as string, ts as number, ctx.timezone) },
)
def('extract',
  { args: ['text', 'timestamp'], ret: 'numeric', impl: ([f, v]) => extractField(f as string, v as number, 'timestamp') },
  { args: ['text', 'timestamptz'], ret: 'numeric', impl: ([f, v], ctx) => extractField(f as string, v as number, 'timestamptz', ctx.timezone) },
  { args: ['text', 'date'], ret: 'numeric', impl: ([f, v]) => extractField(f as string, v as number, 'date') },
  { args: ['text', 'time'], ret: 'numeric', impl: ([f, v]) => extractField(f as string, v as number, 'time') },
  { args: ['text', 'interval'], ret: 'numeric', impl: ([f, v]) => extractField(f as string, v as Interval, 'interval') },
)
def('date_part',
  { args: ['text', 'timestamp'], ret: 'float8', impl: ([f, v]) => datePart(f as string, v as number, 'timestamp') },
  { args: ['text', 'timestamptz'], ret: 'float8', impl: ([f, v], ctx) => datePart(f as string, v as number, 'timestamptz', ctx.timezone) },
  { args: ['text', 'date'], ret: 'float8', impl: ([f, v]) => datePart(f as string, v as number, 'date') },
  { args: ['text', 'interval'], ret: 'float8', impl: ([f, v]) => datePart(f as string, v as Interval, 'interval') },
)
def('to_timestamp', { args: ['float8'], ret: 'timestamptz', impl: ([s]) => toTimestamp(s as number) })
def(['now', 'current_timestamp', 'transaction_timestamp', 'statement_timestamp'], { args: [], ret: 'timestamptz', strict: false, impl: (_a, ctx) => ctx.now })
def('localtimestamp', { args: [], ret: 'timestamp', strict: false, impl: (_a, ctx) => ctx.now })
def('current_date', { args: [], ret: 'date', strict: false, impl: (_a, ctx) => Math.floor(ctx.now / 86_400_000_000) })

// ---- json ----
def('->', { args: ['jsonb', 'text'], ret: 'jsonb', impl: ([j, k]) => jsonField(j as Jsonb, k as string) }, { args: ['jsonb', 'int4'], ret: 'jsonb', impl: ([j, i]) => jsonIndex(j as Jsonb, i as number) })
def('->>', { args: ['jsonb', 'text'], ret: 'text', impl: ([j, k]) => jsonText(jsonField(j as Jsonb, k as string)) }, { args: ['jsonb', 'int4'], ret: 'text', impl: ([j, i]) => jsonText(jsonIndex(j as Jsonb, i as number)) })
def('jsonb_typeof', { args: ['jsonb'], ret: 'text', impl: ([j]) => { const v = (j as Jsonb).value; return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v } })
def('jsonb_array_length', { args: ['jsonb'], ret: 'int4', impl: ([j]) => (Array.isArray((j as Jsonb).value) ? ((j as Jsonb).value as unknown[]).length : fail(SqlState.invalid_parameter_value, 'cannot get array length of a non-array')) })

// ---- session and catalog functions BI tools call ----
def('version', { args: [], ret: 'text', strict: false, impl: () => 'PostgreSQL 16.0 (Sluice 0.1.0, a streaming SQL engine)' })
def(['current_user', 'session_user', 'user'], { args: [], ret: 'text', strict: false, impl: () => 'sluice' })
def(['current_database', 'current_catalog'], { args: [], ret: 'text', strict: false, impl: () => 'sluice' })
def('current_schema', { args: [], ret: 'text', strict: false, impl: () => 'public' })

function fail(code: (typeof SqlState)[keyof typeof SqlState], message: string): never {
  throw new SluiceError(code, message)
}
function divZero(): never {
  return fail(SqlState.division_by_zero, 'division by zero')
}
function logOf(a: number, f: (x: number) => number): number {
  if (a === 0) fail(SqlState.invalid_parameter_value, 'cannot take logarithm of zero')
  if (a < 0) fail(SqlState.invalid_parameter_value, 'cannot take logarithm of a negative number')
  return f(a)
}
function roundHalfEven(v: number): number {
  const r = Math.round(v)
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}
function ceilDec(d: Decimal): Decimal {
  const t = d.trunc(0)
  return d.cmp(t) > 0 ? t.add(Decimal.fromBigInt(1n)) : t
}
function substring(s: string, from: number, len: number | undefined): string {
  const chars = [...s]
  if (len !== undefined && len < 0) fail(SqlState.invalid_parameter_value, 'negative substring length not allowed')
  const start = from - 1
  const end = len === undefined ? chars.length : start + len
  return chars.slice(Math.max(0, start), Math.max(0, end)).join('')
}
function trimChars(s: string, chars: string, left: boolean, right: boolean): string {
  let a = 0
  let b = s.length
  while (left && a < b && chars.includes(s[a])) a++
  while (right && b > a && chars.includes(s[b - 1])) b--
  return s.slice(a, b)
}
function splitPart(s: string, d: string, n: number): string {
  if (n === 0) fail(SqlState.invalid_parameter_value, 'field position must not be zero')
  const parts = d === '' ? [s] : s.split(d)
  const i = n > 0 ? n - 1 : parts.length + n
  return parts[i] ?? ''
}
function pad(s: string, n: number, fill: string, left: boolean): string {
  const chars = [...s]
  if (chars.length >= n) return chars.slice(0, Math.max(0, n)).join('')
  if (fill === '') return s
  let padding = ''
  while ([...padding].length < n - chars.length) padding += fill
  padding = [...padding].slice(0, n - chars.length).join('')
  return left ? padding + s : s + padding
}
const regexCache = new Map<string, RegExp>()
function regex(p: string, flags: string): RegExp {
  let r = regexCache.get(flags + p)
  if (r === undefined) {
    try {
      r = new RegExp(p, flags)
    } catch (e) {
      return fail(SqlState.invalid_parameter_value, `invalid regular expression: ${e instanceof Error ? e.message : String(e)}`)
    }
    if (regexCache.size > 1000) regexCache.clear()
    regexCache.set(flags + p, r)
  }
  return r
}
function jsonField(j: Jsonb, k: string): Jsonb | null {
  const v = j.value
  if (v === null || typeof v !== 'object' || Array.isArray(v) || !(k in v)) return null
  return new Jsonb(v[k])
}
function jsonIndex(j: Jsonb, i: number): Jsonb | null {
  const v = j.value
  if (!Array.isArray(v)) return null
  const at = i < 0 ? v.length + i : i
  return at >= 0 && at < v.length ? new Jsonb(v[at]) : null
}
function jsonText(j: Jsonb | null): string | null {
  if (j === null || j.value === null) return null
  return typeof j.value === 'string' ? j.value : formatJson(j.value)
}
function concatJson(a: Jsonb, b: Jsonb): Jsonb {
  const x = a.value
  const y = b.value
  if (x !== null && y !== null && typeof x === 'object' && typeof y === 'object' && !Array.isArray(x) && !Array.isArray(y)) return new Jsonb({ ...x, ...y })
  return new Jsonb([...(Array.isArray(x) ? x : [x]), ...(Array.isArray(y) ? y : [y])])
}

// ---- resolution ----

/** Numeric promotion ladder for mixed-type arithmetic and comparisons. */
const WIDEN: Partial<Record<ScalarKind, ScalarKind>> = { int2: 'int4', float4: 'float8' }

function normal(t: DataType): DataType {
  return t.kind === 'array' ? t : T[WIDEN[t.kind] ?? t.kind]
}

/** Resolves `name` for these argument types; returns the overload and the types to cast args to. */
export function resolveFunction(name: string, argTypes: readonly DataType[]): { fn: ResolvedFunction; argTypes: readonly DataType[] } | undefined {
  const overloads = registry.get(name.toLowerCase())
  if (overloads === undefined) return undefined
  const args = argTypes.map(normal)
  let best: { o: Overload; targets: DataType[]; cost: number } | undefined
  for (const o of overloads) {
    const sig = o.variadic === true ? expand(o.args, args.length) : o.args
    if (sig.length !== args.length) continue
    let cost = 0
    const targets: DataType[] = []
    let ok = true
    for (let i = 0; i < args.length; i++) {
      const want = sig[i]
      const have = args[i]
      if (want === 'any') {
        targets.push(have.kind === 'unknown' ? T.text : have)
        continue
      }
      if (have.kind === want) {
        targets.push(have)
        continue
      }
      if (have.kind === 'unknown') {
        // An untyped literal prefers the type of its typed neighbour.
        const typed = args.find((a) => a.kind !== 'unknown')
        cost += typed !== undefined && typed.kind === want ? 1 : 3
        targets.push(T[want])
        continue
      }
      if (!canCast(have, T[want], 'implicit')) {
        ok = false
        break
      }
      cost += 2 + rank(want)
      targets.push(T[want])
    }
    if (!ok) continue
    if (best === undefined || cost < best.cost) best = { o, targets, cost }
  }
  if (best === undefined) return undefined
  const { o, targets } = best
  const returnType = typeof o.ret === 'function' ? o.ret(targets) : T[o.ret]
  const fn: ResolvedFunction = { name: name.toLowerCase(), argTypes: targets, returnType, inline: o.inline, impl: o.impl, strict: o.strict ?? true }
  return { fn, argTypes: targets }
}

function expand(sig: Sig, n: number): Sig {
  if (n < sig.length - 1) return sig
  const out = sig.slice(0, -1)
  while (out.length < n) out.push(sig[sig.length - 1])
  return out
}

function rank(k: ScalarKind): number {
  return ['int4', 'int8', 'numeric', 'float8', 'timestamp', 'timestamptz', 'text'].indexOf(k) + 1
}

export { formatText }
