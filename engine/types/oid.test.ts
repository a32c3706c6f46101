import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DataType, ScalarKind } from './datatype.ts'
import { T, arrayOf, SQL_KINDS } from './datatype.ts'
import { formatTypeName, pgTypeName, typeFromName, typeFromOid, typeLength, typeOid } from './oid.ts'
import { openOracle, type Oracle } from './pg-oracle.ts'

let pg: Oracle
beforeAll(async () => {
  pg = await openOracle()
})
afterAll(async () => {
  await pg.close()
})

const KINDS: ScalarKind[] = [...SQL_KINDS]

describe('type names and OIDs match pg_type', () => {
  it('oid, typname, typlen, format_type for scalars and arrays', async () => {
    const types: DataType[] = KINDS.flatMap((k) => [T[k], arrayOf(T[k])])
    const rows = await pg.rows(
      'SELECT t.oid::text, t.typname::text, t.typlen::text, format_type(t.oid, NULL) FROM unnest($1::text[]) WITH ORDINALITY AS n(name, i) JOIN pg_type t ON t.typname = n.name ORDER BY i',
      [types.map(pgTypeName)],
    )
    expect(types.map((t) => [String(typeOid(t)), pgTypeName(t), String(typeLength(t)), formatTypeName(t)])).toEqual(
      rows,
    )
    for (const t of types) expect(typeFromOid(typeOid(t))).toEqual(t)
    expect(typeOid(T.unknown)).toBe(705)
  })

  it('typeFromName reads every spelling PostgreSQL accepts', async () => {
    const spellings = [
      'int',
      'INTEGER',
      'int4',
      'int8',
      'bigint',
      'int2',
      'smallint',
      'real',
      'float4',
      'float',
      'float8',
      'double precision',
      'float(10)',
      'float(30)',
      'numeric',
      'decimal',
      'numeric(10,2)',
      'text',
      'bool',
      'boolean',
      'bytea',
      'date',
      'time',
      'time without time zone',
      'timestamp',
      'timestamp without time zone',
      'timestamp(3)',
      'timestamptz',
      'timestamp with time zone',
      'timestamp(6) with time zone',
      'interval',
      'interval day to second',
      'jsonb',
      'int[]',
      'text[]',
      'pg_catalog.int4',
      'pg_catalog.timestamptz',
      '_int4',
      'bigint[3]',
    ]
    const rows = await pg.rows('SELECT format_type(x::regtype, NULL) FROM unnest($1::text[]) x', [spellings])
    expect(spellings.map((s) => formatTypeName(typeFromName(s) as DataType))).toEqual(rows.map((r) => r[0]))
  })

  it('maps text-like and json client types to engine types', () => {
    expect(typeFromName('varchar(20)')).toBe(T.text)
    expect(typeFromName('character varying')).toBe(T.text)
    expect(typeFromName('char(3)')).toBe(T.text)
    expect(typeFromName('bpchar')).toBe(T.text)
    expect(typeFromName('string')).toBe(T.text)
    expect(typeFromName('json')).toBe(T.jsonb)
    expect(typeFromName('varchar[]')).toEqual(arrayOf(T.text))
    expect(typeFromName('serial')).toBeUndefined()
    expect(typeFromName('nosuchtype')).toBeUndefined()
    expect(typeFromOid(1043)).toBe(T.text)
    expect(typeFromOid(1042)).toBe(T.text)
    expect(typeFromOid(114)).toBe(T.jsonb)
    expect(typeFromOid(19)).toBe(T.text)
    expect(typeFromOid(26)).toBe(T.int8)
    expect(typeFromOid(18)).toBe(T.text)
    expect(typeFromOid(999999)).toBeUndefined()
  })
})
