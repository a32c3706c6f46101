/** The DDL log line: one per CREATE/DROP/ALTER run through a real engine session, with passwords masked. */
import { afterEach, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Sluice } from '../index.ts'
import { redactSecrets } from './ddl-log.ts'

interface Line {
  level: string
  message: string
  fields: Record<string, unknown> | undefined
}

let db: Sluice | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

async function open(): Promise<{ db: Sluice; lines: Line[] }> {
  const lines: Line[] = []
  db = await Sluice.open({
    dataDir: ':memory:',
    log: (level, message, fields) => lines.push({ level, message, fields }),
  })
  return { db, lines }
}

const ddl = (lines: Line[]): Line[] => lines.filter((l) => l.fields?.command !== undefined)

describe('DDL log lines', () => {
  it('logs who, what, how long and the outcome of each DDL statement, and nothing for queries', async () => {
    const { db, lines } = await open()
    const session = db.session({ user: 'alice' })
    await session.execute('CREATE TABLE t (id INT PRIMARY KEY, v TEXT)')
    await session.execute('CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM t')
    await session.execute("INSERT INTO t VALUES (1, 'a'); SELECT * FROM mv")
    await session.execute('DROP MATERIALIZED VIEW mv')
    await expect(session.execute('CREATE TABLE t (id INT)')).rejects.toThrow(/already exists/)

    const logged = ddl(lines)
    expect(logged.map((l) => [l.level, l.fields?.command, l.fields?.objects, l.fields?.outcome])).toEqual([
      ['info', 'CREATE TABLE', ['t'], 'ok'],
      ['info', 'CREATE MATERIALIZED VIEW', ['mv'], 'ok'],
      ['info', 'DROP MATERIALIZED VIEW', ['mv'], 'ok'],
      ['warn', 'CREATE TABLE', ['t'], '42P07'],
    ])
    for (const l of logged) {
      expect(l.fields?.user).toBe('alice')
      expect(typeof l.fields?.ms).toBe('number')
    }
    expect(logged[0].message).toMatch(/^CREATE TABLE t by alice in [\d.]+ ms$/)
    expect(logged[0].fields?.sql).toBe('CREATE TABLE t (id INT PRIMARY KEY, v TEXT)')
    expect(logged[3].message).toMatch(/^CREATE TABLE t by alice failed \(42P07\) in [\d.]+ ms$/)
    expect(logged[3].fields?.error).toMatch(/already exists/)
  })

  it('masks the password of a connection URL in the logged statement', async () => {
    const { db, lines } = await open()
    await db.sql('CREATE TABLE src (id INT PRIMARY KEY)')
    await db
      .sql(
        "CREATE SINK out FROM src WITH (connector = 'postgres', url = 'postgres://bob:s3cr%21t@127.0.0.1:1/db', table = 'x')",
      )
      .catch(() => undefined)
    const sink = ddl(lines).find((l) => l.fields?.command === 'CREATE SINK')
    expect(sink).toBeDefined()
    expect(String(sink?.fields?.sql)).toContain("url = 'postgres://bob:***@127.0.0.1:1/db'")
    expect(JSON.stringify(lines)).not.toContain('s3cr')
  })
})

describe('DDL log lines at a restart', () => {
  it("are not written for the catalog's replay", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-ddl-log-'))
    try {
      const first: Line[] = []
      const a = await Sluice.open({
        dataDir: dir,
        log: (level, message, fields) => first.push({ level, message, fields }),
      })
      await a.sql('CREATE TABLE kept (id INT PRIMARY KEY)')
      await a.close()
      expect(ddl(first).map((l) => l.fields?.command)).toEqual(['CREATE TABLE'])
      const second: Line[] = []
      const b = await Sluice.open({
        dataDir: dir,
        log: (level, message, fields) => second.push({ level, message, fields }),
      })
      expect((await b.sql('SELECT count(*) FROM kept'))[0].rows).toEqual([[0n]])
      await b.close()
      expect(ddl(second)).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('DDL log lines of roles, grants and secrets', () => {
  it('logs them by their command, with no password or secret value in the line', async () => {
    const { db, lines } = await open()
    const statements = [
      "CREATE ROLE reader WITH LOGIN PASSWORD 'pw-1'",
      "ALTER ROLE reader PASSWORD 'pw-2'",
      "CREATE SECRET pg_pass AS 'it''s-secret'",
      'CREATE TABLE t (id INT PRIMARY KEY)',
      'GRANT SELECT ON t TO reader',
      'REVOKE SELECT ON t FROM reader',
      'DROP SECRET pg_pass',
      'DROP ROLE reader',
    ]
    for (const sql of statements) await db.sql(sql).catch(() => undefined)
    const logged = ddl(lines)
    expect(logged.map((l) => l.fields?.command)).toEqual([
      'CREATE ROLE',
      'ALTER ROLE',
      'CREATE SECRET',
      'CREATE TABLE',
      'GRANT',
      'REVOKE',
      'DROP SECRET',
      'DROP ROLE',
    ])
    const text = JSON.stringify(lines)
    for (const secret of ['pw-1', 'pw-2', 'secret']) expect(text).not.toContain(`${secret}'`)
    expect(String(logged[2].fields?.sql)).toBe("CREATE SECRET pg_pass AS '***'")
    expect(logged[0].fields?.objects).toEqual(['reader'])
  })
})

describe('redactSecrets', () => {
  it('masks URL passwords and PASSWORD literals, and leaves the rest alone', () => {
    expect(redactSecrets("url = 'redis://:pw@h:6379/0'")).toBe("url = 'redis://:***@h:6379/0'")
    expect(redactSecrets("url = 'postgres://u:p@ss@h/db'")).toBe("url = 'postgres://u:***@ss@h/db'")
    expect(redactSecrets("CREATE USER bob WITH PASSWORD 'it''s'")).toBe("CREATE USER bob WITH PASSWORD '***'")
    expect(redactSecrets("WITH (password = 'x')")).toBe("WITH (password = '***')")
    expect(redactSecrets("brokers = 'h:9092', url = 'http://host:8081'")).toBe(
      "brokers = 'h:9092', url = 'http://host:8081'",
    )
  })
})
