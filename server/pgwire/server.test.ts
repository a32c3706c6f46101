// The pgwire server driven by real clients: the `pg` npm client (simple and extended protocol,
// binary results, row-limited portals, error fields) and the psql binary (trust and password
// authentication), against a small deterministic in-memory Session.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import pg from 'pg'
import type { PreparedDescription, ResultColumn, Session, StatementResult } from '../../engine/session-api.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import { T } from '../../engine/types/datatype.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { SluiceError } from '../../engine/errors.ts'
import { startPgServer } from './server.ts'
import type { PgServer } from './server.ts'

const col = (name: string, type: DataType): ResultColumn => ({ name, type })
const ts = (iso: string): number => Date.parse(iso + 'Z') * 1000

const MIXED: StatementResult = {
  tag: 'SELECT 3',
  columns: [
    col('id', T.int8),
    col('name', T.text),
    col('at', T.timestamp),
    col('amount', T.numeric),
    col('ok', T.bool),
  ],
  rows: [
    [1n, 'alice', ts('2024-01-02T03:04:05.678'), Decimal.fromString('12.50'), true],
    [2n, 'bob', ts('1999-12-31T23:59:59'), Decimal.fromString('-0.001'), false],
    [9007199254740993n, null, null, null, null],
  ],
}

const BIG_ROWS = 5000
const BIG: StatementResult = {
  tag: `SELECT ${BIG_ROWS}`,
  columns: [col('n', T.int4), col('pad', T.text)],
  rows: Array.from({ length: BIG_ROWS }, (_, i) => [i, 'x'.repeat(100)]),
}

/** A deterministic stand-in for the engine that answers a few fixed statements. */
class TestSession implements Session {
  private readonly settings = new Map<string, string>([['timezone', 'UTC']])
  reportedSettings: ReadonlyMap<string, string> = new Map([['TimeZone', 'UTC']])
  closed = false
  cancelled = 0
  sleeping = false
  private wake: (() => void) | undefined

  async execute(sql: string, params?: readonly Value[]): Promise<StatementResult[]> {
    const results: StatementResult[] = []
    for (const stmt of sql.split(';').map((s) => s.trim())) {
      if (stmt === '') continue
      try {
        results.push(await this.one(stmt, params ?? []))
      } catch (e) {
        throw Object.assign(e as Error, { partial: results })
      }
    }
    return results
  }

  private async one(sql: string, params: readonly Value[]): Promise<StatementResult> {
    const set = /^SET (\w+) TO '(.*)'$/i.exec(sql)
    if (set !== null) {
      this.settings.set(set[1].toLowerCase(), set[2])
      if (set[1].toLowerCase() === 'timezone') this.reportedSettings = new Map([['TimeZone', set[2]]])
      return { tag: 'SET' }
    }
    switch (sql) {
      case 'SELECT 1':
        return { tag: 'SELECT 1', columns: [col('?column?', T.int4)], rows: [[1]] }
      case 'SELECT * FROM mixed':
        return MIXED
      case 'SELECT * FROM big':
        return BIG
      case 'SELECT $1::int8, $2::text':
        return { tag: 'SELECT 1', columns: [col('int8', T.int8), col('text', T.text)], rows: [[params[0], params[1]]] }
      case 'SELECT now_tz':
        return { tag: 'SELECT 1', columns: [col('t', T.timestamptz)], rows: [[ts('2024-06-01T12:00:00')]] }
      case 'SELECT noisy':
        return { tag: 'SELECT 0', columns: [col('x', T.int4)], rows: [], notices: ['be careful'] }
      case 'SELECT ,1':
        throw new SluiceError('42601', 'syntax error at or near ","', { position: 8, hint: 'remove the comma' })
      case 'SELECT * FROM missing':
        throw new SluiceError('42P01', 'relation "missing" does not exist', { position: 15 })
      case 'SELECT boom':
        throw new TypeError('cannot read properties of undefined')
      case 'SELECT sleep':
        this.sleeping = true
        await new Promise<void>((resolve) => (this.wake = resolve))
        throw new SluiceError('57014', 'canceling statement due to user request')
      case 'INSERT INTO t VALUES (1)':
      case 'INSERT INTO t VALUES ($1)':
        return { tag: 'INSERT 0 1' }
      case 'BEGIN':
      case 'COMMIT':
      case 'ROLLBACK':
        return { tag: sql }
      default:
        throw new SluiceError('42601', `unexpected statement in test session: ${sql}`)
    }
  }

  async describe(sql: string, paramTypes: readonly (DataType | undefined)[] = []): Promise<PreparedDescription> {
    if (sql === 'SELECT $1::int8, $2::text')
      return { paramTypes: [T.int8, T.text], columns: [col('int8', T.int8), col('text', T.text)] }
    if (sql === 'INSERT INTO t VALUES ($1)') return { paramTypes: [paramTypes[0] ?? T.int4], columns: undefined }
    if (sql.startsWith('SELECT * FROM missing') || sql === 'SELECT ,1') {
      await this.one(sql, [])
    }
    const result = await this.one(sql, []).catch(() => undefined)
    return { paramTypes: [], columns: result?.columns }
  }

  setting(name: string): string | undefined {
    return this.settings.get(name.toLowerCase())
  }

  cancel(): void {
    this.cancelled++
    this.wake?.()
  }

  close(): void {
    this.closed = true
  }
}

const sessions: TestSession[] = []
const logged: string[] = []
let server: PgServer
let passwordServer: PgServer

function openSession(): Session {
  const s = new TestSession()
  sessions.push(s)
  return s
}

function client(port = server.port, extra: Partial<pg.ClientConfig> = {}): pg.Client {
  return new pg.Client({ host: '127.0.0.1', port, user: 'sluice', database: 'sluice', ...extra })
}

async function withClient<R>(
  fn: (c: pg.Client) => Promise<R>,
  port = server.port,
  extra: Partial<pg.ClientConfig> = {},
): Promise<R> {
  const c = client(port, extra)
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}

function psql(
  port: number,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'psql',
      ['-X', '-A', '-t', '-h', '127.0.0.1', '-p', String(port), '-U', 'sluice', '-d', 'sluice', ...args],
      { env: { ...process.env, PGCONNECT_TIMEOUT: '10', ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}

beforeAll(async () => {
  const log = (level: string, msg: string): void => void logged.push(`${level} ${msg}`)
  server = await startPgServer({ host: '127.0.0.1', port: 0, openSession, auth: { mode: 'trust' }, log })
  passwordServer = await startPgServer({
    host: '127.0.0.1',
    port: 0,
    openSession,
    auth: { mode: 'password', users: new Map([['sluice', 's3cret']]) },
    log,
  })
})

afterAll(async () => {
  await server.close()
  await passwordServer.close()
})

describe('pgwire with the pg client', () => {
  it('answers a simple query', async () => {
    const r = await withClient((c) => c.query('SELECT 1'))
    expect(r.rows).toEqual([{ '?column?': 1 }])
    expect(r.fields.map((f) => [f.name, f.dataTypeID])).toEqual([['?column?', 23]])
    expect(r.command).toBe('SELECT')
  })

  it('sends every type in text format, NULL as NULL', async () => {
    const r = await withClient((c) =>
      c.query({ text: 'SELECT * FROM mixed', rowMode: 'array', types: { getTypeParser: () => (v: string) => v } }),
    )
    expect(r.fields.map((f) => f.dataTypeID)).toEqual([20, 25, 1114, 1700, 16])
    expect(r.rows).toEqual([
      ['1', 'alice', '2024-01-02 03:04:05.678', '12.50', 't'],
      ['2', 'bob', '1999-12-31 23:59:59', '-0.001', 'f'],
      ['9007199254740993', null, null, null, null],
    ])
  })

  it('reports the startup parameters, BackendKeyData and the session time zone', async () => {
    const c = client(server.port, { application_name: 'tester' })
    const seen = new Map<string, string>()
    connectionOf(c).on('parameterStatus', (m: { parameterName: string; parameterValue: string }) =>
      seen.set(m.parameterName, m.parameterValue),
    )
    await c.connect()
    try {
      expect(Object.fromEntries(seen)).toMatchObject({
        server_version: '16.0',
        server_encoding: 'UTF8',
        client_encoding: 'UTF8',
        DateStyle: 'ISO, MDY',
        TimeZone: 'UTC',
        integer_datetimes: 'on',
        standard_conforming_strings: 'on',
        application_name: 'tester',
        session_authorization: 'sluice',
      })
      expect((c as unknown as { processID: number }).processID).toBeGreaterThan(0)
      const r = await c.query('SELECT now_tz')
      expect((r.rows[0] as { t: Date }).t.toISOString()).toBe('2024-06-01T12:00:00.000Z')
    } finally {
      await c.end()
    }
  })

  it('runs several statements in one simple query', async () => {
    const results = (await withClient((c) =>
      c.query('SELECT 1; INSERT INTO t VALUES (1); SELECT * FROM mixed'),
    )) as unknown as pg.QueryResult[]
    expect(results.map((r) => r.command)).toEqual(['SELECT', 'INSERT', 'SELECT'])
    expect(results[1].rowCount).toBe(1)
    expect(results[2].rows).toHaveLength(3)
  })

  it('runs a parameterized query through the extended protocol', async () => {
    const r = await withClient((c) => c.query('SELECT $1::int8, $2::text', ['9007199254740993', 'héllo']))
    expect(r.rows).toEqual([{ int8: '9007199254740993', text: 'héllo' }])
    const nulls = await withClient((c) => c.query('SELECT $1::int8, $2::text', [null, null]))
    expect(nulls.rows).toEqual([{ int8: null, text: null }])
  })

  it('accepts binary parameters', async () => {
    await withClient(async (c) => {
      const big = Buffer.alloc(8)
      big.writeBigInt64BE(-5n)
      // pg sends Buffers as binary parameters.
      const r = await c.query({ text: 'SELECT $1::int8, $2::text', values: [big, Buffer.from('bin')] })
      expect(r.rows).toEqual([{ int8: '-5', text: 'bin' }])
    })
  })

  it('hands out a big result in pieces with PortalSuspended', async () => {
    const r = await withClient((c) => c.query({ text: 'SELECT * FROM big', rows: 700 } as pg.QueryConfig))
    expect(r.rows).toHaveLength(BIG_ROWS)
    expect((r.rows[BIG_ROWS - 1] as { n: number }).n).toBe(BIG_ROWS - 1)
  })

  it('reports error code, position, hint and keeps the connection usable', async () => {
    await withClient(async (c) => {
      const e1 = (await c.query('SELECT ,1').catch((e: unknown) => e)) as pg.DatabaseError
      expect(e1).toBeInstanceOf(Error)
      expect([e1.code, e1.position, e1.hint, e1.severity]).toEqual(['42601', '8', 'remove the comma', 'ERROR'])
      const e2 = (await c.query('SELECT * FROM missing').catch((e: unknown) => e)) as pg.DatabaseError
      expect([e2.code, e2.message, e2.position]).toEqual(['42P01', 'relation "missing" does not exist', '15'])
      // The same errors at Parse time in the extended protocol.
      const e3 = (await c.query('SELECT * FROM missing', []).catch((e: unknown) => e)) as pg.DatabaseError
      expect([e3.code, e3.position]).toEqual(['42P01', '15'])
      const e4 = (await c.query('SELECT boom').catch((e: unknown) => e)) as pg.DatabaseError
      expect([e4.code, e4.message]).toEqual(['XX000', 'cannot read properties of undefined'])
      expect((await c.query('SELECT 1', [])).rows).toEqual([{ '?column?': 1 }])
    })
    expect(logged.some((l) => l.startsWith('error '))).toBe(true)
  })

  it('delivers the results before a failing statement, then the error', async () => {
    await withClient(async (c) => {
      const notices: string[] = []
      c.on('notice', (n) => notices.push(n.message ?? ''))
      const err = (await c
        .query('INSERT INTO t VALUES (1); SELECT * FROM missing')
        .catch((e: unknown) => e)) as pg.DatabaseError
      expect(err.code).toBe('42P01')
      await c.query('SELECT noisy')
      expect(notices).toEqual(['be careful'])
    })
  })

  it('tracks the transaction status, including a failed block', async () => {
    await withClient(async (c) => {
      const status = (): string => (c as unknown as { _txStatus?: string })._txStatus ?? '?'
      await c.query('BEGIN')
      const inBlock = status()
      await c.query('SELECT ,1').catch(() => undefined)
      const failed = status()
      await c.query('ROLLBACK')
      const after = status()
      // Older pg versions do not record the status; then only check nothing broke.
      if (inBlock !== '?') expect([inBlock, failed, after]).toEqual(['T', 'E', 'I'])
    })
  })

  it('reports changed settings as ParameterStatus', async () => {
    await withClient(async (c) => {
      const seen: string[] = []
      connectionOf(c).on('parameterStatus', (m: { parameterName: string; parameterValue: string }) =>
        seen.push(`${m.parameterName}=${m.parameterValue}`),
      )
      await c.query("SET timezone TO 'Europe/Paris'")
      expect(seen).toEqual(['TimeZone=Europe/Paris'])
    })
  })

  it('prepares named statements and describes them', async () => {
    await withClient(async (c) => {
      const q = { name: 'echo', text: 'SELECT $1::int8, $2::text', values: [1, 'a'] }
      expect((await c.query(q)).rows).toEqual([{ int8: '1', text: 'a' }])
      expect((await c.query({ ...q, values: [2, 'b'] })).rows).toEqual([{ int8: '2', text: 'b' }])
      const ins = await c.query({ name: 'ins', text: 'INSERT INTO t VALUES ($1)', values: [5] })
      expect([ins.command, ins.rowCount]).toEqual(['INSERT', 1])
    })
  })

  it('passes a cancel request to the running statement and ignores unknown keys', async () => {
    await withClient(async (c) => {
      const { processID, secretKey } = c as unknown as { processID: number; secretKey: number }
      const session = sessions[sessions.length - 1]
      const running = c.query('SELECT sleep').catch((e: unknown) => e)
      // Wait until the statement is running, then cancel with a wrong and with the right key.
      await waitFor(() => session.sleeping)
      await sendCancel(server.port, processID, secretKey + 1)
      await sendCancel(server.port, processID + 1000, secretKey)
      expect(session.cancelled).toBe(0)
      await sendCancel(server.port, processID, secretKey)
      const err = (await running) as pg.DatabaseError
      expect(err.code).toBe('57014')
      expect(session.cancelled).toBe(1)
    })
  })

  it('refuses clients beyond maxConnections with 53300', async () => {
    const small = await startPgServer({
      host: '127.0.0.1',
      port: 0,
      openSession,
      auth: { mode: 'trust' },
      maxConnections: 1,
    })
    try {
      const first = client(small.port)
      await first.connect()
      const err = (await client(small.port)
        .connect()
        .catch((e: unknown) => e)) as pg.DatabaseError
      expect([err.code, err.message]).toEqual(['53300', 'sorry, too many clients already'])
      expect((await first.query('SELECT 1')).rows).toHaveLength(1)
      await first.end()
    } finally {
      await small.close()
    }
  })

  it('closes sessions when clients leave', async () => {
    const before = sessions.length
    await withClient((c) => c.query('SELECT 1'))
    expect(sessions.length).toBe(before + 1)
    await waitFor(() => sessions[before].closed)
  })
})

describe('pgwire password authentication', () => {
  it('accepts the right password (md5) and refuses a wrong one or an unknown user', async () => {
    const r = await withClient((c) => c.query('SELECT 1'), passwordServer.port, { password: 's3cret' })
    expect(r.rows).toHaveLength(1)
    const wrong = (await withClient((c) => c.query('SELECT 1'), passwordServer.port, { password: 'nope' }).catch(
      (e: unknown) => e,
    )) as pg.DatabaseError
    expect([wrong.code, wrong.message, wrong.severity]).toEqual([
      '28P01',
      'password authentication failed for user "sluice"',
      'FATAL',
    ])
    const unknown = (await withClient((c) => c.query('SELECT 1'), passwordServer.port, {
      user: 'mallory',
      password: 's3cret',
    }).catch((e: unknown) => e)) as pg.DatabaseError
    expect([unknown.code, unknown.message]).toEqual(['28P01', 'password authentication failed for user "mallory"'])
  })

  it('supports cleartext passwords', async () => {
    const clear = await startPgServer({
      host: '127.0.0.1',
      port: 0,
      openSession,
      auth: { mode: 'password', users: new Map([['sluice', 'pw']]), method: 'cleartext' },
    })
    try {
      expect((await withClient((c) => c.query('SELECT 1'), clear.port, { password: 'pw' })).rows).toHaveLength(1)
    } finally {
      await clear.close()
    }
  })
})

describe('pgwire with psql', () => {
  it('runs a query', async () => {
    const r = await psql(server.port, ['-c', 'SELECT 1'])
    expect(r).toEqual({ code: 0, stdout: '1\n', stderr: '' })
  })

  it('prints rows, NULLs and errors like PostgreSQL', async () => {
    const rows = await psql(server.port, ['-c', 'SELECT * FROM mixed'])
    expect(rows.stdout).toBe(
      '1|alice|2024-01-02 03:04:05.678|12.50|t\n2|bob|1999-12-31 23:59:59|-0.001|f\n9007199254740993||||\n',
    )
    const bad = await psql(server.port, ['-c', 'SELECT * FROM missing'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('ERROR:  relation "missing" does not exist')
  })

  it('authenticates with PGPASSWORD and refuses a wrong password with exit code 2', async () => {
    const ok = await psql(passwordServer.port, ['-c', 'SELECT 1'], { PGPASSWORD: 's3cret' })
    expect([ok.code, ok.stdout]).toEqual([0, '1\n'])
    const wrong = await psql(passwordServer.port, ['-c', 'SELECT 1'], { PGPASSWORD: 'wrong' })
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain('password authentication failed for user "sluice"')
  })
})

function connectionOf(c: pg.Client): NodeJS.EventEmitter {
  return (c as unknown as { connection: NodeJS.EventEmitter }).connection
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10))
  expect(cond()).toBe(true)
}

async function sendCancel(port: number, pid: number, secret: number): Promise<void> {
  const { connect } = await import('node:net')
  const msg = Buffer.alloc(16)
  msg.writeInt32BE(16, 0)
  msg.writeInt32BE(80877102, 4)
  msg.writeInt32BE(pid, 8)
  msg.writeInt32BE(secret, 12)
  await new Promise<void>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(msg))
    s.on('error', reject)
    s.on('close', () => resolve())
    s.resume()
  })
}
