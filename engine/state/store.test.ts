/**
 * StateStore semantics, run against LevelDB and the in-memory store alike: byte-ordered scans
 * with bounds, limit and reverse; in-order atomic batches with delRange; and for LevelDB,
 * durability across close and reopen.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { StateStore } from './store.ts'
import { openLevelStore } from './leveldb.ts'
import { MemoryStore } from './memory.ts'
import { prefixEnd } from './store.ts'

const b = (...xs: number[]): Uint8Array => Uint8Array.from(xs)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const str = (u: Uint8Array): string => new TextDecoder().decode(u)

async function all(
  store: StateStore,
  prefix: Uint8Array,
  options?: Parameters<StateStore['scan']>[1],
): Promise<string[]> {
  const out: string[] = []
  for await (const [k, v] of store.scan(prefix, options)) out.push(`${Array.from(k).join('.')}=${str(v)}`)
  return out
}

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sluice-state-'))
  dirs.push(d)
  return d
}

const kinds: [string, () => Promise<StateStore>][] = [
  ['memory', async () => new MemoryStore()],
  ['leveldb', async () => openLevelStore(await tempDir())],
]

for (const [kind, open] of kinds) {
  describe(`${kind} store`, () => {
    it('scans a prefix in byte order, with bounds, limit and reverse', async () => {
      const s = await open()
      await s.write([
        { type: 'put', key: b(1, 2), value: text('b') },
        { type: 'put', key: b(1, 0xff), value: text('c') },
        { type: 'put', key: b(1, 1), value: text('a') },
        { type: 'put', key: b(1), value: text('p') },
        { type: 'put', key: b(2, 0), value: text('x') },
        { type: 'put', key: b(0, 9), value: text('y') },
      ])
      expect(await all(s, b(1))).toEqual(['1=p', '1.1=a', '1.2=b', '1.255=c'])
      expect(await all(s, b(1), { gte: b(1, 2) })).toEqual(['1.2=b', '1.255=c'])
      expect(await all(s, b(1), { lt: b(1, 2) })).toEqual(['1=p', '1.1=a'])
      // Bounds outside the prefix are clamped to it.
      expect(await all(s, b(1), { gte: b(0), lt: b(3) })).toEqual(['1=p', '1.1=a', '1.2=b', '1.255=c'])
      expect(await all(s, b(1), { reverse: true, limit: 2 })).toEqual(['1.255=c', '1.2=b'])
      expect(await all(s, b(1), { limit: 0 })).toEqual([])
      expect(await all(s, b())).toHaveLength(6)
      expect(str((await s.get(b(1, 2)))!)).toBe('b')
      expect(await s.get(b(1, 3))).toBeUndefined()
      await s.close()
    })

    it('applies a batch in order, with delRange seeing earlier puts of the batch', async () => {
      const s = await open()
      await s.write([1, 2, 3, 4, 5].map((i) => ({ type: 'put' as const, key: b(7, i), value: text(String(i)) })))
      await s.write([
        { type: 'put', key: b(7, 0), value: text('0') },
        { type: 'del', key: b(7, 5) },
        { type: 'delRange', gte: b(7, 0), lt: b(7, 3) },
        { type: 'put', key: b(7, 1), value: text('again') },
        { type: 'put', key: b(7, 5), value: text('back') },
      ])
      expect(await all(s, b(7))).toEqual(['7.1=again', '7.3=3', '7.4=4', '7.5=back'])
      await s.write([{ type: 'delRange', gte: b(7), lt: prefixEnd(b(7))! }])
      expect(await all(s, b(7))).toEqual([])
      await s.close()
    })

    it('writes nothing of a batch that fails', async () => {
      const s = await open()
      const bad = { type: 'put', key: undefined, value: text('x') } as unknown as {
        type: 'put'
        key: Uint8Array
        value: Uint8Array
      }
      await expect(s.write([{ type: 'put', key: b(9, 1), value: text('1') }, bad])).rejects.toThrow()
      expect(await s.get(b(9, 1))).toBeUndefined()
      await s.close()
    })

    it('shows a scan the store as of its start', async () => {
      const s = await open()
      await s.write([1, 2, 3].map((i) => ({ type: 'put' as const, key: b(4, i), value: text(String(i)) })))
      const seen: string[] = []
      for await (const [k] of s.scan(b(4))) {
        seen.push(String(k[1]))
        if (k[1] === 1) await s.write([{ type: 'del', key: b(4, 3) }])
      }
      expect(seen).toEqual(['1', '2', '3'])
      await s.close()
    })
  })
}

describe('leveldb durability', () => {
  it('keeps batches across close and reopen', async () => {
    const dir = await tempDir()
    const s = await openLevelStore(dir)
    await s.write(
      Array.from({ length: 1000 }, (_, i) => ({
        type: 'put' as const,
        key: b(5, i >> 8, i & 0xff),
        value: text(`v${i}`),
      })),
    )
    await s.write([{ type: 'delRange', gte: b(5, 1), lt: b(5, 3) }])
    await s.close()
    const again = await openLevelStore(dir)
    const rows = await all(again, b(5))
    expect(rows).toHaveLength(1000 - 512)
    expect(rows[0]).toBe('5.0.0=v0')
    expect(rows[256]).toBe('5.3.0=v768')
    await again.close()
  })

  it('refuses a second process on the same directory with 58030', async () => {
    const dir = await tempDir()
    const s = await openLevelStore(dir)
    await expect(openLevelStore(dir)).rejects.toMatchObject({ code: '58030' })
    await s.close()
  })
})
