/**
 * Aggregate functions for hash aggregation: resolution by name and argument types, with
 * PostgreSQL's result types, and retractable accumulators (accumulators.ts) whose state can be
 * snapshotted for checkpoints.
 *
 * Result types: count → bigint; sum(smallint|integer) → bigint; sum(bigint|numeric) → numeric;
 * sum(real|double) → double; sum(interval) → interval; avg(any integer|numeric) → numeric;
 * avg(real|double) → double; min/max → the input type; string_agg → text; bool_and/bool_or →
 * boolean; approx_count_distinct → bigint. Over zero non-null rows every aggregate but count
 * returns NULL. approx_count_distinct is exact for now (a sketch cannot forget a retracted value).
 */
import type { DataType, Value } from '../types/datatype.ts'
import type { SnapshotReader } from '../state/snapshot-codec.ts'
import { T, arrayOf } from '../types/datatype.ts'
import { grownArray } from '../util/key-slots.ts'
import {
  AppendOnlyExtremeAcc,
  BoolAcc,
  CountAcc,
  DistinctAcc,
  ExtremeAcc,
  FloatSumAcc,
  IntSumAcc,
  IntervalSumAcc,
  NumericSumAcc,
  StringAggAcc,
} from './accumulators.ts'

export interface Accumulator {
  /**
   * Counts one row in (op 1) or out (op -1). `value` null is SQL NULL; count(*) gets a non-null
   * marker for every row; string_agg gets the pair [value, delimiter].
   */
  add(value: Value, op: 1 | -1): void
  /** The aggregate over the rows currently counted. */
  result(): Value
  /** Rows currently counted, NULLs included: 0 means the group is empty. */
  readonly count: number
  /** JSON-able state (bigints and decimals as strings), for checkpoints. */
  snapshot(): unknown
  restore(state: unknown): void
  /**
   * The same aggregate for many groups as columns (see AccumulatorColumns), where this
   * accumulator has such a form; called once on a template instance.
   */
  columns?(): AccumulatorColumns
}

/**
 * One aggregate call's state for every group of an operator, stored as columns indexed by the
 * group's slot (a small dense integer) instead of one object per group, so opening a group
 * allocates nothing. Slots are reused after `free`, so `init` must fully reset one. `snapshot`
 * and `restore` use the same JSON as the object accumulator's, so either form restores the other.
 */
export interface AccumulatorColumns {
  /** Makes `slot` an empty accumulator (growing the columns if needed). */
  init(slot: number): void
  /** Grows the columns to hold `slots` slots at once (a restore that knows how many follow). */
  reserve?(slots: number): void
  /** As Accumulator.add, for the group in `slot`. */
  add(slot: number, value: Value, op: 1 | -1): void
  result(slot: number): Value
  /** Forgets the slot's state (drops references to values) when its group is freed. */
  free(slot: number): void
  snapshot(slot: number): unknown
  restore(slot: number, state: unknown): void
  /** As restore, reading the snapshot from `r` without building its arrays (recovery). */
  restoreFrom?(slot: number, r: SnapshotReader): void
}

/** Accumulator objects per slot: the columnar form of an accumulator that has no better one. */
class ObjectColumns implements AccumulatorColumns {
  private accs: (Accumulator | undefined)[] = []
  constructor(private readonly create: () => Accumulator) {}
  init(slot: number): void {
    // Dense: a restore may open slots out of order (KeySlots.insertInto), and a store far past
    // an array's end makes it a slow dictionary.
    if (slot > this.accs.length) this.accs = grownArray(this.accs, Math.max(slot + 1, 2 * this.accs.length), undefined)
    this.accs[slot] = this.create()
  }
  add(slot: number, value: Value, op: 1 | -1): void {
    this.accs[slot]!.add(value, op)
  }
  result(slot: number): Value {
    return this.accs[slot]!.result()
  }
  free(slot: number): void {
    this.accs[slot] = undefined
  }
  snapshot(slot: number): unknown {
    return this.accs[slot]!.snapshot()
  }
  restore(slot: number, state: unknown): void {
    this.accs[slot]!.restore(state)
  }
}

/** Columns for the accumulators `create` makes: their own columnar form, else one object per slot. */
export function accumulatorColumns(create: () => Accumulator): AccumulatorColumns {
  const template = create()
  return template.columns !== undefined ? template.columns() : new ObjectColumns(create)
}

export interface AggregateSpec {
  readonly name: string
  /** Types the binder casts the arguments to. */
  readonly argTypes: readonly DataType[]
  readonly returnType: DataType
  create(): Accumulator
  /** A cheaper accumulator for inputs that never retract, where one exists (min, max). */
  createAppendOnly?(): Accumulator
}

const INTS = new Set(['int2', 'int4', 'int8'])
const FLOATS = new Set(['float4', 'float8'])
/** PostgreSQL has no min/max for these. */
const NOT_ORDERED = new Set(['bool', 'jsonb'])

function spec(
  name: string,
  argTypes: readonly DataType[],
  returnType: DataType,
  create: () => Accumulator,
): AggregateSpec {
  return { name, argTypes, returnType, create }
}

function plain(name: string, argTypes: readonly DataType[]): AggregateSpec | undefined {
  const t = argTypes[0]
  const one = argTypes.length === 1
  switch (name) {
    case 'count':
      if (argTypes.length > 1) return undefined
      return spec(name, argTypes, T.int8, () => new CountAcc())
    case 'approx_count_distinct':
      if (!one) return undefined
      return spec(name, argTypes, T.int8, () => new DistinctAcc(t, new CountAcc()))
    case 'sum':
      if (!one) return undefined
      if (t.kind === 'int2' || t.kind === 'int4') return spec(name, argTypes, T.int8, () => new IntSumAcc('int8'))
      if (t.kind === 'int8') return spec(name, argTypes, T.numeric, () => new IntSumAcc('numeric'))
      if (t.kind === 'numeric') return spec(name, argTypes, T.numeric, () => new NumericSumAcc(false))
      if (FLOATS.has(t.kind)) return spec(name, [T.float8], T.float8, () => new FloatSumAcc(false))
      if (t.kind === 'interval') return spec(name, argTypes, T.interval, () => new IntervalSumAcc())
      return undefined
    case 'avg':
      if (!one) return undefined
      if (INTS.has(t.kind)) return spec(name, argTypes, T.numeric, () => new IntSumAcc('avg'))
      if (t.kind === 'numeric') return spec(name, argTypes, T.numeric, () => new NumericSumAcc(true))
      if (FLOATS.has(t.kind)) return spec(name, [T.float8], T.float8, () => new FloatSumAcc(true))
      return undefined
    case 'min':
    case 'max': {
      if (!one || NOT_ORDERED.has(t.kind)) return undefined
      const type = t.kind === 'unknown' ? T.text : t
      const sign = name === 'max' ? 1 : -1
      return {
        ...spec(name, [type], type, () => new ExtremeAcc(type, sign)),
        createAppendOnly: () => new AppendOnlyExtremeAcc(type, sign),
      }
    }
    case 'bool_and':
    case 'bool_or':
    case 'every':
      if (!one || (t.kind !== 'bool' && t.kind !== 'unknown')) return undefined
      return spec(name, [T.bool], T.bool, () => new BoolAcc(name !== 'bool_or'))
    case 'string_agg':
      if (argTypes.length !== 2 || !argTypes.every((a) => a.kind === 'text' || a.kind === 'unknown')) return undefined
      return spec(name, [T.text, T.text], T.text, () => new StringAggAcc())
    default:
      return undefined
  }
}

/** Resolves an aggregate call; undefined when no aggregate takes these arguments (the binder raises 42883). */
export function resolveAggregate(
  name: string,
  argTypes: readonly DataType[],
  distinct: boolean,
): AggregateSpec | undefined {
  const lower = name.toLowerCase()
  const base = plain(lower, argTypes)
  if (base === undefined || !distinct) return base
  if (argTypes.length === 0) return undefined // count(DISTINCT *) is not SQL
  // DISTINCT over string_agg's pair keys on (value, delimiter), as text[].
  const keyType = lower === 'string_agg' ? arrayOf(T.text) : base.argTypes[0]
  return { ...base, create: () => new DistinctAcc(keyType, base.create()) }
}
