// Type modifiers: what typeModOf keeps from a declared type (and the 22023 refusals), the
// PostgreSQL spellings and numbers derived from it, and how values are fitted to it.
import { describe, expect, it } from 'vitest'
import { T, arrayOf } from './datatype.ts'
import { Decimal } from './decimal.ts'
import {
  applyTypeMod,
  columnTypeInfo,
  declaredScale,
  formatType,
  formatTypeOid,
  pgTypeOid,
  pgTypmod,
  typeModOf,
} from './typmod.ts'

const dec = (s: string): Decimal => Decimal.fromString(s)

describe('typeModOf', () => {
  it('encodes typmods as PostgreSQL does', () => {
    expect(typeModOf('varchar', [5])).toEqual({ spelling: 'varchar', typmod: 9 })
    expect(typeModOf('varchar', [])).toEqual({ spelling: 'varchar', typmod: -1 })
    expect(typeModOf('bpchar', [1])).toEqual({ spelling: 'bpchar', typmod: 5 })
    expect(typeModOf('numeric', [12, 2])).toEqual({ typmod: (12 << 16) + 2 + 4 })
    expect(typeModOf('numeric', [4])).toEqual({ typmod: (4 << 16) + 4 })
    expect(typeModOf('timestamptz', [3])).toEqual({ typmod: 3 })
    expect(typeModOf('numeric', [])).toBeUndefined()
    expect(typeModOf('int8', [])).toBeUndefined()
  })

  it('refuses bad modifiers with 22023 and lowers a timestamp precision above 6', () => {
    expect(() => typeModOf('varchar', [0])).toThrow(
      expect.objectContaining({ code: '22023', message: 'length for type varchar must be at least 1' }),
    )
    expect(() => typeModOf('bpchar', [10_485_761])).toThrow(expect.objectContaining({ code: '22023' }))
    expect(() => typeModOf('numeric', [1001])).toThrow(
      expect.objectContaining({ message: 'NUMERIC precision 1001 must be between 1 and 1000' }),
    )
    expect(() => typeModOf('numeric', [5, 1001])).toThrow(
      expect.objectContaining({ message: 'NUMERIC scale 1001 must be between -1000 and 1000' }),
    )
    const notices: string[] = []
    expect(typeModOf('timestamp', [9], undefined, (m) => notices.push(m))).toEqual({ typmod: 6 })
    expect(notices).toEqual(['TIMESTAMP(9) precision reduced to maximum allowed, 6'])
  })
})

describe('PostgreSQL spellings', () => {
  it('formats types, OIDs and information_schema facts', () => {
    expect(formatType(T.text, typeModOf('varchar', [5]))).toBe('character varying(5)')
    expect(formatType(T.text, typeModOf('bpchar', []))).toBe('bpchar')
    expect(formatType(arrayOf(T.text), typeModOf('bpchar', [2]))).toBe('character(2)[]')
    expect(formatType(T.numeric, typeModOf('numeric', [3, -1]))).toBe('numeric(3,-1)')
    expect(formatType(T.time, typeModOf('time', [0]))).toBe('time(0) without time zone')
    expect(formatTypeOid(1043, -1)).toBe('character varying')
    expect(formatTypeOid(1700, 786438)).toBe('numeric(12,2)')
    expect(formatTypeOid(999_999, -1)).toBeUndefined()
    expect(pgTypeOid(arrayOf(T.text), typeModOf('varchar', [3]))).toBe(1015)
    expect(pgTypmod(undefined)).toBe(-1)
    expect(columnTypeInfo(T.numeric, typeModOf('numeric', [12, 2]))).toMatchObject({
      dataType: 'numeric',
      numericPrecision: 12,
      numericScale: 2,
      numericPrecisionRadix: 10,
    })
    expect(columnTypeInfo(T.text, typeModOf('bpchar', [3]))).toMatchObject({
      dataType: 'character',
      udtName: 'bpchar',
      characterMaximumLength: 3,
      characterOctetLength: 12,
    })
    expect(declaredScale(T.numeric, typeModOf('numeric', [12, 2]))).toBe(2)
    expect(declaredScale(T.numeric, typeModOf('numeric', [3, -1]))).toBeUndefined()
  })
})

describe('applyTypeMod', () => {
  const varchar5 = typeModOf('varchar', [5])!
  const char3 = typeModOf('bpchar', [3])!

  it('checks string lengths in characters, cutting only spaces unless the cast is explicit', () => {
    expect(applyTypeMod('ab', T.text, varchar5)).toBe('ab')
    expect(applyTypeMod('abcde   ', T.text, varchar5)).toBe('abcde')
    // Five characters, seven UTF-16 units.
    expect(applyTypeMod('a😀b😀c', T.text, varchar5)).toBe('a😀b😀c')
    expect(() => applyTypeMod('abcdef', T.text, varchar5)).toThrow(
      expect.objectContaining({ code: '22001', message: 'value too long for type character varying(5)' }),
    )
    expect(applyTypeMod('abcdef', T.text, varchar5, true)).toBe('abcde')
    expect(applyTypeMod('a', T.text, char3)).toBe('a  ')
    expect(() => applyTypeMod('abcd', T.text, char3)).toThrow(
      expect.objectContaining({ message: 'value too long for type character(3)' }),
    )
    expect(applyTypeMod(['ab', null], arrayOf(T.text), char3)).toEqual(['ab ', null])
  })

  it('rounds numerics half away from zero and refuses too many integer digits', () => {
    const n = typeModOf('numeric', [4, 2])!
    expect(applyTypeMod(dec('0.1'), T.numeric, n)!.toString()).toBe('0.10')
    expect(applyTypeMod(dec('-1.005'), T.numeric, n)!.toString()).toBe('-1.01')
    expect(() => applyTypeMod(dec('99.995'), T.numeric, n)).toThrow(
      expect.objectContaining({
        code: '22003',
        detail: 'A field with precision 4, scale 2 must round to an absolute value less than 10^2.',
      }),
    )
    expect(applyTypeMod(dec('15'), T.numeric, typeModOf('numeric', [3, -1])!)!.toString()).toBe('20')
  })

  it('rounds times to their precision', () => {
    expect(applyTypeMod(1_500_000, T.timestamp, typeModOf('timestamp', [0])!)).toBe(2_000_000)
    expect(applyTypeMod(-1_500_000, T.timestamp, typeModOf('timestamp', [0])!)).toBe(-2_000_000)
    expect(applyTypeMod(123_456, T.time, typeModOf('time', [3])!)).toBe(123_000)
    expect(applyTypeMod(Infinity, T.timestamp, typeModOf('timestamp', [0])!)).toBe(Infinity)
  })
})
