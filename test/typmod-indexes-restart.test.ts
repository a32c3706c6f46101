/**
 * Type modifiers and declared indexes survive restarts, both after a clean close and after a
 * crash (no last checkpoint, table writes after the checkpoint replayed from the change log):
 * NUMERIC(12,2) values keep their scale in the table, in views restored from checkpoints (whose
 * keys do not keep a numeric's display scale) and in a sink's output; VARCHAR(5) still checks
 * lengths; CREATE INDEX is replayed, rebuilt over the restored rows, kept with replayed and new
 * writes, and read by pull queries.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { Chunk } from '../engine/chunk.ts'
import type { SinkFactory } from '../engine/connector.ts'
import { Sluice } from '../engine/index.ts'
import { TempDirs } from './support.ts'

const dirs = new TempDirs('sluice-typmod-')
afterAll(() => dirs.removeAll())

/** Rows as text, each value as the engine's String() of it (Decimal prints its scale). */
async function rows(db: Sluice, sql: string): Promise<string[]> {
  const results = await db.sql(sql)
  return (results[results.length - 1].rows ?? []).map((row) =>
    row.map((v) => (v === null ? 'NULL' : String(v))).join('|'),
  )
}

/** A sink that records every row it is handed, as text, across restarts. */
function recordingSink(seen: string[]): SinkFactory {
  return {
    connector: 'record',
    create: () => ({
      open: async () => {},
      write: (chunk: Chunk) => {
        for (let i = 0; i < chunk.length; i++)
          seen.push(`${chunk.ops[i] > 0 ? '+' : '-'}${chunk.columns.map((c) => String(c[i])).join('|')}`)
      },
      preCommit: () => undefined,
      commit: async () => {},
      committedEpoch: async () => 0,
      close: async () => {},
    }),
  }
}

const SCHEMA = [
  'CREATE TABLE acct (id BIGINT PRIMARY KEY, owner VARCHAR(5), city TEXT, balance NUMERIC(12,2))',
  'CREATE MATERIALIZED VIEW balances AS SELECT id, owner, balance FROM acct',
  'CREATE MATERIALIZED VIEW by_balance AS SELECT balance, count(*) AS n FROM acct GROUP BY balance',
  'CREATE INDEX acct_city ON acct (city)',
  'CREATE INDEX balances_owner ON balances (owner)',
  'CREATE SINK out FROM balances WITH (connector = record)',
]

describe.each([
  ['a clean close', true],
  ['a crash after a checkpoint', false],
])('after %s', (_label, clean) => {
  it('keeps numeric scales, varchar lengths and indexes', async () => {
    const dataDir = dirs.make()
    const seen: string[] = []
    let db = await Sluice.open({ dataDir, sinks: [recordingSink(seen)] })
    for (const s of SCHEMA) await db.sql(s)
    await db.sql("INSERT INTO acct VALUES (1, 'ann', 'oslo', 0.1), (2, 'bob', 'rome', 12.5)")
    await db.sql('FLUSH')
    await db.engine.checkpoints.checkpoint()
    // After the checkpoint: replayed from the table's change log after a crash.
    await db.sql("INSERT INTO acct VALUES (3, 'cat', 'oslo', 7)")
    await db.sql("UPDATE acct SET city = 'oslo' WHERE id = 2")
    await db.sql('FLUSH')
    await db.close({ lastCheckpoint: clean })

    db = await Sluice.open({ dataDir, sinks: [recordingSink(seen)] })
    try {
      expect(await rows(db, 'SELECT id, balance FROM acct ORDER BY id')).toEqual(['1|0.10', '2|12.50', '3|7.00'])
      await db.sql('FLUSH')
      expect(await rows(db, 'SELECT id, balance FROM balances ORDER BY id')).toEqual(['1|0.10', '2|12.50', '3|7.00'])
      expect(await rows(db, 'SELECT balance, n FROM by_balance ORDER BY balance')).toEqual([
        '0.10|1',
        '7.00|1',
        '12.50|1',
      ])
      expect(
        await rows(
          db,
          "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'balances'::regclass ORDER BY attnum",
        ),
      ).toEqual(['bigint', 'character varying(5)', 'numeric(12,2)'])
      await expect(db.sql("INSERT INTO acct VALUES (4, 'dorothy', 'oslo', 1)")).rejects.toMatchObject({ code: '22001' })

      expect(await rows(db, 'SELECT indexname FROM pg_indexes ORDER BY indexname')).toEqual([
        'acct_city',
        'acct_pkey',
        'balances_owner',
      ])
      expect(await rows(db, "SELECT id FROM acct WHERE city = 'oslo' ORDER BY id")).toEqual(['1', '2', '3'])
      expect(await rows(db, "SELECT id FROM acct WHERE city = 'rome'")).toEqual([])
      expect(
        (await rows(db, "EXPLAIN SELECT id FROM acct WHERE city = 'oslo'")).filter((l) => l.includes('lookup via')),
      ).toEqual([' 2   Scan acct (lookup via acct_city on city)'])
      await db.sql("UPDATE acct SET city = 'rome', balance = balance + 0.005 WHERE id = 1")
      await db.sql('FLUSH')
      expect(await rows(db, "SELECT id, balance FROM acct WHERE city = 'rome'")).toEqual(['1|0.11'])
      expect(await rows(db, "SELECT id, balance FROM balances WHERE owner = 'ann'")).toEqual(['1|0.11'])
      // Every balance the sink was handed, before and after the restart, kept two digits.
      const balances = seen.map((r) => r.split('|')[2])
      expect(balances.length).toBeGreaterThan(3)
      for (const b of balances) expect(b).toMatch(/^-?\d+\.\d\d$/)
      expect(seen).toContain('+1|ann|0.11')
    } finally {
      await db.close()
    }
  })
})
