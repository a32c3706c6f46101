/**
 * `WITH (ttl = ...)` on a materialized view (SQL.md: bounds unwindowed state). Time is the
 * engine's injected clock, handed to operators by `engine.tick()`: a group or top-N partition
 * unchanged for the ttl is dropped and its rows retracted; a join row is evicted silently (what
 * it produced stays, later rows no longer match it). Windowed state ignores ttl (the watermark
 * frees it).
 */
import { describe, expect, it } from 'vitest'
import { Sluice } from '../index.ts'

async function rows(db: Sluice, sql: string): Promise<readonly (readonly unknown[])[]> {
  await db.sql('FLUSH')
  const [r] = await db.sql(sql)
  return r.rows ?? []
}

describe('view ttl', () => {
  it('drops idle groups, top-N partitions and join rows after the ttl, by the runtime clock', async () => {
    let now = 1_000_000
    const db = await Sluice.open({ dataDir: ':memory:', now: () => now })
    try {
      await db.sql('CREATE TABLE ev (k INT, v BIGINT) APPEND ONLY')
      await db.sql('CREATE TABLE dim (k INT PRIMARY KEY, name TEXT)')
      await db.sql(
        "CREATE MATERIALIZED VIEW per_k WITH (ttl = '10s') AS SELECT k, count(*) AS n, sum(v)::bigint AS s FROM ev GROUP BY k",
      )
      await db.sql(
        "CREATE MATERIALIZED VIEW top1 WITH (ttl = '10s') AS SELECT k, v FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM ev) x WHERE rn = 1",
      )
      await db.sql(
        "CREATE MATERIALIZED VIEW joined WITH (ttl = '10s') AS SELECT ev.k, ev.v, dim.name FROM ev JOIN dim ON ev.k = dim.k",
      )
      await db.sql('CREATE MATERIALIZED VIEW forever AS SELECT k, count(*) AS n FROM ev GROUP BY k')
      db.engine.tick(now)
      await db.sql("INSERT INTO dim VALUES (1, 'one'), (2, 'two')")
      await db.sql('INSERT INTO ev VALUES (1, 10), (2, 20)')

      now += 6_000
      db.engine.tick(now)
      await db.sql('INSERT INTO ev VALUES (2, 5)') // group 2 changes: its clock restarts
      now += 6_000
      db.engine.tick(now) // 12 s after group 1 and dim's rows last changed: they expire
      expect(await rows(db, 'SELECT k, n, s FROM per_k ORDER BY k')).toEqual([[2, 2n, 25n]])
      expect(await rows(db, 'SELECT k, v FROM top1 ORDER BY k')).toEqual([[2, 20n]])
      expect(await rows(db, 'SELECT k, v, name FROM joined ORDER BY k, v')).toEqual([
        [1, 10n, 'one'],
        [2, 5n, 'two'],
        [2, 20n, 'two'],
      ])
      expect(await rows(db, 'SELECT k, n FROM forever ORDER BY k')).toEqual([
        [1, 1n],
        [2, 2n],
      ])

      // Key 1 comes back: its group starts afresh; the evicted dim row no longer matches.
      await db.sql('INSERT INTO ev VALUES (1, 7)')
      expect(await rows(db, 'SELECT k, n, s FROM per_k ORDER BY k')).toEqual([
        [1, 1n, 7n],
        [2, 2n, 25n],
      ])
      expect(await rows(db, 'SELECT k, v FROM joined WHERE k = 1 ORDER BY v')).toEqual([[1, 10n]])
      const [state] = await db.sql("SELECT state_entries FROM sluice_catalog.views WHERE name = 'per_k'")
      expect(state.rows).toEqual([[4n]]) // two groups and the view's two rows

      const [plan] = await db.sql(
        "EXPLAIN CREATE MATERIALIZED VIEW x WITH (ttl = '1h') AS SELECT k, count(*) FROM ev GROUP BY k",
      )
      expect(JSON.stringify(plan.rows)).toContain('ttl=3600s')
      await expect(
        db.sql("CREATE MATERIALIZED VIEW bad WITH (ttl = 'soon') AS SELECT k FROM ev"),
      ).rejects.toMatchObject({ code: expect.stringMatching(/^22/) })
      await expect(
        db.sql("CREATE MATERIALIZED VIEW bad WITH (ttl = '10ms') AS SELECT k FROM ev"),
      ).rejects.toMatchObject({ code: '22023' })
      await expect(
        db.sql("CREATE MATERIALIZED VIEW bad WITH (retention = '1h') AS SELECT k FROM ev"),
      ).rejects.toMatchObject({ code: '22023' })
    } finally {
      await db.close()
    }
  })
})
