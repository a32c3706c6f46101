// CREATE SINK and the checkpoint protocol with a writer whose external side is an in-memory
// "system" (a map of committed epochs) that outlives engine restarts: epochs are committed only
// after their checkpoint is durable, in order, failed commits stay pending and are retried (the
// sink shows unhealthy meanwhile), and logged epochs survive a restart and are committed then.
import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Chunk } from '../chunk.ts'
import type { SinkFactory, SinkWriter } from '../connector.ts'
import type { Value } from '../types/datatype.ts'
import { Sluice } from '../index.ts'

interface External {
  /** epoch → [op, row] in commit order */
  readonly committed: Map<number, [number, Value[]][]>
  failing: boolean
  opens: number
}

function memorySink(ext: External): SinkFactory {
  return {
    connector: 'memory',
    create: (spec, options): SinkWriter => {
      for (const k of options.keys()) if (k !== 'label') throw new Error(`unknown option ${k}`)
      let buffer: [number, Value[]][] = []
      return {
        open: async () => {
          ext.opens++
        },
        write: (chunk: Chunk) => {
          for (let i = 0; i < chunk.length; i++)
            buffer.push([chunk.ops[i], spec.columns.map((_c, c) => chunk.columns[c][i])])
        },
        preCommit: () => {
          if (buffer.length === 0) return undefined
          const bytes = new TextEncoder().encode(
            JSON.stringify(buffer, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
          )
          buffer = []
          return bytes
        },
        commit: async (epoch, logged) => {
          if (ext.failing) throw new Error('connection refused')
          if ([...ext.committed.keys()].some((e) => e >= epoch)) return
          ext.committed.set(
            epoch,
            logged === undefined ? [] : (JSON.parse(new TextDecoder().decode(logged)) as [number, Value[]][]),
          )
        },
        committedEpoch: async () => Math.max(0, ...ext.committed.keys()),
        close: async () => {},
      }
    },
  }
}

/** The external system's state: rows with their multiplicity after applying every committed epoch. */
function applied(ext: External): string[] {
  const counts = new Map<string, number>()
  for (const epoch of [...ext.committed.keys()].sort((a, b) => a - b)) {
    for (const [op, row] of ext.committed.get(epoch)!) {
      const k = JSON.stringify(row)
      counts.set(k, (counts.get(k) ?? 0) + op)
    }
  }
  return [...counts]
    .filter(([, n]) => n !== 0)
    .flatMap(([k, n]) => Array<string>(n).fill(k))
    .sort()
}

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function open(dataDir: string, ext: External): Promise<Sluice> {
  return Sluice.open({ dataDir, sinks: [memorySink(ext)], checkpointIntervalMs: 3_600_000 })
}

describe('CREATE SINK', () => {
  it('commits each epoch after its checkpoint, retries failed commits, and re-commits logged epochs after a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-sink-'))
    dirs.push(dataDir)
    const ext: External = { committed: new Map(), failing: false, opens: 0 }
    let db = await open(dataDir, ext)
    await db.sql('CREATE TABLE t (id BIGINT PRIMARY KEY, k TEXT, v BIGINT)')
    await db.sql("INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20)")
    await db.sql('CREATE MATERIALIZED VIEW per_k AS SELECT k, sum(v)::bigint AS s FROM t GROUP BY k')
    await db.sql("CREATE SINK out FROM per_k WITH (connector = 'memory')")
    // The snapshot went into the first epoch, committed by the checkpoint CREATE SINK takes.
    await waitFor(() => applied(ext).length === 2)
    expect(applied(ext)).toEqual(['["a","10"]', '["b","20"]'])

    // Nothing reaches the external system before a checkpoint.
    await db.sql('UPDATE t SET v = 11 WHERE id = 1')
    expect(applied(ext)).toContain('["a","10"]')
    await db.engine.checkpoints.checkpoint()
    await waitFor(() => applied(ext).includes('["a","11"]'))
    expect(applied(ext)).toEqual(['["a","11"]', '["b","20"]'])

    // The system goes away: commits fail, stay pending, the sink shows unhealthy.
    ext.failing = true
    await db.sql("INSERT INTO t VALUES (3, 'c', 30)")
    await db.engine.checkpoints.checkpoint()
    await waitFor(
      async () =>
        (await db.sql("SELECT status FROM sluice_catalog.sinks WHERE name = 'out'"))[0].rows?.[0]?.[0] === 'unhealthy',
    )
    const [sinks] = await db.sql('SELECT status, last_error, pending_epochs FROM sluice_catalog.sinks')
    expect(sinks.rows).toEqual([['unhealthy', 'connection refused', 1]])
    await db.sql('DELETE FROM t WHERE id = 2')
    // Closing takes a last checkpoint; its commit fails too: two epochs stay logged, uncommitted.
    await db.close()
    expect(applied(ext)).toEqual(['["a","11"]', '["b","20"]'])

    // Restart with the system back: the logged epochs are committed, in order, exactly once.
    ext.failing = false
    db = await open(dataDir, ext)
    try {
      await waitFor(() => applied(ext).includes('["c","30"]') && !applied(ext).includes('["b","20"]'))
      expect(applied(ext)).toEqual(['["a","11"]', '["c","30"]'])
      const [cps] = await db.sql('SELECT count(*) FROM sluice_catalog.checkpoints')
      expect(cps.rows?.[0]?.[0]).toBeDefined()
      await db.sql("INSERT INTO t VALUES (4, 'a', 1)")
      await db.engine.checkpoints.checkpoint()
      await waitFor(() => applied(ext).includes('["a","12"]'))
      expect(applied(ext)).toEqual(['["a","12"]', '["c","30"]'])
      await waitFor(
        async () =>
          (await db.sql("SELECT status FROM sluice_catalog.sinks WHERE name = 'out'"))[0].rows?.[0]?.[0] === 'running',
      )
    } finally {
      await db.close()
    }
    // After a restart with nothing pending the committed epoch is known as soon as the writer is open.
    db = await open(dataDir, ext)
    try {
      const external = Math.max(...ext.committed.keys())
      await waitFor(
        async () =>
          (await db.sql("SELECT committed_epoch FROM sluice_catalog.sinks WHERE name = 'out'"))[0].rows?.[0]?.[0] ===
          BigInt(external),
      )
    } finally {
      await db.close()
    }
  })

  it('writes a query sink, refuses unknown connectors, and drops cleanly', async () => {
    const ext: External = { committed: new Map(), failing: false, opens: 0 }
    const db = await Sluice.open({ dataDir: ':memory:', sinks: [memorySink(ext)], checkpointIntervalMs: 3_600_000 })
    try {
      await db.sql('CREATE TABLE t (id BIGINT, v BIGINT) APPEND ONLY')
      await db.sql("CREATE SINK big AS SELECT id, v * 2 AS w FROM t WHERE v > 5 WITH (connector = 'memory')")
      await db.sql('INSERT INTO t VALUES (1, 3), (2, 7), (3, 9)')
      await db.engine.checkpoints.checkpoint()
      await waitFor(() => applied(ext).length === 2)
      expect(applied(ext)).toEqual(['["2","14"]', '["3","18"]'])
      await expect(db.sql("CREATE SINK x FROM t WITH (connector = 'nope')")).rejects.toMatchObject({ code: '42704' })
      await expect(db.sql("CREATE SINK big FROM t WITH (connector = 'memory')")).rejects.toMatchObject({
        code: '42710',
      })
      await expect(db.sql("CREATE SINK y FROM missing WITH (connector = 'memory')")).rejects.toMatchObject({
        code: '42P01',
      })
      expect((await db.sql('SHOW SINKS'))[0].rows).toEqual([['big']])
      await expect(db.sql('DROP TABLE t')).rejects.toMatchObject({ code: '2BP01' })
      await db.sql('DROP SINK big')
      expect((await db.sql('SHOW SINKS'))[0].rows).toEqual([])
      await db.sql('DROP TABLE t')
    } finally {
      await db.close()
    }
  })
})

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 10))
  }
}
