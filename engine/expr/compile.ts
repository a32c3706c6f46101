/**
 * Compiles a bound expression, once per plan, into one JS function with a single straight-line
 * loop over a chunk's rows: no per-row tree walk. Hot operators are inline JS; other functions,
 * constants and casts are reached through the array `K` passed in as an argument, so no user
 * text is ever part of the generated source (not even escaped). SQL's three-valued logic,
 * strict null propagation and lazy CASE/COALESCE/AND/OR are spelled out in the generated code.
 *
 * A row that fails to evaluate (division by zero, bad cast, overflow) either throws, or — when
 * the caller passes `errors` — yields NULL (a predicate: 0) and is recorded, so the operator can
 * send it to dead letters and go on.
 */
import type { Chunk, Column } from '../chunk.ts'
import type { BoundExpr } from './bound.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { SluiceError } from '../errors.ts'
import { toSluiceError } from '../errors.ts'
import { H } from './helpers.ts'
import { castValue } from '../types/cast.ts'
import { compareValues, valuesEqual } from '../types/compare.ts'

/** What a compiled expression may read besides the chunk: $n values, the session zone, now(). */
export interface CompileContext {
  readonly params: readonly Value[]
  readonly timezone: string
  /** µs since the epoch: now() for the whole statement. */
  readonly now: number
}

/** Rows that failed to evaluate (row index in the chunk) and why. */
export interface RowErrors {
  rows: number[]
  errors: SluiceError[]
}

export type ColumnEvaluator = (chunk: Chunk, errors?: RowErrors) => Column
export type PredicateEvaluator = (chunk: Chunk, errors?: RowErrors) => Uint8Array

/** Kinds whose values compare with `===` (no NaN, no objects). */
const STRICT_EQ = new Set<string>([
  'bool',
  'int2',
  'int4',
  'int8',
  'text',
  'unknown',
  'date',
  'time',
  'timestamp',
  'timestamptz',
])
const US_PER_DAY = 86_400_000_000

class Generator {
  readonly consts: unknown[] = []
  readonly columns = new Set<number>()
  private n = 0

  constructor(private readonly ctx: CompileContext) {}

  const(v: unknown): string {
    this.consts.push(v)
    return `K[${this.consts.length - 1}]`
  }

  private tmp(): string {
    return `v${this.n++}`
  }

  /** Emits statements computing `e` into a fresh variable; returns the variable's name. */
  emit(e: BoundExpr, out: string[]): string {
    const v = this.tmp()
    switch (e.kind) {
      case 'column':
        this.columns.add(e.index)
        out.push(`const ${v} = c${e.index}[i];`)
        return v
      case 'literal':
        out.push(`const ${v} = ${this.literal(e.value)};`)
        return v
      case 'param':
        out.push(`const ${v} = ${this.literal(this.ctx.params[e.index] ?? null)};`)
        return v
      case 'call': {
        const args = e.args.map((a) => this.emit(a, out))
        const fn = e.fn
        let body: string
        if (fn.inline !== undefined) body = fn.inline(args)
        else if (fn.impl !== undefined) body = `${this.const(fn.impl)}(${args.join(', ')})`
        else if (fn.bind !== undefined) body = `${this.const(fn.bind(this.ctx))}(${args.join(', ')})`
        else throw new Error(`function ${fn.name} has no implementation`)
        if (fn.strict && args.length > 0) {
          out.push(`const ${v} = ${args.map((a) => `${a} === null`).join(' || ')} ? null : ${body};`)
        } else out.push(`const ${v} = ${body};`)
        return v
      }
      case 'cast': {
        const a = this.emit(e.expr, out)
        out.push(`const ${v} = ${a} === null ? null : ${this.castCode(a, e.expr.type, e.type)};`)
        return v
      }
      case 'and':
      case 'or': {
        // Each later argument is evaluated only while the result is still open (lazy, as SQL allows).
        // A labelled block left with `break` keeps the code flat for thousands of arguments (nested
        // blocks would exhaust V8's parser stack).
        const stop = e.kind === 'and' ? 'false' : 'true'
        out.push(`let ${v} = ${e.kind === 'and' ? 'true' : 'false'};`, `b${v}: {`)
        for (const arg of e.args) {
          const a = this.emit(arg, out)
          out.push(`if (${a} === ${stop}) { ${v} = ${stop}; break b${v}; }`, `if (${a} === null) ${v} = null;`)
        }
        out.push('}')
        return v
      }
      case 'not': {
        const a = this.emit(e.arg, out)
        out.push(`const ${v} = ${a} === null ? null : !${a};`)
        return v
      }
      case 'is_null': {
        const a = this.emit(e.arg, out)
        out.push(`const ${v} = ${a} ${e.negated ? '!==' : '==='} null;`)
        return v
      }
      case 'is_bool': {
        const a = this.emit(e.arg, out)
        out.push(`const ${v} = ${a} ${e.negated ? '!==' : '==='} ${e.value ? 'true' : 'false'};`)
        return v
      }
      case 'is_distinct': {
        const a = this.emit(e.left, out)
        const b = this.emit(e.right, out)
        const same = `(${a} === null || ${b} === null ? ${a} === ${b} : ${this.eqCode(a, b, e.left.type)})`
        out.push(`const ${v} = ${e.negated ? same : `!${same}`};`)
        return v
      }
      case 'case': {
        out.push(`let ${v} = null;`, `b${v}: {`)
        for (const w of e.whens) {
          const cond = this.emit(w.when, out)
          out.push(`if (${cond} === true) {`)
          const then = this.emit(w.then, out)
          out.push(`${v} = ${then};`, `break b${v};`, `}`)
        }
        if (e.else !== undefined) {
          const el = this.emit(e.else, out)
          out.push(`${v} = ${el};`)
        }
        out.push('}')
        return v
      }
      case 'in_list':
        return this.inList(e, v, out)
      case 'coalesce': {
        out.push(`let ${v} = null;`, `b${v}: {`)
        for (const arg of e.args) {
          const a = this.emit(arg, out)
          out.push(`${v} = ${a};`, `if (${v} !== null) break b${v};`)
        }
        out.push('}')
        return v
      }
      case 'nullif': {
        const a = this.emit(e.left, out)
        const b = this.emit(e.right, out)
        out.push(`const ${v} = ${a} !== null && ${b} !== null && ${this.eqCode(a, b, e.left.type)} ? null : ${a};`)
        return v
      }
      case 'greatest':
      case 'least': {
        const args = e.args.map((x) => this.emit(x, out))
        const t = e.type
        const cmp = this.const((x: Value, y: Value) => compareValues(x, y, t))
        const rel = e.kind === 'greatest' ? '>' : '<'
        out.push(`let ${v} = null;`)
        for (const a of args)
          out.push(`if (${a} !== null && (${v} === null || ${cmp}(${a}, ${v}) ${rel} 0)) ${v} = ${a};`)
        return v
      }
    }
  }

  private literal(value: Value): string {
    if (value === null) return 'null'
    if (typeof value === 'boolean') return value ? 'true' : 'false'
    return this.const(value)
  }

  /** `x [NOT] IN (...)`: true if any item equals, else NULL if any item (or x) is NULL, else false. */
  private inList(e: Extract<BoundExpr, { kind: 'in_list' }>, v: string, out: string[]): string {
    const a = this.emit(e.arg, out)
    const t = e.arg.type
    const set = e.list.every((x) => x.kind === 'literal') && STRICT_EQ.has(t.kind)
    out.push(`let ${v} = null;`, `if (${a} !== null) {`)
    if (set) {
      // Constant lists of plain values: one Set lookup per row.
      const values = e.list.map((x) => (x as { value: Value }).value)
      const sawNull = values.includes(null)
      const lookup = this.const(new Set(values.filter((x) => x !== null)))
      out.push(`${v} = ${lookup}.has(${a}) ? true : ${sawNull ? 'null' : 'false'};`)
    } else {
      out.push(`${v} = false;`)
      let open = 0
      for (const item of e.list) {
        const x = this.emit(item, out)
        out.push(
          `if (${x} === null) ${v} = null; else if (${this.eqCode(a, x, t)}) ${v} = true;`,
          `if (${v} !== true) {`,
        )
        open++
      }
      out.push('}'.repeat(open))
    }
    out.push('}')
    if (e.negated) out.push(`if (${v} !== null) ${v} = !${v};`)
    return v
  }

  private eqCode(a: string, b: string, t: DataType): string {
    if (STRICT_EQ.has(t.kind)) return `${a} === ${b}`
    if (t.kind === 'float4' || t.kind === 'float8') return `H.fcmp(${a}, ${b}) === 0`
    return `${this.const((x: Value, y: Value) => valuesEqual(x, y, t))}(${a}, ${b})`
  }

  private castCode(a: string, from: DataType, to: DataType): string {
    const f = from.kind
    const t = to.kind
    if (f === t && f !== 'array') return a
    if (f === 'unknown' && t === 'text') return a
    const fast = FAST_CASTS[`${f}>${t}`]
    if (fast !== undefined) return fast(a)
    const tz = this.ctx.timezone
    return `${this.const((x: Value) => castValue(x, from, to, tz))}(${a})`
  }
}

/** Casts that are plain JS on the engine's value representation (see types/datatype.ts). */
const FAST_CASTS: Readonly<Record<string, (a: string) => string>> = {
  'int2>int4': (a) => a,
  'int2>float8': (a) => a,
  'int4>float8': (a) => a,
  'float4>float8': (a) => a,
  'int2>int8': (a) => `BigInt(${a})`,
  'int4>int8': (a) => `BigInt(${a})`,
  'int8>float8': (a) => `Number(${a})`,
  'int2>float4': (a) => `Math.fround(${a})`,
  'int4>float4': (a) => `Math.fround(${a})`,
  'date>timestamp': (a) => `(${a} * ${US_PER_DAY})`,
}

type Factory = (K: readonly unknown[], H: unknown, toErr: (e: unknown) => SluiceError) => unknown

const cache = new Map<string, Factory>()

function build(expr: BoundExpr, ctx: CompileContext, predicate: boolean): unknown {
  const g = new Generator(ctx)
  const body: string[] = []
  const result = g.emit(expr, body)
  const cols = [...g.columns].map((c) => `const c${c} = chunk.columns[${c}];`)
  const source = [
    'return function evaluate(chunk, errors) {',
    'const n = chunk.length;',
    ...cols,
    `const out = ${predicate ? 'new Uint8Array(n)' : 'new Array(n)'};`,
    'for (let i = 0; i < n; i++) {',
    'try {',
    ...body,
    predicate ? `out[i] = ${result} === true ? 1 : 0;` : `out[i] = ${result};`,
    '} catch (e) {',
    'if (errors === undefined) throw e;',
    'errors.rows.push(i);',
    'errors.errors.push(toErr(e));',
    predicate ? 'out[i] = 0;' : 'out[i] = null;',
    '}',
    '}',
    'return out;',
    '}',
  ].join('\n')
  // The text depends only on the expression's shape (constants live in K), so expressions of the
  // same shape share one compiled factory and V8's optimized code.
  let factory = cache.get(source)
  if (factory === undefined) {
    factory = new Function('K', 'H', 'toErr', source) as Factory
    // V8 compiles the inner function on its first call: calling it once on no rows here makes a
    // function too large or deep for V8 fail now, in the statement that built it, not later on
    // a dataflow's first chunk.
    ;(factory(g.consts, H, toSluiceError) as (chunk: Chunk) => unknown)(NO_ROWS)
    if (cache.size > 5000) cache.clear()
    cache.set(source, factory)
  }
  return factory(g.consts, H, toSluiceError)
}

/** Compiles `expr` into a function that evaluates it for every row of a chunk. */
export function compileExpr(expr: BoundExpr, ctx: CompileContext): ColumnEvaluator {
  return build(expr, ctx, false) as ColumnEvaluator
}

/** Compiles a boolean `expr` into a selection vector: 1 where TRUE, 0 where FALSE or NULL. */
export function compilePredicate(expr: BoundExpr, ctx: CompileContext): PredicateEvaluator {
  return build(expr, ctx, true) as PredicateEvaluator
}

const ONE_ROW: Chunk = { columns: [], ops: new Int8Array([1]), length: 1 }
const NO_ROWS: Chunk = { columns: [], ops: new Int8Array(0), length: 0 }

/** Evaluates an expression without column references (literal folding, VALUES, LIMIT). Throws on error. */
export function evalConst(expr: BoundExpr, ctx: CompileContext): Value {
  if (expr.kind === 'literal') return expr.value
  if (expr.kind === 'param') return ctx.params[expr.index] ?? null
  return compileExpr(expr, ctx)(ONE_ROW)[0]
}
