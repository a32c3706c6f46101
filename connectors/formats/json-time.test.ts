/**
 * Timestamps read from bytes (./json-time.ts) against the engine's text parser: for any text, the
 * byte reader either declines (NaN) or gives exactly the parser's µs, and it declines whatever the
 * parser rejects. The common forms must not be declined.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { parseTimestamp, parseTimestamptz } from '../../engine/types/time.ts'
import { timestampFromBytes, timestamptzFromBytes } from './json-time.ts'

/** The parser's answer, or NaN where it throws. */
function parsed(parse: () => number): number {
  try {
    return parse()
  } catch {
    return NaN
  }
}

/** The byte reader over the text inside other bytes, as records lie in a fetched buffer. */
function fromBytes(text: string, read: (b: Uint8Array, from: number, to: number) => number): number {
  const b = Buffer.from(`"${text}"7`, 'latin1')
  return read(b, 1, b.length - 2)
}

const digits = (n: number, max: number): fc.Arbitrary<string> =>
  fc.integer({ min: 0, max }).map((v) => String(v).padStart(n, '0'))

const text = fc
  .tuple(
    fc.oneof(digits(4, 9999), fc.constantFrom('2024', '0001', '10000', '0000', '24')),
    fc.oneof(digits(2, 13), fc.constantFrom('1', '02')),
    fc.oneof(digits(2, 32), fc.constantFrom('29', '31', '7')),
    fc.constantFrom('', ' ', 'T', 't', '  ', 'x'),
    fc.oneof(digits(2, 25), fc.constantFrom('7')),
    fc.oneof(digits(2, 61), fc.constantFrom('', ':5')),
    fc.option(fc.oneof(digits(2, 61), fc.constantFrom('5')), { nil: undefined }),
    fc.option(fc.stringMatching(/^[0-9]{0,8}$/), { nil: undefined }),
    fc.constantFrom('', 'Z', 'z', '+05', '+05:30', '-0800', '+5', '-12:', ' UTC', 'UTC', '+05:30:15', '+0530x', ' '),
  )
  .map(([y, mo, d, sep, h, mi, s, frac, zone]) => {
    let out = `${y}-${mo}-${d}`
    if (sep !== '') {
      out += `${sep}${h}:${mi}`
      if (s !== undefined) {
        out += `:${s}`
        if (frac !== undefined) out += `.${frac}`
      }
    }
    return out + zone
  })

describe('timestamps from bytes', () => {
  it('give the text parser µs or decline, for any text', () => {
    fc.assert(
      fc.property(text, fc.constantFrom('UTC', 'America/New_York', 'Asia/Kolkata'), (t, tz) => {
        const ts = fromBytes(t, timestampFromBytes)
        if (!Number.isNaN(ts)) expect(ts).toBe(parseTimestamp(t))
        const tstz = fromBytes(t, (b, from, to) => timestamptzFromBytes(b, from, to, tz))
        if (!Number.isNaN(tstz)) expect(tstz).toBe(parseTimestamptz(t, tz))
        // Whatever the parser rejects, the byte reader declines (the parser then gives the error).
        if (Number.isNaN(parsed(() => parseTimestamp(t)))) expect(ts).toBeNaN()
        if (Number.isNaN(parsed(() => parseTimestamptz(t, tz)))) expect(tstz).toBeNaN()
      }),
      { numRuns: 5000 },
    )
  })

  it('read the common forms themselves', () => {
    const forms = [
      '2024-01-01 00:00:00.004',
      '2024-01-01 00:00:00',
      '2024-01-01 00:00',
      '2024-01-01',
      '2024-02-29T23:59:59.999999',
      '2024-02-29T23:59:59.999999Z',
      '2024-01-01t10:00:00z',
      '2024-01-01T10:00:00+05:30',
      '2024-01-01T10:00:00.5-0800',
      '2024-01-01 10:00:00+02',
      '2024-01-01 24:00:00',
      '9999-12-31 23:59:60',
    ]
    for (const t of forms) {
      expect(fromBytes(t, timestampFromBytes), t).toBe(parseTimestamp(t))
      expect(
        fromBytes(t, (b, from, to) => timestamptzFromBytes(b, from, to, 'Europe/Paris')),
        t,
      ).toBe(parseTimestamptz(t, 'Europe/Paris'))
    }
  })

  it('decline the forms only the text parser reads', () => {
    for (const t of [
      'epoch',
      ' 2024-01-01 00:00:00',
      '2024-01-01 00:00:00 ',
      '2024-01-01  00:00:00',
      '2024-01-01 00:00:00 UTC',
      '2024-01-01 00:00:00 Europe/Paris',
      '2024-01-01 00:00:00.1234567',
      '2024-1-01 00:00:00',
      '12024-01-01 00:00:00',
      '2024-01-01 00:00:00+05:',
    ]) {
      expect(fromBytes(t, timestampFromBytes), t).toBeNaN()
    }
  })

  it('decline values out of range, which the text parser then rejects with its message', () => {
    for (const t of [
      '2023-02-29',
      '2024-13-01',
      '2024-00-10',
      '0000-01-01',
      '2024-01-01 24:00:01',
      '2024-01-01 10:60',
    ]) {
      expect(fromBytes(t, timestampFromBytes), t).toBeNaN()
      expect(() => parseTimestamp(t), t).toThrow()
    }
  })
})
