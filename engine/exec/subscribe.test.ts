// SUBSCRIBE in-process: snapshot then changes, positions and resume, the bounded change log, slow
// subscribers cut off while the engine goes on, drops ending subscriptions, and the SQL forms.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { Sluice } from '../index.ts'
import type { ChangeBatch, ChangeSubscription } from '../index.ts'
import { SluiceError } from '../errors.ts'

let db: Sluice

beforeEach(async () => {
  db = await Sluice.open({ dataDir: ':memory:', changeLogRows: 50 })
  await db.sql('CREATE TABLE t (k BIGINT, v BIGINT) APPEND ONLY')
  await db.sql('CREATE MATERIALIZED VIEW counts AS SELECT k, count(*) AS n FROM t GROUP BY k')
})

afterEach(async () => {
  await db.close()
})

/** Every row of a batch as [op, position, ...values]. */
function rowsOf(batch: ChangeBatch): unknown[][] {
  const out: unknown[][] = []
  for (let i = 0; i < batch.chunk.length; i++) {
    out.push([
      batch.chunk.ops[i] > 0 ? 'insert' : 'delete',
      batch.snapshot ? batch.position : batch.position + i,
      ...batch.chunk.columns.map((c) => c[i]),
    ])
  }
  return out
}

/** Reads queued batches until `n` rows arrived. */
async function take(s: ChangeSubscription, n: number): Promise<unknown[][]> {
  const out: unknown[][] = []
  while (out.length < n) {
    const b = await s.next()
    if (b === undefined) break
    out.push(...rowsOf(b))
  }
  return out
}

async function errorOf(p: Promise<unknown>): Promise<SluiceError> {
  try {
    await p
  } catch (e) {
    if (e instanceof SluiceError) return e
    throw e
  }
  throw new Error('expected an error')
}

describe('SUBSCRIBE in-process', () => {
  it('sends the snapshot first, then each change with a growing position', async () => {
    await db.sql('INSERT INTO t VALUES (1, 10), (1, 11), (2, 20)')
    const s = db.subscribe('counts')
    const snap = await take(s, 2)
    const p0 = s.startPosition
    expect(snap.map((r) => r.slice(2)).sort()).toEqual([
      [1n, 2n],
      [2n, 1n],
    ])
    expect(snap.every((r) => r[0] === 'insert' && r[1] === p0)).toBe(true)
    await db.sql('INSERT INTO t VALUES (2, 21)')
    const changes = await take(s, 2)
    expect(changes).toEqual([
      ['delete', p0 + 1, 2n, 1n],
      ['insert', p0 + 2, 2n, 2n],
    ])
    expect(s.lastPosition).toBe(p0 + 2)
    s.close()
    expect(s.closed).toBe(true)
    expect(await s.next()).toBeUndefined()
  })

  it('iterates change by change with for await, and leaving the loop closes it', async () => {
    await db.sql('INSERT INTO t VALUES (5, 1)')
    const seen: string[] = []
    const s = db.subscribe('counts')
    const writer = (async () => {
      await db.sql('INSERT INTO t VALUES (6, 1)')
    })()
    for await (const change of s) {
      seen.push(`${change.op} ${String(change.row[0])} ${String(change.row[1])} ${change.snapshot}`)
      if (seen.length === 2) break
    }
    await writer
    expect(seen).toEqual(['insert 5 1 true', 'insert 6 1 false'])
    expect(s.closed).toBe(true)
  })

  it('resumes after a position with exactly the changes missed', async () => {
    const s = db.subscribe('counts', { snapshot: false })
    await db.sql('INSERT INTO t VALUES (1, 1)')
    await take(s, 1)
    const resumeAt = s.lastPosition
    s.close()
    await db.sql('INSERT INTO t VALUES (1, 2)')
    await db.sql('INSERT INTO t VALUES (3, 3)')
    const again = db.subscribe('counts', { from: resumeAt })
    expect(await take(again, 3)).toEqual([
      ['delete', resumeAt + 1, 1n, 1n],
      ['insert', resumeAt + 2, 1n, 2n],
      ['insert', resumeAt + 3, 3n, 1n],
    ])
    // Resuming in the middle of a chunk starts inside it.
    const mid = db.subscribe('counts', { from: resumeAt + 1 })
    expect((await take(mid, 2)).map((r) => r[1])).toEqual([resumeAt + 2, resumeAt + 3])
    again.close()
    mid.close()
  })

  it('refuses a position that is too old or not reached yet, with 22023', async () => {
    const s = db.subscribe('counts', { snapshot: false })
    const start = s.startPosition
    for (let i = 0; i < 30; i++) await db.sql(`INSERT INTO t VALUES (${i}, 1), (${i + 100}, 1)`)
    s.close()
    const old = await errorOf(Promise.resolve().then(() => db.subscribe('counts', { from: start })))
    expect(old.code).toBe('22023')
    expect(old.message).toMatch(/too old/)
    const future = await errorOf(Promise.resolve().then(() => db.subscribe('counts', { from: s.lastPosition + 1000 })))
    expect(future.code).toBe('22023')
  })

  it('cuts off a subscriber that falls behind with 54000; the engine and other subscribers go on', async () => {
    const slow = db.subscribe('counts', { snapshot: false, maxQueueRows: 5 })
    const fine = db.subscribe('counts', { snapshot: false })
    await db.sql('INSERT INTO t VALUES (1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 1)')
    const err = await errorOf(slow.next())
    expect(err.code).toBe('54000')
    expect((await take(fine, 6)).length).toBe(6)
    await db.sql('INSERT INTO t VALUES (7, 1)')
    expect((await take(fine, 1))[0].slice(2)).toEqual([7n, 1n])
    const [r] = await db.sql('SELECT count(*) FROM counts')
    expect(r.rows).toEqual([[7n]])
    fine.close()
  })

  it('ends subscriptions with 42P01 when the view is dropped', async () => {
    const s = db.subscribe('counts', { snapshot: false })
    await db.sql('DROP MATERIALIZED VIEW counts')
    const err = await errorOf(s.next())
    expect(err.code).toBe('42P01')
  })

  it('subscribes to tables too', async () => {
    await db.sql('INSERT INTO t VALUES (1, 1)')
    const s = db.subscribe('t')
    expect((await take(s, 1))[0].slice(2)).toEqual([1n, 1n])
    await db.sql('INSERT INTO t VALUES (2, 2)')
    expect((await take(s, 1))[0].slice(0, 1)).toEqual(['insert'])
    s.close()
  })
})

describe('SUBSCRIBE statements', () => {
  it('returns a result whose subscription streams position, op and the columns', async () => {
    await db.sql('INSERT INTO t VALUES (1, 1)')
    const [r] = await db.sql('SUBSCRIBE TO counts')
    expect(r.tag).toBe('SUBSCRIBE')
    expect(r.columns?.map((c) => c.name)).toEqual(['position', 'op', 'k', 'n'])
    const s = r.subscription!
    expect((await take(s, 1))[0].slice(2)).toEqual([1n, 1n])
    s.close()
  })

  it('takes WITH options: snapshot = false and from', async () => {
    await db.sql('INSERT INTO t VALUES (1, 1)')
    const [r] = await db.sql('SUBSCRIBE counts WITH (snapshot = false)')
    const s = r.subscription!
    expect(s.poll()).toBeUndefined()
    await db.sql('INSERT INTO t VALUES (2, 1)')
    await take(s, 1)
    const at = s.lastPosition
    await db.sql('INSERT INTO t VALUES (3, 1)')
    const [again] = await db.sql(`SUBSCRIBE TO counts WITH (from = ${at})`)
    expect((await take(again.subscription!, 1))[0].slice(2)).toEqual([3n, 1n])
    s.close()
    again.subscription!.close()
  })

  it('subscribes to a query, which runs only while subscribed', async () => {
    await db.sql('INSERT INTO t VALUES (1, 5), (2, 50)')
    const [r] = await db.sql('SUBSCRIBE TO (SELECT k, v * 2 AS w FROM t WHERE v > 10)')
    expect(r.columns?.map((c) => c.name)).toEqual(['position', 'op', 'k', 'w'])
    const s = r.subscription!
    expect((await take(s, 1))[0].slice(2)).toEqual([2n, 100n])
    await db.sql('INSERT INTO t VALUES (3, 30), (4, 1)')
    expect((await take(s, 1))[0].slice(2)).toEqual([3n, 60n])
    s.close()
  })

  it('answers bad statements with SQLSTATEs', async () => {
    const cases: [string, string][] = [
      ['SUBSCRIBE', '42601'],
      ['SUBSCRIBE TO nope', '42P01'],
      ['SUBSCRIBE TO counts WITH (bogus = 1)', '22023'],
      ['SUBSCRIBE TO counts WITH (snapshot = maybe)', '22023'],
      ['SUBSCRIBE TO counts WITH (from = abc)', '22023'],
      ['SUBSCRIBE TO counts WITH (snapshot = true, from = 1)', '22023'],
      ['SUBSCRIBE TO counts extra', '42601'],
      ['SUBSCRIBE TO (SELECT k FROM t) WITH (from = 1)', '22023'],
      ['SUBSCRIBE TO (SELECT nope FROM t)', '42703'],
    ]
    for (const [sql, code] of cases) {
      const err = await errorOf(db.sql(sql))
      expect([sql, err.code]).toEqual([sql, code])
    }
  })
})
