/**
 * Runs one parsed statement for a session: the dispatch from the statement tree to the binder,
 * the engine's DDL and DML, pull queries and the catalog commands. Statements that change the
 * catalog or tables run under the engine's write lock, one at a time.
 */
import type { ExplainStage, Statement, StatementBody, TypeName, WatermarkClause } from '../sql/tree.ts'
import type { PreparedDescription, ResultColumn, StatementResult } from '../session-api.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { EngineSession } from './session.ts'
import type { ColumnSchema } from '../connector.ts'
import type { ObjectKind, PlainViewObject } from '../catalog/objects.ts'
import { Binder } from '../plan/binder.ts'
import { Scope } from '../plan/scope.ts'
import { binderCatalog } from './catalog-view.ts'
import { runPullQueryAsync } from '../batch/pull-query.ts'
import { bind, explainPlanned, streamLowering } from '../plan/pipeline.ts'
import { compileContext, isQueryStatement, planStatement, planningContext } from './plan-statement.ts'
import { parseStatementTimeout } from './interrupt.ts'
import { formatBytes, parseMemorySetting } from '../batch/budget.ts'
import { createSource, createTable, dropObject, operatorContext } from './ddl.ts'
import { createMaterializedView } from './create-view.ts'
import { explainSharding } from '../shard/sharded-view.ts'
import { executeDelete, executeInsert, executeUpdate } from './dml.ts'
import { alterSourceAddColumn } from './alter.ts'
import { createSink, relationKeys } from './sink.ts'
import { describeSubscribe, executeSubscribe } from './subscribe.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { T, arrayOf } from '../types/datatype.ts'
import { typeFromName } from '../types/oid.ts'
import { formatType, typeModOf } from '../types/typmod.ts'
import { createIndex, dropIndexes } from './index-ddl.ts'
import { Interval } from '../types/interval.ts'
import { isValidTimeZone } from '../types/zone.ts'
import { evalConst } from '../expr/compile.ts'
import { kindLabel } from '../catalog/objects.ts'
import { executeRoleStatement } from './roles.ts'
import { redactSql } from '../catalog/redact.ts'

export { compileContext }

const text = (name: string): ResultColumn => ({ name, type: T.text })

export async function executeStatement(
  session: EngineSession,
  stmt: Statement,
  params: readonly Value[],
): Promise<StatementResult> {
  const engine = session.engine
  const s: StatementBody = stmt
  switch (s.kind) {
    case 'query': {
      const planned = await planStatement(session, s, params)
      const bound = planned.bound
      // At most engine.queryGate's limit of queries compute at once; the others queue (admission.ts).
      const rows = await engine.queryGate.run(session.interrupt, () =>
        runPullQueryAsync({ ...bound, batchPlan: planned.plan }, planned.compile, operatorContext(engine, 'select'), {
          interrupt: session.interrupt,
          maxResultBytes: session.maxResultBytes,
          budget: session.budget,
        }),
      )
      const width = bound.plan.columns.length - bound.hidden
      return {
        tag: `SELECT ${rows.length}`,
        columns: bound.plan.columns.slice(0, width).map((c) => ({ name: c.name, type: c.type, typmod: c.typmod })),
        rows,
      }
    }
    case 'create_source':
      return engine.writeLock.run(async () => {
        if (s.ifNotExists && engine.get(s.name) !== undefined)
          return { tag: 'CREATE SOURCE', notices: [`source "${s.name}" already exists, skipping`] }
        await createSource(engine, {
          name: s.name,
          sql: stmt.text,
          columns: s.columns?.map((c) => columnSchema(c.name, c.type)),
          watermark: s.watermark === undefined ? undefined : watermarkDelay(session, s.watermark),
          options: s.options,
          includes: s.includes,
        })
        return { tag: 'CREATE SOURCE' }
      })
    case 'create_table':
      return engine.writeLock.run(async () => {
        if (s.ifNotExists && engine.get(s.name) !== undefined)
          return { tag: 'CREATE TABLE', notices: [`relation "${s.name}" already exists, skipping`] }
        await createTable(engine, {
          name: s.name,
          sql: stmt.text,
          columns: s.columns.map((c) => columnSchema(c.name, c.type)),
          primaryKey: s.primaryKey,
          appendOnly: s.appendOnly,
          watermark: s.watermark === undefined ? undefined : watermarkDelay(session, s.watermark),
          options: s.options,
        })
        return { tag: 'CREATE TABLE' }
      })
    case 'create_materialized_view':
      return engine.writeLock.run(async () => {
        if (s.ifNotExists && engine.get(s.name) !== undefined)
          return { tag: 'CREATE MATERIALIZED VIEW', notices: [`relation "${s.name}" already exists, skipping`] }
        engine.checkNameFree(s.name, 'materialized_view')
        const planned = await planStatement(session, s)
        const notices = [...planned.notices]
        await createMaterializedView(engine, {
          ...streamLowering(planned),
          name: s.name,
          sql: stmt.text,
          dependsOn: [...planned.bound.reads],
          notices,
          interrupt: session.interrupt,
        })
        return { tag: 'CREATE MATERIALIZED VIEW', notices }
      })
    case 'create_view':
      return engine.writeLock.run(async () => {
        const existing = engine.get(s.name)
        if (existing !== undefined && !(s.orReplace && existing.kind === 'view')) engine.checkNameFree(s.name, 'view')
        // Bound to check it and learn its columns; each query reading the view binds it inlined.
        const bound = bind(s.query, { ...planningContext(session, []), subqueries: undefined }, true)
        const view: PlainViewObject = {
          kind: 'view',
          id: engine.allocateId(),
          name: s.name,
          sql: stmt.text,
          columns: bound.plan.columns
            .filter((c) => !c.hidden)
            .map((c, i) => ({ name: s.columnNames?.[i] ?? c.name, type: c.type, typmod: c.typmod })),
          dependents: new Set(),
          dependsOn: [...bound.reads],
          query: s.query,
        }
        for (const dep of view.dependsOn) engine.get(dep)?.dependents.add(s.name)
        await engine.register(view)
        return { tag: 'CREATE VIEW' }
      })
    case 'create_sink':
      return engine.writeLock.run(async () => {
        engine.checkNameFree(s.name, 'sink')
        const planned = await planStatement(session, s)
        if (planned.target.kind !== 'sink')
          throw new SluiceError(SqlState.internal_error, 'a sink planned for another target', { domain: 'internal' })
        await createSink(engine, {
          name: s.name,
          sql: stmt.text,
          plan: planned.plan,
          dependsOn: [...planned.bound.reads],
          options: s.options,
          compile: planned.compile,
          emitOnWindowClose: planned.target.emitOnWindowClose,
        })
        return { tag: 'CREATE SINK' }
      })
    case 'insert':
      return engine.writeLock.run(() => executeInsert(session, s, params))
    case 'update':
      return engine.writeLock.run(() => executeUpdate(session, s, params))
    case 'delete':
      return engine.writeLock.run(() => executeDelete(session, s, params))
    case 'create_index':
      return engine.writeLock.run(() => createIndex(engine, s, stmt.text))
    case 'drop_index':
      return engine.writeLock.run(() => dropIndexes(engine, s))
    case 'drop':
      return engine.writeLock.run(async () => {
        const notices: string[] = []
        for (const name of s.names) await dropObject(engine, s.objectKind, name, s.ifExists, s.cascade, notices)
        return { tag: `DROP ${dropWord(s.objectKind)}`, notices }
      })
    case 'show_objects': {
      const kind = s.objectKind
      const objs = [...engine.objects.values()]
        .filter((o) => o.kind === kind)
        .sort((a, b) => a.name.localeCompare(b.name))
      if (kind === 'source') {
        const sources = objs.filter((o) => o.kind === 'source')
        return {
          tag: 'SHOW',
          columns: [text('name'), text('connector')],
          rows: sources.map((o) => [o.name, o.kind === 'source' ? o.connector : null]),
        }
      }
      return { tag: 'SHOW', columns: [text('name')], rows: objs.map((o) => [o.name]) }
    }
    case 'show_create': {
      const obj = engine.get(s.name)
      if (obj === undefined || obj.kind !== s.objectKind) {
        throw new SluiceError(
          s.objectKind === 'sink' ? SqlState.undefined_object : SqlState.undefined_table,
          `${kindLabel(s.objectKind)} "${s.name}" does not exist`,
        )
      }
      return { tag: 'SHOW', columns: [text('name'), text('create_sql')], rows: [[obj.name, redactSql(obj.sql)]] }
    }
    case 'show_setting': {
      if (s.name === 'all') {
        return {
          tag: 'SHOW',
          columns: [text('name'), text('setting')],
          rows: [...session.settings].map(([k, v]) => [k, v]),
        }
      }
      const value = session.setting(s.name)
      if (value === undefined)
        throw new SluiceError(SqlState.undefined_object, `unrecognized configuration parameter "${s.name}"`)
      return { tag: 'SHOW', columns: [text(s.name)], rows: [[value]] }
    }
    case 'set':
      applySetting(session, s.name, s.value)
      return { tag: 'SET' }
    case 'reset_all':
      for (const key of [...session.settings.keys()]) applySetting(session, key, undefined)
      return { tag: 'RESET' }
    case 'describe': {
      const obj = engine.get(s.name)
      if (obj === undefined)
        throw new SluiceError(SqlState.undefined_table, `relation "${s.name}" does not exist`, { position: s.position })
      const pk = obj.kind === 'table' ? (obj.primaryKey ?? []) : []
      const wm = obj.kind === 'source' || obj.kind === 'table' ? obj.watermark : undefined
      return {
        tag: 'DESCRIBE',
        columns: [text('name'), text('type'), { name: 'is_primary_key', type: T.bool }, text('watermark')],
        rows: obj.columns.map((c, i) => [
          c.name,
          formatType(c.type, c.typmod),
          pk.includes(i),
          wm?.column === i ? `${c.name} - ${describeMicros(wm.delay)}` : null,
        ]),
      }
    }
    case 'flush': {
      // statement_timeout and cancel requests end the wait (57014); the flush itself stops by then too.
      const { promise, dispose } = session.interrupt.whenInterrupted()
      try {
        await Promise.race([engine.writeLock.run(() => engine.flush(session.interrupt.remainingMs())), promise])
      } finally {
        dispose()
      }
      return { tag: 'FLUSH' }
    }
    case 'subscribe':
      return executeSubscribe(session, s.name, s.query, s.options)
    case 'explain':
      return explain(session, s.statement, s.stage)
    case 'transaction':
      if (s.action === 'begin') {
        if (session.inTransaction) return { tag: 'BEGIN', notices: ['there is already a transaction in progress'] }
        session.inTransaction = true
        return { tag: 'BEGIN' }
      }
      if (!session.inTransaction) {
        session.inTransaction = false
        return { tag: s.action === 'commit' ? 'COMMIT' : 'ROLLBACK', notices: ['there is no transaction in progress'] }
      }
      session.inTransaction = false
      return { tag: s.action === 'commit' ? 'COMMIT' : 'ROLLBACK' }
    case 'alter_source_add_column':
      return engine.writeLock.run(async () => {
        await alterSourceAddColumn(engine, s.source, s.column, columnSchema(s.column.name, s.column.type), stmt.text)
        return { tag: 'ALTER SOURCE' }
      })
    case 'noop':
      return { tag: s.tag }
    case 'create_role':
    case 'alter_role':
    case 'drop_role':
    case 'grant':
    case 'create_secret':
    case 'drop_secret':
    case 'create_token':
    case 'drop_token':
      return executeRoleStatement(session, s)
  }
}

export async function describeStatement(
  session: EngineSession,
  stmt: Statement,
  paramHints: readonly (DataType | undefined)[],
): Promise<PreparedDescription> {
  const paramTypes: (DataType | undefined)[] = [...paramHints]
  const count = countParams(stmt.text)
  while (paramTypes.length < count) paramTypes.push(undefined)
  const compile = compileContext(
    session,
    paramTypes.map(() => null),
  )
  let columns: ResultColumn[] | undefined
  if (stmt.kind === 'query') {
    const bound = bind(stmt.query, planningContext(session, compile.params, paramTypes), false)
    columns = bound.plan.columns
      .slice(0, bound.plan.columns.length - bound.hidden)
      .map((c) => ({ name: c.name, type: c.type, typmod: c.typmod }))
  } else if (
    stmt.kind === 'show_objects' ||
    stmt.kind === 'show_create' ||
    stmt.kind === 'show_setting' ||
    stmt.kind === 'describe' ||
    stmt.kind === 'explain'
  ) {
    // Their shape is cheap to learn by running them: they change nothing.
    const result = await executeStatement(
      session,
      stmt,
      paramTypes.map(() => null),
    )
    columns = result.columns === undefined ? undefined : [...result.columns]
  } else if (stmt.kind === 'insert' || stmt.kind === 'update' || stmt.kind === 'delete') {
    inferDmlParams(session, stmt, paramTypes)
  } else if (stmt.kind === 'subscribe') {
    columns = describeSubscribe(session, stmt.name, stmt.query)
  }
  return { paramTypes: paramTypes.map((t) => t ?? T.text), columns }
}

function inferDmlParams(
  session: EngineSession,
  stmt: Extract<StatementBody, { kind: 'insert' | 'update' | 'delete' }>,
  paramTypes: (DataType | undefined)[],
): void {
  const table = session.engine.get(stmt.table)
  if (table === undefined || stmt.kind !== 'insert' || stmt.source.kind !== 'values') return
  const targets = stmt.columns ?? table.columns.map((c) => c.name)
  for (const row of stmt.source.rows) {
    row.forEach((e, i) => {
      const column = table.columns.find((c) => c.name === targets[i])
      if (e.kind === 'param' && column !== undefined && paramTypes[e.index - 1] === undefined)
        paramTypes[e.index - 1] = column.type
    })
  }
}

function countParams(sqlText: string): number {
  let max = 0
  for (const m of sqlText.matchAll(/\$(\d+)/g)) max = Math.max(max, Number(m[1]))
  return max
}

/** EXPLAIN: the statement planned exactly as running it would plan it (plan-statement.ts). */
async function explain(session: EngineSession, stmt: Statement, stage: ExplainStage): Promise<StatementResult> {
  const engine = session.engine
  const result = (lines: readonly string[]): StatementResult => ({
    tag: 'EXPLAIN',
    columns: [text('QUERY PLAN')],
    rows: lines.map((l) => [l]),
  })
  if (stmt.kind === 'subscribe' && stmt.name !== undefined) {
    engine.relation(stmt.name) // 42P01 when it does not exist
    return result([`Subscribe ${stmt.name} (change log of the relation)`])
  }
  if (!isQueryStatement(stmt))
    throw new SluiceError(
      SqlState.feature_not_supported,
      'EXPLAIN works on SELECT, CREATE MATERIALIZED VIEW, CREATE SINK and SUBSCRIBE',
    )
  const planned = await planStatement(session, stmt)
  const sharding =
    stmt.kind === 'create_materialized_view'
      ? explainSharding(engine, {
          ...streamLowering(planned),
          name: stmt.name,
          sql: stmt.text,
          fuseWindows: engine.fuseWindows(),
        })
      : undefined
  return result(
    explainPlanned(planned, stage, { keys: relationKeys(engine), ops: operatorContext(engine, 'explain'), sharding }),
  )
}

function columnSchema(name: string, t: TypeName): ColumnSchema {
  const type = columnType(t)
  const typmod = typeModOf(t.name, t.mods ?? [], t.position)
  return typmod === undefined ? { name, type } : { name, type, typmod }
}

function columnType(t: TypeName): DataType {
  const base = typeFromName(t.name)
  if (base === undefined)
    throw new SluiceError(SqlState.undefined_object, `type "${t.name}" does not exist`, { position: t.position })
  return t.array ? arrayOf(base) : base
}

/** `WATERMARK FOR ts AS ts - INTERVAL '5 seconds'` → the column and a delay in µs. */
function watermarkDelay(
  session: EngineSession,
  w: WatermarkClause,
): { column: string; delay: number; position: number } {
  const e = w.expr
  const bad = (): SluiceError =>
    new SluiceError(
      SqlState.feature_not_supported,
      `WATERMARK FOR ${w.column} must be "${w.column}" or "${w.column} - INTERVAL '...'"`,
      { position: w.position },
    )
  if (e.kind === 'column') {
    if (e.name !== w.column) throw bad()
    return { column: w.column, delay: 0, position: w.position }
  }
  if (
    e.kind !== 'op' ||
    e.op !== '-' ||
    e.args.length !== 2 ||
    e.args[0].kind !== 'column' ||
    e.args[0].name !== w.column
  )
    throw bad()
  const binder = new Binder({
    catalog: binderCatalog(session.engine),
    compile: compileContext(session, []),
    paramTypes: [],
    allowSources: false,
  })
  const bound = binder.coerce(
    binder.bindExpr(e.args[1], { scope: new Scope([]), agg: undefined }),
    T.interval,
    e.position,
  )
  const iv = evalConst(bound, compileContext(session, []))
  if (!(iv instanceof Interval) || iv.months !== 0) throw bad()
  const delay = iv.days * 86_400_000_000 + iv.micros
  if (delay < 0)
    throw new SluiceError(SqlState.invalid_parameter_value, 'a watermark delay cannot be negative', {
      position: w.position,
    })
  return { column: w.column, delay, position: w.position }
}

function applySetting(session: EngineSession, name: string, value: string | undefined): void {
  const key = name.toLowerCase()
  const readOnly = new Set([
    'server_version',
    'server_version_num',
    'server_encoding',
    'integer_datetimes',
    'max_identifier_length',
    'is_superuser',
  ])
  if (readOnly.has(key)) {
    if (value === undefined) return
    throw new SluiceError(SqlState.invalid_parameter_value, `parameter "${key}" cannot be changed`)
  }
  if (value === undefined) {
    const fresh = new (session.constructor as new (e: unknown, o: unknown) => EngineSession)(session.engine, {})
    const def = fresh.settings.get(key)
    if (def === undefined) session.settings.delete(key)
    else session.settings.set(key, def)
    return
  }
  if (key === 'statement_timeout') parseStatementTimeout(value)
  if (key === 'max_statement_bytes' || key === 'query_memory_limit') {
    session.settings.set(key, formatBytes(parseMemorySetting(key, value)))
    return
  }
  if (key === 'timezone') {
    const tz = value.toLowerCase() === 'local' ? 'UTC' : value
    if (!isValidTimeZone(tz))
      throw new SluiceError(SqlState.invalid_parameter_value, `invalid value for parameter "TimeZone": "${value}"`)
    session.settings.set('timezone', tz)
    return
  }
  session.settings.set(key, value)
}

function describeMicros(us: number): string {
  return us % 1e6 === 0 ? `${us / 1e6}s` : `${us / 1e3}ms`
}

function dropWord(kind: ObjectKind): string {
  return kind === 'materialized_view' ? 'MATERIALIZED VIEW' : kind.toUpperCase()
}

export type { ColumnSchema }
