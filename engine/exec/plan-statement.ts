/**
 * Plans a statement's query through the one pipeline (engine/plan/pipeline.ts) with a session's
 * catalog, parameters and limits. Running a statement and EXPLAIN of it both call
 * `planStatement`, so EXPLAIN shows the plan the statement runs, wrappers included.
 */
import type { Options, Query, StatementBody } from '../sql/tree.ts'
import type { CompileContext } from '../expr/compile.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { EngineSession } from './session.ts'
import type { PlannedQuery, PlanningContext, Target } from '../plan/pipeline.ts'
import type { SubqueryRunner } from '../plan/subquery.ts'
import { planQuery } from '../plan/pipeline.ts'
import { OUTER_PARAM_BASE } from '../plan/subquery.ts'
import { binderCatalog } from './catalog-view.ts'
import { operatorContext } from './ddl.ts'
import { runPullQuery } from '../batch/pull-query.ts'
import { parseSql } from '../sql/front-door.ts'
import { parseDurationMicros } from '../sql/duration.ts'
import { SluiceError, SqlState } from '../errors.ts'

export function compileContext(session: EngineSession, params: readonly Value[]): CompileContext {
  return { params, timezone: session.timezone, now: session.engine.now() * 1000 }
}

/** Runs the subqueries of a pull query's expressions, with the statement's parameters and limits. */
function subqueryRunner(session: EngineSession, compile: CompileContext): SubqueryRunner {
  let ops: ReturnType<typeof operatorContext> | undefined
  return (query, outer) => {
    const params: Value[] = [...compile.params]
    outer.forEach((v, i) => (params[OUTER_PARAM_BASE + i] = v))
    ops ??= operatorContext(session.engine, 'select')
    return runPullQuery(query, { ...compile, params }, ops, {
      interrupt: session.interrupt,
      maxResultBytes: session.maxResultBytes,
      budget: session.budget,
    })
  }
}

/**
 * The session's planning context: its catalog, a compile context over `params`, and (for pull
 * queries) a runner for subqueries inside expressions. `paramTypes` is filled in by binding.
 */
export function planningContext(
  session: EngineSession,
  params: readonly Value[],
  paramTypes: (DataType | undefined)[] = params.map(() => undefined),
): PlanningContext {
  const compile = compileContext(session, params)
  return {
    catalog: binderCatalog(session.engine),
    compile,
    paramTypes,
    subqueries: subqueryRunner(session, compile),
  }
}

/** A statement that runs a query, and what it does with the rows. */
export type QueryStatement = Extract<
  StatementBody,
  { kind: 'query' | 'create_materialized_view' | 'create_sink' | 'subscribe' }
>

export function isQueryStatement(stmt: StatementBody): stmt is QueryStatement {
  return (
    stmt.kind === 'query' ||
    stmt.kind === 'create_materialized_view' ||
    stmt.kind === 'create_sink' ||
    (stmt.kind === 'subscribe' && stmt.query !== undefined)
  )
}

/** bind → shape → rewrite of the statement's query, for its target. */
export async function planStatement(
  session: EngineSession,
  stmt: QueryStatement,
  params: readonly Value[] = [],
): Promise<PlannedQuery> {
  const ctx = planningContext(session, params)
  const { query, target } = await queryAndTarget(session, stmt)
  return planQuery(query, ctx, target)
}

async function queryAndTarget(
  session: EngineSession,
  stmt: QueryStatement,
): Promise<{ readonly query: Query; readonly target: Target }> {
  switch (stmt.kind) {
    case 'query':
      return { query: stmt.query, target: { kind: 'select' } }
    case 'create_materialized_view':
      return { query: stmt.query, target: viewTarget(stmt) }
    case 'subscribe':
      if (stmt.query === undefined)
        throw new SluiceError(SqlState.internal_error, 'a SUBSCRIBE to a relation has no query to plan', {
          domain: 'internal',
        })
      return { query: stmt.query, target: { kind: 'subscribe' } }
    case 'create_sink': {
      let query = stmt.query
      let emitOnWindowClose = false
      if (stmt.from !== undefined) {
        const from = session.engine.get(stmt.from)
        if (from === undefined || from.kind === 'sink')
          throw new SluiceError(SqlState.undefined_table, `relation "${stmt.from}" does not exist`)
        if (from.kind === 'materialized_view') emitOnWindowClose = from.emitOnWindowClose
        const [parsed] = await parseSql(`SELECT * FROM "${stmt.from.replaceAll('"', '""')}"`)
        if (parsed.kind !== 'query')
          throw new SluiceError(SqlState.internal_error, "could not read the sink's relation", { domain: 'internal' })
        query = parsed.query
      }
      if (query === undefined)
        throw new SluiceError(SqlState.syntax_error, 'CREATE SINK needs FROM <relation> or AS <query>')
      const connector = (stmt.options.get('connector') ?? '').toLowerCase()
      return { query, target: { kind: 'sink', name: stmt.name, connector, emitOnWindowClose } }
    }
  }
}

/** What CREATE MATERIALIZED VIEW plans its query for (also a shard's, engine/shard/shard.ts). */
export function viewTarget(stmt: Extract<StatementBody, { kind: 'create_materialized_view' }>): Target {
  return {
    kind: 'materialized_view',
    name: stmt.name,
    columnNames: stmt.columnNames,
    emitOnWindowClose: stmt.emit === 'on_window_close',
    watermarkOverride: stmt.watermark,
    ttlMs: viewTtl(stmt.options),
  }
}

/** A materialized view's WITH options: only `ttl` (ms, at least a second). */
export function viewTtl(options: Options): number | undefined {
  let ttlMs: number | undefined
  for (const [key, value] of options) {
    if (key !== 'ttl')
      throw new SluiceError(SqlState.invalid_parameter_value, `unknown option "${key}" for a materialized view`, {
        hint: 'known options: ttl',
      })
    ttlMs = parseDurationMicros(value) / 1000
    if (!(ttlMs >= 1000))
      throw new SluiceError(
        SqlState.invalid_parameter_value,
        `invalid value "${value}" for option "ttl": at least one second`,
      )
  }
  return ttlMs
}
