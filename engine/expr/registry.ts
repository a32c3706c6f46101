/**
 * The table of scalar functions and operators: every overload with its signature, result type
 * and implementation. The builtin-*.ts files fill it; functions.ts resolves a call against it.
 *
 * An overload's implementation takes one of three forms: an inline JS template (hot operators,
 * so generated code has no call per row), a plain function of the argument values, or a `bind`
 * that makes such a function once per compiled expression (for functions that read the session
 * time zone or the statement's now(), or that format arguments by their resolved types).
 */
import type { DataType, ScalarKind, Value } from '../types/datatype.ts'
import type { CompileContext } from './compile.ts'

/** A function of the argument values of one row. Strict functions never see a null argument. */
export type Impl = (...args: Value[]) => Value

/** A JS expression over the argument variable names; it may call the runtime helpers as `H.x(...)`. */
export type InlineTemplate = (args: readonly string[]) => string

/** A resolved function or operator: what a `call` node of a bound expression carries. */
export interface ResolvedFunction {
  readonly name: string
  /** The types the arguments have (after the casts the binder inserted). */
  readonly argTypes: readonly DataType[]
  readonly returnType: DataType
  /** NULL in any argument → NULL out, without calling the implementation. */
  readonly strict: boolean
  /** Exactly one of inline, impl and bind is set. */
  readonly inline?: InlineTemplate
  readonly impl?: Impl
  readonly bind?: (ctx: CompileContext) => Impl
}

/** An argument kind in a signature: a scalar type, or `any` (any type, taken as it is). */
export type ArgKind = ScalarKind | 'any'

export interface Overload {
  readonly args: readonly ArgKind[]
  /** The last argument kind repeats (zero or more times). */
  readonly variadic?: boolean
  readonly ret: ScalarKind
  /** The result type when `ret` cannot say it (arrays, or a type that follows the arguments). */
  readonly returns?: (argTypes: readonly DataType[]) => DataType
  /** Default true. */
  readonly strict?: boolean
  readonly inline?: InlineTemplate
  readonly impl?: Impl
  readonly bind?: (ctx: CompileContext, argTypes: readonly DataType[]) => Impl
}

const registry = new Map<string, Overload[]>()

/** Registers overloads under one or more names (aliases share the overloads). */
export function def(names: string | readonly string[], ...overloads: Overload[]): void {
  for (const name of typeof names === 'string' ? [names] : names) {
    const list = registry.get(name)
    if (list === undefined) registry.set(name, [...overloads])
    else list.push(...overloads)
  }
}

export function overloadsOf(name: string): readonly Overload[] | undefined {
  return registry.get(name)
}
