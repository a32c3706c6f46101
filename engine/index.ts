/**
 * Sluice as a library: the one entry module the server (and any Node application) uses.
 *
 *   const db = await Sluice.open({ dataDir: './sluice-data', sources: [datagenSourceFactory] })
 *   await db.sql('CREATE TABLE t (k BIGINT, v BIGINT) APPEND ONLY')
 *   const session = db.session()
 *   const [result] = await session.execute('SELECT * FROM t')
 *
 * Nothing in the engine assumes a socket.
 */
import type { Registry } from 'prom-client'
import type { Session, SessionOptions, StatementResult } from './session-api.ts'
import type { EngineOptions } from './engine.ts'
import { Engine } from './engine.ts'
import { EngineSession } from './exec/session.ts'
import { RestoreProgress } from './restore-progress.ts'
import { restoreAccess, restoreRelations } from './restore.ts'
import type { SinkFactory, SourceFactory } from './connector.ts'
import type { ChangeSubscription, SubscribeOptions } from './session-api.ts'
import { subscribeToRelation } from './exec/subscribe.ts'
import { checkRelationPrivilege } from './exec/privileges.ts'
import type { IngestTarget } from './exec/ingest.ts'
import { ingestTarget } from './exec/ingest.ts'
import type { DataflowInfo } from './runtime/dataflow-info.ts'
import { dataflowInfos } from './runtime/dataflow-info.ts'

export type { Session, SessionOptions, StatementResult, PreparedDescription, ResultColumn } from './session-api.ts'
export type { Change, ChangeBatch, ChangeSubscription, SubscribeOptions } from './session-api.ts'
export type { IngestTarget } from './exec/ingest.ts'
export type { DataflowInfo, OperatorInfo } from './runtime/dataflow-info.ts'
export type { EngineOptions, LogFn } from './engine.ts'
export type {
  SourceFactory,
  SinkFactory,
  SourceReader,
  SinkWriter,
  ColumnSchema,
  ConnectorContext,
} from './connector.ts'
export { SluiceError, SqlState } from './errors.ts'
export { parseMemorySetting, setServerQueryMemory } from './batch/budget.ts'

export class Sluice {
  private readonly defaultSession: EngineSession

  /** Resolves once every persisted object is restored and the sources run again. */
  readonly restored: Promise<void>

  private constructor(
    readonly engine: Engine,
    restored: Promise<void>,
  ) {
    this.defaultSession = new EngineSession(engine, {})
    this.restored = restored
  }

  /** Opens (or creates) the data directory and brings every persisted object back to life. */
  static async open(options: EngineOptions): Promise<Sluice> {
    const db = await Sluice.start(options)
    await db.restored
    return db
  }

  /**
   * Opens the data directory and replays roles, secrets and tokens (milliseconds), then restores
   * every other object in the background and returns at once, so a server can listen while it
   * restores (docs/design/fast-restart.md). Until `restored` resolves, reads of restored objects
   * and of the catalog run at once, a read of an object not back yet waits for it, other statements
   * wait for the whole restore (engine/restore-progress.ts). The restore begins once `begin`
   * resolves (a server: once it listens), first adding the connector factories `loadConnectors`
   * gives: their libraries need not load before the server listens.
   */
  static async start(
    options: EngineOptions,
    loadConnectors?: () => Promise<{
      readonly sources?: readonly SourceFactory[]
      readonly sinks?: readonly SinkFactory[]
    }>,
    begin: Promise<void> = Promise.resolve(),
  ): Promise<Sluice> {
    const { engine, stored } = await Engine.open(options)
    const t0 = Date.now()
    const progress = new RestoreProgress(stored)
    engine.restoring = progress
    const failedAccess = await restoreAccess(engine, stored)
    const restored = (async () => {
      await begin
      // Loaded when the first object that may need a connector is replayed (or at the end, for
      // later CREATE statements): a restore of tables and views does not wait for the libraries.
      let loaded: Promise<void> | undefined
      const connectors = (): Promise<void> =>
        (loaded ??= (async () => {
          if (loadConnectors === undefined) return
          const { sources = [], sinks = [] } = await loadConnectors()
          for (const f of sources) engine.sourceFactories.set(f.connector, f)
          for (const f of sinks) engine.sinkFactories.set(f.connector, f)
        })())
      await restoreRelations(engine, stored, progress, failedAccess, t0, connectors)
    })().catch((e: unknown) => {
      // A bug, not a bad object (those are logged one by one): statements must not wait forever.
      engine.log('error', 'the restore failed', { error: e instanceof Error ? e.message : String(e) })
      progress.finish()
    })
    return new Sluice(engine, restored)
  }

  /** Whether every persisted object is back (a server's /readyz). */
  get isRestored(): boolean {
    return this.engine.restoring?.finished !== false
  }

  /** A new session (one per client connection): its own settings such as the time zone. */
  session(options: SessionOptions = {}): Session {
    return new EngineSession(this.engine, options)
  }

  /** Runs statements in a shared default session. */
  sql(text: string): Promise<StatementResult[]> {
    return this.defaultSession.execute(text)
  }

  /**
   * The changes of a materialized view (or table, or source): its current rows first (unless
   * `snapshot: false` or `from`), then every change as it happens.
   *
   *   for await (const change of db.subscribe('v')) console.log(change.op, change.row)
   *
   * Leaving the loop closes the subscription; `close()` does too.
   */
  subscribe(name: string, options: SubscribeOptions = {}): ChangeSubscription {
    return subscribeToRelation(this.engine, name, options)
  }

  /**
   * A role of the catalog (CREATE ROLE), for the front ends' authentication: its SCRAM verifier
   * (never a clear password), whether it may log in and whether it is a superuser.
   */
  role(
    name: string,
  ): { readonly verifier: string | undefined; readonly login: boolean; readonly superuser: boolean } | undefined {
    return this.engine.access.roles.get(name)
  }

  /** The role a bearer token (by its SHA-256, hex) belongs to (`CREATE TOKEN FOR role`). */
  tokenRole(digest: string): string | undefined {
    return this.engine.access.tokenRole(digest)
  }

  /** Throws 42501 unless `user` holds `privilege` on `relation` (HTTP ingest and subscribe). */
  checkPrivilege(user: string, readOnly: boolean, privilege: 'select' | 'insert', relation: string): void {
    checkRelationPrivilege(this.engine, user, readOnly, privilege, relation)
  }

  /** The APPEND ONLY table `name`, to append decoded rows to (HTTP ingest); throws 42P01, 42809, 0A000. */
  ingestTarget(name: string): IngestTarget {
    // Writes wait for the whole restore (restore-progress.ts); a request cannot wait here: 57P03.
    const progress = this.engine.restoring
    if (progress !== undefined && !progress.finished) throw progress.notYet(undefined)
    return ingestTarget(this.engine, name)
  }

  get metrics(): Registry {
    return this.engine.metrics.registry
  }

  /** Every materialized view's and sink's operator graph with its row counters (the console). */
  dataflows(): DataflowInfo[] {
    return dataflowInfos(this.engine)
  }

  /**
   * Stops sources, takes a last checkpoint and closes the data directory. With
   * `{ lastCheckpoint: false }` the data directory is left as a crash (kill -9) would leave it.
   */
  async close(options: { readonly lastCheckpoint?: boolean } = {}): Promise<void> {
    const progress = this.engine.restoring
    if (progress !== undefined && !progress.finished) {
      // Closed while restoring: the data directory already holds the last checkpoint, and a
      // checkpoint of half the objects would lose the others' state. Stop the replay, keep it.
      progress.stopping = true
      await this.restored
      await this.engine.close(false)
      return
    }
    await this.engine.close(options.lastCheckpoint ?? true)
  }
}
