/**
 * CREATE SINK: a dataflow over a view (`FROM v`) or a query (`AS SELECT ...`) whose output chunks
 * go to a connector's SinkWriter. The writer only buffers; the checkpoint coordinator hands each
 * epoch's output to the write-ahead log and then commits it (engine/runtime/checkpoint.ts).
 *
 * The writer opens in the background with retries, so an unreachable Kafka or Redis neither
 * blocks a restart nor fails the statement after the catalog has it: the sink shows its error
 * in sluice_catalog.sinks and catches up when the system comes back.
 */
import type { Chunk, Watermark } from '../chunk.ts'
import type { ColumnSchema, ConnectorOptions, SinkSpec, SinkWriter } from '../connector.ts'
import type { Engine } from '../engine.ts'
import type { Emitter, Operator } from '../ops/operator.ts'
import type { LogicalPlan } from '../plan/logical.ts'
import type { CompileContext } from '../expr/compile.ts'
import type { SinkObject } from '../catalog/objects.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { resolveSecrets } from '../catalog/secrets.ts'
import { Dataflow } from '../runtime/dataflow.ts'
import { lowerStream, sinkShape } from '../plan/pipeline.ts'
import { streamKey, type RelationKey } from '../plan/properties.ts'
import { attachDataflow, operatorContext, removeObject, startSources } from './ddl.ts'
import { shardedView } from '../shard/sharded-view.ts'

/** The dataflow's last operator: hands every chunk to the writer (which only buffers). */
class SinkOutput implements Operator {
  readonly name = 'Sink'
  constructor(private readonly writer: SinkWriter) {}
  onChunk(chunk: Chunk, _input: number, _out: Emitter): void {
    this.writer.write(chunk)
  }
  onWatermark(_w: Watermark, _input: number, _out: Emitter): void {}
}

export interface SinkDef {
  readonly name: string
  readonly sql: string
  readonly plan: LogicalPlan
  readonly dependsOn: readonly string[]
  readonly options: ConnectorOptions
  readonly compile: CompileContext
  /** Whether the sink reads a view declared EMIT ON WINDOW CLOSE (its output only appends). */
  readonly emitOnWindowClose: boolean
}

export async function createSink(engine: Engine, def: SinkDef): Promise<void> {
  engine.checkNameFree(def.name, 'sink')
  const connector = def.options.get('connector')
  if (connector === undefined)
    throw new SluiceError(SqlState.invalid_parameter_value, `CREATE SINK ${def.name} needs a "connector" option`)
  const factory = engine.sinkFactories.get(connector.toLowerCase())
  if (factory === undefined) {
    throw new SluiceError(SqlState.undefined_object, `sink connector "${connector}" does not exist`, {
      hint: `known sink connectors: ${[...engine.sinkFactories.keys()].join(', ')}`,
    })
  }
  await factory.prepare?.()
  const options = new Map([...def.options].filter(([k]) => k !== 'connector'))
  const columns: ColumnSchema[] = def.plan.columns
    .filter((c) => c.hidden !== true)
    .map((c) => ({ name: c.name, type: c.type }))
  // The same shape EXPLAIN CREATE SINK prints (engine/plan/pipeline.ts).
  const spec: SinkSpec = { columns, ...sinkShape(def.plan, relationKeys(engine), def.emitOnWindowClose) }
  const writer = factory.create(spec, resolveSecrets(engine, options), engine.connectorContext(def.name))
  const lowering = {
    plan: def.plan,
    compile: def.compile,
    watermarkOverride: undefined,
    emitOnWindowClose: false,
    fuseWindows: engine.fuseWindows(),
    shareSubplans: engine.shareSubplans(),
  }
  const id = engine.allocateId()
  // `AS SELECT` over sources: split into shards when the plan allows (engine/shard/sharded-view.ts).
  const sharded = await shardedView(engine, { ...lowering, name: def.name, sql: def.sql, dependsOn: def.dependsOn }, id)
  const physical = sharded?.physical ?? lowerStream(lowering, operatorContext(engine, def.name))
  const output = new SinkOutput(writer)
  let obj: SinkObject | undefined = undefined
  const dataflow = new Dataflow(
    { op: output, inputs: [physical], types: physical.types },
    { chunk: () => {}, watermark: () => {} },
    (error) => {
      const message = error instanceof Error ? error.message : String(error)
      if (obj !== undefined) obj.lastError = `dataflow failed: ${message}`
      engine.log('error', `sink ${def.name} failed and stopped`, { error: message })
    },
  )
  const opened = openWithRetries(engine, def.name, writer, () => obj)
  // A restored sink keeps retrying in the background; a failure at shutdown is already in lastError and the log.
  opened.catch(() => {})
  obj = {
    kind: 'sink',
    id,
    name: def.name,
    sql: def.sql,
    columns,
    dependents: new Set(),
    connector: connector.toLowerCase(),
    options,
    dependsOn: def.dependsOn,
    dataflow,
    writer,
    ready: () => opened,
    lastError: undefined,
    committedEpoch: 0,
  }
  const restoring = engine.restoringId !== undefined
  if (restoring && engine.recovery !== undefined) {
    // Epochs durable before the crash whose commit may not have happened: committed again, in
    // order, once the writer is open (a commit at or below the external progress is a no-op).
    engine.checkpoints.addPending(id, await engine.recovery.sinkLog(id))
  }
  if (restoring && !engine.checkpoints.holds(id)) {
    // Restored without checkpoint state, it starts over as if new: like its CREATE, it must not
    // commit under epochs its name already has progress for. It sits out checkpoints (its output
    // waits for a later one) until its writer is open and tells that progress.
    void engine.checkpoints.holdUntilSkip(
      id,
      `sink ${def.name}`,
      async () => {
        await opened
        return writer.committedEpoch()
      },
      () => obj !== undefined && engine.get(def.name) === obj,
    )
  }
  if (!restoring) {
    // A new sink must not reuse epochs an earlier sink of the same name already committed.
    try {
      await opened
      engine.checkpoints.skipTo(await writer.committedEpoch(), id)
    } catch (e) {
      await writer.close().catch(() => {})
      throw e
    }
  }
  await attachDataflow(engine, def.name, id, dataflow, undefined)
  for (const dep of def.dependsOn) engine.get(dep)?.dependents.add(def.name)
  await engine.register(obj)
  if (restoring) engine.checkpoints.drain(obj)
  try {
    const sink = obj
    await sharded?.start((message) => (sink.lastError = `dataflow failed: ${message}`))
    await startSources(engine, sharded === undefined ? def.dependsOn : [])
  } catch (e) {
    // All or nothing: a sink whose input cannot be read is not left behind.
    await removeObject(engine, obj)
    throw e
  }
}

/** Opens the writer, retrying with backoff while the sink exists; a new sink (CREATE) fails on the first error instead. */
function openWithRetries(
  engine: Engine,
  name: string,
  writer: SinkWriter,
  sink: () => SinkObject | undefined,
): Promise<void> {
  const restoring = engine.restoringId !== undefined
  if (!restoring) return writer.open()
  return (async () => {
    let backoff = 200
    for (;;) {
      try {
        await writer.open()
        const s = sink()
        if (s !== undefined) {
          s.lastError = undefined
          // Shown in sluice_catalog.sinks right away, not only after the next commit.
          const committed = await writer.committedEpoch().catch(() => 0)
          if (committed > s.committedEpoch) s.committedEpoch = committed
        }
        return
      } catch (e) {
        const s = sink()
        if (s !== undefined) s.lastError = e instanceof Error ? e.message : String(e)
        engine.log('warn', `sink ${name}: cannot open, retrying`, { error: e instanceof Error ? e.message : String(e) })
        if (engine.closed || (s !== undefined && engine.get(name) !== s)) throw e
        await new Promise((r) => setTimeout(r, backoff))
        backoff = Math.min(backoff * 2, 5000)
      }
    }
  })()
}

/** Resolves the key of a relation a plan scans. */
export function relationKeys(engine: Engine): RelationKey {
  const resolve: RelationKey = (relation) => {
    const obj = engine.get(relation.name)
    if (obj?.kind === 'table') return obj.primaryKey
    if (obj?.kind === 'materialized_view') return streamKey(obj.plan, resolve)
    return undefined
  }
  return resolve
}
