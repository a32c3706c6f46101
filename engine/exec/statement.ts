/**
 * Runs one parsed statement for a session: the dispatch from the statement tree to the binder,
 * the engine's DDL and DML, pull queries and the catalog commands. Statements that change the
 * catalog or tables run under the engine's write lock, one at a time.
 */
import type { ExplainStage, Statement, StatementBody, TypeName, WatermarkClause } from '../sql/tree.ts'
import type { PreparedDescription, ResultColumn, StatementResult } from '../session-api.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { EngineSession } from './session.ts'
import type { CompileContext } from '../expr/compile.ts'
import type { ColumnSchema } from '../connector.ts'
import type { ObjectKind, PlainViewObject } from '../catalog/objects.ts'
import { Binder } from '../plan/binder.ts'
import { optimize } from '../plan/optimize.ts'
import { Scope } from '../plan/scope.ts'
import { binderCatalog } from './catalog-view.ts'
import { runPullQuery } from '../batch/pull-query.ts'
import { parseStatementTimeout } from './interrupt.ts'
import { createMaterializedView, createSource, createTable, dropObject, operatorContext } from './ddl.ts'
import { executeDelete, executeInsert, executeUpdate } from './dml.ts'
import { alterSourceAddColumn } from './alter.ts'
import { createSink, relationKeys } from './sink.ts'
import { parseSql } from '../sql/front-door.ts'
import { parseDurationMicros } from '../sql/duration.ts'
import { describeSubscribe, executeSubscribe } from './subscribe.ts'
import { columnTypes, explainLogical, explainPhysical } from '../plan/explain.ts'
import { describeProperties } from '../plan/properties.ts'
import { lower } from '../plan/physical.ts'
import { inputsOf, isWindowed, type LogicalPlan } from '../plan/logical.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { T, arrayOf } from '../types/datatype.ts'
import { formatTypeName, typeFromName } from '../types/oid.ts'
import { Interval } from '../types/interval.ts'
import { isValidTimeZone } from '../types/zone.ts'
import { evalConst } from '../expr/compile.ts'
import { kindLabel } from '../catalog/objects.ts'
import type { SubqueryRunner } from '../plan/subquery.ts'
import { OUTER_PARAM_BASE } from '../plan/subquery.ts'

export function compileContext(session: EngineSession, params: readonly Value[]): CompileContext {
  return { params, timezone: session.timezone, now: session.engine.now() * 1000 }
}

const text = (name: string): ResultColumn => ({ name, type: T.text })

/** Runs the subqueries of a pull query's expressions, with the statement's parameters and limits. */
function subqueryRunner(session: EngineSession, compile: CompileContext): SubqueryRunner {
  let ops: ReturnType<typeof operatorContext> | undefined
  return (query, outer) => {
    const params: Value[] = [...compile.params]
    outer.forEach((v, i) => (params[OUTER_PARAM_BASE + i] = v))
    ops ??= operatorContext(session.engine, 'select')
    return runPullQuery(query, { ...compile, params }, ops, { interrupt: session.interrupt, maxResultBytes: session.maxResultBytes })
  }
}

export async function executeStatement(session: EngineSession, stmt: Statement, params: readonly Value[]): Promise<StatementResult> {
  const engine = session.engine
  const s: StatementBody = stmt
  switch (s.kind) {
    case 'query': {
      const paramTypes = params.map(() => undefined)
      const compile = compileContext(session, params)
      const binder = new Binder({ catalog: binderCatalog(engine), compile, paramTypes, allowSources: false, subqueries: subqueryRunner(session, compile) })
      const bound = binder.bindQuery(s.query)
      const rows = runPullQuery(bound, compile, operatorContext(engine, 'select'), { interrupt: session.interrupt, maxResultBytes: session.maxResultBytes })
      const width = bound.plan.columns.length - bound.hidden
      return { tag: `SELECT ${rows.length}`, columns: bound.plan.columns.slice(0, width).map((c) => ({ name: c.name, type: c.type })), rows }
    }
    case 'create_source':
      return engine.writeLock.run(async () => {
        if (s.ifNotExists && engine.get(s.name) !== undefined) return { tag: 'CREATE SOURCE', notices: [`source "${s.name}" already exists, skipping`] }
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
        if (s.ifNotExists && engine.get(s.name) !== undefined) return { tag: 'CREATE TABLE', notices: [`relation "${s.name}" already exists, skipping`] }
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
        if (s.ifNotExists && engine.get(s.name) !== undefined) return { tag: 'CREATE MATERIALIZED VIEW', notices: [`relation "${s.name}" already exists, skipping`] }
        engine.checkNameFree(s.name, 'materialized_view')
        const ttlMs = viewTtl(s.options)
        const compile = compileContext(session, [])
        const binder = new Binder({ catalog: binderCatalog(engine), compile, paramTypes: [], allowSources: true })
        const bound = binder.bindQuery(s.query)
        if (bound.limit !== undefined || bound.offset > 0) throw new SluiceError(SqlState.feature_not_supported, 'LIMIT/OFFSET in a materialized view is not supported yet (use ROW_NUMBER() for top-N)')
        let plan = bound.plan
        if (bound.hidden > 0 || s.columnNames !== undefined) {
          const width = plan.columns.length - bound.hidden
          if (s.columnNames !== undefined && s.columnNames.length > width) throw new SluiceError(SqlState.syntax_error, 'too many column names were specified')
          plan = {
            kind: 'project',
            input: plan,
            exprs: plan.columns.slice(0, width).map((c, i) => ({ kind: 'column', index: i, type: c.type })),
            columns: plan.columns.slice(0, width).map((c, i) => ({ name: s.columnNames?.[i] ?? c.name, type: c.type })),
          }
        }
        plan = optimize(plan)
        const notices: string[] = []
        if (isWindowed(plan) && !hasWatermark(plan, s.watermark)) {
          if (s.emit === 'on_window_close') {
            throw new SluiceError(SqlState.feature_not_supported, 'EMIT ON WINDOW CLOSE needs a watermark on the window time column', {
              hint: 'Declare WATERMARK FOR on the source or table, or add a trailing WATERMARK to the view.',
            })
          }
          notices.push('the window time column has no watermark: windows never close and window state is unbounded')
        }
        await createMaterializedView(engine, {
          name: s.name,
          sql: stmt.text,
          plan,
          dependsOn: [...bound.reads],
          emitOnWindowClose: s.emit === 'on_window_close',
          watermarkOverride: s.watermark,
          ttlMs,
          compile,
          notices,
        })
        return { tag: 'CREATE MATERIALIZED VIEW', notices }
      })
    case 'create_view':
      return engine.writeLock.run(async () => {
        const existing = engine.get(s.name)
        if (existing !== undefined && !(s.orReplace && existing.kind === 'view')) engine.checkNameFree(s.name, 'view')
        const compile = compileContext(session, [])
        const binder = new Binder({ catalog: binderCatalog(engine), compile, paramTypes: [], allowSources: true })
        const bound = binder.bindQuery(s.query)
        const view: PlainViewObject = {
          kind: 'view',
          id: engine.allocateId(),
          name: s.name,
          sql: stmt.text,
          columns: bound.plan.columns.filter((c) => !c.hidden).map((c, i) => ({ name: s.columnNames?.[i] ?? c.name, type: c.type })),
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
        let query = s.query
        let emitOnWindowClose = false
        if (s.from !== undefined) {
          const from = engine.get(s.from)
          if (from === undefined || from.kind === 'sink') throw new SluiceError(SqlState.undefined_table, `relation "${s.from}" does not exist`)
          if (from.kind === 'materialized_view') emitOnWindowClose = from.emitOnWindowClose
          const [parsed] = await parseSql(`SELECT * FROM "${s.from.replaceAll('"', '""')}"`)
          if (parsed.kind !== 'query') throw new SluiceError(SqlState.internal_error, 'could not read the sink\'s relation', { domain: 'internal' })
          query = parsed.query
        }
        if (query === undefined) throw new SluiceError(SqlState.syntax_error, 'CREATE SINK needs FROM <relation> or AS <query>')
        const compile = compileContext(session, [])
        const binder = new Binder({ catalog: binderCatalog(engine), compile, paramTypes: [], allowSources: true })
        const bound = binder.bindQuery(query)
        if (bound.limit !== undefined || bound.offset > 0) throw new SluiceError(SqlState.feature_not_supported, 'LIMIT/OFFSET in a sink query is not supported (use ROW_NUMBER() for top-N)')
        let plan = bound.plan
        if (bound.hidden > 0) {
          const width = plan.columns.length - bound.hidden
          plan = {
            kind: 'project',
            input: plan,
            exprs: plan.columns.slice(0, width).map((c, i) => ({ kind: 'column', index: i, type: c.type })),
            columns: plan.columns.slice(0, width),
          }
        }
        await createSink(engine, { name: s.name, sql: stmt.text, plan: optimize(plan), dependsOn: [...bound.reads], options: s.options, compile, emitOnWindowClose })
        return { tag: 'CREATE SINK' }
      })
    case 'insert':
      return engine.writeLock.run(() => executeInsert(session, s, params))
    case 'update':
      return engine.writeLock.run(() => executeUpdate(session, s, params))
    case 'delete':
      return engine.writeLock.run(() => executeDelete(session, s, params))
    case 'drop':
      return engine.writeLock.run(async () => {
        const notices: string[] = []
        for (const name of s.names) await dropObject(engine, s.objectKind, name, s.ifExists, s.cascade, notices)
        return { tag: `DROP ${dropWord(s.objectKind)}`, notices }
      })
    case 'show_objects': {
      const kind = s.objectKind
      const objs = [...engine.objects.values()].filter((o) => o.kind === kind).sort((a, b) => a.name.localeCompare(b.name))
      if (kind === 'source') {
        const sources = objs.filter((o) => o.kind === 'source')
        return { tag: 'SHOW', columns: [text('name'), text('connector')], rows: sources.map((o) => [o.name, o.kind === 'source' ? o.connector : null]) }
      }
      return { tag: 'SHOW', columns: [text('name')], rows: objs.map((o) => [o.name]) }
    }
    case 'show_create': {
      const obj = engine.get(s.name)
      if (obj === undefined || obj.kind !== s.objectKind) {
        throw new SluiceError(s.objectKind === 'sink' ? SqlState.undefined_object : SqlState.undefined_table, `${kindLabel(s.objectKind)} "${s.name}" does not exist`)
      }
      return { tag: 'SHOW', columns: [text('name'), text('create_sql')], rows: [[obj.name, obj.sql]] }
    }
    case 'show_setting': {
      if (s.name === 'all') {
        return { tag: 'SHOW', columns: [text('name'), text('setting')], rows: [...session.settings].map(([k, v]) => [k, v]) }
      }
      const value = session.setting(s.name)
      if (value === undefined) throw new SluiceError(SqlState.undefined_object, `unrecognized configuration parameter "${s.name}"`)
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
      if (obj === undefined) throw new SluiceError(SqlState.undefined_table, `relation "${s.name}" does not exist`, { position: s.position })
      const pk = obj.kind === 'table' ? (obj.primaryKey ?? []) : []
      const wm = obj.kind === 'source' || obj.kind === 'table' ? obj.watermark : undefined
      return {
        tag: 'DESCRIBE',
        columns: [text('name'), text('type'), { name: 'is_primary_key', type: T.bool }, text('watermark')],
        rows: obj.columns.map((c, i) => [c.name, c.display ?? formatTypeName(c.type), pk.includes(i), wm?.column === i ? `${c.name} - ${describeMicros(wm.delay)}` : null]),
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
  }
}

export async function describeStatement(session: EngineSession, stmt: Statement, paramHints: readonly (DataType | undefined)[]): Promise<PreparedDescription> {
  const paramTypes: (DataType | undefined)[] = [...paramHints]
  const count = countParams(stmt.text)
  while (paramTypes.length < count) paramTypes.push(undefined)
  const compile = compileContext(session, paramTypes.map(() => null))
  let columns: ResultColumn[] | undefined
  if (stmt.kind === 'query') {
    const binder = new Binder({ catalog: binderCatalog(session.engine), compile, paramTypes, allowSources: false, subqueries: subqueryRunner(session, compile) })
    const bound = binder.bindQuery(stmt.query)
    columns = bound.plan.columns.slice(0, bound.plan.columns.length - bound.hidden).map((c) => ({ name: c.name, type: c.type }))
  } else if (stmt.kind === 'show_objects' || stmt.kind === 'show_create' || stmt.kind === 'show_setting' || stmt.kind === 'describe' || stmt.kind === 'explain') {
    // Their shape is cheap to learn by running them: they change nothing.
    const result = await executeStatement(session, stmt, paramTypes.map(() => null))
    columns = result.columns === undefined ? undefined : [...result.columns]
  } else if (stmt.kind === 'insert' || stmt.kind === 'update' || stmt.kind === 'delete') {
    inferDmlParams(session, stmt, paramTypes)
  } else if (stmt.kind === 'subscribe') {
    columns = describeSubscribe(session, stmt.name, stmt.query)
  }
  return { paramTypes: paramTypes.map((t) => t ?? T.text), columns }
}

function inferDmlParams(session: EngineSession, stmt: Extract<StatementBody, { kind: 'insert' | 'update' | 'delete' }>, paramTypes: (DataType | undefined)[]): void {
  const table = session.engine.get(stmt.table)
  if (table === undefined || stmt.kind !== 'insert' || stmt.source.kind !== 'values') return
  const targets = stmt.columns ?? table.columns.map((c) => c.name)
  for (const row of stmt.source.rows) {
    row.forEach((e, i) => {
      const column = table.columns.find((c) => c.name === targets[i])
      if (e.kind === 'param' && column !== undefined && paramTypes[e.index - 1] === undefined) paramTypes[e.index - 1] = column.type
    })
  }
}

function countParams(sqlText: string): number {
  let max = 0
  for (const m of sqlText.matchAll(/\$(\d+)/g)) max = Math.max(max, Number(m[1]))
  return max
}

/** A materialized view's WITH options: only `ttl` (ms, at least a second). */
function viewTtl(options: ReadonlyMap<string, string>): number | undefined {
  let ttlMs: number | undefined
  for (const [key, value] of options) {
    if (key !== 'ttl') throw new SluiceError(SqlState.invalid_parameter_value, `unknown option "${key}" for a materialized view`, { hint: 'known options: ttl' })
    ttlMs = parseDurationMicros(value) / 1000
    if (!(ttlMs >= 1000)) throw new SluiceError(SqlState.invalid_parameter_value, `invalid value "${value}" for option "ttl": at least one second`)
  }
  return ttlMs
}

async function explain(session: EngineSession, stmt: Statement, stage: ExplainStage): Promise<StatementResult> {
  const engine = session.engine
  const compile = compileContext(session, [])
  let query
  let override: number | undefined
  let emitOnWindowClose = false
  let ttlMs: number | undefined
  if (stmt.kind === 'query') query = stmt.query
  else if (stmt.kind === 'create_materialized_view') {
    query = stmt.query
    override = stmt.watermark
    ttlMs = viewTtl(stmt.options)
    emitOnWindowClose = stmt.emit === 'on_window_close'
  } else throw new SluiceError(SqlState.feature_not_supported, 'EXPLAIN works on SELECT and CREATE MATERIALIZED VIEW')
  const binder = new Binder({ catalog: binderCatalog(engine), compile, paramTypes: [], allowSources: stmt.kind !== 'query' })
  const bound = binder.bindQuery(query).plan
  const optimized = optimize(bound)
  const lines: string[] = []
  if (stage === 'bound') lines.push('Bound plan (output columns of each node):', ...explainLogical(bound, columnTypes))
  if (stage === 'logical') lines.push('Logical plan:', ...explainLogical(bound))
  if (stage === 'optimized') lines.push('Optimized plan:', ...explainLogical(optimized))
  if (stage === 'stream' || stage === 'all') {
    const keys = relationKeys(engine)
    lines.push('Stream plan:', ...explainLogical(optimized, (p) => describeProperties(p, keys)))
  }
  if (stage === 'physical' || stage === 'all') {
    const physical = lower(optimized, { compile, ops: operatorContext(engine, 'explain'), watermarkOverride: override, emitOnWindowClose, ttlMs })
    lines.push('Operator graph:', ...explainPhysical(physical))
  }
  return { tag: 'EXPLAIN', columns: [text('QUERY PLAN')], rows: lines.map((l) => [l]) }
}

const DECLARED: Record<string, string> = { varchar: 'character varying', 'character varying': 'character varying', bpchar: 'character', char: 'character', character: 'character' }

function columnSchema(name: string, t: TypeName): ColumnSchema {
  const type = columnType(t)
  const declared = DECLARED[t.name]
  return declared === undefined ? { name, type } : { name, type, display: t.array ? `${declared}[]` : declared }
}

function columnType(t: TypeName): DataType {
  const base = typeFromName(t.name)
  if (base === undefined) throw new SluiceError(SqlState.undefined_object, `type "${t.name}" does not exist`, { position: t.position })
  return t.array ? arrayOf(base) : base
}

/** `WATERMARK FOR ts AS ts - INTERVAL '5 seconds'` → the column and a delay in µs. */
function watermarkDelay(session: EngineSession, w: WatermarkClause): { column: string; delay: number; position: number } {
  const e = w.expr
  const bad = (): SluiceError =>
    new SluiceError(SqlState.feature_not_supported, `WATERMARK FOR ${w.column} must be "${w.column}" or "${w.column} - INTERVAL '...'"`, { position: w.position })
  if (e.kind === 'column') {
    if (e.name !== w.column) throw bad()
    return { column: w.column, delay: 0, position: w.position }
  }
  if (e.kind !== 'op' || e.op !== '-' || e.args.length !== 2 || e.args[0].kind !== 'column' || e.args[0].name !== w.column) throw bad()
  const binder = new Binder({ catalog: binderCatalog(session.engine), compile: compileContext(session, []), paramTypes: [], allowSources: false })
  const bound = binder.coerce(binder.bindExpr(e.args[1], { scope: new Scope([]), agg: undefined }), T.interval, e.position)
  const iv = evalConst(bound, compileContext(session, []))
  if (!(iv instanceof Interval) || iv.months !== 0) throw bad()
  const delay = iv.days * 86_400_000_000 + iv.micros
  if (delay < 0) throw new SluiceError(SqlState.invalid_parameter_value, 'a watermark delay cannot be negative', { position: w.position })
  return { column: w.column, delay, position: w.position }
}

function hasWatermark(plan: LogicalPlan, override: number | undefined): boolean {
  if (override !== undefined) return true
  switch (plan.kind) {
    case 'scan':
      return plan.relation.watermarkDelays.size > 0 || plan.relation.kind === 'materialized_view'
    default:
      return inputsOf(plan).length > 0 && inputsOf(plan).every((p) => hasWatermark(p, undefined))
  }
}

function applySetting(session: EngineSession, name: string, value: string | undefined): void {
  const key = name.toLowerCase()
  const readOnly = new Set(['server_version', 'server_version_num', 'server_encoding', 'integer_datetimes', 'max_identifier_length', 'is_superuser'])
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
  if (key === 'timezone') {
    const tz = value.toLowerCase() === 'local' ? 'UTC' : value
    if (!isValidTimeZone(tz)) throw new SluiceError(SqlState.invalid_parameter_value, `invalid value for parameter "TimeZone": "${value}"`)
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
