/**
 * PostgreSQL's names and OIDs for Sluice's types: what pgwire puts in RowDescription, what
 * `format_type` prints, and every SQL spelling a user may write. VARCHAR(n) and CHAR(n) map to
 * text: length modifiers are accepted and not enforced.
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
  bool: 'bool', boolean: 'bool',
  int2: 'int2', smallint: 'int2', smallserial: 'int2',
  int: 'int4', int4: 'int4', integer: 'int4', serial: 'int4', serial4: 'int4',
  int8: 'int8', bigint: 'int8', bigserial: 'int8', serial8: 'int8',
  float4: 'float4', real: 'float4',
  float: 'float8', float8: 'float8', 'double precision': 'float8', double: 'float8',
  numeric: 'numeric', decimal: 'numeric',
  text: 'text', varchar: 'text', 'character varying': 'text', char: 'text', character: 'text', bpchar: 'text', string: 'text', name: 'text',
  bytea: 'bytea',
  date: 'date',
  time: 'time', 'time without time zone': 'time',
  timestamp: 'timestamp', 'timestamp without time zone': 'timestamp',
  timestamptz: 'timestamptz', 'timestamp with time zone': 'timestamptz',
  interval: 'interval',
  json: 'jsonb', jsonb: 'jsonb',
}

const EXTRA_OIDS: Record<number, DataType> = { 1043: T.text, 1042: T.text, 114: T.jsonb, 19: T.text, 26: T.int8, 18: T.text, 0: T.unknown }

export function typeOid(t: DataType): number {
  return t.kind === 'array' ? (t.element.kind === 'array' ? 0 : INFO[t.element.kind].arrayOid) : INFO[t.kind].oid
}

export function typeFromOid(oid: number): DataType | undefined {
  for (const [kind, info] of Object.entries(INFO) as [ScalarKind, TypeInfo][]) {
    if (info.oid === oid) return T[kind]
    if (info.arrayOid === oid && info.arrayOid !== 0) return arrayOf(T[kind])
  }
  return EXTRA_OIDS[oid]
}

export function typeLength(t: DataType): number {
  return t.kind === 'array' ? -1 : INFO[t.kind].length
}

export function pgTypeName(t: DataType): string {
  return t.kind === 'array' ? `_${pgTypeName(t.element)}` : INFO[t.kind].typname
}

export function formatTypeName(t: DataType): string {
  return t.kind === 'array' ? `${formatTypeName(t.element)}[]` : INFO[t.kind].formatName
}

export function typeFromName(name: string): DataType | undefined {
  let n = name.trim().toLowerCase().replace(/\s+/g, ' ')
  if (n.startsWith('pg_catalog.')) n = n.slice('pg_catalog.'.length)
  n = n.replace(/\s*\(.*\)\s*/, ' ').trim()
  if (n.endsWith('[]')) {
    const el = typeFromName(n.slice(0, -2))
    return el === undefined ? undefined : arrayOf(el)
  }
  if (n.startsWith('_')) {
    const el = typeFromName(n.slice(1))
    return el === undefined ? undefined : arrayOf(el)
  }
  const kind = NAMES[n]
  return kind === undefined ? undefined : T[kind]
}
