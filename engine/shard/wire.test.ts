// The chunk wire format round-trips every SQL kind exactly (NULLs, NaN, -0, empty and non-ASCII
// strings, int8 extremes, decimal scales), keeps ops, and hands out buffers it alone owns.
import { describe, expect, it } from 'vitest'
import type { Chunk } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import { chunkFromRows } from '../chunk.ts'
import { SQL_KINDS, T, arrayOf, scalar } from '../types/datatype.ts'
import { Decimal } from '../types/decimal.ts'
import { Interval } from '../types/interval.ts'
import { parseText } from '../types/text.ts'
import { decodeChunk, encodeChunk } from './wire.ts'

const LONG_ASCII = 'x'.repeat(120)
const LONG_UTF8 = 'déjà vu ✓ 𝄞 '.repeat(12)

/** Non-null sample values of each kind, with the edge cases the format must keep. */
const SAMPLES: Record<(typeof SQL_KINDS)[number], readonly Value[]> = {
  bool: [true, false],
  int2: [0, -32768, 32767, 7],
  int4: [-2147483648, 2147483647, 1, 0],
  int8: [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 1234567890123n],
  float4: [1.5, NaN, -0, Infinity, -Infinity],
  float8: [NaN, -0, 0, Infinity, -Infinity, 1e-300, 0.1, -1.7976931348623157e308],
  numeric: [
    Decimal.fromString('1.50'),
    Decimal.fromString('-0.001'),
    Decimal.fromString('123456789012345678901234567890.123'),
    Decimal.fromString('0'),
    new Decimal(100n, 2),
  ],
  text: ['', 'abc', 'héllo wörld ✓', '𝄞 clef', LONG_ASCII, LONG_UTF8, 'channel-42'],
  bytea: [new Uint8Array([]), new Uint8Array([0, 255, 1, 128])],
  date: [parseText(T.date, '2024-02-29'), parseText(T.date, '1900-01-01'), 0],
  time: [parseText(T.time, '12:34:56.789'), 0, parseText(T.time, '23:59:59.999999')],
  timestamp: [parseText(T.timestamp, '2024-01-01 00:00:00.123456'), parseText(T.timestamp, '1969-12-31 23:59:59')],
  timestamptz: [parseText(T.timestamptz, '2024-06-30 12:00:00+02'), 0],
  interval: [Interval.parse('1 year 2 mons 3 days 04:05:06.5'), Interval.parse('-1 day'), new Interval(0, 0, 0)],
  jsonb: [
    parseText(T.jsonb, '{"a": [1, 2.5, null, "x"], "b": {"c": true}}'),
    parseText(T.jsonb, '"str"'),
    parseText(T.jsonb, 'null'),
    parseText(T.jsonb, '[]'),
  ],
}

const ARRAY_TYPES: readonly [DataType, readonly Value[]][] = [
  [arrayOf(T.int4), [[1, null, 3], [], [null]]],
  [arrayOf(T.text), [['a', null, ''], ['✓']]],
  [
    arrayOf(arrayOf(T.int8)),
    [
      [
        [1n, 2n],
        [null, -(2n ** 63n)],
      ],
      [],
    ],
  ],
  [arrayOf(T.numeric), [[Decimal.fromString('1.10'), null]]],
]

/** A column of `rows` values cycling through `samples`, NULL every `nullEvery` rows (0: never). */
function column(samples: readonly Value[], rows: number, nullEvery: number): Value[] {
  const out: Value[] = []
  for (let i = 0; i < rows; i++) out.push(nullEvery > 0 && i % nullEvery === 0 ? null : samples[i % samples.length])
  return out
}

function roundTrip(chunk: Chunk, types: readonly DataType[]): Chunk {
  const bytes = encodeChunk(chunk, types)
  expect(bytes.byteOffset).toBe(0)
  expect(bytes.buffer.byteLength).toBe(bytes.length)
  return decodeChunk(bytes, types)
}

/** Exact equality: toStrictEqual tells -0 from 0, keeps NaN = NaN and compares class instances field by field. */
function expectSame(actual: Chunk, expected: Chunk): void {
  expect(actual.length).toBe(expected.length)
  expect(Array.from(actual.ops)).toEqual(Array.from(expected.ops.subarray(0, expected.length)))
  expect(actual.columns.length).toBe(expected.columns.length)
  for (let c = 0; c < expected.columns.length; c++) {
    expect(actual.columns[c]).toStrictEqual(expected.columns[c].slice(0, expected.length))
  }
}

describe('chunk wire format', () => {
  const kinds: [DataType, readonly Value[]][] = [
    ...SQL_KINDS.map((k): [DataType, readonly Value[]] => [scalar(k), SAMPLES[k]]),
    ...ARRAY_TYPES,
  ]

  it('round-trips every SQL kind, with and without NULLs, across text groups', () => {
    for (const rows of [1, 7, 64, 65, 150]) {
      for (const nullEvery of [0, 3, 1]) {
        const types = kinds.map(([t]) => t)
        const columns = kinds.map(([, samples]) => column(samples, rows, nullEvery))
        const ops = Int8Array.from({ length: rows }, (_, i) => (i % 4 === 1 ? -1 : 1))
        const chunk: Chunk = { ops, columns, length: rows }
        expectSame(roundTrip(chunk, types), chunk)
      }
    }
  })

  it('keeps -0, NaN and int8 extremes exactly', () => {
    const chunk = chunkFromRows(3, [
      [-0, -(2n ** 63n), NaN],
      [0, 2n ** 63n - 1n, -0],
    ])
    const out = roundTrip(chunk, [T.float8, T.int8, T.timestamp])
    expect(Object.is(out.columns[0][0], -0)).toBe(true)
    expect(Object.is(out.columns[0][1], 0)).toBe(true)
    expect(out.columns[1]).toEqual([-(2n ** 63n), 2n ** 63n - 1n])
    expect(Number.isNaN(out.columns[2][0])).toBe(true)
    expect(Object.is(out.columns[2][1], -0)).toBe(true)
  })

  it('round-trips an ASCII group next to a non-ASCII one', () => {
    const text = [...Array.from({ length: 64 }, (_, i) => `ascii-${i}`), 'ünï', '', null, 'ok']
    const chunk = chunkFromRows(
      1,
      text.map((t) => [t]),
    )
    expectSame(roundTrip(chunk, [T.text]), chunk)
  })

  it('round-trips ASCII text of every length over several groups', () => {
    const text = Array.from({ length: 200 }, (_, i) => (i % 9 === 4 ? null : 'abcdefghij'.repeat(5).slice(0, i % 41)))
    const chunk = chunkFromRows(
      1,
      text.map((t) => [t]),
    )
    expectSame(roundTrip(chunk, [T.text]), chunk)
  })

  it('turns lone surrogates into U+FFFD, as the state codec does, even split across rows', () => {
    const chunk = chunkFromRows(1, [['a\uD800b'], ['x\uD834'], ['\uDD1Ey'], ['ok']])
    const out = roundTrip(chunk, [T.text])
    expect(out.columns[0]).toEqual(['a\uFFFDb', 'x\uFFFD', '\uFFFDy', 'ok'])
  })

  it('round-trips the empty chunk and a chunk without columns', () => {
    const empty: Chunk = { ops: new Int8Array(0), columns: [[], []], length: 0 }
    expectSame(roundTrip(empty, [T.int8, T.text]), empty)
    const noColumns: Chunk = { ops: Int8Array.from([1, -1]), columns: [], length: 2 }
    expectSame(roundTrip(noColumns, []), noColumns)
  })

  it('keeps retractions', () => {
    const chunk = chunkFromRows(
      2,
      [
        [1n, 'a'],
        [2n, null],
      ],
      -1,
    )
    const out = roundTrip(chunk, [T.int8, T.text])
    expect(Array.from(out.ops)).toEqual([-1, -1])
    expectSame(out, chunk)
  })

  it('hands out a buffer of its own that survives a transfer and later encodes', () => {
    const types = [T.int4, T.text]
    const first = chunkFromRows(2, [
      [1, 'one'],
      [2, 'two'],
    ])
    const bytes = encodeChunk(first, types)
    // A later encode reuses the encoder's scratch: the first result must not alias it.
    encodeChunk(chunkFromRows(2, [[3, 'three']]), types)
    const moved = structuredClone(bytes, { transfer: [bytes.buffer] })
    expect(bytes.buffer.byteLength).toBe(0)
    expectSame(decodeChunk(moved, types), first)
  })

  it('decodes from an unaligned view', () => {
    const types = [T.float8, T.int8]
    const chunk = chunkFromRows(2, [
      [1.25, 5n],
      [null, null],
    ])
    const bytes = encodeChunk(chunk, types)
    const padded = new Uint8Array(bytes.length + 3)
    padded.set(bytes, 3)
    expectSame(decodeChunk(padded.subarray(3), types), chunk)
  })

  it('refuses bytes that are not a chunk of these types', () => {
    const bytes = encodeChunk(chunkFromRows(1, [[1]]), [T.int4])
    expect(() => decodeChunk(bytes, [T.int4, T.int4])).toThrow(/columns/)
    expect(() => decodeChunk(bytes.subarray(0, bytes.length - 8), [T.int4])).toThrow(/truncated/)
    expect(() => decodeChunk(new Uint8Array(16), [T.int4])).toThrow(/not an encoded chunk/)
    expect(() => encodeChunk(chunkFromRows(1, [[1]]), [])).toThrow(/columns/)
  })
})
