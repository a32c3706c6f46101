/**
 * SQL data types as the engine sees them, and the JavaScript value that carries each one.
 *
 * Values are plain JS values so that generated expression code stays straight-line:
 *   bool → boolean; int2/int4 → number; int8 → bigint; float4/float8 → number;
 *   numeric → Decimal; text → string; bytea → Uint8Array; date → number (days since 1970-01-01);
 *   time → number (µs since midnight); timestamp/timestamptz → number (µs since the epoch, UTC for
 *   timestamptz, "wall clock as if UTC" for timestamp); interval → Interval; jsonb → Jsonb;
 *   array → readonly Value[]. SQL NULL is always `null`.
 */
import type { Decimal } from './decimal.ts'
import type { Interval } from './interval.ts'
import type { Jsonb } from './jsonb.ts'

export type ScalarKind =
  | 'bool'
  | 'int2'
  | 'int4'
  | 'int8'
  | 'float4'
  | 'float8'
  | 'numeric'
  | 'text'
  | 'bytea'
  | 'date'
  | 'time'
  | 'timestamp'
  | 'timestamptz'
  | 'interval'
  | 'jsonb'
  | 'unknown'

export type DataType = { readonly kind: ScalarKind } | { readonly kind: 'array'; readonly element: DataType }

export type Value =
  null | boolean | number | bigint | string | Decimal | Interval | Jsonb | Uint8Array | readonly Value[]

/** A row as the engine hands it to clients: one value per column. */
export type Row = Value[]

/** Every SQL type a column can have (all scalar kinds but `unknown`, the type of untyped literals). */
export const SQL_KINDS: readonly Exclude<ScalarKind, 'unknown'>[] = [
  'bool',
  'int2',
  'int4',
  'int8',
  'float4',
  'float8',
  'numeric',
  'text',
  'bytea',
  'date',
  'time',
  'timestamp',
  'timestamptz',
  'interval',
  'jsonb',
]

const scalars = new Map<ScalarKind, DataType>()
/** Interned scalar types, so `t.kind === ...` and identity comparisons both work. */
export function scalar(kind: ScalarKind): DataType {
  let t = scalars.get(kind)
  if (t === undefined) {
    t = Object.freeze({ kind })
    scalars.set(kind, t)
  }
  return t
}

export const T = {
  bool: scalar('bool'),
  int2: scalar('int2'),
  int4: scalar('int4'),
  int8: scalar('int8'),
  float4: scalar('float4'),
  float8: scalar('float8'),
  numeric: scalar('numeric'),
  text: scalar('text'),
  bytea: scalar('bytea'),
  date: scalar('date'),
  time: scalar('time'),
  timestamp: scalar('timestamp'),
  timestamptz: scalar('timestamptz'),
  interval: scalar('interval'),
  jsonb: scalar('jsonb'),
  unknown: scalar('unknown'),
} as const

export function arrayOf(element: DataType): DataType {
  return { kind: 'array', element }
}

export function typeEquals(a: DataType, b: DataType): boolean {
  if (a.kind === 'array' || b.kind === 'array') {
    return a.kind === 'array' && b.kind === 'array' && typeEquals(a.element, b.element)
  }
  return a.kind === b.kind
}
