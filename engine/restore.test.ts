/**
 * The restore policy while a restarted engine restores in the background (restore-progress.ts):
 * catalog reads answer at once, a read of a relation not restored yet waits for it (57P03 once
 * its statement_timeout expires), DDL and DML wait for the whole restore.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Sluice, SluiceError } from './index.ts'

const KEYS = 50_000
const dirs: string[] = []
const open: Sluice[] = []

afterEach(async () => {
  for (const db of open.splice(0)) await db.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A data directory holding a table of KEYS rows and a view with as many groups, closed. */
async function dataDirWithKeys(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-restore-'))
  dirs.push(dataDir)
  const db = await Sluice.open({ dataDir, checkpointIntervalMs: 60_000 })
  await db.sql('CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT)')
  await db.sql('CREATE MATERIALIZED VIEW per_id AS SELECT id, count(*) AS n FROM t GROUP BY id')
  for (let start = 0; start < KEYS; start += 10_000) {
    const values: string[] = []
    for (let i = start; i < start + 10_000; i++) values.push(`(${i}, ${i})`)
    await db.sql(`INSERT INTO t VALUES ${values.join(',')}`)
  }
  await db.close() // a last checkpoint holds everything
  return dataDir
}

async function restart(dataDir: string): Promise<Sluice> {
  const db = await Sluice.start({ dataDir, checkpointIntervalMs: 60_000 })
  open.push(db)
  return db
}

describe('a restarted engine, while it restores', () => {
  it('answers catalog reads at once and reads of a relation once it is restored', async () => {
    const db = await restart(await dataDirWithKeys())
    expect(db.isRestored).toBe(false)
    const session = db.session()
    expect((await session.execute('SELECT 1 AS one'))[0].rows).toEqual([[1]])
    await session.execute('SELECT count(*) FROM sluice_catalog.views')
    // Past its statement_timeout a read of a relation not restored yet fails with 57P03.
    await session.execute("SET statement_timeout = '1ms'")
    const early = await session.execute('SELECT count(*) FROM per_id').catch((e: unknown) => e)
    expect(early).toBeInstanceOf(SluiceError)
    expect((early as SluiceError).code).toBe('57P03')
    expect((early as SluiceError).message).toMatch(/relation "per_id" is still being restored/)
    // Without a timeout it waits, then sees every group.
    await session.execute('SET statement_timeout = 0')
    expect((await session.execute('SELECT count(*) FROM per_id'))[0].rows).toEqual([[BigInt(KEYS)]])
    // The table's rows load in the background: a read of it waits for all of them.
    expect((await session.execute('SELECT count(*) FROM t'))[0].rows).toEqual([[BigInt(KEYS)]])
  })

  it('runs DDL and DML only once everything is restored', async () => {
    const db = await restart(await dataDirWithKeys())
    expect(db.isRestored).toBe(false)
    // HTTP ingest cannot wait inside a request: 57P03 at once.
    expect(() => db.ingestTarget('t')).toThrow(/still being restored/)
    await db.sql('CREATE TABLE u (a BIGINT)')
    expect(db.isRestored).toBe(true)
    await db.sql(`INSERT INTO t VALUES (${KEYS}, 1)`)
    expect((await db.sql('SELECT count(*) FROM per_id'))[0].rows).toEqual([[BigInt(KEYS + 1)]])
  })

  it('closes cleanly in the middle of a restore and restores everything on the next start', async () => {
    const dataDir = await dataDirWithKeys()
    const first = await restart(dataDir)
    open.splice(open.indexOf(first), 1)
    await first.close()
    const second = await restart(dataDir)
    await second.restored
    expect((await second.sql('SELECT count(*) FROM per_id'))[0].rows).toEqual([[BigInt(KEYS)]])
  })
})
