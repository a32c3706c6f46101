/**
 * The PostgreSQL sink against the real PostgreSQL on 127.0.0.1:5432: views with retractions kept
 * as tables equal to `SELECT * FROM view` after each committed checkpoint (deleted groups gone),
 * every type read back exactly as Sluice prints it; the progress row makes repeated and old epochs
 * no-ops; an existing table is checked; an unreachable server leaves the sink unhealthy and it
 * catches up, also across a restart with logged epochs; a NULL key goes to dead letters; bad
 * options are 22023. Everything lives in a schema of this run, dropped afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { ConnectorContext, SinkSpec } from '../../engine/connector.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { Sluice } from '../../engine/index.ts'
import { chunkFromRows } from '../../engine/chunk.ts'
import { scalar } from '../../engine/types/datatype.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { formatText } from '../../engine/types/text.ts'
import { TcpProxy } from '../upsert/tcp-proxy.ts'
import { codeOf, commitsObserved } from '../upsert/test-support.ts'
import { postgresSinkFactory, postgresqlSinkFactory } from './sink.ts'

const PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres'
const SCHEMA = `sluice_sink_${process.pid.toString(36)}${Date.now().toString(36)}`
let seq = 0
const unique = (stem: string): string => `${stem}_${++seq}`

const admin = new pg.Client({ connectionString: PG_URL })
admin.on('error', () => {})
const dirs: string[] = []
const dbs: Sluice[] = []
const proxies: TcpProxy[] = []

beforeAll(async () => {
  await admin.connect()
  await admin.query('SET TimeZone = UTC')
  await admin.query(`CREATE SCHEMA ${SCHEMA}`)
})

afterAll(async () => {
  for (const db of dbs) await db.close().catch(() => {})
  for (const p of proxies) await p.close()
  await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`)
  await admin.end()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-pgsink-'))
  dirs.push(d)
  return d
}

async function openDb(dataDir = tempDir()): Promise<Sluice> {
  const db = await Sluice.open({
    dataDir,
    sinks: [postgresSinkFactory, postgresqlSinkFactory],
    checkpointIntervalMs: 3_600_000,
  })
  dbs.push(db)
  return db
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function sinkRow(
  db: Sluice,
  name: string,
): Promise<{ status: string; lastError: string | null; pending: number }> {
  const [r] = await db.sql(`SELECT status, last_error, pending_epochs FROM sluice_catalog.sinks WHERE name = '${name}'`)
  const row = r.rows?.[0]
  if (row === undefined) throw new Error(`no sink ${name}`)
  return { status: row[0] as string, lastError: row[1] as string | null, pending: row[2] as number }
}

/** FLUSH, take a checkpoint, and wait until the sink has committed every epoch up to it. */
async function settle(db: Sluice, sink: string): Promise<void> {
  await db.sql('FLUSH')
  const cp = await db.engine.checkpoints.checkpoint()
  expect(cp?.status).toBe('completed')
  await waitFor(`sink ${sink} to commit`, async () => {
    const s = await sinkRow(db, sink)
    return s.pending === 0 && s.status === 'running'
  })
}

/** A PostgreSQL table's rows as PostgreSQL prints them (text, time zone UTC), sorted. */
async function pgRows(table: string): Promise<(string | null)[][]> {
  const r = await admin.query({
    text: `SELECT * FROM ${SCHEMA}.${table}`,
    rowMode: 'array',
    types: { getTypeParser: () => (v: string) => v },
  })
  return sortRows(r.rows as (string | null)[][])
}

/** A view's rows as Sluice prints them over pgwire, sorted. */
async function viewRows(db: Sluice, query: string): Promise<(string | null)[][]> {
  const [r] = await db.sql(query)
  const cols = r.columns ?? []
  return sortRows(
    (r.rows ?? []).map((row) => row.map((v, i) => (v === null ? null : formatText(cols[i].type, v, 'UTC')))),
  )
}

function sortRows(rows: (string | null)[][]): (string | null)[][] {
  return rows.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))
}

/** How many epoch commits `sluice_sink_commit_seconds{sink}` has observed for a sink. */
describe('postgres sink', () => {
  it('keeps a GROUP BY view with updates and deletes as a table equal to SELECT * FROM view', async () => {
    const db = await openDb()
    const sink = unique('by_region')
    await db.sql('CREATE TABLE orders (id BIGINT PRIMARY KEY, region TEXT, amount NUMERIC, note TEXT, at TIMESTAMPTZ)')
    await db.sql(`INSERT INTO orders VALUES
      (1, 'eu', 10.50, 'first', '2026-12-02 10:00:00+00'), (2, 'eu', 2.25, NULL, '2026-12-02 11:30:00.123456+00'),
      (3, 'us', 99999999999999999999.99, NULL, '2026-12-02 09:00:00+00'), (4, 'apac', 1, 'x', '2026-12-01 00:00:00+00')`)
    await db.sql(`CREATE MATERIALIZED VIEW by_region AS
      SELECT region, count(*) AS n, sum(amount) AS total, max(note) AS last_note, max(at) AS last_at FROM orders GROUP BY region`)
    await db.sql(
      `CREATE SINK ${sink} FROM by_region WITH (connector = 'postgres', url = '${PG_URL}', schema = '${SCHEMA}')`,
    )
    await settle(db, sink)
    expect(await pgRows(sink)).toEqual(await viewRows(db, 'SELECT * FROM by_region'))
    // The created table: Sluice's types, PRIMARY KEY on the view's key.
    const cols = await admin.query(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = '${SCHEMA}' AND table_name = '${sink}' ORDER BY ordinal_position`,
    )
    expect(cols.rows.map((r: { column_name: string; data_type: string }) => `${r.column_name} ${r.data_type}`)).toEqual(
      ['region text', 'n bigint', 'total numeric', 'last_note text', 'last_at timestamp with time zone'],
    )
    const pk = await admin.query(
      `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '${SCHEMA}.${sink}'::regclass AND i.indisprimary`,
    )
    expect(pk.rows).toEqual([{ attname: 'region' }])

    await db.sql("UPDATE orders SET region = 'us', note = 'moved' WHERE id = 1")
    await db.sql('DELETE FROM orders WHERE id = 4')
    await db.sql("INSERT INTO orders VALUES (5, 'latam', -3.5, NULL, '2026-12-03 00:00:00+00')")
    await db.sql("UPDATE orders SET amount = amount + 1 WHERE region = 'eu'")
    await settle(db, sink)
    const rows = await pgRows(sink)
    expect(rows).toEqual(await viewRows(db, 'SELECT * FROM by_region'))
    expect(rows.map((r) => r[0])).toEqual(['eu', 'latam', 'us'])
    expect(rows.find((r) => r[0] === 'us')).toEqual([
      'us',
      '2',
      '100000000000000000010.49',
      'moved',
      '2026-12-02 10:00:00+00',
    ])
    const progress = await admin.query(`SELECT epoch FROM ${SCHEMA}._sluice_sink_progress WHERE sink = $1`, [sink])
    expect(progress.rows).toEqual([{ epoch: String(db.engine.checkpoints.epoch) }])
    // Write latency: one observation per committed epoch, labelled with the sink.
    expect(await commitsObserved(db, sink)).toBe(2)
  })

  it('writes every type exactly (a table with a primary key, through the postgresql alias)', async () => {
    const db = await openDb()
    const sink = unique('typed')
    await db.sql(`CREATE TABLE typed (id BIGINT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INT, i8 BIGINT, f4 REAL, f8 DOUBLE PRECISION,
      num NUMERIC, t TEXT, v VARCHAR, by BYTEA, d DATE, tm TIME, ts TIMESTAMP, tz TIMESTAMPTZ, iv INTERVAL, j JSONB, arr INT[], tarr TEXT[])`)
    await db.sql(`INSERT INTO typed VALUES
      (1, true, -32768, 2147483647, 9223372036854775807, 1.5, 0.1, 12345678901234567890.123456789, 'tab\there "q" \\ back', 'ü€😀',
       '\\x00ff10', '2026-02-28', '23:59:59.999999', '2026-12-02 18:00:00.000001', '2026-12-02 18:00:00.5+02', '1 year 2 mons 3 days 04:05:06.7',
       '{"a": [1, 2.50, null], "b": {"c": "d"}}', '{1,NULL,3}', '{"a b","x,y",NULL,"q\\"t"}'),
      (2, NULL, NULL, NULL, -9223372036854775808, 'Infinity', 'NaN', -0.000001, '', NULL, '\\x', '0001-01-01', '00:00', '1970-01-01 00:00:00', '1969-12-31 23:59:59.999999+00', '-1 days +02:00:00', '[]', '{}', '{}'),
      (3, false, 0, 0, 0, -0, 1e300, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'null', NULL, NULL)`)
    await db.sql(
      `CREATE SINK ${sink} FROM typed WITH (connector = 'postgresql', url = '${PG_URL}', schema = '${SCHEMA}', table = '${sink}')`,
    )
    await settle(db, sink)
    expect(await pgRows(sink)).toEqual(await viewRows(db, 'SELECT * FROM typed'))
    const r = await admin.query(`SELECT i8, num, tz, j, by, iv FROM ${SCHEMA}.${sink} WHERE id = 1`)
    expect(r.rows[0]).toMatchObject({
      i8: '9223372036854775807',
      num: '12345678901234567890.123456789',
      j: { a: [1, 2.5, null], b: { c: 'd' } },
    })
    expect((r.rows[0] as { tz: Date }).tz.toISOString()).toBe('2026-12-02T16:00:00.500Z')
    expect((r.rows[0] as { by: Buffer }).by).toEqual(Buffer.from([0, 255, 16]))

    await db.sql("UPDATE typed SET num = num * 2, tz = tz + INTERVAL '1 microsecond', arr = '{7}' WHERE id = 1")
    await db.sql('DELETE FROM typed WHERE id = 3')
    await settle(db, sink)
    expect(await pgRows(sink)).toEqual(await viewRows(db, 'SELECT * FROM typed'))
  })

  it('commits an epoch as one transaction with its progress, and repeats or replays old epochs as no-ops', async () => {
    const name = unique('writer')
    const spec: SinkSpec = {
      columns: [
        { name: 'k', type: scalar('int8') },
        { name: 'v', type: scalar('numeric') },
      ],
      key: [0],
      appendOnly: false,
    }
    const ctx: ConnectorContext = { name, deadLetter: () => {}, now: () => 0, log: () => {} }
    const options = new Map([
      ['url', PG_URL],
      ['schema', SCHEMA],
    ])
    const w = postgresSinkFactory.create(spec, options, ctx)
    await w.open()
    expect(await w.committedEpoch()).toBe(0)
    const rows = (op: 1 | -1, ...rs: Value[][]): ReturnType<typeof chunkFromRows> => chunkFromRows(2, rs, op)
    const dec = (s: string): Decimal => Decimal.fromString(s)
    w.write(rows(1, [1n, dec('1.10')], [2n, dec('2')], [3n, dec('3')]))
    const e1 = w.preCommit(1)
    await w.commit(1, e1)
    // Epoch 2: 1 updated (−old +new), 2 deleted and inserted again unchanged, 3 deleted, 4 inserted and deleted.
    w.write(rows(-1, [1n, dec('1.10')], [2n, dec('2')], [3n, dec('3')]))
    w.write(rows(1, [2n, dec('2')], [1n, dec('-1.000')], [4n, dec('4')]))
    w.write(rows(-1, [4n, dec('4')]))
    const e2 = w.preCommit(2)
    await w.commit(2, e2)
    expect(await pgRows(name)).toEqual([
      ['1', '-1.000'],
      ['2', '2'],
    ])
    await w.commit(2, e2)
    await w.commit(1, e1) // would bring back 1.10 and 3
    expect(await pgRows(name)).toEqual([
      ['1', '-1.000'],
      ['2', '2'],
    ])
    const again = postgresSinkFactory.create(spec, options, ctx)
    await again.open()
    expect(await again.committedEpoch()).toBe(2)
    await again.commit(1, e1)
    expect(await pgRows(name)).toEqual([
      ['1', '-1.000'],
      ['2', '2'],
    ])
    await again.close()
    await w.close()
  })

  it('writes into an existing table when its columns fit, and says why when they do not', async () => {
    const db = await openDb()
    await db.sql('CREATE TABLE t (id BIGINT PRIMARY KEY, g TEXT, v BIGINT)')
    await db.sql("INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2)")
    await db.sql('CREATE MATERIALIZED VIEW per_g AS SELECT g, sum(v) AS s FROM t GROUP BY g')
    const fits = unique('fits')
    await admin.query(
      `CREATE TABLE ${SCHEMA}.${fits} (extra int DEFAULT 7, g varchar(20) PRIMARY KEY, s numeric(10, 0), note text)`,
    )
    await db.sql(
      `CREATE SINK ${fits} FROM per_g WITH (connector = 'postgres', url = '${PG_URL}', schema = '${SCHEMA}', create_table = 'false')`,
    )
    await settle(db, fits)
    expect(await pgRows(fits)).toEqual([
      ['7', 'a', '1', null],
      ['7', 'b', '2', null],
    ])

    const create = (table: string, extra = ''): Promise<unknown> =>
      db.sql(
        `CREATE SINK ${table} FROM per_g WITH (connector = 'postgres', url = '${PG_URL}', schema = '${SCHEMA}'${extra})`,
      )
    const wrongType = unique('wrong_type')
    await admin.query(`CREATE TABLE ${SCHEMA}.${wrongType} (g text PRIMARY KEY, s int)`)
    await expect(create(wrongType)).rejects.toMatchObject({
      code: '42804',
      message: expect.stringContaining('column "s" of type integer, the sink writes numeric'),
    })
    const noKey = unique('no_key')
    await admin.query(`CREATE TABLE ${SCHEMA}.${noKey} (g text, s numeric)`)
    await expect(create(noKey)).rejects.toMatchObject({
      code: '42804',
      message: expect.stringContaining('no primary key or unique index'),
    })
    const missingCol = unique('missing_col')
    await admin.query(`CREATE TABLE ${SCHEMA}.${missingCol} (g text PRIMARY KEY)`)
    await expect(create(missingCol)).rejects.toMatchObject({
      code: '42804',
      message: expect.stringContaining('has no column "s"'),
    })
    await expect(create(unique('absent'), ", create_table = 'false'")).rejects.toMatchObject({ code: '42P01' })
    expect((await db.sql('SHOW SINKS'))[0].rows).toEqual([[fits]])
  })

  it('sends rows with a NULL key to dead letters and writes the rest', async () => {
    const db = await openDb()
    const sink = unique('nullkey')
    await db.sql('CREATE TABLE t (id BIGINT PRIMARY KEY, g TEXT, v BIGINT)')
    await db.sql("INSERT INTO t VALUES (1, 'a', 1), (2, NULL, 2)")
    await db.sql('CREATE MATERIALIZED VIEW per_g AS SELECT g, sum(v) AS s FROM t GROUP BY g')
    await db.sql(
      `CREATE SINK ${sink} FROM per_g WITH (connector = 'postgres', url = '${PG_URL}', schema = '${SCHEMA}')`,
    )
    await settle(db, sink)
    expect(await pgRows(sink)).toEqual([['a', '1']])
    const [dl] = await db.sql(`SELECT reason, detail FROM sluice_catalog.dead_letters WHERE object = '${sink}'`)
    expect(dl.rows).toEqual([['type_error', 'NULL in key column "g": a PostgreSQL primary key cannot be NULL']])
  })

  it('shows the sink unhealthy while PostgreSQL is unreachable, and commits the logged epochs after a restart', async () => {
    const proxy = new TcpProxy('127.0.0.1', 5432)
    proxies.push(proxy)
    await proxy.open()
    const dataDir = tempDir()
    let db = await openDb(dataDir)
    const sink = unique('flaky')
    await db.sql('CREATE TABLE t (id BIGINT PRIMARY KEY, g TEXT, v BIGINT)')
    await db.sql("INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2)")
    await db.sql('CREATE MATERIALIZED VIEW per_g AS SELECT g, sum(v) AS s FROM t GROUP BY g')
    await db.sql(
      `CREATE SINK ${sink} FROM per_g WITH (connector = 'postgres', url = 'postgres://postgres@127.0.0.1:${proxy.port}/postgres', schema = '${SCHEMA}')`,
    )
    await settle(db, sink)

    await proxy.close()
    await db.sql("INSERT INTO t VALUES (3, 'c', 3)")
    await db.engine.checkpoints.checkpoint()
    await waitFor('the sink to turn unhealthy', async () => (await sinkRow(db, sink)).status === 'unhealthy')
    expect((await sinkRow(db, sink)).lastError).toContain('unreachable')
    await db.sql("DELETE FROM t WHERE g = 'a'")
    await db.sql('UPDATE t SET v = 20 WHERE id = 2')
    // Closing takes a last checkpoint whose commit fails too: both epochs stay in the log.
    await db.close()
    expect(await pgRows(sink)).toEqual([
      ['a', '1'],
      ['b', '2'],
    ])

    await proxy.open()
    db = await openDb(dataDir)
    await waitFor(
      'the logged epochs to commit',
      async () => (await pgRows(sink)).length === 2 && (await sinkRow(db, sink)).pending === 0,
    )
    expect(await pgRows(sink)).toEqual([
      ['b', '20'],
      ['c', '3'],
    ])
    await db.sql("INSERT INTO t VALUES (4, 'b', 1)")
    await settle(db, sink)
    expect(await pgRows(sink)).toEqual(await viewRows(db, 'SELECT * FROM per_g'))
  })

  it('refuses bad options with 22023', async () => {
    const db = await openDb()
    await db.sql('CREATE TABLE t (id BIGINT PRIMARY KEY, g TEXT, v BIGINT)')
    await db.sql('CREATE MATERIALIZED VIEW per_g AS SELECT g, sum(v) AS s FROM t GROUP BY g')
    await db.sql('CREATE TABLE nokey (a BIGINT, b TEXT)')
    const create = (withClause: string, from = 'per_g'): Promise<unknown> =>
      db.sql(`CREATE SINK ${unique('bad')} FROM ${from} WITH (connector = 'postgres', ${withClause})`)
    const ok = `url = '${PG_URL}', schema = '${SCHEMA}'`
    expect(await codeOf(create(`${ok}, colour = 'red'`))).toBe('22023')
    expect(await codeOf(create(`schema = '${SCHEMA}'`))).toBe('22023')
    expect(await codeOf(create("url = 'redis://127.0.0.1:5432'"))).toBe('22023')
    expect(await codeOf(create(`${ok}, key = 'nope'`))).toBe('22023')
    expect(await codeOf(create(`${ok}, create_table = 'maybe'`))).toBe('22023')
    expect(await codeOf(create(`${ok}, table = 'a.b'`))).toBe('22023')
    expect(await codeOf(create(ok, 'nokey'))).toBe('22023')
    expect(await codeOf(create("url = 'postgres://postgres@127.0.0.1:1/postgres'"))).toBe('58030')
    expect((await db.sql('SHOW SINKS'))[0].rows).toEqual([])
  })
})
