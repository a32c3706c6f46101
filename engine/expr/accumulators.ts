/**
 * The retractable accumulators behind each aggregate. Every one takes inserts (+1) and deletes
 * (−1) and always equals the aggregate over the rows currently counted: integer and numeric sums
 * are exact (bigint, Decimal), float sums are exact until read (exact-sum.ts), min/max keep a
 * multiset and rescan only after the current extreme is retracted, DISTINCT wraps any aggregate
 * with a value → count map and passes on only first arrivals and last departures.
 */
import type { DataType, Value } from '../types/datatype.ts'
import type { Accumulator, AccumulatorColumns } from './aggregates.ts'
import type { SnapshotReader } from '../state/snapshot-codec.ts'
import { Decimal } from '../types/decimal.ts'
import { Interval } from '../types/interval.ts'
import { compareValues } from '../types/compare.ts'
import { ExactFloatSum } from './exact-sum.ts'
import { Multiset, decodeValue, encodeValue } from './multiset.ts'
import { grownArray, grownFloat64 } from '../util/key-slots.ts'

const SAFE = 2 ** 52
const SAFE_BIG = BigInt(SAFE)

/** An exact integer sum for a snapshot: a number while it is safe (the common case), else a bigint. */
function sumSnapshot(big: bigint, small: number): number | bigint {
  return big === 0n ? small : big + BigInt(small)
}

/** count results below this come from a table instead of allocating a new bigint per result. */
const SMALL_COUNTS: readonly bigint[] = Array.from({ length: 4096 }, (_v, i) => BigInt(i))

function countValue(n: number): bigint {
  return n < SMALL_COUNTS.length ? SMALL_COUNTS[n] : BigInt(n)
}

/** Counts non-null values (count(*) gets a non-null marker for every row). */
export class CountAcc implements Accumulator {
  count = 0
  private n = 0
  add(v: Value, op: 1 | -1): void {
    this.count += op
    if (v !== null) this.n += op
  }
  result(): Value {
    return countValue(this.n)
  }
  snapshot(): unknown {
    return [this.count, this.n]
  }
  restore(s: unknown): void {
    ;[this.count, this.n] = s as [number, number]
  }
  columns(): AccumulatorColumns {
    return new CountColumns()
  }
}

/** CountAcc for many groups: two number columns. */
class CountColumns implements AccumulatorColumns {
  private count = new Float64Array(0)
  private n = new Float64Array(0)
  reserve(slots: number): void {
    if (slots <= this.count.length) return
    this.count = grownFloat64(this.count, slots - 1)
    this.n = grownFloat64(this.n, slots - 1)
  }
  init(slot: number): void {
    if (slot >= this.count.length) this.reserve(slot + 1)
    this.count[slot] = 0
    this.n[slot] = 0
  }
  add(slot: number, v: Value, op: 1 | -1): void {
    this.count[slot] += op
    if (v !== null) this.n[slot] += op
  }
  result(slot: number): Value {
    return countValue(this.n[slot])
  }
  free(): void {}
  snapshot(slot: number): unknown {
    return [this.count[slot], this.n[slot]]
  }
  restore(slot: number, s: unknown): void {
    const [count, n] = s as [number, number]
    this.count[slot] = count
    this.n[slot] = n
  }
  restoreFrom(slot: number, r: SnapshotReader): void {
    r.array(2)
    this.count[slot] = r.number()
    this.n[slot] = r.number()
  }
}

/** Exact integer sum: small values in a number while safe, the rest in a bigint. */
class IntSum {
  small = 0
  big = 0n
  n = 0
  add(v: Value, op: 1 | -1): void {
    // Safe bigints (nearly all int8 values) add as numbers: no bigint allocated per row.
    const x =
      typeof v === 'number' ? v : (v as bigint) >= -SAFE_BIG && (v as bigint) <= SAFE_BIG ? Number(v) : undefined
    if (x !== undefined) {
      this.small += op * x
      if (this.small > SAFE || this.small < -SAFE) this.flush()
    } else this.big += op > 0 ? (v as bigint) : -(v as bigint)
    this.n += op
  }
  private flush(): void {
    this.big += BigInt(this.small)
    this.small = 0
  }
  total(): bigint {
    return this.big + BigInt(this.small)
  }
  snapshot(): unknown {
    return [sumSnapshot(this.big, this.small), this.n]
  }
  restore(s: unknown): void {
    const [t, n] = s as [number | bigint | string, number]
    if (typeof t === 'number') {
      this.small = t
      this.big = 0n
    } else {
      this.small = 0
      this.big = BigInt(t)
    }
    this.n = n
  }
}

/** sum and avg over int2/int4/int8 (sum(int8) and avg return numeric, sum(int2|int4) int8). */
export class IntSumAcc implements Accumulator {
  count = 0
  private readonly sum = new IntSum()
  constructor(private readonly out: 'int8' | 'numeric' | 'avg') {}
  add(v: Value, op: 1 | -1): void {
    this.count += op
    if (v !== null) this.sum.add(v, op)
  }
  result(): Value {
    return this.sum.n <= 0 ? null : intSumResult(this.out, this.sum.total(), this.sum.n)
  }
  snapshot(): unknown {
    return [this.count, this.sum.snapshot()]
  }
  restore(s: unknown): void {
    const [count, sum] = s as [number, unknown]
    this.count = count
    this.sum.restore(sum)
  }
  columns(): AccumulatorColumns {
    return new IntSumColumns(this.out)
  }
}

function intSumResult(out: 'int8' | 'numeric' | 'avg', total: bigint, n: number): Value {
  if (out === 'int8') return total
  if (out === 'numeric') return Decimal.fromBigInt(total)
  return Decimal.fromBigInt(total).div(Decimal.fromBigInt(BigInt(n)))
}

/** IntSumAcc for many groups: the exact sum as a safe number column plus a bigint overflow column. */
class IntSumColumns implements AccumulatorColumns {
  private count = new Float64Array(0)
  private small = new Float64Array(0)
  private n = new Float64Array(0)
  private big: bigint[] = []
  constructor(private readonly out: 'int8' | 'numeric' | 'avg') {}
  reserve(slots: number): void {
    if (slots <= this.count.length) return
    this.count = grownFloat64(this.count, slots - 1)
    this.small = grownFloat64(this.small, slots - 1)
    this.n = grownFloat64(this.n, slots - 1)
    // Filled, not grown one store at a time (see KeySlots.reserve).
    this.big = grownArray(this.big, this.count.length, 0n)
  }
  init(slot: number): void {
    if (slot >= this.count.length) this.reserve(slot + 1)
    this.count[slot] = 0
    this.small[slot] = 0
    this.n[slot] = 0
    this.big[slot] = 0n
  }
  add(slot: number, v: Value, op: 1 | -1): void {
    this.count[slot] += op
    if (v === null) return
    const x =
      typeof v === 'number' ? v : (v as bigint) >= -SAFE_BIG && (v as bigint) <= SAFE_BIG ? Number(v) : undefined
    if (x !== undefined) {
      const small = this.small[slot] + op * x
      if (small > SAFE || small < -SAFE) {
        this.big[slot] += BigInt(small)
        this.small[slot] = 0
      } else this.small[slot] = small
    } else this.big[slot] += op > 0 ? (v as bigint) : -(v as bigint)
    this.n[slot] += op
  }
  result(slot: number): Value {
    const n = this.n[slot]
    return n <= 0 ? null : intSumResult(this.out, this.total(slot), n)
  }
  free(): void {}
  snapshot(slot: number): unknown {
    return [this.count[slot], [sumSnapshot(this.big[slot], this.small[slot]), this.n[slot]]]
  }
  restore(slot: number, s: unknown): void {
    const [count, [total, n]] = s as [number, [number | bigint | string, number]]
    this.count[slot] = count
    if (typeof total === 'number') {
      this.small[slot] = total
      this.big[slot] = 0n
    } else {
      this.small[slot] = 0
      this.big[slot] = BigInt(total)
    }
    this.n[slot] = n
  }
  restoreFrom(slot: number, r: SnapshotReader): void {
    r.array(2)
    this.count[slot] = r.number()
    r.array(2)
    const total = r.value()
    if (typeof total === 'number') {
      this.small[slot] = total
      this.big[slot] = 0n
    } else {
      this.small[slot] = 0
      this.big[slot] = BigInt(total as bigint | string)
    }
    this.n[slot] = r.number()
  }
  private total(slot: number): bigint {
    const big = this.big[slot]
    const small = BigInt(this.small[slot])
    return big === 0n ? small : big + small
  }
}

/**
 * sum and avg over numeric: an exact Decimal sum; avg divides with numeric's scale rules. The
 * result's scale is the largest scale among the values present (as a recomputation would give),
 * so retracting the only 1.25 from {1.5, 1.25} prints 1.5, not 1.50.
 */
export class NumericSumAcc implements Accumulator {
  count = 0
  private sum = new Decimal(0n, 0)
  private n = 0
  /** scale → number of values present with that scale. */
  private readonly scales = new Map<number, number>()
  constructor(private readonly avg: boolean) {}
  add(v: Value, op: 1 | -1): void {
    this.count += op
    if (v === null) return
    const d = v as Decimal
    this.sum = op > 0 ? this.sum.add(d) : this.sum.sub(d)
    this.n += op
    const k = (this.scales.get(d.scale) ?? 0) + op
    if (k > 0) this.scales.set(d.scale, k)
    else this.scales.delete(d.scale)
  }
  result(): Value {
    if (this.n <= 0) return null
    let scale = 0
    for (const s of this.scales.keys()) if (s > scale) scale = s
    // Digits beyond the largest present scale are zeros, so this is exact.
    const sum = this.sum.scale === scale ? this.sum : this.sum.round(scale)
    return this.avg ? sum.div(Decimal.fromBigInt(BigInt(this.n))) : sum
  }
  snapshot(): unknown {
    return [this.count, this.sum.toString(), this.n, [...this.scales]]
  }
  restore(s: unknown): void {
    const [count, sum, n, scales] = s as [number, string, number, [number, number][]]
    this.count = count
    this.sum = Decimal.fromString(sum)
    this.n = n
    this.scales.clear()
    for (const [k, v] of scales) this.scales.set(k, v)
  }
}

/** sum and avg over float4/float8 (cast to float8 by the binder). */
export class FloatSumAcc implements Accumulator {
  count = 0
  private readonly sum = new ExactFloatSum()
  private n = 0
  constructor(private readonly avg: boolean) {}
  add(v: Value, op: 1 | -1): void {
    this.count += op
    if (v === null) return
    this.sum.add(v as number, op)
    this.n += op
  }
  result(): Value {
    if (this.n <= 0) return null
    const s = this.sum.value()
    return this.avg ? s / this.n : s
  }
  snapshot(): unknown {
    return [this.count, this.sum.snapshot(), this.n]
  }
  restore(s: unknown): void {
    const [count, sum, n] = s as [number, unknown, number]
    this.count = count
    this.sum.restore(sum)
    this.n = n
  }
}

/** sum over interval: months, days and µs add separately, as in PostgreSQL. */
export class IntervalSumAcc implements Accumulator {
  count = 0
  private months = 0
  private days = 0
  private micros = 0
  private n = 0
  add(v: Value, op: 1 | -1): void {
    this.count += op
    if (v === null) return
    const iv = v as Interval
    this.months += op * iv.months
    this.days += op * iv.days
    this.micros += op * iv.micros
    this.n += op
  }
  result(): Value {
    return this.n <= 0 ? null : new Interval(this.months, this.days, this.micros)
  }
  snapshot(): unknown {
    return [this.count, this.months, this.days, this.micros, this.n]
  }
  restore(s: unknown): void {
    ;[this.count, this.months, this.days, this.micros, this.n] = s as number[]
  }
}

/** min (sign -1) or max (sign 1): the current extreme, recomputed lazily once it is retracted. */
export class ExtremeAcc implements Accumulator {
  count = 0
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
    this.count += op
    if (v === null) return
    const left = this.set.add(v, op)
    if (op > 0) {
      if (!this.stale && (this.best === null || this.sign * compareValues(v, this.best, this.type) > 0)) this.best = v
    } else if (left === 0 && this.best !== null && compareValues(v, this.best, this.type) === 0) this.stale = true
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

  snapshot(): unknown {
    return [this.count, this.set.snapshot()]
  }

  restore(s: unknown): void {
    const [count, set] = s as [number, unknown]
    this.count = count
    this.set.restore(set)
    this.stale = true
  }
}

/**
 * min / max over an input that never retracts: only the current extreme is kept (no multiset),
 * which is what makes windowed max over a stream cheap.
 */
export class AppendOnlyExtremeAcc implements Accumulator {
  count = 0
  private best: Value = null

  constructor(
    private readonly type: DataType,
    private readonly sign: 1 | -1,
  ) {}

  add(v: Value, op: 1 | -1): void {
    if (op < 0)
      throw new Error('AppendOnlyExtremeAcc received a retraction: the planner chose it for a retracting input')
    this.count++
    if (v !== null && (this.best === null || this.sign * compareValues(v, this.best, this.type) > 0)) this.best = v
  }

  result(): Value {
    return this.best
  }

  snapshot(): unknown {
    return [this.count, this.best === null ? null : encodeValue(this.type, this.best)]
  }

  restore(s: unknown): void {
    const [count, best] = s as [number, unknown]
    this.count = count
    this.best = best === null ? null : decodeValue(this.type, best)
  }

  columns(): AccumulatorColumns {
    return new AppendOnlyExtremeColumns(this.type, this.sign)
  }
}

/** AppendOnlyExtremeAcc for many groups: a count column and a column of current extremes. */
class AppendOnlyExtremeColumns implements AccumulatorColumns {
  private count = new Float64Array(0)
  private best: Value[] = []

  constructor(
    private readonly type: DataType,
    private readonly sign: 1 | -1,
  ) {}

  reserve(slots: number): void {
    if (slots <= this.count.length) return
    this.count = grownFloat64(this.count, slots - 1)
    // Dense up to the same length: a restore may open slots out of order (KeySlots.insertInto).
    this.best = grownArray(this.best, this.count.length, null)
  }

  init(slot: number): void {
    if (slot >= this.count.length) this.reserve(slot + 1)
    this.count[slot] = 0
    this.best[slot] = null
  }

  add(slot: number, v: Value, op: 1 | -1): void {
    if (op < 0)
      throw new Error('AppendOnlyExtremeAcc received a retraction: the planner chose it for a retracting input')
    this.count[slot]++
    if (v === null) return
    const best = this.best[slot]
    if (best === null || this.sign * compareValues(v, best, this.type) > 0) this.best[slot] = v
  }

  result(slot: number): Value {
    return this.best[slot]
  }

  free(slot: number): void {
    this.best[slot] = null
  }

  snapshot(slot: number): unknown {
    const best = this.best[slot]
    return [this.count[slot], best === null ? null : encodeValue(this.type, best)]
  }

  restore(slot: number, s: unknown): void {
    const [count, best] = s as [number, unknown]
    this.count[slot] = count
    this.best[slot] = best === null ? null : decodeValue(this.type, best)
  }
}

/** bool_and / bool_or: counts of trues and falses. */
export class BoolAcc implements Accumulator {
  count = 0
  private t = 0
  private f = 0
  constructor(private readonly and: boolean) {}
  add(v: Value, op: 1 | -1): void {
    this.count += op
    if (v === true) this.t += op
    else if (v === false) this.f += op
  }
  result(): Value {
    if (this.t + this.f <= 0) return null
    return this.and ? this.f === 0 : this.t > 0
  }
  snapshot(): unknown {
    return [this.count, this.t, this.f]
  }
  restore(s: unknown): void {
    ;[this.count, this.t, this.f] = s as number[]
  }
  columns(): AccumulatorColumns {
    return new BoolColumns(this.and)
  }
}

/** BoolAcc for many groups: three number columns. */
class BoolColumns implements AccumulatorColumns {
  private count = new Float64Array(0)
  private t = new Float64Array(0)
  private f = new Float64Array(0)
  constructor(private readonly and: boolean) {}
  reserve(slots: number): void {
    if (slots <= this.count.length) return
    this.count = grownFloat64(this.count, slots - 1)
    this.t = grownFloat64(this.t, slots - 1)
    this.f = grownFloat64(this.f, slots - 1)
  }
  init(slot: number): void {
    if (slot >= this.count.length) this.reserve(slot + 1)
    this.count[slot] = 0
    this.t[slot] = 0
    this.f[slot] = 0
  }
  add(slot: number, v: Value, op: 1 | -1): void {
    this.count[slot] += op
    if (v === true) this.t[slot] += op
    else if (v === false) this.f[slot] += op
  }
  result(slot: number): Value {
    const t = this.t[slot]
    const f = this.f[slot]
    if (t + f <= 0) return null
    return this.and ? f === 0 : t > 0
  }
  free(): void {}
  snapshot(slot: number): unknown {
    return [this.count[slot], this.t[slot], this.f[slot]]
  }
  restore(slot: number, s: unknown): void {
    const [count, t, f] = s as [number, number, number]
    this.count[slot] = count
    this.t[slot] = t
    this.f[slot] = f
  }
}

interface Piece {
  readonly value: string
  readonly delim: string
  count: number
}

/**
 * string_agg(value, delimiter): the value is passed as the pair [value, delimiter]. Values are
 * joined in the order each first arrived (PostgreSQL leaves the order unspecified without ORDER
 * BY); a value retracted to zero and inserted again moves to the end.
 */
export class StringAggAcc implements Accumulator {
  count = 0
  private readonly pieces = new Map<string, Piece>()

  add(v: Value, op: 1 | -1): void {
    this.count += op
    const [value, delim] = v as readonly [string | null, string | null]
    if (value === null) return
    const d = delim ?? ''
    const key = `${d.length}:${d}${value}`
    const p = this.pieces.get(key)
    if (p === undefined) {
      if (op > 0) this.pieces.set(key, { value, delim: d, count: 1 })
      return
    }
    p.count += op
    if (p.count <= 0) this.pieces.delete(key)
  }

  result(): Value {
    let out: string | null = null
    for (const p of this.pieces.values()) {
      for (let k = 0; k < p.count; k++) out = out === null ? p.value : out + p.delim + p.value
    }
    return out
  }

  snapshot(): unknown {
    return [this.count, [...this.pieces.values()].map((p) => [p.value, p.delim, p.count])]
  }

  restore(s: unknown): void {
    const [count, pieces] = s as [number, [string, string, number][]]
    this.count = count
    this.pieces.clear()
    for (const [value, delim, n] of pieces)
      this.pieces.set(`${delim.length}:${delim}${value}`, { value, delim, count: n })
  }
}

/**
 * agg(DISTINCT x): counts each value and feeds the inner accumulator only when a value appears
 * (0 → 1) or disappears (1 → 0). NULLs are never counted by any aggregate, so they stop here.
 */
export class DistinctAcc implements Accumulator {
  count = 0
  private readonly set: Multiset

  constructor(
    private readonly type: DataType,
    private readonly inner: Accumulator,
  ) {
    this.set = new Multiset(type)
  }

  add(v: Value, op: 1 | -1): void {
    this.count += op
    // string_agg passes [value, delimiter]; a NULL value is skipped like any NULL.
    if (v === null || (Array.isArray(v) && v[0] === null)) return
    const n = this.set.add(v, op)
    if (op > 0 && n === 1) this.inner.add(v, 1)
    else if (op < 0 && n === 0) this.inner.add(v, -1)
  }

  result(): Value {
    return this.inner.result()
  }

  snapshot(): unknown {
    return [this.count, this.set.snapshot(), this.inner.snapshot()]
  }

  restore(s: unknown): void {
    const [count, set, inner] = s as [number, unknown, unknown]
    this.count = count
    this.set.restore(set)
    this.inner.restore(inner)
  }
}

export { encodeValue, decodeValue }
