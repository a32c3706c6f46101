/**
 * Whether a new materialized view runs sharded, and the main thread's half of one that does
 * (docs/design/shards.md).
 *
 * A view runs as `--workers` shards when every relation it reads is a source whose connector can
 * be read in splits (SourceFactory.splits) and every stateful operator of its plan is keyed (a
 * GROUP BY with keys besides the window, an equi-join, a partitioned top-N...). Otherwise it
 * runs on the main thread as before, and EXPLAIN says why. A view keeps the shard count it was
 * created with (its state is split by it): `--workers` decides for new views only.
 */
import type { Engine } from '../engine.ts'
import type { Emitter, Operator } from '../ops/operator.ts'
import type { LogicalPlan } from '../plan/logical.ts'
import type { StreamLowering } from '../plan/pipeline.ts'
import type { Exchange } from '../plan/physical.ts'
import type { PhysicalNode, RelationInput } from '../runtime/dataflow.ts'
import type { FromShard, ShardRestore, ShardSource } from './protocol.ts'
import type { SourceClocks } from '../connector.ts'
import type { Chunk, Watermark } from '../chunk.ts'
import { lowerStream } from '../plan/pipeline.ts'
import { splitWindowAggregates } from '../plan/rules/two-phase.ts'
import { repeatsSubplan } from '../plan/shared-subplans.ts'
import { inputsOf } from '../plan/logical.ts'
import { Stream } from '../runtime/stream.ts'
import { emptyColumns } from '../chunk.ts'
import { resolveSecrets } from '../catalog/secrets.ts'
import { ShardHost } from './host.ts'
import { needsNoExchange, splitBy } from './partitioning.ts'
import { isRelationInput } from '../runtime/dataflow.ts'
import { loadShardRestores } from './hosts.ts'

/** The view's definition as the sharding needs it. */
export interface ShardedViewDef extends StreamLowering {
  readonly name: string
  readonly sql: string
  readonly plan: LogicalPlan
  readonly dependsOn: readonly string[]
}

/**
 * Shards of a new view: EngineOptions.workers, else SLUICE_WORKERS (a test setting: the suites
 * run sharded with SLUICE_WORKERS=2), else 1.
 */
export function workers(engine: Engine): number {
  const fromEnv = Number(process.env.SLUICE_WORKERS)
  return engine.options.workers ?? (Number.isSafeInteger(fromEnv) && fromEnv > 0 ? fromEnv : 1)
}

/** A source writing its rejects to a table (`dead_letter = 'table'`, taken out of its options) is one of the table's dependents. */
function hasDeadLetterTable(engine: Engine, source: string): boolean {
  for (const o of engine.objects.values()) if (o.kind === 'table' && o.dependents.has(source)) return true
  return false
}

/** Integer kinds hash alike by value (key-group.ts). */
const INTEGERS = new Set(['int2', 'int4', 'int8'])

/**
 * Why a plan cannot run sharded, or undefined when it can. `fresh`: for a view not restored
 * from shards, where a plan that runs better on one thread stays there.
 */
function shardingBlocker(engine: Engine, def: ShardedViewDef, fresh = true): string | undefined {
  let reason: string | undefined
  const walk = (plan: LogicalPlan): void => {
    if (reason !== undefined) return
    if (plan.kind === 'values') reason = 'it reads a VALUES list'
    else if (plan.kind === 'scan') {
      const rel = plan.relation
      const obj = engine.get(rel.name)
      if (rel.kind !== 'source' || obj?.kind !== 'source') reason = `it reads ${rel.name}, which is not a source`
      else if (engine.sourceFactories.get(obj.connector)?.splits === undefined)
        reason = `connector ${obj.connector} cannot be read in splits`
      else if (obj.options.has('dead_letter') || hasDeadLetterTable(engine, rel.name))
        reason = `source ${rel.name} has a dead-letter destination`
    } else if (plan.kind === 'join') {
      // Both sides route a key by its value as its type hashes it: the types must hash alike.
      const mixed = plan.leftKeys.some((l, i) => {
        const a = plan.left.columns[l].type.kind
        const b = plan.right.columns[plan.rightKeys[i]].type.kind
        return a !== b && !(INTEGERS.has(a) && INTEGERS.has(b))
      })
      if (mixed) reason = 'a join compares keys of different types'
    }
    for (const input of inputsOf(plan)) walk(input)
  }
  walk(def.plan)
  if (reason !== undefined) return reason
  // One thread computes a repeated subplan once (Nexmark q5: 2.4x the events/s of two shards).
  if (fresh && def.shareSubplans !== false && repeatsSubplan(def.plan))
    return 'it computes one subplan twice, which one thread computes once and shards would not share'
  // Lowered as a shard would lower it: an exchange without keys means an operator with one state.
  const noOps = { owner: def.name, deadLetter: () => {}, countLate: () => {}, countEvalErrors: () => {} }
  let stateful = false
  lowerStream({ ...def, plan: splitWindowAggregates(def.plan) }, noOps, (input, keys) => {
    stateful = true
    if (keys.length === 0)
      reason ??= `its ${input.op.name === 'Values' ? 'input' : 'plan'} has a stateful operator without a key to split by (a global aggregate, a window-only GROUP BY, a join without an equality)`
    return input
  })
  // Filters and projections alone: each row would only cross to another thread and back.
  if (reason === undefined && !stateful) return 'it has no stateful operator: its rows would only cross threads'
  return reason
}

/** Shown by EXPLAIN in an exchange's place: the key columns rows are routed by. */
class ExchangeExplain implements Operator {
  readonly name = 'Exchange'
  constructor(
    readonly keys: readonly number[],
    private readonly shards: number,
  ) {}
  onChunk(chunk: Chunk, _input: number, out: Emitter): void {
    out.chunk(chunk)
  }
  explain(): string {
    return `hash=[${this.keys.join(', ')}] shards=${this.shards}`
  }
}

/** EXPLAIN of a new view: whether it would run sharded, and if so where its exchanges go. */
export function explainSharding(
  engine: Engine,
  def: Omit<ShardedViewDef, 'dependsOn'>,
): { line: string; exchange: Exchange | undefined; rewrite?: (plan: LogicalPlan) => LogicalPlan } | undefined {
  const shards = workers(engine)
  // One worker, or a view over tables and views only: nothing to say (it runs on the main thread).
  if (shards <= 1 || !readsSource(def.plan)) return undefined
  const blocker = shardingBlocker(engine, { ...def, dependsOn: [] })
  if (blocker !== undefined) return { line: `Shards: 1 (not split: ${blocker})`, exchange: undefined }
  return {
    line: `Shards: ${shards} (worker threads; rows exchanged by key before each stateful operator)`,
    rewrite: splitWindowAggregates,
    exchange: (input, keys, grouping) => {
      const by = splitBy(input, (n) => (!isRelationInput(n) && n.op instanceof ExchangeExplain ? n.op.keys : undefined))
      if (needsNoExchange(by, keys, grouping)) return input
      return { op: new ExchangeExplain(keys, shards), inputs: [input], types: input.types }
    },
  }
}

function readsSource(plan: LogicalPlan): boolean {
  return (plan.kind === 'scan' && plan.relation.kind === 'source') || inputsOf(plan).some(readsSource)
}

/** The first operator of a sharded view on the main thread: the shards' output, as it arrives. */
class Gather implements Operator {
  readonly name = 'Gather'
  constructor(private readonly shards: number) {}
  onChunk(chunk: Chunk, _input: number, out: Emitter): void {
    out.chunk(chunk)
  }
  onWatermark(w: Watermark, _input: number, out: Emitter): void {
    out.watermark(w)
  }
  explain(): string {
    return `shards=${this.shards}`
  }
}

/** A sharded view's main-thread input, and how to start its shards once the view is wired. */
export interface ShardedView {
  readonly physical: PhysicalNode
  readonly shards: number
  /**
   * Starts the shards (at once, or once every view is restored at startup); `failed` is told
   * when one fails (the view or sink then stops updating).
   */
  start(failed: (message: string) => void): Promise<void>
}

/**
 * The sharded form of a new view, or undefined when it runs on this thread: with one worker, a
 * plan that cannot be split, or a restored view whose checkpoint holds no shards.
 */
export async function shardedView(engine: Engine, def: ShardedViewDef, id: number): Promise<ShardedView | undefined> {
  const recovery = engine.restoringId !== undefined ? engine.recovery : undefined
  let restores: (ShardRestore | undefined)[] | undefined
  let shards = workers(engine)
  if (recovery?.has(id) === true) {
    restores = await loadShardRestores(recovery, id)
    if (restores === undefined) return undefined
    shards = restores.length
  }
  if (shards <= 1 || shardingBlocker(engine, def, restores === undefined) !== undefined) return undefined
  engine.shardHosts.declare(id)
  // A new view over a source whose shared reader runs starts where that reader is (a view sees a
  // source's records from its creation on, docs/sql.md); else where the reader would start.
  restores ??= Array.from({ length: shards }, () => startingPoint(engine, def.plan))
  const types = def.plan.columns.map((c) => c.type)
  const stream = new Stream(`${def.name} (shards)`)
  const gather: RelationInput = {
    name: `${def.name} (shards)`,
    stream,
    snapshot: () => ({ columns: emptyColumns(types.length), ops: new Int8Array(0), length: 0 }),
  }
  const physical: PhysicalNode = { op: new Gather(shards), inputs: [gather], types }
  const sources = shardSources(engine, def.plan)
  const views = viewsRead(engine, def.dependsOn)
  const start = async (failed: (message: string) => void): Promise<void> => {
    const host = await ShardHost.start(
      {
        view: def.name,
        shards,
        sql: def.sql,
        timezone: def.compile.timezone,
        now: def.compile.now,
        fuseWindows: def.fuseWindows !== false,
        sources,
        views,
        maxBatchRows: engine.options.maxBatchRows ?? 4096,
      },
      restores,
      types,
      {
        chunk: (c) => stream.push(c),
        watermark: (w) => stream.pushWatermark(w),
        failed: (message, stack) => {
          failed(message)
          engine.log('error', `${def.name} failed and stopped updating`, { error: message, stack })
        },
        report: (m) => report(engine, def.name, m),
      },
      // State tables as the main thread's views have them: only when the engine checkpoints.
      engine.checkpointing ? { store: engine.store, cache: engine.stateCache, objectId: id } : undefined,
      // One thread per worker, shared by every sharded view (a restored view may have more shards).
      await engine.shardHosts.threadsFor(workers(engine) > 1 ? workers(engine) : shards),
    )
    engine.shardHosts.add(id, host)
  }
  return {
    physical,
    shards,
    start: async (failed) => {
      if (engine.restoringId !== undefined) engine.shardHosts.hold()
      await engine.shardHosts.whenReleased(() => start(failed))
    },
  }
}

function report(engine: Engine, view: string, m: FromShard): void {
  switch (m.t) {
    case 'dead_letter':
      engine.deadLetters.add({ ...m.letter, object: m.source ?? view })
      return
    case 'counts':
      if (m.late > 0) engine.metrics.lateRows.inc({ view }, m.late)
      if (m.evalErrors > 0) engine.metrics.evalErrors.inc({ view }, m.evalErrors)
      return
    case 'source_rows':
      engine.metrics.sourceRows.inc({ source: m.source }, m.rows)
      engine.metrics.sourceBatches.inc({ source: m.source })
      return
    case 'log':
      engine.log(m.level, `materialized view ${view}: ${m.message}`)
      return
    case 'pressure':
      engine.stateGate.relieveShard()
      return
    default:
      return
  }
}

/** The shared readers' positions of the sources a new view reads, for its shards to start from. */
function startingPoint(engine: Engine, plan: LogicalPlan): ShardRestore {
  const offsets: Record<string, Readonly<Record<string, string>>> = {}
  const clocks: Record<string, SourceClocks> = {}
  for (const src of shardSources(engine, plan)) {
    const obj = engine.get(src.name)
    if (obj?.kind !== 'source' || !obj.driver.started || obj.driver.position === undefined) continue
    offsets[src.name] = obj.driver.position
    if (obj.driver.clocks !== undefined) clocks[src.name] = obj.driver.clocks
  }
  return { offsets, clocks, restored: false }
}

/** The sources a plan reads, as its shards rebuild them. */
function shardSources(engine: Engine, plan: LogicalPlan): ShardSource[] {
  const out = new Map<string, ShardSource>()
  const walk = (p: LogicalPlan): void => {
    if (p.kind === 'scan' && !out.has(p.relation.name)) {
      const obj = engine.get(p.relation.name)
      const splits = obj?.kind === 'source' ? engine.sourceFactories.get(obj.connector)?.splits : undefined
      if (obj?.kind === 'source' && splits !== undefined)
        out.set(obj.name, {
          name: obj.name,
          connector: obj.connector,
          module: splits.module,
          exportName: splits.exportName,
          options: [...shardOptions(engine, obj.connector, obj.options)],
          columns: obj.columns,
          watermark:
            obj.watermark === undefined ? undefined : { column: obj.watermark.column, delay: obj.watermark.delay },
        })
    }
    for (const input of inputsOf(p)) walk(input)
  }
  walk(plan)
  return [...out.values()]
}

/**
 * A source's options for its shards' readers. A generator without `base_time` stamps event time
 * from its first open: the shards of a view are given one base, or they would disagree.
 */
function shardOptions(engine: Engine, connector: string, options: ReadonlyMap<string, string>): Map<string, string> {
  const resolved = resolveSecrets(engine, options)
  if (connector === 'datagen' && !resolved.has('base_time'))
    resolved.set('base_time', new Date(Math.floor(engine.now())).toISOString())
  return resolved
}

/** The plain views a query reads (inlined), with those they read. */
function viewsRead(engine: Engine, names: readonly string[]): { name: string; sql: string }[] {
  const out = new Map<string, string>()
  const visit = (name: string): void => {
    const obj = engine.get(name)
    if (obj?.kind !== 'view' || out.has(name)) return
    out.set(name, obj.sql)
    obj.dependsOn.forEach(visit)
  }
  names.forEach(visit)
  return [...out].map(([name, sql]) => ({ name, sql }))
}
