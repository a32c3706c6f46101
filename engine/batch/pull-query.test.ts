/**
 * The batch executor against the real engine: a heavy join no longer holds the event loop (other
 * sessions answer while it runs; the longest stall is a few milliseconds), statement_timeout and
 * cancel end it within 100 ms with 57014, a join that would exhaust memory fails with 53200
 * instead, and joins written as comma lists run as hash joins in a planned order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Sluice } from '../index.ts'
import { SluiceError } from '../errors.ts'

const ROWS = 3000
let db: Sluice

beforeAll(async () => {
  db = await Sluice.open({ dataDir: ':memory:' })
  await db.sql('CREATE TABLE big (k BIGINT, v BIGINT, s TEXT)')
  const values = Array.from({ length: ROWS }, (_x, i) => `(${i}, ${(i * 7) % ROWS}, 'row-${i}')`)
  await db.sql(`INSERT INTO big VALUES ${values.join(',')}`)
}, 60_000)

afterAll(async () => {
  await db.close()
})

/** 3,000 × 1,000 pairs after the planner turns `a.k = c.v` into a hash join: seconds of work. */
const HEAVY = 'SELECT count(*) FROM big a, big b, big c WHERE a.k = c.v AND b.k < 1000'
/** A cross product of 27 billion rows: only an interrupt or the memory budget ends it. */
const ENDLESS = 'SELECT count(*) FROM big a, big b, big c'

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
    return undefined
  } catch (e) {
    return e instanceof SluiceError ? e.code : String(e)
  }
}

describe('the batch executor', () => {
  it('plans a comma join as hash joins and gets the answer', async () => {
    const session = db.session()
    const [plan] = await session.execute(`EXPLAIN OPTIMIZED ${HEAVY}`)
    const text = (plan.rows ?? []).map((r) => String(r[0])).join('\n')
    expect(text).toContain('Join inner on')
    expect(text).not.toMatch(/Join inner on true[^\n]*\n[^\n]*Join inner on true/)
    const [result] = await session.execute(HEAVY)
    expect(result.rows).toEqual([[3_000_000n]])
  })

  it('lets other sessions and the event loop run while a heavy query computes', async () => {
    const heavy = db.session()
    const other = db.session()
    const lag = monitorEventLoopDelay({ resolution: 1 })
    lag.enable()
    const running = heavy.execute(HEAVY)
    let answered = 0
    let slowest = 0
    let done = false
    void running.finally(() => (done = true))
    while (!done) {
      const started = performance.now()
      await other.execute('SELECT count(*) FROM big WHERE k = 5')
      slowest = Math.max(slowest, performance.now() - started)
      answered++
      await new Promise((r) => setTimeout(r, 5))
    }
    lag.disable()
    await running
    console.log(
      `heavy join: ${answered} other queries answered, slowest ${slowest.toFixed(1)} ms, event loop stalled at most ${(lag.max / 1e6).toFixed(1)} ms`,
    )
    expect(answered).toBeGreaterThan(5)
    // Generous: the machine is shared; without yielding this was the whole query (seconds).
    expect(slowest).toBeLessThan(250)
    expect(lag.max / 1e6).toBeLessThan(250)
  })

  it('ends at statement_timeout within 100 ms, with 57014', async () => {
    const session = db.session()
    await session.execute("SET statement_timeout = '300ms'")
    const overshoots: number[] = []
    for (let i = 0; i < 3; i++) {
      const started = performance.now()
      expect(await code(session.execute(ENDLESS))).toBe('57014')
      overshoots.push(performance.now() - started - 300)
    }
    console.log(`statement_timeout overshoot (ms): ${overshoots.map((o) => o.toFixed(1)).join(', ')}`)
    // The best of three runs is the executor's own bound; the others may include a busy machine.
    expect(Math.min(...overshoots)).toBeLessThan(100)
    expect(Math.max(...overshoots)).toBeLessThan(1000)
    await session.execute('SET statement_timeout = 0')
    expect((await session.execute('SELECT 1'))[0].rows).toEqual([[1]])
  })

  it('ends on cancel within 100 ms, with 57014', async () => {
    // pgwire's CancelRequest reaches the engine session's cancel(); the public Session omits it.
    const session = db.session() as ReturnType<Sluice['session']> & { cancel(): void }
    const overshoots: number[] = []
    for (let i = 0; i < 3; i++) {
      const running = code(session.execute(ENDLESS))
      await new Promise((r) => setTimeout(r, 150))
      const cancelled = performance.now()
      session.cancel()
      expect(await running).toBe('57014')
      overshoots.push(performance.now() - cancelled)
    }
    console.log(`cancel to 57014 (ms): ${overshoots.map((o) => o.toFixed(1)).join(', ')}`)
    expect(Math.min(...overshoots)).toBeLessThan(100)
    expect(Math.max(...overshoots)).toBeLessThan(1000)
  })

  it('fails a join over the memory budget with 53200, not the server', async () => {
    const session = db.session()
    await session.execute("SET query_memory_limit = '256kB'")
    expect(await code(session.execute('SELECT a.s, b.s FROM big a, big b WHERE a.k < b.k'))).toBe('53200')
    // An aggregate reserves what its groups hold, not what streams through it.
    expect((await session.execute('SELECT count(*), max(s) FROM big'))[0].rows).toEqual([[3000n, 'row-999']])
    await session.execute('RESET query_memory_limit')
    expect((await session.execute('SELECT count(*) FROM big'))[0].rows).toEqual([[3000n]])
  })

  it('plans an 8-table comma join written in any order', async () => {
    const session = db.session()
    for (let t = 0; t < 8; t++) {
      await session.execute(`CREATE TABLE chain${t} (id BIGINT, fk BIGINT, v INT)`)
      await session.execute(
        `INSERT INTO chain${t} SELECT g, (g * ${3 + 2 * t}) % 2000, g % 10 FROM generate_series(0, 1999) AS g`,
      )
    }
    // A chain t0 → t1 → ... → t7 on fk = id (ids unique, so each chain0 row continues to exactly
    // one row of every next table), listed shuffled, with one filter; any intermediate cross
    // product would be 2000² rows or more.
    const where = Array.from({ length: 7 }, (_x, t) => `chain${t}.fk = chain${t + 1}.id`).reverse()
    const from = [5, 2, 7, 0, 3, 6, 1, 4].map((t) => `chain${t}`).join(', ')
    await session.execute("SET statement_timeout = '30s'")
    const [r] = await session.execute(
      `SELECT count(*), sum(chain7.v) FROM ${from} WHERE ${where.join(' AND ')} AND chain0.v < 5`,
    )
    expect(r.rows).toEqual([[1000n, expect.any(BigInt) as bigint]])
    const [plan] = await session.execute(`EXPLAIN OPTIMIZED SELECT count(*) FROM ${from} WHERE ${where.join(' AND ')}`)
    expect((plan.rows ?? []).filter((row) => String(row[0]).includes('Join inner on true'))).toEqual([])
  })

  it('keeps only the top rows of ORDER BY ... LIMIT, within a small memory budget', async () => {
    const session = db.session()
    // A million pairs would need tens of MB collected; the top 3 need a few kB.
    await session.execute("SET query_memory_limit = '2MB'")
    const [r] = await session.execute(
      'SELECT a.k, b.k FROM big a, big b WHERE a.k < 1000 AND b.k < 1000 ORDER BY a.k + b.k DESC, a.k LIMIT 3 OFFSET 1',
    )
    expect(r.rows).toEqual([
      [998n, 999n],
      [999n, 998n],
      [997n, 999n],
    ])
  })

  it('stops at LIMIT without ORDER BY instead of producing the whole product', async () => {
    const session = db.session()
    await session.execute("SET statement_timeout = '5s'")
    const [result] = await session.execute('SELECT a.k, b.k, c.k FROM big a, big b, big c LIMIT 3')
    expect(result.rows).toHaveLength(3)
  })
})
