/**
 * A filter or projection right after an aggregate sees some rows twice: when the view's rows are
 * rebuilt from the aggregate's restored groups (Operator.currentOutput) and when the aggregate
 * retires a closed window's rows (onRetired). A row that failed to evaluate was dead-lettered the
 * first time; these replays must not dead-letter it again, with or without a crash in between.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { Sluice } from '../index.ts'
import { TempDirs } from '../../test/support.ts'

const dirs = new TempDirs('sluice-dl-replay-')
afterAll(() => dirs.removeAll())

/** Checkpoints only when the test takes them. */
const open = (dataDir: string): Promise<Sluice> => Sluice.open({ dataDir, checkpointIntervalMs: 3_600_000 })

async function evalErrors(db: Sluice): Promise<string[]> {
  const [r] = await db.sql(
    "SELECT object, payload FROM sluice_catalog.dead_letters WHERE reason = 'eval_error' ORDER BY object, payload",
  )
  return (r.rows ?? []).map((row) => `${String(row[0])} ${String(row[1])}`)
}

describe('eval errors of a filter after an aggregate', () => {
  it('are dead-lettered once: not again when retired rows or restored groups pass the filter', async () => {
    const dir = dirs.make()
    let db = await open(dir)
    await db.sql("CREATE TABLE ev (k INT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1 minute') APPEND ONLY")
    // Groups of two rows fail (division by zero) in the projection after the aggregate.
    await db.sql(
      'CREATE MATERIALIZED VIEW per_k AS SELECT k, n, 10 / (n - 2) AS r FROM (SELECT k, count(*) AS n FROM ev GROUP BY k) x',
    )
    await db.sql(
      "CREATE MATERIALIZED VIEW closed AS SELECT window_start, k, 10 / (count(*) - 2) AS r FROM TUMBLE(ev, ts, INTERVAL '5 minutes') GROUP BY window_start, k EMIT ON WINDOW CLOSE",
    )
    await db.sql(
      `INSERT INTO ev VALUES (1, '2024-01-01 10:00:00'), (1, '2024-01-01 10:01:00'), (2, '2024-01-01 10:02:00'), (3, '2024-01-01 10:03:00'), (3, '2024-01-01 10:03:30'), (3, '2024-01-01 10:04:00')`,
    )
    // Closes the window [10:00, 10:05): EMIT ON WINDOW CLOSE emits and retires its rows at once.
    await db.sql("INSERT INTO ev VALUES (4, '2024-01-01 10:20:00')")
    // Payloads: the failing row (window start, k, count) as text for their types.
    const once = ['closed ["2024-01-01 10:00:00","1","2"]', 'per_k ["1","2"]']
    expect(await evalErrors(db)).toEqual(once)
    expect((await db.sql('SELECT k, n, r FROM per_k ORDER BY k'))[0].rows).toEqual([
      [2, 1n, -10n],
      [3, 3n, 10n],
      [4, 1n, -10n],
    ])

    // A crash after the checkpoint: the views are rebuilt from the aggregates' groups through the
    // projection, and the dead letters come back from the checkpoint, each once.
    await db.engine.checkpoints.checkpoint()
    await db.close({ lastCheckpoint: false })
    db = await open(dir)
    try {
      expect(await evalErrors(db)).toEqual(once)
      expect((await db.sql('SELECT k, n, r FROM per_k ORDER BY k'))[0].rows).toEqual([
        [2, 1n, -10n],
        [3, 3n, 10n],
        [4, 1n, -10n],
      ])
      const [closed] = await db.sql('SELECT k, r FROM closed ORDER BY k')
      expect(closed.rows).toEqual([
        [2, -10n],
        [3, 10n],
      ])
    } finally {
      await db.close()
    }
  })
})
