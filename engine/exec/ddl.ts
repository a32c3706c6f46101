/**
 * CREATE of sources and tables and DROP of every object, once the statement is parsed and its
 * query bound, and the attaching of a view's or sink's dataflow (CREATE MATERIALIZED VIEW itself
 * is create-view.ts). Each creation persists the defining SQL in the same batch as any initial
 * state, so a restart finds every object (replayed by Sluice.open).
 */
import type { ColumnSchema, ConnectorOptions } from '../connector.ts'
import type { Engine } from '../engine.ts'
import type { CatalogObject, ObjectKind, SourceObject, TableObject, WatermarkDecl } from '../catalog/objects.ts'
import type { IncludeClause } from '../sql/tree.ts'
import type { OperatorContext } from '../ops/operator.ts'
import type { Dataflow } from '../runtime/dataflow.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { resolveSecrets } from '../catalog/secrets.ts'
import { timeColumns } from '../engine.ts'
import { Stream } from '../runtime/stream.ts'
import { SourceDriver } from '../runtime/source-driver.ts'
import { TableFeed } from '../runtime/table-feed.ts'
import { DeadLetterTableRoute, checkDeadLetterTable } from '../runtime/dead-letters.ts'
import { tableOutlet } from '../runtime/dead-letter-outlets.ts'
import { TableRows } from '../catalog/table-rows.ts'
import { attachOperatorStores, dropStateWrites } from '../runtime/checkpoint-store.ts'
import { emptyChunk, kindLabel } from '../catalog/objects.ts'
import { chunkFromRows } from '../chunk.ts'
import { T } from '../types/datatype.ts'
import { dropIndexesOf } from './index-ddl.ts'

export interface SourceDef {
  readonly name: string
  readonly sql: string
  /** Declared columns; undefined lets the connector supply them (e.g. the Nexmark generator). */
  readonly columns: readonly ColumnSchema[] | undefined
  readonly watermark: { readonly column: string; readonly delay: number; readonly position?: number } | undefined
  readonly options: ConnectorOptions
  /** INCLUDE clauses: record metadata columns appended after the declared ones. */
  readonly includes?: readonly IncludeClause[]
}

/** The column an INCLUDE clause adds: key and headers as text (UTF-8), partition INT, offset BIGINT, timestamp TIMESTAMPTZ. */
function includeColumn(c: IncludeClause): ColumnSchema {
  switch (c.what) {
    case 'key':
      return { name: c.alias, type: T.text, typmod: { spelling: 'varchar', typmod: -1 }, include: { kind: 'key' } }
    case 'partition':
      return { name: c.alias, type: T.int4, include: { kind: 'partition' } }
    case 'offset':
      return { name: c.alias, type: T.int8, include: { kind: 'offset' } }
    case 'timestamp':
      return { name: c.alias, type: T.timestamptz, include: { kind: 'timestamp' } }
    case 'header':
      return {
        name: c.alias,
        type: T.text,
        typmod: { spelling: 'varchar', typmod: -1 },
        include: { kind: 'header', name: c.header ?? '' },
      }
  }
}

export async function createSource(engine: Engine, def: SourceDef): Promise<void> {
  engine.checkNameFree(def.name, 'source')
  const connector = def.options.get('connector')
  if (connector === undefined)
    throw new SluiceError(SqlState.invalid_parameter_value, `CREATE SOURCE ${def.name} needs a "connector" option`)
  const factory = engine.sourceFactories.get(connector.toLowerCase())
  if (factory === undefined)
    throw new SluiceError(SqlState.undefined_object, `connector "${connector}" does not exist`, {
      hint: `known connectors: ${[...engine.sourceFactories.keys()].join(', ')}`,
    })
  const options = new Map([...def.options].filter(([k]) => k !== 'connector'))
  const declared = def.columns ?? factory.defaultColumns?.(options)
  const columns = declared === undefined ? undefined : [...declared, ...(def.includes ?? []).map(includeColumn)]
  if (columns === undefined || columns.length === 0 || columns.every((c) => c.include !== undefined)) {
    throw new SluiceError(
      SqlState.invalid_parameter_value,
      `connector "${connector}" needs a column list in CREATE SOURCE ${def.name}`,
    )
  }
  const watermark = resolveWatermark(columns, def.watermark)
  const seen = new Set<string>()
  for (const c of columns) {
    if (seen.has(c.name))
      throw new SluiceError(SqlState.duplicate_column, `column "${c.name}" specified more than once`)
    seen.add(c.name)
    if (c.include !== undefined && factory.connector !== 'kafka') {
      throw new SluiceError(
        SqlState.feature_not_supported,
        `connector "${connector}" has no record metadata for INCLUDE ${c.include.kind}`,
      )
    }
  }
  const route = deadLetterTable(engine, def.name, options)
  const baseCtx = engine.connectorContext(def.name)
  const ctx: typeof baseCtx =
    route === undefined
      ? baseCtx
      : {
          ...baseCtx,
          deadLetter: (l) => {
            baseCtx.deadLetter(l)
            route.add(l)
          },
        }
  const reader = factory.create(columns, resolveSecrets(engine, options), ctx)
  // With checkpoints, a dead-letter table or topic is committed per epoch, exactly once
  // (engine/runtime/dead-letter-outlets.ts); without, letters are written as they come.
  const outlet = !engine.checkpointing
    ? undefined
    : route !== undefined
      ? tableOutlet(engine, () => id, route)
      : reader.deadLetterOutlet?.()
  const stream = new Stream(def.name)
  const driver = new SourceDriver(reader, stream, {
    maxRows: engine.options.maxBatchRows ?? 4096,
    idleMs: 20,
    timeColumns: timeColumns(columns),
    onBatch: (rows) => {
      engine.metrics.sourceRows.inc({ source: def.name }, rows)
      engine.metrics.sourceBatches.inc({ source: def.name })
    },
    onError: (e) => engine.log('warn', `source ${def.name}: ${e instanceof Error ? e.message : String(e)}`),
    afterPush: outlet === undefined ? undefined : () => outlet.settle(),
    afterPoll: route === undefined || outlet !== undefined ? undefined : () => writeDeadLetters(engine, route),
    // New keys faster than checkpoints can evict: polls wait for a checkpoint (state-gate.ts).
    beforePoll: () => engine.stateGate.beforePoll(),
  })
  const id = engine.allocateId()
  if (outlet !== undefined && engine.restoringId === undefined) {
    // A new source must not reuse epochs its destination already has progress for (a Kafka
    // topic's transactional progress survives DROP SOURCE and a wiped data directory).
    try {
      engine.checkpoints.skipTo(await outlet.committedEpoch(), id)
    } catch (e) {
      await reader.close().catch(() => {})
      throw e
    }
  }
  if (outlet !== undefined && engine.restoringId !== undefined && engine.recovery?.meta.sources[id] === undefined) {
    // Restored with no position in the checkpoint (a crash after its CREATE, before a checkpoint
    // had it): like its CREATE, its letters must not go under epochs the destination already has.
    void engine.checkpoints.holdUntilSkip(
      id,
      `source ${def.name}`,
      () => outlet.committedEpoch(),
      () => engine.get(def.name)?.id === id,
    )
  }
  if (engine.restoringId !== undefined) {
    // Recovery: no data flows until every view is restored (Sluice.open releases the hold); the
    // reader resumes at the checkpoint's offsets, the stream at its event-time high marks.
    driver.hold()
    driver.resumeFrom = engine.recovery?.meta.sources[id]
    driver.resumeClocks = engine.recovery?.meta.clocks?.[id]
    for (const [c, v] of engine.recovery?.marks(id) ?? []) stream.maxEventTime.set(c, v)
  }
  const obj: SourceObject = {
    kind: 'source',
    id,
    name: def.name,
    sql: def.sql,
    columns,
    dependents: new Set(),
    connector: connector.toLowerCase(),
    options,
    watermark,
    stream,
    driver,
    snapshot: () => emptyChunk(columns.length),
  }
  await engine.register(obj)
  if (outlet !== undefined)
    await engine.deadLetterOutlets.add(id, def.name, outlet, engine.store, engine.restoringId !== undefined)
  if (route !== undefined) engine.get(route.table)?.dependents.add(def.name)
  if (route !== undefined || reader.forwardDeadLetter !== undefined) {
    // Rows of this source that its views reject (late, eval_error) go to its destination too.
    engine.deadLetters.onLetter((l) => {
      if (l.object === def.name || engine.get(def.name) !== obj) return
      const view = engine.get(l.object)
      if (view?.kind !== 'materialized_view' || !view.dependsOn.includes(def.name)) return
      route?.add(l, true) // made during a push: part of the epoch now
      reader.forwardDeadLetter?.(l)
    })
  }
}

/**
 * `dead_letter = 'name'` naming an existing table: the engine appends the source's rejects to it
 * (the option is taken out of what the connector sees). Any other name is the connector's (Kafka: a topic).
 */
function deadLetterTable(
  engine: Engine,
  source: string,
  options: Map<string, string>,
): DeadLetterTableRoute | undefined {
  const name = options.get('dead_letter')?.trim()
  if (name === undefined) return undefined
  const target = engine.get(name)
  if (target === undefined) return undefined
  if (target.kind !== 'table') {
    throw new SluiceError(
      SqlState.invalid_parameter_value,
      `option "dead_letter" of source ${source} names ${kindLabel(target.kind)} "${name}"; name a table or a Kafka topic`,
    )
  }
  checkDeadLetterTable(name, target.columns, target.primaryKey)
  options.delete('dead_letter')
  return new DeadLetterTableRoute(name, target.columns, engine.now)
}

async function writeDeadLetters(engine: Engine, route: DeadLetterTableRoute): Promise<void> {
  if (route.size === 0) return
  const rows = route.take()
  const table = engine.get(route.table)
  if (table?.kind !== 'table') return
  await engine.applyTableChange(table, rows, [])
}

export interface TableDef {
  readonly name: string
  readonly sql: string
  readonly columns: readonly ColumnSchema[]
  readonly primaryKey: readonly string[] | undefined
  readonly appendOnly: boolean
  readonly watermark: { readonly column: string; readonly delay: number; readonly position?: number } | undefined
  /** WITH options: a `connector` feeds the table (e.g. Debezium change events from Kafka). */
  readonly options?: ConnectorOptions
}

export async function createTable(engine: Engine, def: TableDef): Promise<void> {
  engine.checkNameFree(def.name, 'table')
  const seen = new Set<string>()
  for (const c of def.columns) {
    if (seen.has(c.name))
      throw new SluiceError(SqlState.duplicate_column, `column "${c.name}" specified more than once`)
    seen.add(c.name)
  }
  const primaryKey = def.primaryKey?.map((name) => {
    const i = def.columns.findIndex((c) => c.name === name)
    if (i < 0) throw new SluiceError(SqlState.undefined_column, `column "${name}" named in key does not exist`)
    return i
  })
  if (primaryKey !== undefined && def.appendOnly) {
    throw new SluiceError(SqlState.feature_not_supported, `an APPEND ONLY table cannot have a PRIMARY KEY`)
  }
  const id = engine.allocateId()
  const rows = new TableRows(
    id,
    def.columns.map((c) => c.type),
    primaryKey,
    engine.writeClock,
  )
  rows.logChanges = engine.checkpointing
  const feed = connectorFeed(engine, def, primaryKey, rows, () => obj)
  if (engine.restoringId !== undefined) {
    const seq = engine.recovery?.meta.tables[id]
    if (seq !== undefined && engine.checkpointing) {
      // Back to the rows as of the checkpoint; the later log entries are replayed into the
      // restored views once every object is back (engine/restore.ts).
      const redo = await rows.logAfter(engine.store, seq)
      if (redo.length > 0) engine.tableRedo.push({ table: def.name, entries: redo })
      const load = (): Promise<void> => rows.load(engine.store).then(() => rows.rewind(redo, seq))
      // Views restored from the checkpoint never read their tables' rows, so the rows of a table
      // without event-time columns or a feed load in the background (restore-progress.ts).
      if (engine.restoring !== undefined && feed === undefined && timeColumns(def.columns).length === 0)
        engine.restoring.deferLoad(def.name, load)
      else await load()
    } else {
      await rows.load(engine.store)
      await engine.store.write([rows.dropLogWrite()])
    }
  }
  const obj: TableObject = {
    kind: 'table',
    id,
    name: def.name,
    sql: def.sql,
    columns: def.columns,
    dependents: new Set(),
    rows,
    primaryKey,
    appendOnly: def.appendOnly,
    watermark: resolveWatermark(def.columns, def.watermark),
    stream: new Stream(def.name),
    snapshot: () => rows.snapshot(),
    rowCount: () => rows.size,
    uniqueKey: primaryKey,
    snapshotRows: () => Array.from(rows.entries(), (e) => e[1]),
    lookup: (cols, values) => {
      const found = rows.lookup(cols, values)
      return found === undefined ? undefined : chunkFromRows(def.columns.length, found)
    },
    feed,
  }
  // The table's high marks start from its stored rows, so views created after a restart judge
  // lateness as they did before it.
  const times = timeColumns(def.columns)
  if (rows.size > 0 && times.length > 0) obj.stream.pushBatchWatermarks(rows.snapshot(), times)
  if (feed !== undefined) {
    // On a restart the feed replays from `startup` (its keyed changes are idempotent); an
    // unreachable broker then must not keep the engine from opening.
    if (engine.restoringId !== undefined)
      feed
        .start()
        .catch((e: unknown) => engine.log('warn', `table ${def.name}: ${e instanceof Error ? e.message : String(e)}`))
    else await feed.start()
  }
  try {
    await engine.register(obj)
  } catch (e) {
    await feed?.stop()
    throw e
  }
}

/** The reader feeding a table with a `connector` option, or undefined for a plain table. */
function connectorFeed(
  engine: Engine,
  def: TableDef,
  primaryKey: readonly number[] | undefined,
  rows: TableRows,
  table: () => TableObject,
): TableFeed | undefined {
  const options = def.options
  if (options === undefined || options.size === 0) return undefined
  const connector = options.get('connector')
  if (connector === undefined) {
    const key = [...options.keys()][0]
    throw new SluiceError(SqlState.invalid_parameter_value, `unknown option "${key}" for a table`, {
      hint: "a table fed by a connector names it: WITH (connector = 'kafka', ...)",
    })
  }
  const factory = engine.sourceFactories.get(connector.toLowerCase())
  if (factory === undefined)
    throw new SluiceError(SqlState.undefined_object, `connector "${connector}" does not exist`, {
      hint: `known connectors: ${[...engine.sourceFactories.keys()].join(', ')}`,
    })
  if (primaryKey === undefined || primaryKey.length === 0) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      `a table with a connector needs a PRIMARY KEY: its changes are applied by key`,
      { hint: 'use CREATE SOURCE for an append-only stream' },
    )
  }
  const rest = new Map([...options].filter(([k]) => k !== 'connector'))
  const reader = factory.create(def.columns, resolveSecrets(engine, rest), engine.connectorContext(def.name), {
    kind: 'table',
    primaryKey,
  })
  return new TableFeed(reader, rows, {
    maxRows: engine.options.maxBatchRows ?? 4096,
    idleMs: 20,
    apply: async (inserts, deletes) => {
      await engine.applyTableChange(table(), inserts, deletes)
    },
    onError: (e) => engine.log('warn', `table ${def.name}: ${e instanceof Error ? e.message : String(e)}`),
  })
}

/**
 * Attaches a view's or sink's dataflow: from the checkpoint's operator state when recovering one
 * it holds, else fresh over the inputs' current rows.
 */
export async function attachDataflow(
  engine: Engine,
  owner: string,
  id: number,
  dataflow: Dataflow,
  stream: Stream | undefined,
  afterRestore?: () => void,
  interrupt?: { check(): void },
): Promise<void> {
  const recovery = engine.restoringId !== undefined ? engine.recovery : undefined
  const restored = recovery?.has(id) === true
  if (engine.checkpointing) attachOperatorStores(engine.store, engine.stateCache, owner, id, dataflow.operators())
  if (recovery !== undefined && restored) {
    await recovery.restoreOperators(id, dataflow.operators())
    afterRestore?.()
    if (stream !== undefined) for (const [c, v] of recovery.marks(id)) stream.maxEventTime.set(c, v)
    // The processing clock before any row: ttl times are never 0 ("unknown") and, restored,
    // continue from the checkpoint's reading.
    dataflow.tick(engine.processingTime())
    dataflow.attach(true)
  } else if (interrupt !== undefined) {
    dataflow.tick(engine.processingTime())
    await dataflow.attachInSlices(yieldFor(interrupt))
  } else if (dataflow.readsFromDisk()) {
    // Over a view whose rows are partly on disk (derived), read over awaits.
    dataflow.tick(engine.processingTime())
    await dataflow.attachInSlices(yieldFor({ check: () => {} }))
  } else {
    dataflow.tick(engine.processingTime())
    dataflow.attach()
  }
}

/**
 * Between two backfill slices: back to the event loop once the last slice ran ~10 ms (so the
 * other sessions and the dataflows go on, and a cancel request can arrive), then the check.
 */
function yieldFor(interrupt: { check(): void }): () => Promise<void> {
  let since = performance.now()
  return async () => {
    if (performance.now() - since >= 10) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      since = performance.now()
    }
    interrupt.check()
  }
}

/**
 * Sources start reading once a view or sink needs them (later ones share the running reader);
 * then a new dataflow's initial state becomes durable with the sources' positions at once, so a
 * crash right after CREATE does not feed it records from before it existed.
 */
export async function startSources(engine: Engine, dependsOn: readonly string[]): Promise<void> {
  for (const dep of dependsOn) {
    const src = engine.get(dep)
    if (src?.kind !== 'source' || src.driver.started || src.driver.waiting) continue
    try {
      await src.driver.start()
    } catch (e) {
      // A Kafka topic not created yet, brokers down: the view exists and waits for its input,
      // with the reason as the source's last_error (docs/sql.md, "Sources are shared").
      if (!(e instanceof SluiceError && e.retryable)) throw e
      waitForSource(engine, src.name, e)
    }
  }
  if (engine.restoringId === undefined && engine.checkpointing) await engine.checkpoints.checkpoint()
}

/**
 * Starts a source that could not start (a topic that does not exist yet, brokers down) with
 * backoff, while it exists; meanwhile its last_error says why and its views show `waiting`.
 */
export function waitForSource(engine: Engine, name: string, error: unknown): void {
  const first = engine.get(name)
  if (first?.kind !== 'source' || first.driver.waiting) return
  const driver = first.driver
  driver.waiting = true
  driver.lastError = error instanceof Error ? error.message : String(error)
  engine.log('warn', `source ${name} waits for its input, retrying in the background`, { error: driver.lastError })
  void (async () => {
    let backoff = 500
    try {
      for (;;) {
        await new Promise((r) => setTimeout(r, backoff).unref())
        if (engine.closed || engine.get(name) !== first) return
        try {
          await driver.start()
          driver.lastError = undefined
          engine.log('info', `source ${name} started`)
          return
        } catch (e) {
          driver.lastError = e instanceof Error ? e.message : String(e)
          backoff = Math.min(backoff * 2, 10_000)
        }
      }
    } finally {
      driver.waiting = false
    }
  })()
}

export function operatorContext(engine: Engine, owner: string): OperatorContext {
  return {
    owner,
    deadLetter: (letter) => engine.deadLetters.add({ ...letter, object: owner }),
    countLate: (n) => engine.metrics.lateRows.inc({ view: owner }, n),
    countEvalErrors: (n) => engine.metrics.evalErrors.inc({ view: owner }, n),
  }
}

const DROP_KIND_WORD: Record<ObjectKind, string> = {
  source: 'SOURCE',
  table: 'TABLE',
  materialized_view: 'MATERIALIZED VIEW',
  view: 'VIEW',
  sink: 'SINK',
}

/** DROP kind name [CASCADE]; returns the names dropped (dependents first). */
export async function dropObject(
  engine: Engine,
  kind: ObjectKind,
  name: string,
  ifExists: boolean,
  cascade: boolean,
  notices: string[],
): Promise<void> {
  const obj = engine.get(name)
  if (obj === undefined) {
    if (ifExists) {
      notices.push(`${kindLabel(kind)} "${name}" does not exist, skipping`)
      return
    }
    // SQL.md: a missing source, table or view is 42P01 (PostgreSQL's undefined_table).
    const code = kind === 'sink' ? SqlState.undefined_object : SqlState.undefined_table
    throw new SluiceError(code, `${kindLabel(kind)} "${name}" does not exist`)
  }
  if (obj.kind !== kind) {
    throw new SluiceError(
      SqlState.invalid_parameter_value,
      `"${name}" is a ${kindLabel(obj.kind)}, not a ${kindLabel(kind)}`,
      {
        hint: `Use DROP ${DROP_KIND_WORD[obj.kind]} to remove a ${kindLabel(obj.kind)}.`,
      },
    )
  }
  if (obj.dependents.size > 0 && !cascade) {
    throw new SluiceError(
      SqlState.dependent_objects_still_exist,
      `cannot drop ${kindLabel(obj.kind)} ${name} because other objects depend on it`,
      {
        detail: [...obj.dependents].map((d) => `${d} depends on ${name}`).join('\n'),
        hint: 'Use DROP ... CASCADE to drop the dependent objects too.',
      },
    )
  }
  for (const dep of [...obj.dependents]) {
    const d = engine.get(dep)
    if (d !== undefined) {
      notices.push(`drop cascades to ${kindLabel(d.kind)} ${dep}`)
      await dropObject(engine, d.kind, dep, true, true, notices)
    }
  }
  await removeObject(engine, obj)
}

/** Takes an object out of the engine and the catalog (DROP, or a CREATE undone). */
export async function removeObject(engine: Engine, obj: CatalogObject): Promise<void> {
  await dropIndexesOf(engine, obj.name)
  switch (obj.kind) {
    case 'materialized_view':
      await engine.shardHosts.remove(obj.id)
      obj.dataflow.detach()
      for (const op of obj.dataflow.operators()) op.detachStore?.()
      break
    case 'source':
      await obj.driver.stop()
      break
    case 'table':
      await obj.feed?.stop()
      break
    case 'sink':
      await engine.shardHosts.remove(obj.id)
      obj.dataflow.detach()
      for (const op of obj.dataflow.operators()) op.detachStore?.()
      await obj.writer.close()
      break
    case 'view':
      break
  }
  if (obj.kind === 'materialized_view' || obj.kind === 'view' || obj.kind === 'sink') {
    for (const dep of obj.dependsOn) engine.get(dep)?.dependents.delete(obj.name)
  }
  // A source writing dead letters to a table is one of the table's dependents.
  if (obj.kind === 'source')
    for (const o of engine.objects.values()) if (o.kind === 'table') o.dependents.delete(obj.name)
  await engine.unregister(
    obj,
    obj.kind === 'table'
      ? obj.rows.dropWrites()
      : obj.kind === 'materialized_view' || obj.kind === 'sink'
        ? dropStateWrites(obj.id)
        : obj.kind === 'source'
          ? engine.deadLetterOutlets.remove(obj.id)
          : [],
  )
}

function resolveWatermark(
  columns: readonly ColumnSchema[],
  decl: { readonly column: string; readonly delay: number; readonly position?: number } | undefined,
): WatermarkDecl | undefined {
  if (decl === undefined) return undefined
  const column = columns.findIndex((c) => c.name === decl.column)
  if (column < 0)
    throw new SluiceError(SqlState.undefined_column, `column "${decl.column}" named in WATERMARK FOR does not exist`, {
      position: decl.position,
    })
  const t = columns[column].type.kind
  if (t !== 'timestamp' && t !== 'timestamptz') {
    throw new SluiceError(
      SqlState.datatype_mismatch,
      `WATERMARK FOR needs a timestamp column; "${decl.column}" is ${t}`,
      { position: decl.position },
    )
  }
  return { column, delay: decl.delay }
}
