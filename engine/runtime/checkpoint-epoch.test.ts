/**
 * The checkpoint epoch never goes back: a CREATE SINK skips past the epochs its name already
 * committed (CheckpointCoordinator.skipTo) while a checkpoint may be waiting on the store; that
 * checkpoint, finishing, must not set the epoch back to its own, or the sink's next commits are
 * taken for ones already applied (test/chaos-sinks.test.ts found it: nothing reached Redis).
 */
import { afterAll, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Sluice } from '../index.ts'

const dir = mkdtempSync(join(tmpdir(), 'sluice-epoch-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it('keeps a skip made while a checkpoint is in flight', async () => {
  const db = await Sluice.open({ dataDir: dir, checkpointIntervalMs: 3_600_000 })
  try {
    await db.sql('CREATE TABLE t (a INT)')
    await db.sql('CREATE MATERIALIZED VIEW v AS SELECT a, count(*) AS n FROM t GROUP BY a')
    await db.sql('INSERT INTO t VALUES (1), (2)')
    const checkpoints = db.engine.checkpoints
    const inFlight = checkpoints.checkpoint()
    // The checkpoint has chosen its epoch and waits for the store: a sink's CREATE skips now.
    await new Promise((resolve) => setImmediate(resolve))
    checkpoints.skipTo(100, -1)
    await inFlight
    await checkpoints.checkpoint()
    const [r] = await db.sql("SELECT max(epoch) AS e FROM sluice_catalog.checkpoints WHERE status = 'completed'")
    expect(Number(r.rows?.[0]?.[0])).toBe(101)
  } finally {
    await db.close()
  }
})
