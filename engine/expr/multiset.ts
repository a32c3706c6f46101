/**
 * A multiset of SQL values of one type (value → count), keyed so that values PostgreSQL calls
 * equal share an entry (numeric 1.0 and 1.00, NaN and NaN). Iterates in order of first insertion.
 * Used by min/max (to survive retracting the current extreme) and DISTINCT aggregates.
 */
import type { DataType, Value } from '../types/datatype.ts'
import { formatText, parseText } from '../types/text.ts'
import { Decimal } from '../types/decimal.ts'
import { Interval } from '../types/interval.ts'

const PLAIN = new Set<string>([
  'bool',
  'int2',
  'int4',
  'int8',
  'float4',
  'float8',
  'text',
  'unknown',
  'date',
  'time',
  'timestamp',
  'timestamptz',
])

export interface Entry {
  readonly value: Value
  count: number
}

/** A Map key with SQL equality: the value itself for plain types, else a canonical string. */
export function keyFor(type: DataType): (v: Value) => unknown {
  if (PLAIN.has(type.kind)) return (v) => v
  if (type.kind === 'numeric') return (v) => (v as Decimal).normalized().toString()
  if (type.kind === 'interval') return (v) => (v as Interval).totalMicros()
  return (v) => formatText(type, v)
}

/** Kinds whose values are already JSON (finite numbers, strings, booleans). */
const JSON_KINDS = new Set<string>(['bool', 'int2', 'int4', 'date', 'time', 'timestamp', 'timestamptz', 'text'])

/** A JSON-able encoding of a non-null value of `type`, exact for every type. */
export function encodeValue(type: DataType, v: Value): unknown {
  if (v === null || JSON_KINDS.has(type.kind)) return v
  if (type.kind === 'interval') {
    const iv = v as Interval
    return [iv.months, iv.days, iv.micros]
  }
  return formatText(type, v)
}

export function decodeValue(type: DataType, e: unknown): Value {
  if (e === null || JSON_KINDS.has(type.kind)) return e as Value
  if (type.kind === 'interval') {
    const [m, d, us] = e as [number, number, number]
    return new Interval(m, d, us)
  }
  if (type.kind === 'numeric') return Decimal.fromString(e as string)
  return parseText(type, e as string)
}

export class Multiset {
  private readonly entries = new Map<unknown, Entry>()
  private readonly key: (v: Value) => unknown

  constructor(private readonly type: DataType) {
    this.key = keyFor(type)
  }

  /** Number of distinct values present. */
  get size(): number {
    return this.entries.size
  }

  /** Adds (op 1) or removes (op -1) one occurrence; returns the value's count afterwards, -1 if it was absent. */
  add(v: Value, op: 1 | -1): number {
    const k = this.key(v)
    const e = this.entries.get(k)
    if (e === undefined) {
      if (op < 0) return -1 // retracting what was never added: ignore rather than go negative
      this.entries.set(k, { value: v, count: 1 })
      return 1
    }
    e.count += op
    if (e.count <= 0) {
      this.entries.delete(k)
      return 0
    }
    return e.count
  }

  values(): IterableIterator<Entry> {
    return this.entries.values()
  }

  snapshot(): unknown[] {
    const out: unknown[] = []
    for (const e of this.entries.values()) out.push([encodeValue(this.type, e.value), e.count])
    return out
  }

  restore(state: unknown): void {
    this.entries.clear()
    for (const [enc, count] of state as [unknown, number][]) {
      const v = decodeValue(this.type, enc)
      this.entries.set(this.key(v), { value: v, count })
    }
  }
}
