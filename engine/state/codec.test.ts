/**
 * Key codec: byte order of encoded keys equals SQL order (random values per type, checked
 * against compareValues with NULLS LAST), and keys and rows round-trip.
 */
import { describe, expect, it } from 'vitest'
import type { DataType, Value } from '../types/datatype.ts'
import { T, arrayOf } from '../types/datatype.ts'
import { compareValues } from '../types/compare.ts'
import { Decimal } from '../types/decimal.ts'
import { Interval } from '../types/interval.ts'
import type { JsonValue } from '../types/jsonb.ts'
import { Jsonb } from '../types/jsonb.ts'
import { decodeKey, decodeRow, encodeKey, encodeRow } from './codec.ts'
import { compareBytes } from './store.ts'

/** mulberry32: deterministic test data. */
function rng(seed: number): () => number {
  let s = seed | 0
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), s | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// No characters in U+E000..U+FFFF: there JS's UTF-16 order and UTF-8 byte order disagree with astral characters.
const CHARS = ['a', 'b', 'z', 'A', ' ', '\0', '\x01', '\x7f', 'é', 'ÿ', 'ā', '中', '\u{1F600}', '\u{10FFFF}']

function randomValue(t: DataType, r: () => number): Value {
  const pick = <V>(xs: readonly V[]): V => xs[Math.floor(r() * xs.length)]
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1))
  if (t.kind === 'array') {
    const n = int(0, 3)
    const out: Value[] = []
    for (let i = 0; i < n; i++) out.push(r() < 0.15 ? null : randomValue(t.element, r))
    return out
  }
  switch (t.kind) {
    case 'bool':
      return r() < 0.5
    case 'int2':
      return pick([-32768, 32767, 0, -1, 1, int(-32768, 32767)])
    case 'int4':
    case 'date':
      return pick([-2147483648, 2147483647, 0, -1, 1, int(-100, 100), int(-2147483648, 2147483647)])
    case 'int8':
      return pick([
        -(2n ** 63n),
        2n ** 63n - 1n,
        0n,
        -1n,
        1n,
        BigInt(int(-1000, 1000)),
        BigInt(int(-2147483648, 2147483647)) * BigInt(int(-2147483648, 2147483647)),
        BigInt(Number.MAX_SAFE_INTEGER) + BigInt(int(-3, 3)),
        -BigInt(Number.MAX_SAFE_INTEGER) + BigInt(int(-3, 3)),
      ])
    case 'float4':
    case 'float8':
      return pick([
        0,
        -0,
        NaN,
        Infinity,
        -Infinity,
        1,
        -1,
        5e-324,
        -5e-324,
        (r() - 0.5) * 1e6,
        (r() - 0.5) * 1e-6,
        (r() - 0.5) * 1e300,
      ])
    case 'time':
      return int(0, 86_400_000_000 - 1)
    case 'timestamp':
    case 'timestamptz':
      return pick([0, -1, 1, int(-2e15, 2e15) * 1000, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, int(0, 1e6)])
    case 'numeric': {
      const digits = int(1, 25)
      let u = ''
      for (let i = 0; i < digits; i++) u += String(i === 0 ? int(0, 9) : pick([0, 0, 1, 5, 9, int(0, 9)]))
      const unscaled = BigInt(u) * (r() < 0.5 ? -1n : 1n)
      return new Decimal(unscaled, int(0, 12))
    }
    case 'text':
    case 'unknown': {
      const n = int(0, 6)
      let s = ''
      for (let i = 0; i < n; i++) s += pick(CHARS)
      return s
    }
    case 'bytea': {
      const n = int(0, 5)
      return Uint8Array.from({ length: n }, () => pick([0, 0xff, 1, int(0, 255)]))
    }
    case 'interval':
      return new Interval(
        pick([0, 1, -1, int(-500, 500)]),
        pick([0, 30, -30, int(-100, 100)]),
        pick([0, 86_400_000_000, int(-1e12, 1e12)]),
      )
    case 'jsonb':
      return new Jsonb(
        pick<JsonValue>([
          null,
          int(-3, 3),
          (r() - 0.5) * 1e6,
          pick(['', 'a', 'ab', 'b', 'é']),
          true,
          false,
          [],
          [int(0, 2)],
          [int(0, 2), 'x'],
          [null, [true]],
          {},
          { a: int(0, 3) },
          { b: 1, aa: pick([null, 'x', 2]) },
          { a: { b: [int(0, 1)] } },
        ]),
      )
  }
  throw new Error(`no generator for ${JSON.stringify(t)}`)
}

/** SQL order, NULLS LAST; intervals that compare equal are ordered by their fields, as the codec does. */
function compareSql(a: Value, b: Value, t: DataType): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1
  const c = compareValues(a, b, t)
  if (c !== 0 || t.kind !== 'interval') return c
  const x = a as Interval
  const y = b as Interval
  return x.months - y.months || x.days - y.days || x.micros - y.micros
}

function compareTuples(a: readonly Value[], b: readonly Value[], types: readonly DataType[]): number {
  for (let i = 0; i < types.length; i++) {
    const c = compareSql(a[i], b[i], types[i])
    if (c !== 0) return c
  }
  return 0
}

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0)

const TYPES: [string, DataType][] = [
  ['bool', T.bool],
  ['int2', T.int2],
  ['int4', T.int4],
  ['int8', T.int8],
  ['float8', T.float8],
  ['numeric', T.numeric],
  ['text', T.text],
  ['bytea', T.bytea],
  ['date', T.date],
  ['time', T.time],
  ['timestamp', T.timestamp],
  ['timestamptz', T.timestamptz],
  ['interval', T.interval],
  ['jsonb', T.jsonb],
  ['int4[]', arrayOf(T.int4)],
  ['text[]', arrayOf(T.text)],
]

/** Values equal for SQL purposes (floats: NaN = NaN, -0 = 0; numeric by value). */
function expectSameValue(got: Value, want: Value, t: DataType): void {
  if (want === null) expect(got).toBeNull()
  else expect(compareSql(got, want, t)).toBe(0)
}

describe('encodeKey order', () => {
  for (const [name, type] of TYPES) {
    it(`byte order equals SQL order for ${name}, with NULLs last`, () => {
      const r = rng(name.length * 7919)
      const types = [type, T.int4]
      const keys: Value[][] = []
      for (let i = 0; i < 300; i++) keys.push([r() < 0.05 ? null : randomValue(type, r), Math.floor(r() * 3)])
      const encoded = keys.map((k) => encodeKey(k, types))
      for (let i = 0; i < keys.length; i++) {
        for (let j = i + 1; j < Math.min(keys.length, i + 60); j++) {
          const want = sign(compareTuples(keys[i], keys[j], types))
          const got = sign(compareBytes(encoded[i], encoded[j]))
          if (got !== want)
            throw new Error(`${name}: ${String(keys[i][0])} vs ${String(keys[j][0])}: bytes ${got}, SQL ${want}`)
        }
      }
      // Sorting by bytes gives a SQL-sorted sequence.
      const sorted = keys.map((k, i) => ({ k, e: encoded[i] })).sort((a, b) => compareBytes(a.e, b.e))
      for (let i = 1; i < sorted.length; i++)
        expect(compareTuples(sorted[i - 1].k, sorted[i].k, types)).toBeLessThanOrEqual(0)
    })

    it(`round-trips ${name} keys after a prefix`, () => {
      const r = rng(name.length * 104729)
      const prefix = encodeKey([42n], [T.int8])
      for (let i = 0; i < 200; i++) {
        const key = [r() < 0.1 ? null : randomValue(type, r), 'tail']
        const bytes = encodeKey(key, [type, T.text], prefix)
        expect(compareBytes(bytes.subarray(0, prefix.length), prefix)).toBe(0)
        const back = decodeKey(bytes, [type, T.text], prefix.length)
        expectSameValue(back[0], key[0], type)
        expect(back[1]).toBe('tail')
      }
    })
  }

  it('encodes equal values equally (numeric scale, -0, NaN)', () => {
    expect(encodeKey([new Decimal(10n, 1)], [T.numeric])).toEqual(encodeKey([new Decimal(100n, 2)], [T.numeric]))
    expect(encodeKey([new Decimal(1000n, 0)], [T.numeric])).toEqual(encodeKey([new Decimal(10000n, 1)], [T.numeric]))
    expect(encodeKey([-0], [T.float8])).toEqual(encodeKey([0], [T.float8]))
    expect(encodeKey([NaN], [T.float8])).toEqual(encodeKey([0 / 0], [T.float8]))
  })

  it('decodes numeric keys without trailing fractional zeros', () => {
    const d = decodeKey(encodeKey([new Decimal(1500n, 3)], [T.numeric]), [T.numeric])[0] as Decimal
    expect([d.unscaled, d.scale]).toEqual([15n, 1])
    const e = decodeKey(encodeKey([new Decimal(-12000n, 0)], [T.numeric]), [T.numeric])[0] as Decimal
    expect([e.unscaled, e.scale]).toEqual([-12000n, 0])
  })

  it('makes a tuple prefix a byte prefix', () => {
    const types = [T.int8, T.text, T.timestamp]
    const whole = encodeKey([7n, 'ab\0c', 123], types)
    const part = encodeKey([7n, 'ab\0c'], types)
    expect(compareBytes(whole.subarray(0, part.length), part)).toBe(0)
  })
})

describe('encodeRow', () => {
  it('round-trips rows of every type, with nulls', () => {
    const types = TYPES.map(([, t]) => t)
    const r = rng(99)
    for (let i = 0; i < 300; i++) {
      const row = types.map((t) => (r() < 0.2 ? null : randomValue(t, r)))
      const back = decodeRow(encodeRow(row, types), types)
      expect(back.length).toBe(row.length)
      for (let c = 0; c < types.length; c++) {
        expectSameValue(back[c], row[c], types[c])
        // Rows keep the exact representation: numeric scale, interval fields.
        if (row[c] instanceof Decimal) expect((back[c] as Decimal).scale).toBe((row[c] as Decimal).scale)
        if (row[c] instanceof Interval) expect(back[c]).toEqual(row[c])
      }
    }
  })

  it('round-trips long and non-ASCII text and huge numerics', () => {
    const types = [T.text, T.numeric, T.text]
    const big = new Decimal(-(10n ** 40n) - 7n, 5)
    const row = ['x'.repeat(100_000) + 'é\u{1F600}', big, '']
    const back = decodeRow(encodeRow(row, types), types)
    expect(back[0]).toBe(row[0])
    expect((back[1] as Decimal).unscaled).toBe(big.unscaled)
    expect(back[2]).toBe('')
  })

  it('rejects a row of another shape', () => {
    const bytes = encodeRow([1, 'a'], [T.int4, T.text])
    expect(() => decodeRow(bytes, [T.int4, T.text, T.text])).toThrow(/cannot decode a stored row/)
  })
})
