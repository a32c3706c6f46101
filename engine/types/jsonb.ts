/**
 * JSONB values, wrapped so that JSON null is distinct from SQL NULL. Text output follows
 * PostgreSQL: `{"a": 1, "b": [1, 2]}`, object keys ordered by length then bytes (jsonb's storage
 * order). Numbers are JS doubles, so unlike PostgreSQL's numeric-backed jsonb, '1.50' prints as
 * 1.5 and integers beyond 2^53 lose precision.
 */
import { SluiceError, SqlState } from '../errors.ts'
import { Decimal } from './decimal.ts'

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

export class Jsonb {
  constructor(readonly value: JsonValue) {}

  toString(): string {
    return formatJson(this.value)
  }
}

/** JSON text → value, with PostgreSQL's error (22P02 invalid input syntax for type json). */
export function parseJson(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e)
    throw new SluiceError(SqlState.invalid_text_representation, 'invalid input syntax for type json', {
      detail: `${why} in: ${text.length > 60 ? text.slice(0, 60) + '...' : text}`,
    })
  }
}

/** jsonb's key order: shorter keys first, then by bytes. */
function keyOrder(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
}

function formatNumber(n: number): string {
  const s = String(n)
  // PostgreSQL prints jsonb numbers as numeric: never with an exponent.
  return s.includes('e') ? Decimal.fromString(s).toString() : s
}

/** PostgreSQL's jsonb text output. */
export function formatJson(v: JsonValue): string {
  if (v === null) return 'null'
  if (typeof v === 'number') return formatNumber(v)
  if (typeof v !== 'object') return JSON.stringify(v)
  if (Array.isArray(v)) {
    let out = '['
    for (let i = 0; i < v.length; i++) out += (i > 0 ? ', ' : '') + formatJson(v[i])
    return out + ']'
  }
  const keys = Object.keys(v).sort(keyOrder)
  let out = '{'
  for (let i = 0; i < keys.length; i++)
    out += `${i > 0 ? ', ' : ''}${JSON.stringify(keys[i])}: ${formatJson(v[keys[i]])}`
  return out + '}'
}

/** PostgreSQL's jsonb type order: null < string < number < boolean < array < object. */
function rank(v: JsonValue): number {
  if (v === null) return 0
  if (typeof v === 'string') return 1
  if (typeof v === 'number') return 2
  if (typeof v === 'boolean') return 3
  return Array.isArray(v) ? 4 : 5
}

function compareArrays(a: readonly JsonValue[], b: readonly JsonValue[], rawA: boolean, rawB: boolean): number {
  let res = 0
  if (rawA !== rawB) res = rawA ? -1 : 1
  if (a.length !== b.length) res = a.length > b.length ? 1 : -1
  if (res !== 0) return res
  for (let i = 0; i < a.length; i++) {
    const c = compareInner(a[i], b[i])
    if (c !== 0) return c
  }
  return 0
}

function compareInner(a: JsonValue, b: JsonValue): number {
  const ra = rank(a)
  const rb = rank(b)
  if (ra !== rb) return ra < rb ? -1 : 1
  switch (ra) {
    case 0:
      return 0
    case 1:
    case 2:
      return (a as string | number) < (b as string | number)
        ? -1
        : (a as string | number) > (b as string | number)
          ? 1
          : 0
    case 3:
      return a === b ? 0 : a === false ? -1 : 1
    case 4:
      return compareArrays(a as JsonValue[], b as JsonValue[], false, false)
    default: {
      const x = a as Record<string, JsonValue>
      const y = b as Record<string, JsonValue>
      const kx = Object.keys(x).sort(keyOrder)
      const ky = Object.keys(y).sort(keyOrder)
      if (kx.length !== ky.length) return kx.length > ky.length ? 1 : -1
      for (let i = 0; i < kx.length; i++) {
        if (kx[i] !== ky[i]) return kx[i] < ky[i] ? -1 : 1
        const c = compareInner(x[kx[i]], y[ky[i]])
        if (c !== 0) return c
      }
      return 0
    }
  }
}

/**
 * jsonb ordering as PostgreSQL's B-tree defines it: by type (null < string < number < boolean <
 * array < object), arrays and objects by element count first, then element by element (object
 * keys in storage order). A top-level scalar is stored as a one-element "raw" array.
 */
export function compareJsonb(a: JsonValue, b: JsonValue): number {
  const sa = a === null || typeof a !== 'object'
  const sb = b === null || typeof b !== 'object'
  const arrA = sa || Array.isArray(a)
  const arrB = sb || Array.isArray(b)
  if (arrA && arrB) return compareArrays(sa ? [a] : a, sb ? [b] : b, sa, sb)
  return compareInner(a, b)
}
