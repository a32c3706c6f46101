/**
 * 500 concurrent pgwire connections to one Sluice server process, every one open at once and each
 * running queries (a point lookup, an aggregate, a catalog query) at the same moment: all are
 * answered correctly and none is dropped. Connections are opened in waves so the listen backlog
 * is never the limit being tested; the server's default limit (1000) admits them all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { SluiceProcess } from '../sluice-process.ts'

const CONNECTIONS = 500
const WAVE = 50

describe('500 concurrent connections', () => {
  let dir: string
  let sluice: SluiceProcess
  const clients: pg.Client[] = []

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-conns-'))
    sluice = await SluiceProcess.create(dir, ['--checkpoint-interval', '0'])
    await sluice.start()
    await sluice.query(`CREATE TABLE kv (k BIGINT PRIMARY KEY, v TEXT)`)
    await sluice.query(
      `INSERT INTO kv VALUES ${Array.from({ length: CONNECTIONS }, (_x, i) => `(${i}, 'v${i}')`).join(', ')}`,
    )
  })

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})))
    await sluice.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('answers every query on every connection, all open at once', async () => {
    let dropped = 0
    for (let start = 0; start < CONNECTIONS; start += WAVE) {
      const wave = await Promise.all(
        Array.from({ length: Math.min(WAVE, CONNECTIONS - start) }, async () => {
          const c = new pg.Client({
            host: '127.0.0.1',
            port: sluice.pgPort,
            user: 'sluice',
            database: 'sluice',
            application_name: 'conns',
          })
          c.on('error', () => dropped++)
          c.on('end', () => dropped++)
          await c.connect()
          return c
        }),
      )
      clients.push(...wave)
    }
    expect(clients).toHaveLength(CONNECTIONS)

    // Every connection runs three queries at once, twice over (simple, then extended protocol).
    for (const round of [0, 1]) {
      const answers = await Promise.all(
        clients.map(async (c, i) => {
          const key = (i * 7 + round) % CONNECTIONS
          const point =
            round === 0
              ? await c.query(`SELECT v FROM kv WHERE k = ${key}`)
              : await c.query('SELECT v FROM kv WHERE k = $1', [key])
          const count = await c.query('SELECT count(*) AS n FROM kv')
          const rel = await c.query(
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'",
          )
          return {
            v: point.rows[0]?.v as string | undefined,
            n: count.rows[0].n as string,
            rel: rel.rows.map((r: { relname: string }) => r.relname),
            key,
          }
        }),
      )
      for (const a of answers) {
        expect(a.v).toBe(`v${a.key}`)
        expect(a.n).toBe(String(CONNECTIONS))
        expect(a.rel).toEqual(['kv'])
      }
    }
    expect(dropped).toBe(0)
  }, 120_000)
})
