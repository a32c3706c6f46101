/**
 * Start-up restore, in the background: the catalog's CREATE statements are replayed (each view's
 * operators restored from the last checkpoint), table change logs replayed, then sources
 * released, while the front ends already answer (RestoreProgress says what is readable).
 */
import type { Engine } from './engine.ts'
import type { StoredObject } from './catalog/catalog-store.ts'
import type { RestoreProgress } from './restore-progress.ts'
import { replayContext } from './restore-progress.ts'
import { EngineSession } from './exec/session.ts'
import { waitForSource } from './exec/ddl.ts'
import { timeColumns } from './engine.ts'

/** Whether replaying `obj` may need a connector factory (conservative: any connector-like option). */
function mayNeedConnector(obj: StoredObject): boolean {
  if (obj.kind === 'source' || obj.kind === 'sink') return true
  return /connector|topic|broker/i.test(obj.sql)
}

/** Kinds whose replay never reads a table's rows (a grant names a table; a table loads its own). */
const NEEDS_NO_ROWS: ReadonlySet<string> = new Set(['table', 'grant'])

/** Kinds that depend on no relation and that authentication needs: replayed before the rest. */
const ACCESS_KINDS: ReadonlySet<string> = new Set(['role', 'secret', 'token'])

/**
 * Replays the access objects (roles, secrets, tokens: authentication needs them and they depend
 * on nothing). Runs before the front ends listen; it takes milliseconds.
 */
export async function restoreAccess(engine: Engine, stored: readonly StoredObject[]): Promise<string[]> {
  return replay(
    engine,
    stored.filter((o) => ACCESS_KINDS.has(o.kind)),
  )
}

/**
 * Replays every other object in creation order, marking each relation readable as soon as it is
 * back, then the table redo, then releases the sources. Never throws: an object that cannot be
 * restored is logged (and halts checkpoints, as before).
 */
export async function restoreRelations(
  engine: Engine,
  stored: readonly StoredObject[],
  progress: RestoreProgress,
  failedBefore: readonly string[],
  t0: number,
  connectors: () => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  const failed = [
    ...failedBefore,
    ...(await replay(
      engine,
      stored.filter((o) => !ACCESS_KINDS.has(o.kind)),
      progress,
      connectors,
    )),
  ]
  await progress.loaded()
  failed.push(...progress.loadFailures)
  // A later checkpoint would record source offsets past input the missing object never saw.
  if (failed.length > 0 && engine.recovery !== undefined)
    engine.checkpoints.halt(`could not restore ${failed.join('; ')}`)
  const recovered = engine.recovery
  engine.recovery = undefined
  // Table writes made after the checkpoint, replayed into the restored views in the order
  // they were written (across tables too).
  const redo = engine.tableRedo.splice(0).flatMap(({ table, entries }) => entries.map((entry) => ({ table, entry })))
  redo.sort((a, b) => a.entry.clock - b.entry.clock)
  for (const { table, entry } of redo) {
    const obj = engine.get(table)
    if (obj?.kind !== 'table') continue
    const chunk = obj.rows.redo(entry)
    if (chunk !== undefined) {
      obj.stream.push(chunk)
      obj.stream.pushBatchWatermarks(chunk, timeColumns(obj.columns))
    }
  }
  progress.allReadable()
  // Every CREATE from now on may name a connector.
  await connectors()
  if (progress.stopping) return progress.finish()
  // Every view is back: the sources may read again (from the checkpoint's offsets).
  for (const src of engine.sources()) {
    try {
      await src.driver.release()
    } catch (e) {
      waitForSource(engine, src.name, e)
    }
  }
  // Sharded views' shards read their own splits of the sources: they start now too.
  await engine.shardHosts.release()
  if (recovered !== undefined)
    engine.log('info', `restored checkpoint ${recovered.meta.epoch} in ${Date.now() - t0} ms`)
  // Dead letters logged before a crash are committed now that tables are as the views saw them.
  engine.deadLetterOutlets.start()
  engine.checkpoints.start()
  engine.startTicker()
  progress.finish()
}

async function replay(
  engine: Engine,
  objects: readonly StoredObject[],
  progress?: RestoreProgress,
  connectors?: () => Promise<void>,
): Promise<string[]> {
  const session = new EngineSession(engine, { user: 'sluice' }, true)
  const failed: string[] = []
  for (const obj of objects) {
    if (progress?.stopping === true) break
    // Tables' rows load in the background; only what restores from the checkpoint may pass them
    // (an index, a view without checkpointed state, ... reads them).
    if (progress !== undefined && !NEEDS_NO_ROWS.has(obj.kind) && engine.recovery?.has(obj.id) !== true)
      await progress.loaded()
    if (connectors !== undefined && mayNeedConnector(obj)) await connectors()
    engine.restoringId = obj.id
    try {
      await replayContext.run(true, () => session.execute(obj.sql))
    } catch (e) {
      failed.push(`${obj.kind} "${obj.name}": ${e instanceof Error ? e.message : String(e)}`)
      engine.log('error', `could not restore ${obj.kind} "${obj.name}"`, {
        error: e instanceof Error ? e.message : String(e),
      })
    } finally {
      engine.restoringId = undefined
    }
    // A view restored while table writes wait for replay would show less than was acknowledged
    // before the crash: such relations become readable with the redo, at the end.
    if (progress === undefined) continue
    if (engine.tableRedo.length > 0) progress.redoPending = true
    else if (!progress.isLoading(obj.name)) progress.markReady(obj.name)
  }
  return failed
}
