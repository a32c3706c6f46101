/**
 * JSONB operators and functions: `->` and `->>` by key or array index (negative counts from the
 * end), `||`, jsonb_typeof, jsonb_array_length, jsonb_extract_path(_text). A missing key or index
 * gives SQL NULL; `->>` of JSON null is SQL NULL too.
 */
import type { JsonValue } from '../types/jsonb.ts'
import type { Value } from '../types/datatype.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { Jsonb, formatJson } from '../types/jsonb.ts'
import { def } from './registry.ts'

function field(j: JsonValue, k: string): JsonValue | undefined {
  if (j === null || typeof j !== 'object' || Array.isArray(j)) return undefined
  return Object.prototype.hasOwnProperty.call(j, k) ? j[k] : undefined
}

function index(j: JsonValue, i: number): JsonValue | undefined {
  if (!Array.isArray(j)) return undefined
  const at = i < 0 ? j.length + i : i
  return at >= 0 && at < j.length ? j[at] : undefined
}

function wrap(v: JsonValue | undefined): Jsonb | null {
  return v === undefined ? null : new Jsonb(v)
}

function asText(v: JsonValue | undefined): string | null {
  if (v === undefined || v === null) return null
  return typeof v === 'string' ? v : formatJson(v)
}

function typeOf(v: JsonValue): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  return typeof v === 'object' ? 'object' : typeof v
}

function path(j: JsonValue, keys: readonly Value[]): JsonValue | undefined {
  let cur: JsonValue | undefined = j
  for (const k of keys) {
    if (cur === undefined || k === null) return undefined
    if (Array.isArray(cur)) {
      const s = k as string
      if (!/^-?\d+$/.test(s)) return undefined
      cur = index(cur, Number(s))
    } else cur = field(cur, k as string)
  }
  return cur
}

function concat(a: JsonValue, b: JsonValue): JsonValue {
  if (
    a !== null &&
    b !== null &&
    typeof a === 'object' &&
    typeof b === 'object' &&
    !Array.isArray(a) &&
    !Array.isArray(b)
  ) {
    return { ...a, ...b }
  }
  return [...(Array.isArray(a) ? a : [a]), ...(Array.isArray(b) ? b : [b])]
}

const json = (v: Value): JsonValue => (v as Jsonb).value

def(
  '->',
  { args: ['jsonb', 'text'], ret: 'jsonb', impl: (j, k) => wrap(field(json(j), k as string)) },
  { args: ['jsonb', 'int4'], ret: 'jsonb', impl: (j, i) => wrap(index(json(j), i as number)) },
)
def(
  '->>',
  { args: ['jsonb', 'text'], ret: 'text', impl: (j, k) => asText(field(json(j), k as string)) },
  { args: ['jsonb', 'int4'], ret: 'text', impl: (j, i) => asText(index(json(j), i as number)) },
)
def('||', { args: ['jsonb', 'jsonb'], ret: 'jsonb', impl: (a, b) => new Jsonb(concat(json(a), json(b))) })
def('?', {
  args: ['jsonb', 'text'],
  ret: 'bool',
  impl: (j, k) => {
    const v = json(j)
    if (Array.isArray(v)) return v.includes(k as string)
    return field(v, k as string) !== undefined
  },
})
def('jsonb_typeof', { args: ['jsonb'], ret: 'text', impl: (j) => typeOf(json(j)) })
def('jsonb_array_length', {
  args: ['jsonb'],
  ret: 'int4',
  impl: (j) => {
    const v = json(j)
    if (Array.isArray(v)) return v.length
    throw new SluiceError(
      SqlState.invalid_parameter_value,
      `cannot get array length of a ${v !== null && typeof v === 'object' ? 'non-array' : 'scalar'}`,
    )
  },
})
def('jsonb_extract_path', {
  args: ['jsonb', 'text'],
  variadic: true,
  ret: 'jsonb',
  impl: (j, ...keys) => wrap(path(json(j), keys)),
})
def('jsonb_extract_path_text', {
  args: ['jsonb', 'text'],
  variadic: true,
  ret: 'text',
  impl: (j, ...keys) => asText(path(json(j), keys)),
})
