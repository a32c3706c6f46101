// whileRetriable: a broker error kafkajs marks retriable (NOT_COORDINATOR from a broker that has
// just started) is tried again until it passes or the budget is spent; any other error at once.
import { describe, expect, it } from 'vitest'
import { whileRetriable } from './sink-progress.ts'

const retriable = (message: string): Error => Object.assign(new Error(message), { retriable: true })

describe('whileRetriable', () => {
  it('tries a retriable failure again until it passes', async () => {
    let calls = 0
    const value = await whileRetriable(async () => {
      if (++calls < 3) throw retriable('This is not the correct coordinator for this group')
      return 42
    })
    expect(value).toBe(42)
    expect(calls).toBe(3)
  })

  it('throws any other error at once', async () => {
    let calls = 0
    await expect(
      whileRetriable(async () => {
        calls++
        throw new Error('SASL authentication failed')
      }),
    ).rejects.toThrow('SASL')
    expect(calls).toBe(1)
  })

  it('gives up once the budget is spent', async () => {
    let calls = 0
    await expect(
      whileRetriable(async () => {
        calls++
        throw retriable('The coordinator is loading')
      }, 350),
    ).rejects.toThrow('loading')
    expect(calls).toBeGreaterThan(1)
    expect(calls).toBeLessThan(5)
  })
})
