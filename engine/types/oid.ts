/**
 * PostgreSQL's names and OIDs for Sluice's types: what pgwire puts in RowDescription, what
 * `format_type` prints, and every SQL spelling a user may write. VARCHAR(n) and CHAR(n) map to
 * text; their modifiers, and NUMERIC(p,s)'s and TIMESTAMP(p)'s, live beside the type (typmod.ts).
 */
import type { DataType, ScalarKind } from './datatype.ts'
import { T, arrayOf } from './datatype.ts'

interface TypeInfo {
  readonly oid: number
  readonly arrayOid: number
  readonly typname: string
  readonly formatName: string
  readonly length: number
}

const INFO: Record<ScalarKind, TypeInfo> = {
  bool: { oid: 16, arrayOid: 1000, typname: 'bool', formatName: 'boolean', length: 1 },
  int2: { oid: 21, arrayOid: 1005, typname: 'int2', formatName: 'smallint', length: 2 },
  int4: { oid: 23, arrayOid: 1007, typname: 'int4', formatName: 'integer', length: 4 },
  int8: { oid: 20, arrayOid: 1016, typname: 'int8', formatName: 'bigint', length: 8 },
  float4: { oid: 700, arrayOid: 1021, typname: 'float4', formatName: 'real', length: 4 },
  float8: { oid: 701, arrayOid: 1022, typname: 'float8', formatName: 'double precision', length: 8 },
  numeric: { oid: 1700, arrayOid: 1231, typname: 'numeric', formatName: 'numeric', length: -1 },
  text: { oid: 25, arrayOid: 1009, typname: 'text', formatName: 'text', length: -1 },
  bytea: { oid: 17, arrayOid: 1001, typname: 'bytea', formatName: 'bytea', length: -1 },
  date: { oid: 1082, arrayOid: 1182, typname: 'date', formatName: 'date', length: 4 },
  time: { oid: 1083, arrayOid: 1183, typname: 'time', formatName: 'time without time zone', length: 8 },
  timestamp: { oid: 1114, arrayOid: 1115, typname: 'timestamp', formatName: 'timestamp without time zone', length: 8 },
  timestamptz: { oid: 1184, arrayOid: 1185, typname: 'timestamptz', formatName: 'timestamp with time zone', length: 8 },
  interval: { oid: 1186, arrayOid: 1187, typname: 'interval', formatName: 'interval', length: 16 },
  jsonb: { oid: 3802, arrayOid: 3807, typname: 'jsonb', formatName: 'jsonb', length: -1 },
  unknown: { oid: 705, arrayOid: 0, typname: 'unknown', formatName: 'unknown', length: -2 },
}

const NAMES: Record<string, ScalarKind> = {
  bool: 'bool',
  boolean: 'bool',
  int2: 'int2',
  smallint: 'int2',
  int: 'int4',
  int4: 'int4',
  integer: 'int4',
  int8: 'int8',
  bigint: 'int8',
  oid: 'int8',
  float4: 'float4',
  real: 'float4',
  float: 'float8',
  float8: 'float8',
  'double precision': 'float8',
  numeric: 'numeric',
  decimal: 'numeric',
  text: 'text',
  varchar: 'text',
  'character varying': 'text',
  char: 'text',
  character: 'text',
  bpchar: 'text',
  string: 'text',
  name: 'text',
  '"char"': 'text',
  bytea: 'bytea',
  date: 'date',
  time: 'time',
  'time without time zone': 'time',
  timestamp: 'timestamp',
  'timestamp without time zone': 'timestamp',
  timestamptz: 'timestamptz',
  'timestamp with time zone': 'timestamptz',
  interval: 'interval',
  json: 'jsonb',
  jsonb: 'jsonb',
}

/** Client-side types with no engine type of their own, read as the nearest engine type. */
const EXTRA_OIDS: Record<number, DataType> = {
  1043: T.text,
  1042: T.text,
  114: T.jsonb,
  19: T.text,
  26: T.int8,
  18: T.text,
  0: T.unknown,
  1015: arrayOf(T.text),
  1014: arrayOf(T.text),
  199: arrayOf(T.jsonb),
  1003: arrayOf(T.text),
  1028: arrayOf(T.int8),
  1002: arrayOf(T.text),
}

const BY_OID = new Map<number, DataType>()
for (const [kind, info] of Object.entries(INFO) as [ScalarKind, TypeInfo][]) {
  BY_OID.set(info.oid, T[kind])
  if (info.arrayOid !== 0) BY_OID.set(info.arrayOid, arrayOf(T[kind]))
}
for (const [oid, t] of Object.entries(EXTRA_OIDS)) BY_OID.set(Number(oid), t)

/** The PostgreSQL type OID (pgwire RowDescription, pg_type.oid); arrays of arrays share their element's array OID. */
export function typeOid(t: DataType): number {
  if (t.kind !== 'array') return INFO[t.kind].oid
  let el = t.element
  while (el.kind === 'array') el = el.element
  return INFO[el.kind].arrayOid
}

/** The engine type for a client-supplied OID (Parse parameter types); varchar, bpchar, name, char → text; json → jsonb; oid → bigint. */
export function typeFromOid(oid: number): DataType | undefined {
  return BY_OID.get(oid)
}

/** pg_type.typlen: fixed byte length, -1 for variable-length. */
export function typeLength(t: DataType): number {
  return t.kind === 'array' ? -1 : INFO[t.kind].length
}

/** pg_type.typname: 'int8', '_int4', 'timestamptz'. */
export function pgTypeName(t: DataType): string {
  if (t.kind !== 'array') return INFO[t.kind].typname
  let el = t.element
  while (el.kind === 'array') el = el.element
  return `_${INFO[el.kind].typname}`
}

/** format_type()'s spelling: 'bigint', 'double precision', 'timestamp with time zone', 'integer[]'. */
export function formatTypeName(t: DataType): string {
  return t.kind === 'array' ? `${formatTypeName(t.element)}[]` : INFO[t.kind].formatName
}

/**
 * The type a user wrote, in any SQL spelling, case-insensitive, optionally `pg_catalog.`-qualified:
 * 'int', 'double precision', 'timestamp(3) with time zone', 'varchar(20)', 'numeric(10,2)',
 * 'int[]', 'text[3]', '_int4'. The engine type only: VARCHAR(n)/CHAR(n) are text, NUMERIC(p,s)
 * numeric (the modifier is typmod.ts's typeModOf). FLOAT(p) is real for p <= 24, as in
 * PostgreSQL. Undefined for names Sluice has no type for.
 */
export function typeFromName(name: string): DataType | undefined {
  let n = name.trim().toLowerCase().replace(/\s+/g, ' ')
  if (n.startsWith('pg_catalog.')) n = n.slice('pg_catalog.'.length)
  const arr = /^(.*?)\s*((?:\[\s*\d*\s*\])+)$/.exec(n)
  if (arr !== null) {
    let t = typeFromName(arr[1])
    if (t === undefined || t.kind === 'array') return t === undefined ? undefined : t
    const dims = (arr[2].match(/\[/g) ?? []).length
    for (let i = 0; i < dims; i++) t = arrayOf(t)
    return t
  }
  if (n.endsWith(' array')) {
    const el = typeFromName(n.slice(0, -6))
    return el === undefined ? undefined : arrayOf(el)
  }
  const float = /^float\s*\(\s*(\d+)\s*\)$/.exec(n)
  if (float !== null) {
    const p = Number(float[1])
    return p >= 1 && p <= 24 ? T.float4 : p <= 53 ? T.float8 : undefined
  }
  n = n.replace(/\s*\([^)]*\)\s*/g, ' ').trim()
  if (n.startsWith('_')) {
    const el = typeFromName(n.slice(1))
    return el === undefined || el.kind === 'array' ? undefined : arrayOf(el)
  }
  // INTERVAL may carry fields: 'interval day to second', 'interval hour'.
  if (/^interval( (year|month|day|hour|minute|second)( to (month|hour|minute|second))?)?$/.test(n)) return T.interval
  const kind = NAMES[n]
  return kind === undefined ? undefined : T[kind]
}
