/**
 * Test support for the expression layer: a small binder from Sluice's statement tree to bound
 * expressions over a fixed set of sample columns (the same rules as the real binder: untyped
 * literals, function resolution, inserted casts, literal folding), sample rows, and PostgreSQL
 * as the oracle, so each test states an expression once and compares both sides.
 */
import type { Expr } from '../sql/tree.ts'
import type { BoundExpr } from './bound.ts'
import type { CompileContext } from './compile.ts'
import type { DataType, Value } from '../types/datatype.ts'
import pg from 'pg'
import { SluiceError, SqlState } from '../errors.ts'
import { T } from '../types/datatype.ts'
import { Decimal } from '../types/decimal.ts'
import { castValue } from '../types/cast.ts'
import { formatTypeName, typeFromName } from '../types/oid.ts'
import { parseText } from '../types/text.ts'
import { parseSql } from '../sql/front-door.ts'
import { resolveFunction } from './functions.ts'

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

const NUMERIC_RANK: Partial<Record<string, number>> = { int2: 1, int4: 2, int8: 3, numeric: 4, float4: 5, float8: 6 }

/** Binds an expression over COLUMNS, as the real binder does. */
export class TestBinder {
  constructor(private readonly ctx: CompileContext) {}

  bind(e: Expr): BoundExpr {
    switch (e.kind) {
      case 'column': {
        const index = COLUMNS.findIndex((c) => c.name === e.name)
        if (index < 0) throw new SluiceError(SqlState.undefined_column, `column "${e.name}" does not exist`)
        return { kind: 'column', index, type: COLUMNS[index].type }
      }
      case 'number': {
        if (/^-?\d+$/.test(e.text)) {
          const n = BigInt(e.text)
          if (n >= -2147483648n && n <= 2147483647n) return { kind: 'literal', value: Number(n), type: T.int4 }
          if (n >= -9223372036854775808n && n <= 9223372036854775807n)
            return { kind: 'literal', value: n, type: T.int8 }
        }
        return { kind: 'literal', value: Decimal.fromString(e.text), type: T.numeric }
      }
      case 'string':
        return { kind: 'literal', value: e.value, type: T.unknown }
      case 'bool':
        return { kind: 'literal', value: e.value, type: T.bool }
      case 'null':
        return { kind: 'literal', value: null, type: T.unknown }
      case 'cast': {
        const target = typeFromName(e.type.name)
        if (target === undefined)
          throw new SluiceError(SqlState.undefined_object, `type "${e.type.name}" does not exist`)
        return this.coerce(this.bind(e.expr), target)
      }
      case 'op':
        return this.call(
          e.op,
          e.args.map((a) => this.bind(a)),
        )
      case 'and':
      case 'or':
        return { kind: e.kind, args: e.args.map((a) => this.coerce(this.bind(a), T.bool)), type: T.bool }
      case 'not':
        return { kind: 'not', arg: this.coerce(this.bind(e.arg), T.bool), type: T.bool }
      case 'is_null':
        return { kind: 'is_null', arg: this.bind(e.arg), negated: e.negated, type: T.bool }
      case 'is_bool':
        return {
          kind: 'is_bool',
          arg: this.coerce(this.bind(e.arg), T.bool),
          value: e.value,
          negated: e.negated,
          type: T.bool,
        }
      case 'is_distinct': {
        const [left, right] = this.unify([this.bind(e.left), this.bind(e.right)])
        return { kind: 'is_distinct', left, right, negated: e.negated, type: T.bool }
      }
      case 'between': {
        const [arg, low, high] = this.unify([this.bind(e.arg), this.bind(e.low), this.bind(e.high)])
        const range: BoundExpr = {
          kind: 'and',
          args: [this.call('>=', [arg, low]), this.call('<=', [arg, high])],
          type: T.bool,
        }
        return e.negated ? { kind: 'not', arg: range, type: T.bool } : range
      }
      case 'in_list': {
        const all = this.unify([this.bind(e.arg), ...e.list.map((x) => this.bind(x))])
        return { kind: 'in_list', arg: all[0], list: all.slice(1), negated: e.negated, type: T.bool }
      }
      case 'case': {
        const whens = e.whens.map((w) => ({
          when:
            e.operand === undefined
              ? this.coerce(this.bind(w.when), T.bool)
              : this.call('=', [this.bind(e.operand), this.bind(w.when)]),
          then: this.bind(w.then),
        }))
        const elseExpr = e.else === undefined ? undefined : this.bind(e.else)
        const type = this.commonType([
          ...whens.map((w) => w.then.type),
          ...(elseExpr === undefined ? [] : [elseExpr.type]),
        ])
        return {
          kind: 'case',
          whens: whens.map((w) => ({ when: w.when, then: this.coerce(w.then, type) })),
          else: elseExpr === undefined ? undefined : this.coerce(elseExpr, type),
          type,
        }
      }
      case 'coalesce':
      case 'greatest':
      case 'least': {
        const args = this.unify(e.args.map((a) => this.bind(a)))
        return { kind: e.kind, args, type: args[0].type }
      }
      case 'nullif': {
        const [left, right] = this.unify([this.bind(e.left), this.bind(e.right)])
        return { kind: 'nullif', left, right, type: left.type }
      }
      case 'func':
        return this.call(
          e.name,
          e.args.map((a) => this.bind(a)),
        )
      case 'param':
      case 'star':
      case 'subquery':
      case 'array':
        throw new Error(`test binder: ${e.kind} not supported`)
    }
  }

  call(name: string, args: BoundExpr[]): BoundExpr {
    let resolved = resolveFunction(
      name,
      args.map((a) => a.type),
    )
    if (resolved === undefined && args.some((a) => a.type.kind === 'unknown')) {
      args = args.map((a) => (a.type.kind === 'unknown' ? this.coerce(a, T.text) : a))
      resolved = resolveFunction(
        name,
        args.map((a) => a.type),
      )
    }
    if (resolved === undefined) {
      throw new SluiceError(
        SqlState.undefined_function,
        `function ${name}(${args.map((a) => formatTypeName(a.type)).join(', ')}) does not exist`,
      )
    }
    const targets = resolved.argTypes
    return {
      kind: 'call',
      fn: resolved.fn,
      args: args.map((a, i) => this.coerce(a, targets[i])),
      type: resolved.fn.returnType,
    }
  }

  coerce(e: BoundExpr, target: DataType): BoundExpr {
    if (e.type.kind === target.kind && target.kind !== 'array') return e
    if (e.kind === 'literal') {
      const from = e.type.kind === 'unknown' ? T.text : e.type
      return {
        kind: 'literal',
        value: e.value === null ? null : castValue(e.value, from, target, this.ctx.timezone),
        type: target,
      }
    }
    return { kind: 'cast', expr: e, type: target }
  }

  private unify(args: BoundExpr[]): BoundExpr[] {
    const type = this.commonType(args.map((a) => a.type))
    return args.map((a) => this.coerce(a, type))
  }

  private commonType(types: readonly DataType[]): DataType {
    const known = types.filter((t) => t.kind !== 'unknown')
    if (known.length === 0) return T.text
    let best = known[0]
    for (const t of known.slice(1)) {
      const a = NUMERIC_RANK[best.kind]
      const b = NUMERIC_RANK[t.kind]
      if (a !== undefined && b !== undefined) {
        if (b > a) best = t
      } else if (t.kind !== best.kind) {
        const pair = new Set([best.kind, t.kind])
        if (pair.has('timestamptz')) best = T.timestamptz
        else if (pair.has('timestamp')) best = T.timestamp
        else
          throw new SluiceError(
            SqlState.datatype_mismatch,
            `types ${formatTypeName(best)} and ${formatTypeName(t)} cannot be matched`,
          )
      }
    }
    return best
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
