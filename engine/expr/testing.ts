/**
 * Test support for the expression layer: the real binder over a fixed set of sample columns,
 * sample rows, and PostgreSQL as the oracle, so each test states an expression once and compares
 * both sides.
 */
import type { Expr } from '../sql/tree.ts'
import type { BoundExpr } from './bound.ts'
import type { CompileContext } from './compile.ts'
import type { DataType, Value } from '../types/datatype.ts'
import pg from 'pg'
import { SluiceError, SqlState } from '../errors.ts'
import { T } from '../types/datatype.ts'
import { parseText } from '../types/text.ts'
import { Binder } from '../plan/binder.ts'
import { Scope } from '../plan/scope.ts'
import { parseSql } from '../sql/front-door.ts'

export interface SampleColumn {
  readonly name: string
  readonly type: DataType
  /** PostgreSQL's spelling of the type, for the VALUES list. */
  readonly sql: string
}

export const COLUMNS: readonly SampleColumn[] = [
  { name: 'a', type: T.int4, sql: 'int4' },
  { name: 'b', type: T.int8, sql: 'int8' },
  { name: 'c', type: T.float8, sql: 'float8' },
  { name: 'd', type: T.numeric, sql: 'numeric' },
  { name: 's', type: T.text, sql: 'text' },
  { name: 'ts', type: T.timestamp, sql: 'timestamp' },
  { name: 'tz', type: T.timestamptz, sql: 'timestamptz' },
  { name: 'dt', type: T.date, sql: 'date' },
  { name: 'iv', type: T.interval, sql: 'interval' },
  { name: 'j', type: T.jsonb, sql: 'jsonb' },
  { name: 'f', type: T.bool, sql: 'bool' },
  { name: 'e', type: T.int2, sql: 'int2' },
  { name: 'r', type: T.float4, sql: 'float4' },
  { name: 'tm', type: T.time, sql: 'time' },
]

/** Sample rows as PostgreSQL text (null = NULL), one entry per column of COLUMNS. */
export const ROWS: readonly (readonly (string | null)[])[] = [
  [
    '7',
    '10000000000',
    '2.5',
    '12.345',
    'Hello World',
    '2024-02-29 13:45:30.123456',
    '2024-03-10 06:30:00+00',
    '2024-01-31',
    '1 mon 2 days 03:04:05',
    '{"k": "v", "n": [1, 2, 3], "x": 1.5, "o": {"p": true}}',
    't',
    '3',
    '1.5',
    '13:45:30.5',
  ],
  [
    '-3',
    '-5',
    '-0.5',
    '-0.005',
    '  padded  ',
    '1999-12-31 23:59:59',
    '2000-01-01 00:00:00+00',
    '2000-02-28',
    '-1 days 12:00:00',
    '[1, "two", null]',
    'f',
    '-2',
    '-0.25',
    '00:00:00',
  ],
  [null, null, null, null, null, null, null, null, null, null, null, null, null, null],
  [
    '2147483647',
    '9223372036854775807',
    '1e300',
    '99999999999999999999.99',
    'ÄÖü_%x',
    '2024-12-31 23:59:59.999999',
    '2024-11-03 05:30:00+00',
    '2024-12-31',
    '1 year',
    '"str"',
    't',
    '32767',
    '3.4e38',
    '23:59:59.999999',
  ],
  [
    '0',
    '0',
    '0',
    '0',
    '',
    '1970-01-01 00:00:00',
    '1970-01-01 00:00:00+00',
    '1970-01-01',
    '0 seconds',
    'null',
    'f',
    '0',
    '0',
    '12:00:00',
  ],
]

export function sampleChunkColumns(tz: string): Value[][] {
  return COLUMNS.map((c, ci) => ROWS.map((r) => (r[ci] === null ? null : parseText(c.type, r[ci], tz))))
}

function quote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`
}

/** `(VALUES (...)) t(a, b, ...)` holding one sample row. */
export function valuesSql(row: readonly (string | null)[]): string {
  const items = COLUMNS.map((c, i) => `${row[i] === null ? 'NULL' : quote(row[i])}::${c.sql}`)
  return `(VALUES (${items.join(', ')})) t(${COLUMNS.map((c) => c.name).join(', ')})`
}

export async function parseExpr(sql: string): Promise<Expr> {
  const [stmt] = await parseSql(`SELECT ${sql}`)
  if (stmt.kind !== 'query' || stmt.query.kind !== 'select') throw new Error(`not a SELECT: ${sql}`)
  return stmt.query.targets[0].expr
}

/** Binds an expression over COLUMNS with the real binder, so the oracle tests pin the binder too. */
export class TestBinder {
  private readonly binder: Binder
  private readonly scope = new Scope(COLUMNS.map((c) => ({ name: c.name, type: c.type })))

  constructor(ctx: CompileContext) {
    this.binder = new Binder({
      catalog: {
        relation: (_schema, name) => {
          throw new SluiceError(SqlState.undefined_table, `relation "${name}" does not exist`)
        },
      },
      compile: ctx,
      paramTypes: [],
      allowSources: false,
    })
  }

  bind(e: Expr): BoundExpr {
    const bound = this.binder.bindExpr(e, { scope: this.scope, agg: undefined })
    return bound.type.kind === 'unknown' ? this.binder.coerce(bound, { kind: 'text' }, 0) : bound
  }
}

export type Outcome =
  | { readonly ok: true; readonly text: string | null }
  | { readonly ok: false; readonly code: string; readonly message: string }

/** One PostgreSQL connection answering every value as PostgreSQL prints it. */
export class Oracle {
  private constructor(private readonly client: pg.Client) {}

  static async open(timezone = 'UTC'): Promise<Oracle> {
    const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' })
    await client.connect()
    await client.query(`SET TIME ZONE '${timezone}'; SET IntervalStyle = 'postgres'; SET DateStyle = 'ISO, MDY'`)
    return new Oracle(client)
  }

  /** First column of the first row as text, or the error's SQLSTATE. */
  async one(sql: string): Promise<Outcome> {
    try {
      const r = await this.client.query({
        text: sql,
        types: { getTypeParser: () => (v: string) => v },
        rowMode: 'array',
      })
      const row = (r.rows as unknown[][])[0]
      return { ok: true, text: row === undefined ? null : (row[0] as string | null) }
    } catch (e) {
      const err = e as { code?: string; message?: string }
      return { ok: false, code: err.code ?? '', message: err.message ?? String(e) }
    }
  }

  async close(): Promise<void> {
    await this.client.end()
  }
}
