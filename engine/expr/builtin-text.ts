/**
 * String functions and operators: concatenation, LIKE/ILIKE, regular expressions, and
 * PostgreSQL's text functions. Lengths and positions count characters (code points), not
 * UTF-16 units; non-text arguments of `||` and concat() print with their type's output format.
 */
import type { DataType, Value } from '../types/datatype.ts'
import { createHash } from 'node:crypto'
import { SluiceError, SqlState } from '../errors.ts'
import { T } from '../types/datatype.ts'
import { castValue } from '../types/cast.ts'
import { formatText } from '../types/text.ts'
import { def } from './registry.ts'
import { SUBSTRING_ERROR } from './helpers.ts'

function fail(message: string): never {
  throw new SluiceError(SqlState.invalid_parameter_value, message)
}

/** Number of code points, without building an array. */
function charLength(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0xd800 || c > 0xdbff) n++
  }
  return n
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

/** Characters [from, to) by code point index; a fast path for ASCII strings. */
function chars(s: string, from: number, to: number): string {
  if (isAscii(s)) return s.slice(Math.max(0, from), Math.max(0, to))
  return Array.from(s).slice(Math.max(0, from), Math.max(0, to)).join('')
}

function substring(s: string, from: number, len: number | undefined): string {
  if (len !== undefined && len < 0) {
    throw new SluiceError(SUBSTRING_ERROR, 'negative substring length not allowed')
  }
  const start = from - 1
  return chars(s, start, len === undefined ? Infinity : start + len)
}

function trim(s: string, set: string, left: boolean, right: boolean): string {
  const cs = Array.from(s)
  let a = 0
  let b = cs.length
  while (left && a < b && set.includes(cs[a])) a++
  while (right && b > a && set.includes(cs[b - 1])) b--
  return cs.slice(a, b).join('')
}

function strpos(s: string, sub: string): number {
  const at = s.indexOf(sub)
  return at < 0 ? 0 : charLength(s.slice(0, at)) + 1
}

function splitPart(s: string, d: string, n: number): string {
  if (n === 0) fail('field position must not be zero')
  const parts = d === '' ? [s] : s.split(d)
  const i = n > 0 ? n - 1 : parts.length + n
  return parts[i] ?? ''
}

function pad(s: string, n: number, fill: string, left: boolean): string {
  const cs = Array.from(s)
  if (n <= cs.length) return cs.slice(0, Math.max(0, n)).join('')
  const fs = Array.from(fill)
  if (fs.length === 0) return s
  const need = n - cs.length
  let padding = ''
  for (let i = 0; i < need; i++) padding += fs[i % fs.length]
  return left ? padding + s : s + padding
}

function initcap(s: string): string {
  let out = ''
  let inWord = false
  for (const c of s) {
    const alnum = /[\p{L}\p{N}]/u.test(c)
    out += alnum ? (inWord ? c.toLowerCase() : c.toUpperCase()) : c
    inWord = alnum
  }
  return out
}

const regexCache = new Map<string, RegExp>()
function regex(pattern: string, flags: string): RegExp {
  const key = flags + '/' + pattern
  let r = regexCache.get(key)
  if (r === undefined) {
    try {
      r = new RegExp(pattern, flags)
    } catch (e) {
      throw new SluiceError(
        SqlState.invalid_parameter_value,
        `invalid regular expression: ${e instanceof Error ? e.message : String(e)}`,
      )
    }
    if (regexCache.size > 1000) regexCache.clear()
    regexCache.set(key, r)
  }
  return r
}

/** The output text of a value of a resolved argument type (text passes through), as concat() prints it. */
function formatter(t: DataType, tz: string): (v: Value) => string {
  if (t.kind === 'text' || t.kind === 'unknown') return (v) => v as string
  return (v) => formatText(t, v, tz)
}

/** `||` with a non-text side casts it to text (so a boolean reads `true`, not `t`). */
function toText(t: DataType, tz: string): (v: Value) => string {
  if (t.kind === 'text' || t.kind === 'unknown') return (v) => v as string
  return (v) => castValue(v, t, T.text, tz) as string
}

/** Maps each character on its own, as PostgreSQL's upper/lower do (ß stays ß). */
function perChar(s: string, upper: boolean): string {
  let ascii = true
  for (let i = 0; i < s.length && ascii; i++) if (s.charCodeAt(i) > 0x7f) ascii = false
  if (ascii) return upper ? s.toUpperCase() : s.toLowerCase()
  let out = ''
  for (const c of s) {
    const m = upper ? c.toUpperCase() : c.toLowerCase()
    out += charLength(m) === 1 ? m : c
  }
  return out
}

// ---- operators ----

def(
  '||',
  { args: ['text', 'text'], ret: 'text', inline: ([a, b]) => `(${a} + ${b})` },
  {
    args: ['any', 'text'],
    ret: 'text',
    bind: (ctx, [t]) => {
      const f = toText(t, ctx.timezone)
      return (a, b) => f(a) + (b as string)
    },
  },
  {
    args: ['text', 'any'],
    ret: 'text',
    bind: (ctx, [, t]) => {
      const f = toText(t, ctx.timezone)
      return (a, b) => (a as string) + f(b)
    },
  },
)
def('~~', { args: ['text', 'text'], ret: 'bool', inline: ([a, b]) => `H.like(${a}, ${b})` })
def('!~~', { args: ['text', 'text'], ret: 'bool', inline: ([a, b]) => `!H.like(${a}, ${b})` })
def('~~*', { args: ['text', 'text'], ret: 'bool', inline: ([a, b]) => `H.ilike(${a}, ${b})` })
def('!~~*', { args: ['text', 'text'], ret: 'bool', inline: ([a, b]) => `!H.ilike(${a}, ${b})` })
def('~', { args: ['text', 'text'], ret: 'bool', impl: (a, b) => regex(b as string, 'u').test(a as string) })
def('~*', { args: ['text', 'text'], ret: 'bool', impl: (a, b) => regex(b as string, 'iu').test(a as string) })
def('!~', { args: ['text', 'text'], ret: 'bool', impl: (a, b) => !regex(b as string, 'u').test(a as string) })
def('!~*', { args: ['text', 'text'], ret: 'bool', impl: (a, b) => !regex(b as string, 'iu').test(a as string) })

// ---- functions ----

def('lower', { args: ['text'], ret: 'text', impl: (s) => perChar(s as string, false) })
def('upper', { args: ['text'], ret: 'text', impl: (s) => perChar(s as string, true) })
def(['length', 'char_length', 'character_length'], {
  args: ['text'],
  ret: 'int4',
  impl: (a) => charLength(a as string),
})
def('octet_length', { args: ['text'], ret: 'int4', impl: (a) => Buffer.byteLength(a as string) })
def(
  ['substring', 'substr'],
  { args: ['text', 'int4'], ret: 'text', impl: (s, from) => substring(s as string, from as number, undefined) },
  {
    args: ['text', 'int4', 'int4'],
    ret: 'text',
    impl: (s, from, len) => substring(s as string, from as number, len as number),
  },
)
// substring(s FROM pattern): the first parenthesized group's match, or the whole match.
def('substring', {
  args: ['text', 'text'],
  ret: 'text',
  impl: (s, p) => {
    const m = regex(p as string, 'u').exec(s as string)
    return m === null ? null : ((m.length > 1 ? m[1] : m[0]) ?? null)
  },
})
def(
  ['btrim', 'trim'],
  { args: ['text'], ret: 'text', impl: (s) => trim(s as string, ' ', true, true) },
  { args: ['text', 'text'], ret: 'text', impl: (s, c) => trim(s as string, c as string, true, true) },
)
def(
  'ltrim',
  { args: ['text'], ret: 'text', impl: (s) => trim(s as string, ' ', true, false) },
  { args: ['text', 'text'], ret: 'text', impl: (s, c) => trim(s as string, c as string, true, false) },
)
def(
  'rtrim',
  { args: ['text'], ret: 'text', impl: (s) => trim(s as string, ' ', false, true) },
  { args: ['text', 'text'], ret: 'text', impl: (s, c) => trim(s as string, c as string, false, true) },
)
def('replace', {
  args: ['text', 'text', 'text'],
  ret: 'text',
  impl: (s, a, b) => ((a as string) === '' ? s : (s as string).split(a as string).join(b as string)),
})
def('concat', {
  args: ['any'],
  variadic: true,
  ret: 'text',
  strict: false,
  bind: (ctx, types) => {
    const fs = types.map((t) => formatter(t, ctx.timezone))
    return (...args) => {
      let out = ''
      for (let i = 0; i < args.length; i++) if (args[i] !== null) out += fs[i](args[i])
      return out
    }
  },
})
def('concat_ws', {
  args: ['text', 'any'],
  variadic: true,
  ret: 'text',
  strict: false,
  bind: (ctx, types) => {
    const fs = types.map((t) => formatter(t, ctx.timezone))
    return (sep, ...args) => {
      if (sep === null) return null
      const parts: string[] = []
      for (let i = 0; i < args.length; i++) if (args[i] !== null) parts.push(fs[i + 1](args[i]))
      return parts.join(sep as string)
    }
  },
})
def(['strpos', 'position'], {
  args: ['text', 'text'],
  ret: 'int4',
  impl: (s, sub) => strpos(s as string, sub as string),
})
def('left', {
  args: ['text', 'int4'],
  ret: 'text',
  impl: (s, n) => {
    const k = n as number
    return chars(s as string, 0, k >= 0 ? k : charLength(s as string) + k)
  },
})
def('right', {
  args: ['text', 'int4'],
  ret: 'text',
  impl: (s, n) => {
    const k = n as number
    const len = charLength(s as string)
    return chars(s as string, k >= 0 ? len - k : -k, len)
  },
})
def('split_part', {
  args: ['text', 'text', 'int4'],
  ret: 'text',
  impl: (s, d, n) => splitPart(s as string, d as string, n as number),
})
def('starts_with', { args: ['text', 'text'], ret: 'bool', inline: ([a, b]) => `${a}.startsWith(${b})` })
def('repeat', { args: ['text', 'int4'], ret: 'text', impl: (s, n) => (s as string).repeat(Math.max(0, n as number)) })
def('reverse', {
  args: ['text'],
  ret: 'text',
  impl: (s) =>
    Array.from(s as string)
      .reverse()
      .join(''),
})
def(
  'lpad',
  { args: ['text', 'int4'], ret: 'text', impl: (s, n) => pad(s as string, n as number, ' ', true) },
  { args: ['text', 'int4', 'text'], ret: 'text', impl: (s, n, f) => pad(s as string, n as number, f as string, true) },
)
def(
  'rpad',
  { args: ['text', 'int4'], ret: 'text', impl: (s, n) => pad(s as string, n as number, ' ', false) },
  { args: ['text', 'int4', 'text'], ret: 'text', impl: (s, n, f) => pad(s as string, n as number, f as string, false) },
)
def('initcap', { args: ['text'], ret: 'text', impl: (s) => initcap(s as string) })
def('md5', {
  args: ['text'],
  ret: 'text',
  impl: (s) =>
    createHash('md5')
      .update(s as string)
      .digest('hex'),
})
def('ascii', { args: ['text'], ret: 'int4', impl: (s) => (s as string).codePointAt(0) ?? 0 })
def('chr', {
  args: ['int4'],
  ret: 'text',
  impl: (n) => {
    const c = n as number
    if (c <= 0 || c > 0x10ffff)
      fail(c === 0 ? 'null character not permitted' : 'requested character too large for encoding: ' + c)
    return String.fromCodePoint(c)
  },
})
