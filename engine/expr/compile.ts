/**
 * Compiles a bound expression, once per plan, into one JS function with a single straight-line
 * loop over a chunk's rows: no per-row tree walk. Hot operators are inline JS; other functions,
 * constants and casts are reached through arrays passed in as arguments, so no user text is ever
 * part of the generated source. SQL's three-valued logic, strict null propagation and lazy
 * CASE/COALESCE are spelled out in the generated code.
 *
 * A row that fails to evaluate (division by zero, bad cast, overflow) either throws, or — when
 * the caller passes `errors` — yields NULL and is recorded, so the operator can dead-letter it.
 */
import type { Chunk, Column } from '../chunk.ts'
import type { BoundExpr } from './bound.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { SluiceError} from '../errors.ts';
import { toSluiceError } from '../errors.ts'
import { H } from './helpers.ts'
import { castValue } from '../types/cast.ts'
import { compareValues } from '../types/compare.ts'

export interface CompileContext {
  readonly params: readonly Value[]
  readonly timezone: string
  /** µs since the epoch: now() for the statement. */
  readonly now: number
}

export interface RowErrors {
  rows: number[]
  errors: SluiceError[]
}

export type ColumnEvaluator = (chunk: Chunk, errors?: RowErrors) => Column
export type PredicateEvaluator = (chunk: Chunk, errors?: RowErrors) => Uint8Array

const PRIMITIVE_EQ = new Set(['bool', 'int2', 'int4', 'int8', 'float4', 'float8', 'text', 'unknown', 'date', 'time', 'timestamp', 'timestamptz'])

class Generator {
  readonly consts: unknown[] = []
  readonly columns = new Set<number>()
  private n = 0

  constructor(private readonly ctx: CompileContext) {}

  const(v: unknown): string {
    this.consts.push(v)
    return `K[${this.consts.length - 1}]`
  }

  tmp(): string {
    return `v${this.n++}`
  }

  /** Emits code computing `e` into a fresh variable; returns the variable's name. */
  emit(e: BoundExpr, out: string[]): string {
    const v = this.tmp()
    switch (e.kind) {
      case 'column':
        this.columns.add(e.index)
        out.push(`const ${v} = c${e.index}[i];`)
        return v
      case 'literal':
        out.push(`const ${v} = ${e.value === null ? 'null' : typeof e.value === 'boolean' ? String(e.value) : this.const(e.value)};`)
        return v
      case 'param':
        out.push(`const ${v} = ${this.const(this.ctx.params[e.index] ?? null)};`)
        return v
      case 'call': {
        const args = e.args.map((a) => this.emit(a, out))
        const body = e.fn.inline !== undefined ? e.fn.inline(args) : `${this.const(e.fn.impl)}([${args.join(', ')}], ctx)`
        if (e.fn.strict && args.length > 0) {
          out.push(`let ${v} = null;`, `if (${args.map((a) => `${a} !== null`).join(' && ')}) ${v} = ${body};`)
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
        const stop = e.kind === 'and' ? 'false' : 'true'
        out.push(`let ${v} = ${e.kind === 'and' ? 'true' : 'false'};`)
        // Each later argument is evaluated only inside the previous one's else-branch (lazy).
        for (const arg of e.args) {
          const a = this.emit(arg, out)
          out.push(`if (${a} === ${stop}) ${v} = ${stop}; else {`, `if (${a} === null) ${v} = null;`)
        }
        out.push('}'.repeat(e.args.length))
        return v
      }
      case 'not': {
        const a = this.emit(e.arg, out)
        out.push(`const ${v} = ${a} === null ? null : !${a};`)
        return v
      }
      case 'is_null': {
        const a = this.emit(e.arg, out)
        out.push(`const ${v} = (${a} === null) !== ${e.negated};`)
        return v
      }
      case 'is_bool': {
        const a = this.emit(e.arg, out)
        out.push(`const ${v} = (${a} === ${e.value}) !== ${e.negated};`)
        return v
      }
      case 'is_distinct': {
        const a = this.emit(e.left, out)
        const b = this.emit(e.right, out)
        out.push(`const ${v} = (${a} === null || ${b} === null ? ${a} !== ${b} : !${this.eqCode(a, b, e.left.type)}) !== ${e.negated};`)
        return v
      }
      case 'case': {
        out.push(`let ${v} = null;`)
        let depth = 0
        for (const w of e.whens) {
          const cond = this.emit(w.when, out)
          out.push(`if (${cond} === true) {`)
          const then = this.emit(w.then, out)
          out.push(`${v} = ${then};`, `} else {`)
          depth++
        }
        if (e.else !== undefined) {
          const el = this.emit(e.else, out)
          out.push(`${v} = ${el};`)
        }
        out.push('}'.repeat(depth))
        return v
      }
      case 'in_list': {
        const a = this.emit(e.arg, out)
        const items = e.list.map((x) => this.emit(x, out))
        const t = e.arg.type
        out.push(`let ${v} = ${a} === null ? null : false;`, `if (${a} !== null) {`, `let sawNull = false;`)
        for (const item of items) out.push(`if (${item} === null) sawNull = true; else if (${this.eqCode(a, item, t)}) ${v} = true;`)
        out.push(`if (${v} === false && sawNull) ${v} = null;`, `}`)
        if (e.negated) out.push(`if (${v} !== null) ${v} = !${v};`)
        return v
      }
      case 'coalesce': {
        out.push(`let ${v} = null;`)
        let depth = 0
        for (const arg of e.args) {
          const a = this.emit(arg, out)
          out.push(`${v} = ${a};`, `if (${v} === null) {`)
          depth++
        }
        out.push('}'.repeat(depth))
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
        const cmp = this.const((x: Value, y: Value) => compareValues(x, y, e.type))
        out.push(`let ${v} = null;`)
        for (const a of args) out.push(`if (${a} !== null && (${v} === null || ${cmp}(${a}, ${v}) ${e.kind === 'greatest' ? '>' : '<'} 0)) ${v} = ${a};`)
        return v
      }
    }
  }

  private eqCode(a: string, b: string, t: DataType): string {
    if (PRIMITIVE_EQ.has(t.kind)) return `${a} === ${b}`
    return `${this.const((x: Value, y: Value) => compareValues(x, y, t) === 0)}(${a}, ${b})`
  }

  private castCode(a: string, from: DataType, to: DataType): string {
    if ((from.kind === 'int4' || from.kind === 'int2') && to.kind === 'int8') return `BigInt(${a})`
    if ((from.kind === 'int4' || from.kind === 'int2') && (to.kind === 'float8' || to.kind === 'int4')) return a
    if (from.kind === 'int8' && to.kind === 'float8') return `Number(${a})`
    const tz = this.ctx.timezone
    return `${this.const((x: Value) => castValue(x, from, to, tz))}(${a})`
  }
}

const cache = new Map<string, (K: unknown[], ctx: CompileContext, H: unknown, toErr: unknown) => unknown>()

function build(expr: BoundExpr, ctx: CompileContext, predicate: boolean): { fn: unknown } {
  const g = new Generator(ctx)
  const body: string[] = []
  const result = g.emit(expr, body)
  const cols = [...g.columns].map((c) => `const c${c} = chunk.columns[${c}];`).join('\n')
  const store = predicate ? `out[i] = ${result} === true ? 1 : 0;` : `out[i] = ${result};`
  const source = `return function evaluate(chunk, errors) {
  const n = chunk.length;
  ${cols}
  const out = ${predicate ? 'new Uint8Array(n)' : 'new Array(n)'};
  for (let i = 0; i < n; i++) {
    try {
      ${body.join('\n      ')}
      ${store}
    } catch (e) {
      if (errors === undefined) throw e;
      errors.rows.push(i);
      errors.errors.push(toErr(e));
      ${predicate ? 'out[i] = 0;' : 'out[i] = null;'}
    }
  }
  return out;
}`
  // The generated text depends only on the expression's shape; constants live in K. Cache the
  // compiled factory by source so views with the same expressions share machine code.
  let factory = cache.get(source)
  if (factory === undefined) {
    factory = new Function('K', 'ctx', 'H', 'toErr', source) as (K: unknown[], ctx: CompileContext, H: unknown, toErr: unknown) => unknown
    if (cache.size > 5000) cache.clear()
    cache.set(source, factory)
  }
  return { fn: factory(g.consts, ctx, H, toSluiceError) }
}

export function compileExpr(expr: BoundExpr, ctx: CompileContext): ColumnEvaluator {
  return build(expr, ctx, false).fn as ColumnEvaluator
}

export function compilePredicate(expr: BoundExpr, ctx: CompileContext): PredicateEvaluator {
  return build(expr, ctx, true).fn as PredicateEvaluator
}

const ONE_ROW: Chunk = { columns: [], ops: new Int8Array([1]), length: 1 }

/** Evaluates an expression without column references (literal folding, VALUES, LIMIT). */
export function evalConst(expr: BoundExpr, ctx: CompileContext): Value {
  return compileExpr(expr, ctx)(ONE_ROW)[0]
}
