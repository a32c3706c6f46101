/** QueryBudget: a query's own limit, the server-wide pool every budget draws from, and the size settings. */
import { describe, expect, it } from 'vitest'
import { MemoryPool, QueryBudget, formatBytes, parseMemorySetting } from './budget.ts'
import { SluiceError } from '../errors.ts'

function code(f: () => void): string | undefined {
  try {
    f()
  } catch (e) {
    return e instanceof SluiceError ? e.code : 'not a SluiceError'
  }
  return undefined
}

describe('QueryBudget', () => {
  it('reserves up to its limit and fails past it with 53200, keeping what it had', () => {
    const pool = new MemoryPool(10_000)
    const b = new QueryBudget(1000, pool)
    b.reserve(600)
    b.reserve(400)
    expect(b.used).toBe(1000)
    expect(code(() => b.reserve(1))).toBe('53200')
    expect(b.used).toBe(1000)
    b.release(300)
    b.reserve(300)
    expect(b.used).toBe(1000)
    expect(pool.used).toBe(1000)
  })

  it('fails when the server-wide pool is spent, even under its own limit', () => {
    const pool = new MemoryPool(1500)
    const a = new QueryBudget(1000, pool)
    const b = new QueryBudget(1000, pool)
    a.reserve(1000)
    expect(code(() => b.reserve(600))).toBe('53200')
    b.reserve(500)
    a.releaseAll()
    expect(pool.used).toBe(500)
    b.reserve(500)
    expect(pool.used).toBe(1000)
  })

  it('never releases more than it holds', () => {
    const pool = new MemoryPool(1000)
    const a = new QueryBudget(1000, pool)
    const b = new QueryBudget(1000, pool)
    a.reserve(100)
    b.reserve(100)
    a.release(5000)
    expect(a.used).toBe(0)
    expect(pool.used).toBe(100)
  })
})

describe('memory settings', () => {
  it('reads units as PostgreSQL does (bare numbers are kB) and prints them back', () => {
    expect(parseMemorySetting('x', '4MB')).toBe(4 * 1024 * 1024)
    expect(parseMemorySetting('x', '512 kb')).toBe(512 * 1024)
    expect(parseMemorySetting('x', '64')).toBe(64 * 1024)
    expect(parseMemorySetting('x', '1GB')).toBe(1024 ** 3)
    expect(formatBytes(4 * 1024 * 1024)).toBe('4MB')
    expect(formatBytes(1024 ** 3)).toBe('1GB')
    expect(code(() => parseMemorySetting('x', 'lots'))).toBe('22023')
    expect(code(() => parseMemorySetting('x', '12B'))).toBe('22023')
  })
})
