/**
 * The `postgres` sink (alias `postgresql`): a view kept as a PostgreSQL table, upserted by key.
 * `CREATE SINK s FROM v WITH (connector = 'postgres', url = 'postgres://app@db:5432/shop',
 * table = 'revenue_by_region')`.
 *
 * Each epoch commits in ONE transaction: lock this sink's row of `_sluice_sink_progress` (created
 * if missing) and read its epoch; if the epoch is already there, roll back (a repeated commit after
 * a restart); else delete the keys the epoch removed, `INSERT ... ON CONFLICT (key) DO UPDATE` the
 * rows it wrote, set the progress to the epoch, COMMIT. Rows travel as text arrays expanded by
 * unnest() and cast to each column's type, a few statements per epoch rather than one per row,
 * and the text is PostgreSQL's own output format (engine/types/text.ts), so every type round-trips
 * exactly (BIGINT and NUMERIC digits, timestamps to the microsecond, JSONB, BYTEA, intervals).
 *
 * Rows PostgreSQL cannot hold go to dead letters instead of blocking every later epoch: a NULL in
 * a key column (a primary key cannot be NULL), a NUL character in text.
 */
import type { Chunk } from '../../engine/chunk.ts'
import type {
  ColumnSchema,
  ConnectorContext,
  ConnectorOptions,
  SinkFactory,
  SinkSpec,
  SinkWriter,
} from '../../engine/connector.ts'
import type { KeyChange, TextRow } from '../upsert/net-changes.ts'
import type { PostgresSinkConfig } from './options.ts'
import pg from 'pg'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { netChanges } from '../upsert/net-changes.ts'
import { parsePostgresOptions } from './options.ts'
import { PROGRESS_TABLE, pgType, prepareTables, qualified, quoteIdent } from './table.ts'

/** Rows per DELETE or INSERT statement. */
const BATCH_ROWS = 5000
const CONNECT_TIMEOUT_MS = 10_000
/** A statement the server does not answer within this long fails the commit (it is retried). */
const QUERY_TIMEOUT_MS = 120_000

/** One epoch's write-ahead form: key texts to delete, row texts to upsert. */
interface PgEpoch {
  readonly deletes: TextRow[]
  readonly upserts: TextRow[]
}

export class PostgresSinkWriter implements SinkWriter {
  private pending: Chunk[] = []
  private client: pg.Client | undefined
  private readonly target: string
  private readonly sql: {
    readonly deletes: string
    readonly upsert: string
    readonly lock: string
    readonly progress: string
    readonly read: string
  }

  constructor(
    private readonly columns: readonly ColumnSchema[],
    private readonly config: PostgresSinkConfig,
    private readonly ctx: ConnectorContext,
  ) {
    this.target = qualified(config)
    this.sql = statements(columns, config)
  }

  async open(): Promise<void> {
    const client = await this.connected()
    try {
      await prepareTables(
        client,
        { schema: this.config.schema, table: this.config.table, columns: this.columns, key: this.config.key },
        this.config.createTable,
      )
    } catch (e) {
      this.disconnect()
      throw asSinkError(this.config.url, e)
    }
  }

  write(chunk: Chunk): void {
    if (chunk.length > 0) this.pending.push(chunk)
  }

  preCommit(_epoch: number): Uint8Array | undefined {
    const chunks = this.pending
    this.pending = []
    if (chunks.length === 0) return undefined
    const epoch: PgEpoch = { deletes: [], upserts: [] }
    for (const change of netChanges(chunks, this.columns, this.config.key)) this.plan(change, epoch)
    if (epoch.deletes.length === 0 && epoch.upserts.length === 0) return undefined
    return Buffer.from(JSON.stringify([epoch.deletes, epoch.upserts]), 'utf8')
  }

  async commit(epoch: number, logged: Uint8Array | undefined): Promise<void> {
    if (logged === undefined) return
    const [deletes, upserts] = JSON.parse(
      Buffer.from(logged.buffer, logged.byteOffset, logged.byteLength).toString('utf8'),
    ) as [TextRow[], TextRow[]]
    const client = await this.connected()
    try {
      await client.query('BEGIN')
      const lock = await client.query<{ epoch: string }>(this.sql.lock, [this.ctx.name, this.target])
      if (Number(lock.rows[0].epoch) >= epoch) {
        await client.query('ROLLBACK')
        return
      }
      for (let i = 0; i < deletes.length; i += BATCH_ROWS)
        await client.query(this.sql.deletes, columnArrays(deletes.slice(i, i + BATCH_ROWS), this.config.key.length))
      for (let i = 0; i < upserts.length; i += BATCH_ROWS)
        await client.query(this.sql.upsert, columnArrays(upserts.slice(i, i + BATCH_ROWS), this.columns.length))
      await client.query(this.sql.progress, [this.ctx.name, this.target, epoch])
      await client.query('COMMIT')
    } catch (e) {
      // Whatever state the session is in (aborted transaction, broken socket), the next attempt
      // starts over on a new connection; the transaction never committed, nothing is half done.
      this.disconnect()
      throw asSinkError(this.config.url, e, epoch)
    }
  }

  async committedEpoch(): Promise<number> {
    const client = await this.connected()
    try {
      const r = await client.query<{ epoch: string }>(this.sql.read, [this.ctx.name, this.target])
      return r.rows.length === 0 ? 0 : Number(r.rows[0].epoch)
    } catch (e) {
      if (pgCode(e) === '42P01') return 0 // no progress table yet: nothing committed
      this.disconnect()
      throw asSinkError(this.config.url, e)
    }
  }

  close(): Promise<void> {
    this.disconnect()
    return Promise.resolve()
  }

  /** Adds one key's net change to the epoch, or sends a row PostgreSQL cannot hold to dead letters. */
  private plan(change: KeyChange, epoch: PgEpoch): void {
    const nullKey = change.key.findIndex((v) => v === null)
    if (nullKey >= 0) {
      // Never written, so there is nothing to delete either.
      if (change.row !== undefined)
        this.reject(
          change.row,
          `NULL in key column "${this.columns[this.config.key[nullKey]].name}": a PostgreSQL primary key cannot be NULL`,
        )
      return
    }
    if (change.row !== undefined) {
      const bad = change.row.findIndex(
        (v, c) =>
          v !== null && (v.includes('\u0000') || (this.columns[c].type.kind === 'jsonb' && v.includes('\\u0000'))),
      )
      if (bad < 0) {
        epoch.upserts.push(change.row)
        return
      }
      // The key's earlier row must not stay behind as if it were current.
      this.reject(
        change.row,
        `column "${this.columns[bad].name}" holds a NUL character, which PostgreSQL text cannot store`,
      )
    }
    epoch.deletes.push(change.key)
  }

  private reject(row: TextRow, detail: string): void {
    this.ctx.deadLetter({
      object: this.ctx.name,
      reason: 'type_error',
      detail,
      payload: JSON.stringify(row),
      origin: `postgres table ${this.target}`,
    })
  }

  private async connected(): Promise<pg.Client> {
    if (this.client !== undefined) return this.client
    const client = new pg.Client({
      connectionString: this.config.url,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      keepAlive: true,
      application_name: `sluice sink ${this.ctx.name}`,
    })
    // Without a listener an 'error' event (server gone while idle) would end the process.
    client.on('error', (e) => {
      this.ctx.log('debug', 'postgres connection error', { error: e.message })
      if (this.client === client) this.disconnect()
    })
    try {
      await client.connect()
    } catch (e) {
      await client.end().catch(() => {})
      throw asSinkError(this.config.url, e)
    }
    this.client = client
    return client
  }

  private disconnect(): void {
    const client = this.client
    this.client = undefined
    if (client !== undefined) client.end().catch(() => {})
  }
}

/** The SQL a writer runs, built once from the target and its columns. */
function statements(columns: readonly ColumnSchema[], config: PostgresSinkConfig): PostgresSinkWriter['sql'] {
  const target = qualified(config)
  const progress = `${quoteIdent(config.schema)}.${PROGRESS_TABLE}`
  const unnest = (types: readonly string[]): string =>
    `unnest(${types.map((_t, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${types.map((_t, i) => `c${i}`).join(', ')})`
  const casts = (types: readonly string[]): string => types.map((t, i) => `u.c${i}::${t}`).join(', ')
  const keyNames = config.key.map((k) => quoteIdent(columns[k].name))
  const keyTypes = config.key.map((k) => pgType(columns[k].type))
  const allTypes = columns.map((c) => pgType(c.type))
  const others = columns.filter((_c, i) => !config.key.includes(i)).map((c) => quoteIdent(c.name))
  const onConflict =
    others.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${others.map((n) => `${n} = EXCLUDED.${n}`).join(', ')}`
  return {
    deletes: `DELETE FROM ${target} WHERE (${keyNames.join(', ')}) IN (SELECT ${casts(keyTypes)} FROM ${unnest(keyTypes)})`,
    upsert: `INSERT INTO ${target} (${columns.map((c) => quoteIdent(c.name)).join(', ')}) SELECT ${casts(allTypes)} FROM ${unnest(allTypes)} ON CONFLICT (${keyNames.join(', ')}) ${onConflict}`,
    // Creates or locks this sink's progress row until COMMIT, returning the epoch it holds:
    // commits of one sink are serialized, and a repeated epoch is seen.
    lock: `INSERT INTO ${progress} (sink, target, epoch) VALUES ($1, $2, 0) ON CONFLICT (sink, target) DO UPDATE SET sink = EXCLUDED.sink RETURNING epoch`,
    progress: `UPDATE ${progress} SET epoch = $3, committed_at = now() WHERE sink = $1 AND target = $2`,
    read: `SELECT epoch FROM ${progress} WHERE sink = $1 AND target = $2`,
  }
}

/** Rows as one text array per column (the unnest() parameters). */
function columnArrays(rows: readonly TextRow[], width: number): (string | null)[][] {
  const out: (string | null)[][] = Array.from({ length: width }, () => new Array<string | null>(rows.length))
  for (let r = 0; r < rows.length; r++) for (let c = 0; c < width; c++) out[c][r] = rows[r][c]
  return out
}

function pgCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/** A failure as shown in sluice_catalog.sinks: what PostgreSQL said, or that it is unreachable (no password). */
function asSinkError(url: string, e: unknown, epoch?: number): SluiceError {
  if (e instanceof SluiceError) return e
  const message = e instanceof Error ? e.message || e.name : String(e)
  const code = pgCode(e)
  if (code !== undefined && !code.startsWith('08') && !code.startsWith('57P')) {
    const what = epoch === undefined ? 'postgres' : `postgres refused epoch ${epoch}`
    return new SluiceError(SqlState.data_exception, `${what}: ${message} (SQLSTATE ${code})`, {
      domain: 'external',
      cause: e,
    })
  }
  let where = url
  try {
    const u = new URL(url)
    u.password = ''
    where = u.toString()
  } catch {
    // keep as given
  }
  return new SluiceError(SqlState.io_error, `postgres at ${where} is unreachable: ${message}`, {
    domain: 'external',
    retryable: true,
    cause: e,
  })
}

function factory(connector: string): SinkFactory {
  return {
    connector,
    create(spec: SinkSpec, options: ConnectorOptions, ctx: ConnectorContext): SinkWriter {
      return new PostgresSinkWriter(spec.columns, parsePostgresOptions(ctx.name, spec, options), ctx)
    },
  }
}

export const postgresSinkFactory: SinkFactory = factory('postgres')
/** The same connector under PostgreSQL's other common name. */
export const postgresqlSinkFactory: SinkFactory = factory('postgresql')
