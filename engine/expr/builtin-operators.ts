/**
 * Arithmetic and comparison operators on numbers, times and intervals, with PostgreSQL's
 * overload set: same-type arithmetic per integer width (with its own overflow message), mixed
 * float4/float8 operators that yield float8 (so `real + 1` is double precision, as in
 * PostgreSQL), and int4/int8 comparisons without a cast. Hot operators are inline templates.
 */
import type { ScalarKind, Value } from '../types/datatype.ts'
import type { InlineTemplate, Overload } from './registry.ts'
import type { CompileContext } from './compile.ts'
import { T } from '../types/datatype.ts'
import type { Decimal } from '../types/decimal.ts'
import { Interval } from '../types/interval.ts'
import { addInterval } from '../types/time.ts'
import { compareValues } from '../types/compare.ts'
import { def } from './registry.ts'
import { divisionByZero } from './helpers.ts'

const US_PER_DAY = 86_400_000_000

type Bin = (a: string, b: string) => string
const bin =
  (f: Bin): InlineTemplate =>
  ([a, b]) =>
    f(a, b)

// ---- arithmetic ----

const INT2: Record<string, Bin> = {
  '+': (a, b) => `H.i2(${a} + ${b})`,
  '-': (a, b) => `H.i2(${a} - ${b})`,
  '*': (a, b) => `H.i2(${a} * ${b})`,
  '/': (a, b) => `H.i2div(${a}, ${b})`,
  '%': (a, b) => `H.i4mod(${a}, ${b})`,
}
const INT4: Record<string, Bin> = {
  '+': (a, b) => `H.i4(${a} + ${b})`,
  '-': (a, b) => `H.i4(${a} - ${b})`,
  '*': (a, b) => `H.i4(${a} * ${b})`,
  '/': (a, b) => `H.i4div(${a}, ${b})`,
  '%': (a, b) => `H.i4mod(${a}, ${b})`,
}
const INT8: Record<string, Bin> = {
  '+': (a, b) => `H.i8(${a} + ${b})`,
  '-': (a, b) => `H.i8(${a} - ${b})`,
  '*': (a, b) => `H.i8(${a} * ${b})`,
  '/': (a, b) => `H.i8div(${a}, ${b})`,
  '%': (a, b) => `H.i8mod(${a}, ${b})`,
}
const FLOAT8: Record<string, Bin> = {
  '+': (a, b) => `H.f8(${a} + ${b}, ${a}, ${b})`,
  '-': (a, b) => `H.f8(${a} - ${b}, ${a}, ${b})`,
  '*': (a, b) => `H.f8mul(${a}, ${b})`,
  '/': (a, b) => `H.f8div(${a}, ${b})`,
}
const FLOAT4: Record<string, Bin> = {
  '+': (a, b) => `H.f4(${a} + ${b}, ${a}, ${b})`,
  '-': (a, b) => `H.f4(${a} - ${b}, ${a}, ${b})`,
  '*': (a, b) => `H.f4(${a} * ${b}, ${a}, ${b})`,
  '/': (a, b) => `H.f4div(${a}, ${b})`,
}
const NUMERIC: Record<string, (a: Decimal, b: Decimal) => Decimal> = {
  '+': (a, b) => a.add(b),
  '-': (a, b) => a.sub(b),
  '*': (a, b) => a.mul(b),
  '/': (a, b) => a.div(b),
  '%': (a, b) => a.mod(b),
}

for (const op of ['+', '-', '*', '/', '%']) {
  const overloads: Overload[] = [
    { args: ['int2', 'int2'], ret: 'int2', inline: bin(INT2[op]) },
    { args: ['int4', 'int4'], ret: 'int4', inline: bin(INT4[op]) },
    { args: ['int8', 'int8'], ret: 'int8', inline: bin(INT8[op]) },
    { args: ['numeric', 'numeric'], ret: 'numeric', impl: (a, b) => NUMERIC[op](a as Decimal, b as Decimal) },
  ]
  const f8 = FLOAT8[op]
  const f4 = FLOAT4[op]
  // PostgreSQL has no float % operator.
  if (f8 !== undefined && f4 !== undefined) {
    overloads.push(
      { args: ['float4', 'float4'], ret: 'float4', inline: bin(f4) },
      { args: ['float8', 'float8'], ret: 'float8', inline: bin(f8) },
      { args: ['float4', 'float8'], ret: 'float8', inline: bin(f8) },
      { args: ['float8', 'float4'], ret: 'float8', inline: bin(f8) },
    )
  }
  def(op, ...overloads)
}

def('^', { args: ['float8', 'float8'], ret: 'float8', inline: ([a, b]) => `H.pow(${a}, ${b})` })

/** Unary minus arrives as '-' with one argument (or as 'neg'); unary plus as '+'. */
const NEG: Overload[] = [
  { args: ['int2'], ret: 'int2', inline: ([a]) => `H.i2(-${a})` },
  { args: ['int4'], ret: 'int4', inline: ([a]) => `H.i4(-${a})` },
  { args: ['int8'], ret: 'int8', inline: ([a]) => `H.i8(-${a})` },
  { args: ['numeric'], ret: 'numeric', impl: (a) => (a as Decimal).neg() },
  { args: ['float4'], ret: 'float4', inline: ([a]) => `(-${a})` },
  { args: ['float8'], ret: 'float8', inline: ([a]) => `(-${a})` },
  { args: ['interval'], ret: 'interval', impl: (a) => (a as Interval).neg() },
]
def(['neg', '-'], ...NEG)
def(
  '+',
  ...(['int2', 'int4', 'int8', 'numeric', 'float4', 'float8', 'interval'] as const).map((k): Overload => ({
    args: [k],
    ret: k,
    inline: ([a]) => a,
  })),
)

// ---- dates, timestamps and intervals ----

const tsPlus = (ts: Value, iv: Value): Value => addInterval(ts as number, iv as Interval)
const tsMinus = (ts: Value, iv: Value): Value => addInterval(ts as number, (iv as Interval).neg())
/** timestamptz ± interval moves months and days on the session zone's wall clock. */
const tzPlus =
  (ctx: CompileContext) =>
  (ts: Value, iv: Value): Value =>
    addInterval(ts as number, iv as Interval, ctx.timezone)
const tzMinus =
  (ctx: CompileContext) =>
  (ts: Value, iv: Value): Value =>
    addInterval(ts as number, (iv as Interval).neg(), ctx.timezone)

def(
  '+',
  { args: ['timestamp', 'interval'], ret: 'timestamp', impl: tsPlus },
  { args: ['timestamptz', 'interval'], ret: 'timestamptz', bind: tzPlus },
  { args: ['interval', 'timestamp'], ret: 'timestamp', impl: (iv, ts) => tsPlus(ts, iv) },
  {
    args: ['interval', 'timestamptz'],
    ret: 'timestamptz',
    bind: (ctx) => {
      const f = tzPlus(ctx)
      return (iv, ts) => f(ts, iv)
    },
  },
  { args: ['date', 'int4'], ret: 'date', inline: bin((a, b) => `H.i4(${a} + ${b})`) },
  { args: ['int4', 'date'], ret: 'date', inline: bin((a, b) => `H.i4(${a} + ${b})`) },
  { args: ['date', 'interval'], ret: 'timestamp', impl: (d, iv) => tsPlus((d as number) * US_PER_DAY, iv) },
  { args: ['interval', 'date'], ret: 'timestamp', impl: (iv, d) => tsPlus((d as number) * US_PER_DAY, iv) },
  { args: ['date', 'time'], ret: 'timestamp', inline: bin((a, b) => `(${a} * ${US_PER_DAY} + ${b})`) },
  { args: ['time', 'interval'], ret: 'time', impl: (t, iv) => timePlus(t as number, (iv as Interval).micros) },
  { args: ['interval', 'interval'], ret: 'interval', impl: (a, b) => (a as Interval).add(b as Interval) },
)
def(
  '-',
  { args: ['timestamp', 'interval'], ret: 'timestamp', impl: tsMinus },
  { args: ['timestamptz', 'interval'], ret: 'timestamptz', bind: tzMinus },
  {
    args: ['timestamp', 'timestamp'],
    ret: 'interval',
    impl: (a, b) => microsToInterval((a as number) - (b as number)),
  },
  {
    args: ['timestamptz', 'timestamptz'],
    ret: 'interval',
    impl: (a, b) => microsToInterval((a as number) - (b as number)),
  },
  { args: ['date', 'date'], ret: 'int4', inline: bin((a, b) => `(${a} - ${b})`) },
  { args: ['date', 'int4'], ret: 'date', inline: bin((a, b) => `H.i4(${a} - ${b})`) },
  { args: ['date', 'interval'], ret: 'timestamp', impl: (d, iv) => tsMinus((d as number) * US_PER_DAY, iv) },
  { args: ['time', 'time'], ret: 'interval', impl: (a, b) => new Interval(0, 0, (a as number) - (b as number)) },
  { args: ['time', 'interval'], ret: 'time', impl: (t, iv) => timePlus(t as number, -(iv as Interval).micros) },
  { args: ['interval', 'interval'], ret: 'interval', impl: (a, b) => (a as Interval).sub(b as Interval) },
)
def(
  '*',
  { args: ['interval', 'float8'], ret: 'interval', impl: (a, b) => (a as Interval).mul(b as number) },
  { args: ['float8', 'interval'], ret: 'interval', impl: (a, b) => (b as Interval).mul(a as number) },
)
def('/', {
  args: ['interval', 'float8'],
  ret: 'interval',
  impl: (a, b) => ((b as number) === 0 ? divisionByZero() : (a as Interval).mul(1 / (b as number))),
})

/** timestamp - timestamp: whole days and the rest, as PostgreSQL's timestamp_mi (then justify_hours). */
function microsToInterval(diff: number): Interval {
  const days = Math.trunc(diff / US_PER_DAY)
  return new Interval(0, days, diff - days * US_PER_DAY)
}

function timePlus(t: number, us: number): number {
  const r = (t + us) % US_PER_DAY
  return r < 0 ? r + US_PER_DAY : r
}

// ---- comparisons ----

const CMP_OPS = ['=', '<>', '<', '<=', '>', '>='] as const
type CmpOp = (typeof CMP_OPS)[number]
const JS_OP: Record<CmpOp, string> = { '=': '===', '<>': '!==', '<': '<', '<=': '<=', '>': '>', '>=': '>=' }
/** Loose forms for number-vs-bigint comparisons (JS compares those exactly). */
const JS_MIXED: Record<CmpOp, string> = { '=': '==', '<>': '!=', '<': '<', '<=': '<=', '>': '>', '>=': '>=' }
/** Float comparisons with NaN as the largest value, equal to itself. */
const FLOAT_CMP: Record<CmpOp, Bin> = {
  '=': (a, b) => `(${a} === ${b} || (${a} !== ${a} && ${b} !== ${b}))`,
  '<>': (a, b) => `!(${a} === ${b} || (${a} !== ${a} && ${b} !== ${b}))`,
  '<': (a, b) => `(${a} < ${b} || (${b} !== ${b} && ${a} === ${a}))`,
  '<=': (a, b) => `(${a} <= ${b} || ${b} !== ${b})`,
  '>': (a, b) => `(${a} > ${b} || (${a} !== ${a} && ${b} === ${b}))`,
  '>=': (a, b) => `(${a} >= ${b} || ${a} !== ${a})`,
}
const TEST: Record<CmpOp, (c: number) => boolean> = {
  '=': (c) => c === 0,
  '<>': (c) => c !== 0,
  '<': (c) => c < 0,
  '<=': (c) => c <= 0,
  '>': (c) => c > 0,
  '>=': (c) => c >= 0,
}
const PLAIN: readonly ScalarKind[] = [
  'bool',
  'int2',
  'int4',
  'int8',
  'text',
  'date',
  'time',
  'timestamp',
  'timestamptz',
]
const BY_COMPARE = ['numeric', 'interval', 'bytea', 'jsonb'] as const

for (const op of CMP_OPS) {
  const js = JS_OP[op]
  const overloads: Overload[] = PLAIN.map((k) => ({
    args: [k, k],
    ret: 'bool',
    inline: bin((a, b) => `(${a} ${js} ${b})`),
  }))
  const mixed = JS_MIXED[op]
  overloads.push(
    { args: ['int4', 'int8'], ret: 'bool', inline: bin((a, b) => `(${a} ${mixed} ${b})`) },
    { args: ['int8', 'int4'], ret: 'bool', inline: bin((a, b) => `(${a} ${mixed} ${b})`) },
    { args: ['float8', 'float8'], ret: 'bool', inline: bin(FLOAT_CMP[op]) },
    { args: ['float4', 'float4'], ret: 'bool', inline: bin(FLOAT_CMP[op]) },
    { args: ['float4', 'float8'], ret: 'bool', inline: bin(FLOAT_CMP[op]) },
    { args: ['float8', 'float4'], ret: 'bool', inline: bin(FLOAT_CMP[op]) },
  )
  const test = TEST[op]
  for (const k of BY_COMPARE) {
    const t = T[k]
    overloads.push({ args: [k, k], ret: 'bool', impl: (a, b) => test(compareValues(a, b, t)) })
  }
  def(op, ...overloads)
}
