/**
 * The one planning pipeline. Every query a statement runs — a pull query (SELECT, INSERT ...
 * SELECT, a subquery inside an expression), a materialized view, a sink, a SUBSCRIBE — goes
 * through the same steps, and EXPLAIN of each statement prints the result of those steps, so it
 * shows what runs:
 *
 *   bind     names and types resolved (binder.ts)
 *   shape    the target's output: a view's column names, ORDER BY's extra columns dropped,
 *            LIMIT refused where a maintained result cannot keep it
 *   rewrite  the logical rules (optimize.ts; one rule a file in rules/); a pull query's join order
 *            follows estimates and its `col = constant` scans read indexes
 *   lower    to the operator graph of a dataflow (physical.ts) under the target's output operator
 *            (Materialize, Sink, Subscribe), or to the batch executor's cursors (lower-batch.ts)
 */
import type { Query } from '../sql/tree.ts'
import type { CompileContext } from '../expr/compile.ts'
import type { OperatorContext } from '../ops/operator.ts'
import type { PhysicalNode } from '../runtime/dataflow.ts'
import type { DataType } from '../types/datatype.ts'
import type { BatchContext } from '../batch/lower-batch.ts'
import type { Cursor } from '../batch/cursor.ts'
import type { ExplainStage } from '../sql/tree.ts'
import type { BinderCatalog, BoundQuery } from './binder.ts'
import type { LogicalPlan } from './logical.ts'
import type { RelationKey } from './properties.ts'
import type { SubqueryRunner } from './subquery.ts'
import { Binder } from './binder.ts'
import { inputsOf, isAppendOnly, isWindowed } from './logical.ts'
import { optimize } from './optimize.ts'
import { lower, type Exchange } from './physical.ts'
import { describeProperties, streamKey } from './properties.ts'
import { columnTypes, explainLogical, explainPhysical } from './explain.ts'
import { explainCursor, toCursor } from '../batch/lower-batch.ts'
import { SluiceError, SqlState } from '../errors.ts'

/** What a statement does with its query's rows. */
export type Target =
  /** A pull query: run once by the batch executor. */
  | { readonly kind: 'select' }
  | {
      readonly kind: 'materialized_view'
      readonly name: string
      readonly columnNames: readonly string[] | undefined
      readonly emitOnWindowClose: boolean
      /** A trailing `WATERMARK d` (µs): replaces the inputs' declared delays. */
      readonly watermarkOverride: number | undefined
      readonly ttlMs: number | undefined
    }
  | {
      readonly kind: 'sink'
      readonly name: string
      readonly connector: string
      /** The sink reads a view declared EMIT ON WINDOW CLOSE: its output only appends. */
      readonly emitOnWindowClose: boolean
    }
  | { readonly kind: 'subscribe' }

export interface PlanningContext {
  readonly catalog: BinderCatalog
  readonly compile: CompileContext
  /** The statement's parameter types; binding fills in the ones it infers. */
  readonly paramTypes: (DataType | undefined)[]
  /** Runs subqueries inside expressions (pull queries only: views refuse them). */
  readonly subqueries?: SubqueryRunner
}

export interface PlannedQuery {
  readonly target: Target
  readonly compile: CompileContext
  /** The bound query shaped for its target; a pull query's ORDER BY / LIMIT apply to its result. */
  readonly bound: BoundQuery
  /** The plan after the rules: what is lowered (for a pull query, the batch plan). */
  readonly plan: LogicalPlan
  /** Warnings for the client (a windowed view without a watermark). */
  readonly notices: readonly string[]
}

/** Binds a query; sources may be read by a maintained result only. */
export function bind(query: Query, ctx: PlanningContext, allowSources: boolean): BoundQuery {
  const binder = new Binder({
    catalog: ctx.catalog,
    compile: ctx.compile,
    paramTypes: ctx.paramTypes,
    allowSources,
    subqueries: ctx.subqueries,
  })
  return binder.bindQuery(query)
}

/** bind → shape → rewrite for a target. */
export function planQuery(query: Query, ctx: PlanningContext, target: Target): PlannedQuery {
  const select = target.kind === 'select'
  // Subqueries inside expressions run as pull queries: a maintained result refuses them.
  const bound = shape(bind(query, select ? ctx : { ...ctx, subqueries: undefined }, !select), target)
  if (target.kind === 'select') return { target, compile: ctx.compile, bound, plan: batchPlan(bound.plan), notices: [] }
  const plan = streamPlan(bound.plan)
  const notices: string[] = []
  if (target.kind === 'materialized_view' && isWindowed(plan) && !hasWatermark(plan, target.watermarkOverride)) {
    if (target.emitOnWindowClose)
      throw new SluiceError(
        SqlState.feature_not_supported,
        'EMIT ON WINDOW CLOSE needs a watermark on the window time column',
        {
          hint: 'Declare WATERMARK FOR on the source or table, or add a trailing WATERMARK to the view.',
        },
      )
    notices.push('the window time column has no watermark: windows never close and window state is unbounded')
  }
  return { target, compile: ctx.compile, bound, plan, notices }
}

/** The rules for a pull query: join order from estimates, index lookups. */
export function batchPlan(plan: LogicalPlan): LogicalPlan {
  return optimize(plan, { batch: true })
}

/** The rules for a dataflow (a view, sink or subscription): the written join order, no lookups. */
export function streamPlan(plan: LogicalPlan): LogicalPlan {
  return optimize(plan)
}

/** A view's, sink's or subscription's rules-applied plan and what its lowering needs. */
export interface StreamLowering {
  readonly plan: LogicalPlan
  readonly compile: CompileContext
  readonly watermarkOverride: number | undefined
  readonly emitOnWindowClose: boolean
  readonly ttlMs?: number
  /** See LowerOptions.fuseWindows. */
  readonly fuseWindows?: boolean
  /** Lower a stateful subplan that occurs twice once (LowerOptions.shared): default true, never sharded. */
  readonly shareSubplans?: boolean
}

/** What lowering a planned (non-select) query needs. */
export function streamLowering(planned: PlannedQuery): StreamLowering {
  const t = planned.target
  const view = t.kind === 'materialized_view' ? t : undefined
  return {
    plan: planned.plan,
    compile: planned.compile,
    watermarkOverride: view?.watermarkOverride,
    emitOnWindowClose: view?.emitOnWindowClose ?? false,
    ttlMs: view?.ttlMs,
  }
}

/** The operator graph of a dataflow, below the target's output operator. */
export function lowerStream(p: StreamLowering, ops: OperatorContext, exchange?: Exchange): PhysicalNode {
  return lower(p.plan, {
    compile: p.compile,
    ops,
    watermarkOverride: p.watermarkOverride,
    emitOnWindowClose: p.emitOnWindowClose,
    ttlMs: p.ttlMs,
    fuseWindows: p.fuseWindows,
    exchange,
    // A shared node under two exchanges would be two shards' stages at once: sharded plans do not share.
    shared: p.shareSubplans === false || exchange !== undefined ? undefined : [],
  })
}

/** The batch executor's cursor tree of a pull query's plan. */
export function lowerBatch(plan: LogicalPlan, ctx: BatchContext): Cursor {
  return toCursor(plan, ctx)
}

/** What a sink is handed: its columns' upsert key and whether its input only appends. */
export function sinkShape(
  plan: LogicalPlan,
  keys: RelationKey,
  emitOnWindowClose: boolean,
): { readonly key: number[]; readonly appendOnly: boolean } {
  return { key: streamKey(plan, keys) ?? [], appendOnly: emitOnWindowClose || isAppendOnly(plan) }
}

/** The operators a target puts above its query's graph, outermost first (EXPLAIN). */
export function outputOperators(planned: PlannedQuery, keys: RelationKey): string[] {
  const t = planned.target
  switch (t.kind) {
    case 'select':
      return []
    case 'materialized_view':
      return [`Materialize ${t.name}`]
    case 'sink': {
      const shape = sinkShape(planned.plan, keys, t.emitOnWindowClose)
      const mode = shape.appendOnly ? 'append-only' : `upsert key=[${shape.key.map((k) => `#${k}`).join(', ')}]`
      return [`Sink ${t.name} (${t.connector === '' ? 'no connector' : t.connector}, ${mode})`]
    }
    case 'subscribe':
      return ['Subscribe (change log)', 'Materialize']
  }
}

export interface ExplainEnv {
  readonly keys: RelationKey
  readonly ops: OperatorContext
  /** A new view's sharding (engine/shard/sharded-view.ts): a line saying it, and its exchanges. */
  readonly sharding?: {
    readonly line: string
    readonly exchange: Exchange | undefined
    /** The shards' rewrite of the plan (two-phase window aggregates). */
    readonly rewrite?: (plan: LogicalPlan) => LogicalPlan
  }
}

/**
 * EXPLAIN of a planned statement: BOUND and LOGICAL show the shaped plan before the rules,
 * OPTIMIZED the plan that is lowered; STREAM and PHYSICAL the dataflow (for a SELECT: what a view
 * of it would run), PHYSICAL also the output operators and, for a SELECT, the batch plan it runs.
 */
export function explainPlanned(planned: PlannedQuery, stage: ExplainStage, env: ExplainEnv): string[] {
  const lines: string[] = []
  const bound = planned.bound.plan
  const select = planned.target.kind === 'select'
  if (stage === 'bound') lines.push('Bound plan (output columns of each node):', ...explainLogical(bound, columnTypes))
  if (stage === 'logical') lines.push('Logical plan:', ...explainLogical(bound))
  if (stage === 'optimized') lines.push('Optimized plan:', ...explainLogical(planned.plan))
  if (stage !== 'stream' && stage !== 'physical' && stage !== 'all') return lines
  const stream: StreamLowering = select
    ? { plan: streamPlan(bound), compile: planned.compile, watermarkOverride: undefined, emitOnWindowClose: false }
    : streamLowering(planned)
  if (stage === 'stream' || stage === 'all')
    lines.push('Stream plan:', ...explainLogical(stream.plan, (p) => describeProperties(p, env.keys)))
  if (stage === 'physical' || stage === 'all') {
    if (env.sharding !== undefined) lines.push(env.sharding.line)
    lines.push(
      'Operator graph:',
      ...explainPhysical(
        lowerStream(
          env.sharding?.rewrite === undefined ? stream : { ...stream, plan: env.sharding.rewrite(stream.plan) },
          env.ops,
          env.sharding?.exchange,
        ),
        outputOperators(planned, env.keys),
      ),
    )
    if (select) {
      const cursor = lowerBatch(planned.plan, { compile: planned.compile, ops: env.ops, budget: undefined })
      lines.push('Batch plan:', ...explainCursor(cursor))
    }
  }
  return lines
}

/** Drops ORDER BY's extra columns and applies a view's column names; refuses LIMIT where it cannot hold. */
function shape(bound: BoundQuery, target: Target): BoundQuery {
  if (target.kind === 'select') return bound
  if (bound.limit !== undefined || bound.offset > 0) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      target.kind === 'materialized_view'
        ? 'LIMIT/OFFSET in a materialized view is not supported yet (use ROW_NUMBER() for top-N)'
        : target.kind === 'sink'
          ? 'LIMIT/OFFSET in a sink query is not supported (use ROW_NUMBER() for top-N)'
          : 'LIMIT/OFFSET in a SUBSCRIBE query is not supported',
    )
  }
  const names = target.kind === 'materialized_view' ? target.columnNames : undefined
  const plan = bound.plan
  if (bound.hidden === 0 && names === undefined) return bound
  const width = plan.columns.length - bound.hidden
  if (names !== undefined && names.length > width)
    throw new SluiceError(SqlState.syntax_error, 'too many column names were specified')
  return {
    ...bound,
    hidden: 0,
    plan: {
      kind: 'project',
      input: plan,
      exprs: plan.columns.slice(0, width).map((c, i) => ({ kind: 'column', index: i, type: c.type })),
      columns: plan.columns
        .slice(0, width)
        .map((c, i) => (names === undefined ? c : { name: names[i] ?? c.name, type: c.type, typmod: c.typmod })),
    },
  }
}

/** Whether every input of a windowed plan carries a watermark (or the view declares its own). */
function hasWatermark(plan: LogicalPlan, override: number | undefined): boolean {
  if (override !== undefined) return true
  switch (plan.kind) {
    case 'scan':
      return plan.relation.watermarkDelays.size > 0 || plan.relation.kind === 'materialized_view'
    default:
      return inputsOf(plan).length > 0 && inputsOf(plan).every((p) => hasWatermark(p, undefined))
  }
}
