/**
 * COPY ... TO STDOUT through psql (`\copy` and plain COPY) and the pg client, against the real
 * engine: text and CSV formats, headers, NULLs, escaping and quoting as PostgreSQL writes them,
 * and clear errors for the forms Sluice does not run. Also psql -c with several statements.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import pg from 'pg'
import { Sluice } from '../../engine/index.ts'
import { parseCopy } from './copy.ts'
import { startPgServer, type PgServer } from './server.ts'

let db: Sluice
let server: PgServer

function psql(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'psql',
      ['-X', '-q', '-h', '127.0.0.1', '-p', String(server.port), '-U', 'sluice', '-d', 'sluice', ...args],
      { env: { ...process.env, PGCONNECT_TIMEOUT: '10' }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}

beforeAll(async () => {
  db = await Sluice.open({ dataDir: ':memory:' })
  await db.sql('CREATE TABLE copy_t (id BIGINT PRIMARY KEY, name TEXT, price NUMERIC, ok BOOLEAN)')
  await db.sql(
    "INSERT INTO copy_t VALUES (1, 'ann', 1.50, true), (2, NULL, 20, false), (3, E'tab\\there, \"quoted\"\\nnext', NULL, NULL), (4, '', 0, true)",
  )
  server = await startPgServer({
    host: '127.0.0.1',
    port: 0,
    auth: { mode: 'trust' },
    openSession: (s) => db.session(s),
  })
})

afterAll(async () => {
  await server.close()
  await db.close()
})

describe('COPY TO STDOUT', () => {
  it('writes text format with \\N for NULL and backslash escapes', async () => {
    const r = await psql(['-c', 'COPY (SELECT id, name, price, ok FROM copy_t ORDER BY id) TO STDOUT'])
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('1\tann\t1.50\tt\n2\t\\N\t20\tf\n3\ttab\\there, "quoted"\\nnext\t\\N\t\\N\n4\t\t0\tt\n')
  })

  it('writes CSV with a header, quoting what needs it and telling NULL from the empty string', async () => {
    const r = await psql([
      '-c',
      'COPY (SELECT id, name, price FROM copy_t ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)',
    ])
    expect(r.stdout).toBe('id,name,price\n1,ann,1.50\n2,,20\n3,"tab\there, ""quoted""\nnext",\n4,"",0\n')
  })

  it("runs psql's \\copy (query) to stdout, in both option syntaxes", async () => {
    const modern = await psql([
      '-c',
      "\\copy (select id, name from copy_t where id <= 2 order by id) to stdout with (format csv, header true, delimiter ';')",
    ])
    expect(modern.stdout).toBe('id;name\n1;ann\n2;\n')
    const legacy = await psql([
      '-c',
      "\\copy (select id, name from copy_t where id = 1) to stdout with csv header delimiter as '|'",
    ])
    expect(legacy.stdout).toBe('id|name\n1|ann\n')
    const nulls = await psql(['-c', "COPY (SELECT name FROM copy_t WHERE id = 2) TO STDOUT (NULL 'none')"])
    expect(nulls.stdout).toBe('none\n')
  })

  it('copies a whole table or some of its columns', async () => {
    const r = await psql(['-c', 'COPY copy_t (id, ok) TO STDOUT CSV'])
    expect(
      r.stdout
        .split('\n')
        .filter((l) => l !== '')
        .sort(),
    ).toEqual(['1,t', '2,f', '3,', '4,t'])
  })

  it('reports the row count to the pg client and errors with SQLSTATEs', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'sluice', database: 'sluice' })
    await c.connect()
    try {
      const r = await c.query('COPY (SELECT id FROM copy_t) TO STDOUT')
      expect([r.command, r.rowCount]).toEqual(['COPY', 4])
      await expect(c.query('COPY copy_t FROM STDIN')).rejects.toMatchObject({ code: '0A000' })
      await expect(c.query("COPY copy_t TO '/tmp/x'")).rejects.toMatchObject({ code: '0A000' })
      await expect(c.query('COPY (SELECT 1) TO STDOUT (FORMAT binary)')).rejects.toMatchObject({ code: '0A000' })
      await expect(c.query('COPY (SELECT 1) TO STDOUT (FORMAT xml)')).rejects.toMatchObject({ code: '22023' })
      await expect(c.query('COPY (SELECT 1) TO STDOUT (WIBBLE)')).rejects.toMatchObject({ code: '22023' })
      await expect(c.query('COPY (SELECT * FROM nowhere) TO STDOUT')).rejects.toMatchObject({ code: '42P01' })
      await expect(c.query('COPY (SELECT 1 TO STDOUT')).rejects.toMatchObject({ code: '42601' })
      expect((await c.query('SELECT 1 AS fine')).rows).toEqual([{ fine: 1 }])
    } finally {
      await c.end()
    }
  })

  it('parses the statement forms it accepts', () => {
    expect(parseCopy('SELECT 1')).toBeUndefined()
    expect(parseCopy('copy ( select \')\' as p, "a)" from t -- )\n ) to stdout;')?.query).toBe(
      ' select \')\' as p, "a)" from t -- )\n ',
    )
    expect(parseCopy('COPY "My Table" TO STDOUT')?.query).toBe('SELECT * FROM "My Table"')
    expect(parseCopy("COPY (SELECT 1) TO STDOUT WITH (FORMAT 'csv', QUOTE '''', HEADER off)")?.options).toMatchObject({
      format: 'csv',
      quote: "'",
      header: false,
    })
  })
})

describe('psql -c with several statements', () => {
  it('runs them all and prints each result', async () => {
    const r = await psql([
      '-A',
      '-t',
      '-c',
      "SELECT 1; SELECT name FROM copy_t WHERE id = 1; SET timezone = 'UTC'; SELECT 2",
    ])
    expect(r).toMatchObject({ code: 0, stdout: '1\nann\n2\n' })
    const failing = await psql(['-A', '-t', '-c', 'SELECT 1; SELECT * FROM nowhere; SELECT 3'])
    expect(failing.code).toBe(1)
    expect(failing.stdout).toBe('1\n')
    expect(failing.stderr).toContain('relation "nowhere" does not exist')
  })
})
