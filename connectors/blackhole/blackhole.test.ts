// The blackhole sink runs a sink's dataflow to its end, takes part in checkpoints (its
// committed epoch advances) and keeps nothing.
import { afterAll, describe, expect, it } from 'vitest'
import { Sluice } from '../../engine/index.ts'
import { TempDirs } from '../../test/support.ts'
import type { BlackholeWriter } from './sink.ts'
import { blackholeSinkFactory } from './sink.ts'

const dirs = new TempDirs('sluice-blackhole-')
afterAll(() => dirs.removeAll())

describe('blackhole sink', () => {
  it('consumes every change of its input and commits each epoch', async () => {
    const db = await Sluice.open({
      dataDir: dirs.make(),
      sinks: [blackholeSinkFactory],
      checkpointIntervalMs: 3_600_000,
    })
    try {
      await db.sql('CREATE TABLE t (k INT, v BIGINT) APPEND ONLY')
      await db.sql('CREATE MATERIALIZED VIEW per_k AS SELECT k, sum(v) AS s FROM t GROUP BY k')
      await db.sql("CREATE SINK drop_it FROM per_k WITH (connector = 'blackhole')")
      await db.sql('INSERT INTO t VALUES (1, 10), (2, 20)')
      await db.sql('INSERT INTO t VALUES (1, 5)')
      await db.engine.checkpoints.checkpoint()
      const sink = db.engine.get('drop_it')
      expect(sink?.kind).toBe('sink')
      // Two inserts, then key 1's update as a retraction and an insert.
      if (sink?.kind === 'sink') expect((sink.writer as BlackholeWriter).rows).toBe(4)
      await new Promise((r) => setTimeout(r, 50))
      const [row] = await db.sql("SELECT status, committed_epoch > 0 FROM sluice_catalog.sinks WHERE name = 'drop_it'")
      expect(row.rows).toEqual([['running', true]])
      await expect(
        db.sql("CREATE SINK bad FROM per_k WITH (connector = 'blackhole', topic = 'x')"),
      ).rejects.toMatchObject({ code: '22023' })
    } finally {
      await db.close()
    }
  })
})
