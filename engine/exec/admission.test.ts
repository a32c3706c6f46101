/** QueryGate: at most `limit` queries run; the rest wait in order, and an interrupt ends a wait. */
import { describe, expect, it } from 'vitest'
import { QueryGate } from './admission.ts'
import { StatementInterrupt } from './interrupt.ts'

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {}
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

describe('QueryGate', () => {
  it('runs at most `limit` queries and admits the waiting ones in arrival order', async () => {
    const gate = new QueryGate(2)
    const order: string[] = []
    const first = deferred()
    const second = deferred()
    const a = gate.run(new StatementInterrupt(undefined), async () => {
      order.push('a')
      await first.promise
    })
    const b = gate.run(new StatementInterrupt(undefined), async () => {
      order.push('b')
      await second.promise
    })
    const c = gate.run(new StatementInterrupt(undefined), async () => void order.push('c'))
    const d = gate.run(new StatementInterrupt(undefined), async () => void order.push('d'))
    await new Promise((r) => setImmediate(r))
    expect(order).toEqual(['a', 'b'])
    expect(gate.load).toEqual({ running: 2, waiting: 2 })
    second.resolve()
    await b
    await c
    await new Promise((r) => setImmediate(r))
    expect(order).toEqual(['a', 'b', 'c', 'd'])
    first.resolve()
    await Promise.all([a, d])
    expect(gate.load).toEqual({ running: 0, waiting: 0 })
  })

  it('ends a wait with 57014 on cancel and gives no slot away', async () => {
    const gate = new QueryGate(1)
    const hold = deferred()
    const running = gate.run(new StatementInterrupt(undefined), () => hold.promise)
    const interrupt = new StatementInterrupt(undefined)
    let ran = false
    const waiting = gate.run(interrupt, async () => void (ran = true))
    interrupt.cancel()
    await expect(waiting).rejects.toMatchObject({ code: '57014' })
    expect(ran).toBe(false)
    expect(gate.load).toEqual({ running: 1, waiting: 0 })
    hold.resolve()
    await running
    expect(gate.load).toEqual({ running: 0, waiting: 0 })
  })

  it('ends a wait at the statement timeout', async () => {
    const gate = new QueryGate(1)
    const hold = deferred()
    const running = gate.run(new StatementInterrupt(undefined), () => hold.promise)
    const waiting = gate.run(new StatementInterrupt(Date.now() + 50), async () => {})
    await expect(waiting).rejects.toMatchObject({
      code: '57014',
      message: 'canceling statement due to statement timeout',
    })
    hold.resolve()
    await running
    expect(gate.load).toEqual({ running: 0, waiting: 0 })
  })
})
