import { describe, expect, it } from 'vitest'
import { ByteList, ByteSet } from './byte-set.ts'
import { rng as random } from '../../test/support.ts'

/** Random keys over a few byte values, so that equal keys and shared prefixes are common. */
function randomKey(next: () => number): Uint8Array {
  const key = new Uint8Array(Math.floor(next() * 6))
  for (let i = 0; i < key.length; i++) key[i] = next() < 0.5 ? 0 : Math.floor(next() * 4) * 85
  return key
}

const text = (key: Uint8Array): string => Buffer.from(key).toString('latin1')

describe('ByteSet', () => {
  it('agrees with a Set of strings on random adds, lookups and clears', () => {
    for (const seed of [1, 2, 3]) {
      const next = random(seed)
      const set = new ByteSet()
      const model = new Set<string>()
      for (let step = 0; step < 20_000; step++) {
        const key = randomKey(next)
        const r = next()
        if (r < 0.45) {
          expect(set.add(key)).toBe(!model.has(text(key)))
          model.add(text(key))
        } else if (r < 0.998) expect(set.has(key)).toBe(model.has(text(key)))
        else {
          set.clear()
          model.clear()
        }
        expect(set.size).toBe(model.size)
      }
      expect([...set.values()].map(text)).toEqual([...model])
    }
  })

  it('holds many distinct keys (growth and rehashing)', () => {
    const set = new ByteSet()
    const key = (i: number): Uint8Array => new Uint8Array([0xff, 0xff, 1, i >>> 16, (i >>> 8) & 0xff, i & 0xff])
    let added = 0
    let found = 0
    for (let i = 0; i < 100_000; i++) if (set.add(key(i))) added++
    for (let i = 0; i < 100_000; i++) if (set.has(key(i))) found++
    expect([added, found, set.size]).toEqual([100_000, 100_000, 100_000])
    expect(set.has(key(100_000))).toBe(false)
    expect(set.add(key(7))).toBe(false)
    set.clear()
    expect(set.size).toBe(0)
    expect(set.has(key(7))).toBe(false)
    expect(set.add(key(7))).toBe(true)
  })

  it('keeps copies: a key changed after add, or a view after clear, does not change the set', () => {
    const set = new ByteSet()
    const key = new Uint8Array([1, 2, 3])
    set.add(key)
    key[0] = 9
    expect(set.has(new Uint8Array([1, 2, 3]))).toBe(true)
    expect(set.has(key)).toBe(false)
    const [view] = set.values()
    set.clear()
    set.add(new Uint8Array([7, 7, 7]))
    expect([...view]).toEqual([1, 2, 3])
  })

  it('tells the empty key from no key', () => {
    const set = new ByteSet()
    expect(set.has(new Uint8Array(0))).toBe(false)
    set.add(new Uint8Array(0))
    expect(set.has(new Uint8Array(0))).toBe(true)
    expect(set.has(new Uint8Array([0]))).toBe(false)
  })
})

describe('ByteList', () => {
  it('keeps repeats in order, and the views it hands out stay valid after it is reused', () => {
    const next = random(7)
    const list = new ByteList()
    let model: string[] = []
    const taken: [Uint8Array[], string[]][] = []
    for (let step = 0; step < 5_000; step++) {
      if (next() < 0.01) {
        taken.push([list.take(), model])
        model = []
      } else {
        const key = randomKey(next)
        list.push(key)
        model.push(text(key))
      }
      expect(list.length).toBe(model.length)
    }
    expect([...list.values()].map(text)).toEqual(model)
    for (const [views, keys] of taken) expect(views.map(text)).toEqual(keys)
  })
})
