/**
 * Aggregate functions as retractable accumulators: every accumulator takes inserts (+1) and
 * deletes (−1) and always equals the aggregate over the rows currently counted. count and sum
 * accumulate; min and max keep a multiset (value → count) so retracting the current extreme
 * finds the next one; DISTINCT aggregates count each value.
 *
 * Result types follow PostgreSQL: count → bigint, sum(smallint|integer) → bigint,
 * sum(bigint|numeric) → numeric, avg(integers|numeric) → numeric, sum/avg(float) → double.
 */
import type { DataType, Value } from '../types/datatype.ts'
import { T } from '../types/datatype.ts'
import { Decimal } from '../types/decimal.ts'
import { compareValues, hashValue, valuesEqual } from '../types/compare.ts'

export interface Accumulator {
  /** `value` null is SQL NULL; count(*) gets a non-null marker for every row. string_agg gets [value, delimiter]. */
  add(value: Value, op: 1 | -1): void
  result(): Value
}

export interface AggregateSpec {
  readonly name: string
  /** Types the binder casts the arguments to. */
  readonly argTypes: readonly DataType[]
  readonly returnType: DataType
  create(): Accumulator
}

/** A multiset of values of one type (value → count), with hashing consistent with SQL equality. */
class Multiset {
  private readonly buckets = new Map<number, { value: Value; count: number }[]>()
  size = 0

  constructor(private readonly type: DataType) {}

  add(v: Value, op: 1 | -1): number {
    const h = hashValue(v, this.type)
    let list = this.buckets.get(h)
    if (list === undefined) {
      list = []
      this.buckets.set(h, list)
    }
    let entry = list.find((e) => e.value === v || valuesEqual(e.value, v, this.type))
    if (entry === undefined) {
      if (op < 0) return 0
      entry = { value: v, count: 0 }
      list.push(entry)
      this.size++
    }
    entry.count += op
    if (entry.count <= 0) {
      list.splice(list.indexOf(entry), 1)
      if (list.length === 0) this.buckets.delete(h)
      this.size--
      return 0
    }
    return entry.count
  }

  *values(): IterableIterator<{ value: Value; count: number }> {
    for (const list of this.buckets.values()) yield* list
  }
}

class CountAcc implements Accumulator {
  n = 0n
  add(v: Value, op: 1 | -1): void {
    if (v !== null) this.n += BigInt(op)
  }
  result(): Value {
    return this.n
  }
}

class CountDistinctAcc implements Accumulator {
  private readonly set: Multiset
  constructor(type: DataType) {
    this.set = new Multiset(type)
  }
  add(v: Value, op: 1 | -1): void {
    if (v !== null) this.set.add(v, op)
  }
  result(): Value {
    return BigInt(this.set.size)
  }
}

class IntSumAcc implements Accumulator {
  sum = 0n
  n = 0
  constructor(private readonly asNumeric: boolean) {}
  add(v: Value, op: 1 | -1): void {
    if (v === null) return
    const x = typeof v === 'bigint' ? v : BigInt(v as number)
    this.sum += op > 0 ? x : -x
    this.n += op
  }
  result(): Value {
    if (this.n <= 0) return null
    return this.asNumeric ? Decimal.fromBigInt(this.sum) : this.sum
  }
}

class NumericSumAcc implements Accumulator {
  sum = new Decimal(0n, 0)
  n = 0
  add(v: Value, op: 1 | -1): void {
    if (v === null) return
    this.sum = op > 0 ? this.sum.add(v as Decimal) : this.sum.sub(v as Decimal)
    this.n += op
  }
  result(): Value {
    return this.n <= 0 ? null : this.sum
  }
}

class FloatSumAcc implements Accumulator {
  sum = 0
  n = 0
  add(v: Value, op: 1 | -1): void {
    if (v === null) return
    this.sum += op * (v as number)
    this.n += op
  }
  result(): Value {
    return this.n <= 0 ? null : this.sum
  }
}

class AvgAcc implements Accumulator {
  private readonly sum: IntSumAcc | NumericSumAcc | FloatSumAcc
  constructor(private readonly kind: 'int' | 'numeric' | 'float') {
    this.sum = kind === 'int' ? new IntSumAcc(true) : kind === 'numeric' ? new NumericSumAcc() : new FloatSumAcc()
  }
  add(v: Value, op: 1 | -1): void {
    this.sum.add(v, op)
  }
  result(): Value {
    const s = this.sum.result()
    if (s === null) return null
    if (this.kind === 'float') return (s as number) / this.sum.n
    return (s as Decimal).div(Decimal.fromBigInt(BigInt(this.sum.n)))
  }
}

class ExtremeAcc implements Accumulator {
  private readonly set: Multiset
  private best: Value = null
  private stale = false
  constructor(
    private readonly type: DataType,
    private readonly sign: 1 | -1,
  ) {
    this.set = new Multiset(type)
  }
  add(v: Value, op: 1 | -1): void {
    if (v === null) return
    const left = this.set.add(v, op)
    if (op > 0) {
      if (!this.stale && (this.best === null || this.sign * compareValues(v, this.best, this.type) > 0)) this.best = v
    } else if (left === 0 && this.best !== null && valuesEqual(v, this.best, this.type)) this.stale = true
  }
  result(): Value {
    if (this.stale) {
      this.best = null
      for (const { value } of this.set.values()) {
        if (this.best === null || this.sign * compareValues(value, this.best, this.type) > 0) this.best = value
      }
      this.stale = false
    }
    return this.best
  }
}

class BoolAcc implements Accumulator {
  t = 0
  f = 0
  constructor(private readonly and: boolean) {}
  add(v: Value, op: 1 | -1): void {
    if (v === true) this.t += op
    else if (v === false) this.f += op
  }
  result(): Value {
    if (this.t + this.f <= 0) return null
    return this.and ? this.f === 0 : this.t > 0
  }
}

/** string_agg: values in the order they first arrived (PostgreSQL leaves the order unspecified without ORDER BY). */
class StringAggAcc implements Accumulator {
  private readonly entries = new Map<string, { value: string; delim: string; count: number }>()
  add(v: Value, op: 1 | -1): void {
    const [value, delim] = v as [string | null, string | null]
    if (value === null) return
    const key = `${value}\u0000${delim ?? ''}`
    const e = this.entries.get(key)
    if (e === undefined) {
      if (op > 0) this.entries.set(key, { value, delim: delim ?? '', count: 1 })
      return
    }
    e.count += op
    if (e.count <= 0) this.entries.delete(key)
  }
  result(): Value {
    let out: string | null = null
    for (const e of this.entries.values()) {
      for (let k = 0; k < e.count; k++) out = out === null ? e.value : out + e.delim + e.value
    }
    return out
  }
}

const INTS = new Set(['int2', 'int4', 'int8'])

export function resolveAggregate(name: string, argTypes: readonly DataType[], distinct: boolean): AggregateSpec | undefined {
  const t = argTypes[0]
  const spec = (returnType: DataType, create: () => Accumulator, args: readonly DataType[] = argTypes): AggregateSpec => ({ name, argTypes: args, returnType, create })
  if (distinct && name !== 'count' && name !== 'min' && name !== 'max' && name !== 'approx_count_distinct') return undefined
  switch (name) {
    case 'count':
      if (argTypes.length > 1) return undefined
      if (distinct && t !== undefined) return spec(T.int8, () => new CountDistinctAcc(t))
      return spec(T.int8, () => new CountAcc())
    case 'approx_count_distinct':
      // Exact, so that it retracts: an HLL sketch cannot forget a value.
      return t === undefined ? undefined : spec(T.int8, () => new CountDistinctAcc(t))
    case 'sum':
      if (t === undefined || argTypes.length !== 1) return undefined
      if (t.kind === 'int2' || t.kind === 'int4') return spec(T.int8, () => new IntSumAcc(false))
      if (t.kind === 'int8') return spec(T.numeric, () => new IntSumAcc(true))
      if (t.kind === 'numeric') return spec(T.numeric, () => new NumericSumAcc())
      if (t.kind === 'float4' || t.kind === 'float8') return spec(T.float8, () => new FloatSumAcc(), [T.float8])
      return undefined
    case 'avg':
      if (t === undefined || argTypes.length !== 1) return undefined
      if (INTS.has(t.kind)) return spec(T.numeric, () => new AvgAcc('int'))
      if (t.kind === 'numeric') return spec(T.numeric, () => new AvgAcc('numeric'))
      if (t.kind === 'float4' || t.kind === 'float8') return spec(T.float8, () => new AvgAcc('float'), [T.float8])
      return undefined
    case 'min':
    case 'max':
      if (t === undefined || argTypes.length !== 1 || t.kind === 'jsonb') return undefined
      return spec(t, () => new ExtremeAcc(t, name === 'max' ? 1 : -1))
    case 'bool_and':
    case 'bool_or':
      if (t === undefined || t.kind !== 'bool') return undefined
      return spec(T.bool, () => new BoolAcc(name === 'bool_and'))
    case 'string_agg':
      if (argTypes.length !== 2) return undefined
      return spec(T.text, () => new StringAggAcc(), [T.text, T.text])
    default:
      return undefined
  }
}
