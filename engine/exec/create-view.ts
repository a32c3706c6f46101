/**
 * CREATE MATERIALIZED VIEW: the view's dataflow (on this thread, or split into shards,
 * engine/shard/sharded-view.ts) ending in a Materialize that keeps its rows, checkpointed as the
 * operator above it allows (an aggregate's state is the view's rows: 'retired' or 'derived').
 */
import type { Engine } from '../engine.ts'
import type { MaterializedViewObject } from '../catalog/objects.ts'
import type { LogicalPlan } from '../plan/logical.ts'
import type { CompileContext } from '../expr/compile.ts'
import type { Operator, StateBackedOutput } from '../ops/operator.ts'
import type { Chunk } from '../chunk.ts'
import { Stream } from '../runtime/stream.ts'
import { Dataflow, isRelationInput, type PhysicalNode } from '../runtime/dataflow.ts'
import { FilterProject } from '../ops/filter-project.ts'
import { Materialize } from '../ops/materialize.ts'
import { stateBackedOutput } from '../ops/derived-rows.ts'
import { lowerStream } from '../plan/pipeline.ts'
import { shardedView } from '../shard/sharded-view.ts'
import { chunkFromRows } from '../chunk.ts'
import { declaredScale } from '../types/typmod.ts'
import { attachDataflow, operatorContext, removeObject, startSources } from './ddl.ts'

export interface MaterializedViewDef {
  readonly name: string
  readonly sql: string
  readonly plan: LogicalPlan
  readonly dependsOn: readonly string[]
  readonly emitOnWindowClose: boolean
  readonly watermarkOverride: number | undefined
  /** `WITH (ttl = ...)` in ms: bounds unwindowed state (grouping, joins, top-N). */
  readonly ttlMs?: number
  readonly compile: CompileContext
  readonly notices: string[]
  /** The CREATE statement's cancel / statement_timeout check: the backfill stops at it (57014). */
  readonly interrupt?: { check(): void }
}

export async function createMaterializedView(engine: Engine, def: MaterializedViewDef): Promise<void> {
  engine.checkNameFree(def.name, 'materialized_view')
  const ops = operatorContext(engine, def.name)
  const id = engine.allocateId()
  const lowering = { ...def, fuseWindows: engine.fuseWindows(), shareSubplans: engine.shareSubplans() }
  // Split into shards on worker threads when the plan allows (engine/shard/sharded-view.ts).
  const sharded = await shardedView(engine, lowering, id)
  const physical = sharded?.physical ?? lowerStream(lowering, ops)
  const columns = def.plan.columns.map((c) => ({ name: c.name, type: c.type, typmod: c.typmod }))
  // After an aggregate the view's rows are the aggregate's emitted rows: rebuilt from its
  // restored state instead of checkpointed twice (a third of the writes per changed group); the
  // view checkpoints only the rows the aggregate retires (closed windows).
  // An aggregate whose groups live in its state table (a bounded cache, the rest on disk) is the
  // view's state: the view then holds no rows and reads them from it ('derived').
  let materialize: Materialize | undefined = undefined
  const upstream = engine.checkpointing ? outputOf(physical, (rows) => materialize?.retire(rows)) : undefined
  const derived = upstream?.source === undefined ? undefined : { ...upstream, source: upstream.source }
  const rebuildable = derived === undefined && upstream?.current() !== undefined
  const scales = columns.flatMap((c, i) => {
    const s = declaredScale(c.type, c.typmod)
    return s === undefined ? [] : [[i, s] as const]
  })
  materialize = new Materialize(
    columns.map((c) => c.type),
    !engine.checkpointing ? 'none' : derived !== undefined ? 'derived' : rebuildable ? 'retired' : 'changes',
    scales,
    derived,
  )
  const derivedRows = materialize.derived
  const stream = new Stream(def.name)
  let obj: MaterializedViewObject | undefined = undefined
  const dataflow = new Dataflow(
    { op: materialize, inputs: [physical], types: materialize.types },
    { chunk: (c) => stream.push(c), watermark: (w) => stream.pushWatermark(w) },
    (error) => {
      const message = error instanceof Error ? error.message : String(error)
      if (obj !== undefined) obj.failure = message
      engine.log('error', `materialized view ${def.name} failed and stopped updating`, {
        error: message,
        stack: error instanceof Error ? error.stack : undefined,
      })
    },
  )
  obj = {
    kind: 'materialized_view',
    id,
    name: def.name,
    sql: def.sql,
    columns,
    dependents: new Set(),
    dependsOn: def.dependsOn,
    plan: def.plan,
    physical,
    dataflow,
    materialize,
    stream,
    emitOnWindowClose: def.emitOnWindowClose,
    watermarkOverride: def.watermarkOverride,
    failure: undefined,
    snapshot: () =>
      derivedRows !== undefined ? derivedRows.current() : chunkFromRows(columns.length, materialize.snapshot()),
    rowCount: () => materialize.rowCount,
    // A derived view's rows are built from its aggregate's groups: there are none to share.
    snapshotRows: derivedRows !== undefined ? undefined : () => materialize.snapshot(),
    lookup: (cols, values) => {
      if (derivedRows !== undefined) return derivedRows.lookup(cols, values)
      const found = materialize.lookup(cols, values)
      return found === undefined ? undefined : chunkFromRows(columns.length, found)
    },
    rowsOnDisk: derivedRows === undefined ? undefined : () => !derivedRows.inMemory(),
    openScan: derivedRows === undefined ? undefined : (maxRows) => derivedRows.openScan(maxRows),
  }
  await attachDataflow(
    engine,
    def.name,
    id,
    dataflow,
    stream,
    () => {
      const rows = rebuildable ? upstream?.current() : undefined
      if (rows !== undefined && rows.length > 0) materialize.onChunk(rows, 0, { chunk: () => {}, watermark: () => {} })
    },
    def.interrupt,
  )
  for (const dep of def.dependsOn) engine.get(dep)?.dependents.add(def.name)
  await engine.register(obj)
  try {
    const view = obj
    await sharded?.start((message) => (view.failure = message))
    // A sharded view's shards read the sources themselves: the shared readers stay as they are.
    await startSources(engine, sharded === undefined ? def.dependsOn : [])
  } catch (e) {
    // All or nothing: a view whose input cannot be read is not left behind.
    await removeObject(engine, obj)
    throw e
  }
}

/** What outputOf finds: the operator's output as seen after the chain above it. */
interface UpstreamOutput {
  readonly current: () => Chunk | undefined
  /** The operator, when its output can be read from its state (memory and store). */
  readonly source: (Operator & StateBackedOutput) | undefined
  /** The chain's filters and projections, over rows they saw before. */
  readonly through: (rows: Chunk) => Chunk
  /** For each output column of the node, the operator's output column it copies unchanged, if any. */
  readonly sourceColumns: readonly (number | undefined)[]
  /** Whether the chain has a predicate (it may drop rows). */
  readonly filtered: boolean
}

/**
 * What a dataflow node's downstream currently holds from it, when it can be computed from
 * operator state: an operator that knows its output (an aggregate), seen through stateless
 * filters and projections (replayed over it). `retired` receives the rows downstream keeps that
 * the operator forgets (closed windows), projected the same way. Undefined when unknown.
 */
function outputOf(node: PhysicalNode, retired: (rows: Chunk) => void): UpstreamOutput | undefined {
  const op = node.op
  if (op.currentOutput !== undefined) {
    op.onRetired?.(retired)
    return {
      current: () => op.currentOutput?.(),
      source: stateBackedOutput(op),
      through: (rows) => rows,
      sourceColumns: node.types.map((_t, i) => i),
      filtered: false,
    }
  }
  const input = node.inputs[0]
  if (!(op instanceof FilterProject) || node.inputs.length !== 1 || isRelationInput(input)) return undefined
  const through = (rows: Chunk): Chunk => {
    const out: Chunk[] = []
    // Rows the filter saw before (restored or retired): their eval errors were dead-lettered then.
    op.replay(rows, { chunk: (c) => out.push(c), watermark: () => {} })
    // A filter/projection emits at most one chunk per input chunk.
    return out[0] ?? { columns: node.types.map(() => []), ops: new Int8Array(0), length: 0 }
  }
  const inner = outputOf(input, (rows) => retired(through(rows)))
  if (inner === undefined) return undefined
  return {
    current: () => {
      const rows = inner.current()
      return rows === undefined ? undefined : through(rows)
    },
    source: inner.source,
    through: (rows) => through(inner.through(rows)),
    sourceColumns: node.types.map((_t, c) => {
      const from = op.inputColumn(c)
      return from === undefined ? undefined : inner.sourceColumns[from]
    }),
    filtered: inner.filtered || op.filters,
  }
}
