/** The checkpoint snapshot codec round-trips every kind of value operators checkpoint, and refuses damaged bytes. */
import { describe, expect, it } from 'vitest'
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec.ts'
import { Decimal } from '../types/decimal.ts'
import { Interval } from '../types/interval.ts'
import { Jsonb } from '../types/jsonb.ts'

describe('snapshot codec', () => {
  it('round-trips numbers, bigints, strings, bytes, value classes and nesting', () => {
    const value = [
      0,
      1,
      -1,
      2 ** 31 - 1,
      -(2 ** 31),
      2 ** 31,
      2 ** 53,
      -0,
      0.5,
      NaN,
      Infinity,
      -Infinity,
      0n,
      -1n,
      2n ** 63n - 1n,
      -(2n ** 63n),
      2n ** 64n,
      -(10n ** 40n),
      '',
      'a',
      'é ü 漢字 😀',
      'x'.repeat(42),
      'y'.repeat(43),
      'z'.repeat(5000),
      '\u0000nul',
      '\ud800 lone',
      true,
      false,
      null,
      new Uint8Array([0, 255, 7]),
      new Uint8Array(0),
      new Decimal(12345n, 2),
      new Decimal(-(10n ** 30n), 40),
      new Interval(14, -3, 1.5e6),
      new Jsonb({ a: [1, 'b', null, { c: true }] }),
      [[], [[1, 'two', 3n]], [null]],
    ]
    const back = decodeSnapshot(encodeSnapshot(value)) as unknown[]
    expect(back.length).toBe(value.length)
    expect(Object.is(back[value.findIndex((v) => Object.is(v, -0))], -0)).toBe(true)
    const lone = value.indexOf('\ud800 lone')
    expect(back[lone]).toBe('\ufffd lone') // a lone surrogate is not UTF-8: replaced, as Buffer does
    expect(back.filter((_v, i) => i !== lone)).toEqual(value.filter((_v, i) => i !== lone))
    for (const kind of [Decimal, Interval, Jsonb])
      expect(back.filter((v) => v instanceof kind).length).toBe(value.filter((v) => v instanceof kind).length)
  })

  it('round-trips many short strings that grow the buffer mid-string', () => {
    const value = [Array.from({ length: 30000 }, (_v, i) => [String(i * 10), 1])]
    expect(decodeSnapshot(encodeSnapshot(value))).toEqual(value)
  })

  it('turns undefined into null, as JSON did', () => {
    expect(decodeSnapshot(encodeSnapshot([undefined, 1]))).toEqual([null, 1])
  })

  it('refuses truncated, unknown or trailing bytes with a clear error', () => {
    const bytes = encodeSnapshot(['abc', 12345678901234n, [1, 2, 3]])
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(() => decodeSnapshot(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow(
        /cannot decode a stored operator snapshot/,
      )
    }
    expect(() => decodeSnapshot(new Uint8Array([99]))).toThrow(/unknown tag 99/)
    expect(() => decodeSnapshot(new Uint8Array([...bytes, 0]))).toThrow(/trailing/)
  })
})
