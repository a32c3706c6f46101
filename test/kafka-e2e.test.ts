/**
 * The foundation's end-to-end promise: JSON events produced to a real Kafka topic feed a
 * tumbling-window view with a watermark; the counts are read over pgwire with `psql` and with
 * `pg`; a late event is not counted, and the late row is visible in dead letters and metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { createTopic, ensureTestKafka, produceJson, uniqueTopic } from './kafka.ts'
import type { RunningServer } from '../server/main.ts'
import { startLocalServer } from './local-server.ts'

describe('Kafka → tumbling window view → psql and pg', () => {
  let brokers: string
  let dataDir: string
  let server: RunningServer
  const topic = uniqueTopic('bids_e2e')

  beforeAll(async () => {
    brokers = await ensureTestKafka()
    await createTopic(topic, 2)
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-e2e-'))
    server = await startLocalServer(dataDir)
  })

  afterAll(async () => {
    await server?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  // Asynchronous on purpose: the server runs in this process, so a blocking call would deadlock.
  const psql = async (sql: string): Promise<string> => {
    const { stdout } = await promisify(execFile)(
      'psql',
      ['-X', '-A', '-t', '-h', '127.0.0.1', '-p', String(server.pgPort), '-U', 'sluice', '-d', 'sluice', '-c', sql],
      { encoding: 'utf8' },
    )
    return stdout.trim()
  }

  it('counts events per window and drops the late one', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: server.pgPort, user: 'sluice', database: 'sluice' })
    await client.connect()
    try {
      await client.query(`CREATE SOURCE bids (
          auction BIGINT, price BIGINT, event_time TIMESTAMP,
          WATERMARK FOR event_time AS event_time - INTERVAL '5 seconds'
        ) WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', startup = 'earliest', format = 'json')`)
      await client.query(`CREATE MATERIALIZED VIEW bids_per_minute AS
          SELECT window_start, auction, count(*) AS n, sum(price) AS total
          FROM TUMBLE(bids, event_time, INTERVAL '1 minute')
          GROUP BY window_start, auction`)

      // Minute 10:00 gets three bids for auction 1 and one for auction 2.
      await produceJson(
        topic,
        [
          { auction: 1, price: 10, event_time: '2024-01-01 10:00:05' },
          { auction: 1, price: 20, event_time: '2024-01-01 10:00:30' },
          { auction: 2, price: 5, event_time: '2024-01-01 10:00:40' },
          { auction: 1, price: 30, event_time: '2024-01-01 10:00:59' },
        ],
        0,
      )
      await client.query('FLUSH')
      // The watermark moves to 10:02:00 - 5s, closing the 10:00 window...
      await produceJson(topic, [{ auction: 3, price: 1, event_time: '2024-01-01 10:02:00' }], 0)
      await client.query('FLUSH')
      // ...so this event for 10:00 is late: not counted, dead-lettered.
      await produceJson(topic, [{ auction: 1, price: 1000, event_time: '2024-01-01 10:00:50' }], 0)
      await client.query('FLUSH')

      const { rows } = await client.query(
        'SELECT window_start, auction, n, total FROM bids_per_minute ORDER BY window_start, auction',
      )
      expect(
        rows.map((r: Record<string, unknown>) => [
          String(r.window_start instanceof Date ? r.window_start.toISOString() : r.window_start),
          String(r.auction),
          String(r.n),
          String(r.total),
        ]),
      ).toEqual([
        [expect.stringMatching(/2024-01-01.10:00:00/), '1', '3', '60'],
        [expect.stringMatching(/2024-01-01.10:00:00/), '2', '1', '5'],
        [expect.stringMatching(/2024-01-01.10:02:00/), '3', '1', '1'],
      ])

      expect(
        await psql("SELECT n FROM bids_per_minute WHERE auction = 1 AND window_start = '2024-01-01 10:00:00'"),
      ).toBe('3')
      expect(
        await psql(
          "SELECT count(*) FROM sluice_catalog.dead_letters WHERE reason = 'late' AND object = 'bids_per_minute'",
        ),
      ).toBe('1')
      const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text()
      expect(metrics).toMatch(/sluice_late_rows_total\{view="bids_per_minute"\} 1/)
    } finally {
      await client.end()
    }
  })

  it('answers a malformed statement with 42601 and a position, an unknown table with 42P01, and keeps serving', async () => {
    const a = new pg.Client({ host: '127.0.0.1', port: server.pgPort, user: 'sluice', database: 'sluice' })
    const b = new pg.Client({ host: '127.0.0.1', port: server.pgPort, user: 'sluice', database: 'sluice' })
    await a.connect()
    await b.connect()
    try {
      const syntax = await a.query('SELEC 1').catch((e: unknown) => e as { code: string; position: string })
      expect(syntax).toMatchObject({ code: '42601', position: '1' })
      const missing = await a.query('SELECT * FROM no_such_table').catch((e: unknown) => e as { code: string })
      expect(missing).toMatchObject({ code: '42P01' })
      expect((await a.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
      expect((await b.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])
    } finally {
      await a.end()
      await b.end()
    }
  })
})
