/**
 * After a restart every object exists and runs: the catalog is replayed from the data directory,
 * table rows come back from LevelDB, and views rebuilt from them keep updating.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Sluice } from '../engine/index.ts'
import { datagenSourceFactory } from '../connectors/datagen/index.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'sluice-restart-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

async function rows(db: Sluice, sql: string): Promise<string[]> {
  const [r] = await db.sql(sql)
  return (r.rows ?? []).map((row) => row.map((v) => (v === null ? 'NULL' : String(v))).join('|'))
}

describe('restart', () => {
  it('brings back sources, tables, views and rows', async () => {
    let db = await Sluice.open({ dataDir, sources: [datagenSourceFactory] })
    await db.sql(`CREATE TABLE users (id BIGINT PRIMARY KEY, region TEXT)`)
    await db.sql(
      `CREATE TABLE clicks (user_id BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1 second') APPEND ONLY`,
    )
    await db.sql(`CREATE SOURCE bid WITH (connector = 'datagen', generator = 'nexmark', rate = '1000')`)
    await db.sql(`CREATE MATERIALIZED VIEW per_region AS SELECT region, count(*) AS n FROM users GROUP BY region`)
    await db.sql(
      `CREATE MATERIALIZED VIEW per_minute AS SELECT window_start, count(*) AS n FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY window_start`,
    )
    await db.sql(`CREATE MATERIALIZED VIEW bid_count AS SELECT count(*) AS n FROM bid`)
    await db.sql(`CREATE MATERIALIZED VIEW big_regions AS SELECT region FROM per_region WHERE n > 1`)
    await db.sql(`INSERT INTO users VALUES (1, 'eu'), (2, 'eu'), (3, 'us')`)
    await db.sql(`INSERT INTO clicks VALUES (1, '2024-01-01 10:00:00'), (2, '2024-01-01 10:00:30')`)
    await db.close()

    db = await Sluice.open({ dataDir, sources: [datagenSourceFactory] })
    try {
      expect(await rows(db, 'SHOW TABLES')).toEqual(['clicks', 'users'])
      expect(await rows(db, 'SHOW SOURCES')).toEqual(['bid|datagen'])
      expect(await rows(db, 'SHOW MATERIALIZED VIEWS')).toEqual([
        'bid_count',
        'big_regions',
        'per_minute',
        'per_region',
      ])
      expect(await rows(db, 'SELECT * FROM users ORDER BY id')).toEqual(['1|eu', '2|eu', '3|us'])
      expect(await rows(db, 'SELECT * FROM per_region ORDER BY region')).toEqual(['eu|2', 'us|1'])
      expect(await rows(db, 'SELECT * FROM big_regions')).toEqual(['eu'])
      // Views keep running: new writes flow through, and the watermark still judges lateness.
      await db.sql(`INSERT INTO users VALUES (4, 'us')`)
      await db.sql(`INSERT INTO clicks VALUES (3, '2024-01-01 10:02:00')`)
      await db.sql(`INSERT INTO clicks VALUES (4, '2024-01-01 10:00:10')`)
      await db.sql('FLUSH')
      expect(await rows(db, 'SELECT * FROM per_region ORDER BY region')).toEqual(['eu|2', 'us|2'])
      expect(await rows(db, 'SELECT * FROM big_regions ORDER BY region')).toEqual(['eu', 'us'])
      expect(await rows(db, 'SELECT n FROM per_minute ORDER BY window_start')).toEqual(['2', '1'])
      // The datagen source is reading again.
      await new Promise((r) => setTimeout(r, 300))
      expect(Number((await rows(db, 'SELECT n FROM bid_count'))[0])).toBeGreaterThan(0)
      expect(await rows(db, 'SELECT name, status FROM sluice_catalog.views ORDER BY name')).toEqual([
        'bid_count|running',
        'big_regions|running',
        'per_minute|running',
        'per_region|running',
      ])
    } finally {
      await db.close()
    }
  })
})
