/**
 * Dead-letter destinations of sources (`dead_letter = '<table>'` or a Kafka topic) committed per
 * checkpoint epoch, like transactional sinks (docs/design/checkpoints.md, "Dead-letter
 * destinations"), so a replay after a crash never writes a reject twice:
 *
 * 1. While epoch n runs, each source's outlet buffers the letters of the records the source's
 *    recorded position covers (a reader's rejects join at `settle`, views' rejects at once).
 * 2. Checkpoint n logs each outlet's letters of n under (-7, source id, n), in its atomic batch.
 * 3. Once it is durable, `commit(n)` makes them visible with a progress marker: a table gets the
 *    rows and the progress key (-8, source id) = n in one LevelDB batch; a Kafka topic gets one
 *    transaction (the connector's), then the log entry is dropped.
 * 4. On restart the logged epochs are committed again once recovery is over; an epoch at or
 *    below the progress is skipped. Letters after checkpoint n were never logged: the replayed
 *    input makes them again, once.
 *
 * Commits run in epoch order per outlet; a failed one stays pending and is retried at the next
 * checkpoint. An outlet 8 or more epochs behind pauses its source (lag grows, memory does not).
 */
import type { DeadLetterOutlet } from '../connector.ts'
import type { Engine } from '../engine.ts'
import type { StateStore, StateWrite } from '../state/store.ts'
import type { DeadLetterTableRoute } from './dead-letters.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { decodeKey, encodeKey } from '../state/codec.ts'
import { T } from '../types/datatype.ts'

const I8 = T.int8
/** (-7, source id, epoch) → an outlet's logged letters of an epoch not yet known committed. */
const OUTLET_LOG = -7n
/** (-8, source id) → the last epoch a table outlet committed (written with the rows). */
const TABLE_PROGRESS = -8n

/** Epochs an outlet may fall behind on commits before its source is paused. */
const MAX_PENDING_EPOCHS = 8

function logKey(id: number, epoch: number): Uint8Array {
  return encodeKey([OUTLET_LOG, BigInt(id), BigInt(epoch)], [I8, I8, I8])
}

function progressKey(id: number): Uint8Array {
  return encodeKey([TABLE_PROGRESS, BigInt(id)], [I8, I8])
}

interface Outlet {
  readonly id: number
  /** The source the letters are of. */
  readonly source: string
  readonly outlet: DeadLetterOutlet
  /** Durable epochs not yet committed, oldest first. */
  readonly pending: { readonly epoch: number; readonly bytes: Uint8Array }[]
  running: boolean
  /** Set while commits fail (logged; cleared by a good commit). */
  lastError: string | undefined
  /** Whether this outlet paused its source (too far behind). */
  pausing: boolean
}

export class DeadLetterOutlets {
  private readonly outlets = new Map<number, Outlet>()
  /**
   * What the checkpoint being written logged, committed once it is durable. After a checkpoint
   * failed for lack of disk space it keeps that one's letters too: the next attempt writes its
   * batch again, so they become durable (and are committed, in epoch order) with it.
   */
  private logged: [Outlet, number, Uint8Array][] = []
  /** Commits wait until recovery is over (a table's change log replayed into its views). */
  private started = false
  private readonly idle: (() => void)[] = []

  constructor(private readonly engine: Engine) {}

  /** Registers a source's outlet; on recovery, with the epochs its last checkpoint logged. */
  async add(
    id: number,
    source: string,
    outlet: DeadLetterOutlet,
    store: StateStore,
    restoring: boolean,
  ): Promise<void> {
    const entry: Outlet = { id, source, outlet, pending: [], running: false, lastError: undefined, pausing: false }
    if (restoring) {
      const prefix = encodeKey([OUTLET_LOG, BigInt(id)], [I8, I8])
      for await (const [key, value] of store.scan(prefix))
        entry.pending.push({ epoch: Number(decodeKey(key, [I8, I8, I8])[2]), bytes: value })
    }
    this.outlets.set(id, entry)
  }

  /** DROP SOURCE: forgets the outlet; the writes remove its log and progress. */
  remove(id: number): StateWrite[] {
    const o = this.outlets.get(id)
    this.outlets.delete(id)
    o?.outlet
      .close?.()
      .catch((e: unknown) =>
        this.engine.log(
          'warn',
          `closing the dead-letter outlet of ${o.source} failed: ${e instanceof Error ? e.message : String(e)}`,
        ),
      )
    return [
      {
        type: 'delRange',
        gte: encodeKey([OUTLET_LOG, BigInt(id)], [I8, I8]),
        lt: encodeKey([OUTLET_LOG, BigInt(id + 1)], [I8, I8]),
      },
      { type: 'del', key: progressKey(id) },
    ]
  }

  /**
   * Checkpoint `epoch` (synchronous, inside the coordinator's step): each outlet's letters into
   * the batch, but for the sources `sitsOut` names, whose letters wait for a later epoch.
   */
  preCommit(epoch: number, writes: StateWrite[], sitsOut: (source: number) => boolean): void {
    for (const o of this.outlets.values()) {
      if (sitsOut(o.id)) continue
      const bytes = o.outlet.preCommit(epoch)
      if (bytes === undefined) continue
      writes.push({ type: 'put', key: logKey(o.id, epoch), value: bytes })
      this.logged.push([o, epoch, bytes])
    }
  }

  /** The checkpoint is durable: its letters may be committed (and earlier failed ones retried). */
  durable(): void {
    for (const [o, epoch, bytes] of this.logged) o.pending.push({ epoch, bytes })
    this.logged = []
    for (const o of this.outlets.values()) this.drain(o)
  }

  /** The checkpoint failed: checkpoints stop, a restart replays the input its letters came from. */
  failed(): void {
    this.logged = []
  }

  /** Sources an outlet pauses (too far behind on commits). */
  pausingSources(): string[] {
    return [...this.outlets.values()].filter((o) => o.pausing).map((o) => o.source)
  }

  /** Recovery is over (or there was none): commits may run. */
  start(): void {
    this.started = true
    for (const o of this.outlets.values()) this.drain(o)
  }

  /** Whether some letters are not committed yet (buffered, or durable and pending). */
  get waiting(): boolean {
    for (const o of this.outlets.values()) if (o.outlet.waiting > 0 || o.pending.length > 0 || o.running) return true
    return false
  }

  /**
   * FLUSH: when letters wait, takes a checkpoint (so they are logged) and waits until every
   * outlet has committed what is pending. False when `timeoutMs` passed first or a commit fails.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    if (!this.waiting) return true
    const deadline = Date.now() + timeoutMs
    await this.engine.checkpoints.checkpoint()
    // Letters that arrive meanwhile (the sources keep reading) go with a later checkpoint.
    for (;;) {
      const outlets = [...this.outlets.values()]
      if (outlets.every((o) => o.pending.length === 0 && !o.running)) return true
      const failing = outlets.some((o) => o.lastError !== undefined && !o.running)
      if (failing || this.engine.checkpoints.broken !== undefined || Date.now() > deadline) return false
      await new Promise<void>((resolve) => {
        this.idle.push(resolve)
        setTimeout(resolve, 50).unref()
      })
    }
  }

  /** Shutdown, after the last checkpoint: lets its commits finish (at most `waitMs`), then closes every outlet. */
  async close(waitMs = 10_000): Promise<void> {
    const deadline = Date.now() + waitMs
    while ([...this.outlets.values()].some((o) => o.running) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20))
    for (const o of this.outlets.values()) {
      await o.outlet
        .close?.()
        .catch((e: unknown) =>
          this.engine.log(
            'warn',
            `closing the dead-letter outlet of ${o.source} failed: ${e instanceof Error ? e.message : String(e)}`,
          ),
        )
    }
  }

  /** Last commit error per source, for the log and FLUSH's message. */
  errors(): string[] {
    return [...this.outlets.values()].filter((o) => o.lastError !== undefined).map((o) => `${o.source}: ${o.lastError}`)
  }

  private drain(o: Outlet): void {
    if (o.running || !this.started || o.pending.length === 0) return
    o.running = true
    void (async () => {
      try {
        while (o.pending.length > 0 && this.outlets.get(o.id) === o) {
          const next = o.pending[0]
          try {
            await o.outlet.commit(next.epoch, next.bytes)
          } catch (e) {
            o.lastError = e instanceof Error ? e.message : String(e)
            this.engine.log(
              'warn',
              `dead letters of source ${o.source}: commit of epoch ${next.epoch} failed, retrying at the next checkpoint`,
              { error: o.lastError },
            )
            break
          }
          o.lastError = undefined
          o.pending.shift()
          await this.engine.store.write([{ type: 'del', key: logKey(o.id, next.epoch) }]).catch(() => {})
        }
      } finally {
        o.running = false
        const behind = o.pending.length >= MAX_PENDING_EPOCHS
        const src = this.engine.get(o.source)
        if (src?.kind === 'source' && behind !== o.pausing) {
          o.pausing = behind
          // A disk-full episode pauses every source until a checkpoint is durable again.
          src.driver.paused = behind || this.engine.checkpoints.stalled !== undefined
        }
        for (const wake of this.idle.splice(0)) wake()
      }
    })()
  }
}

/**
 * A dead-letter table as an outlet: the route buffers (dead-letters.ts); a commit appends the
 * epoch's rows and sets the progress key in one atomic batch (Engine.applyTableChange), so the
 * rows are there exactly when the progress says so.
 */
export function tableOutlet(engine: Engine, sourceId: () => number, route: DeadLetterTableRoute): DeadLetterOutlet {
  let committed: number | undefined
  const committedEpoch = async (): Promise<number> => {
    if (committed === undefined) {
      const bytes = await engine.store.get(progressKey(sourceId()))
      committed = bytes === undefined ? 0 : Number(new TextDecoder().decode(bytes))
    }
    return committed
  }
  return {
    settle: () => route.settle(),
    get waiting() {
      return route.waiting
    },
    preCommit: () => route.preCommit(),
    committedEpoch,
    async commit(epoch, logged) {
      if (epoch <= (await committedEpoch())) return
      const table = engine.get(route.table)
      if (table?.kind !== 'table') {
        throw new SluiceError(SqlState.undefined_table, `dead-letter table "${route.table}" does not exist`, {
          domain: 'internal',
        })
      }
      const progress: StateWrite = {
        type: 'put',
        key: progressKey(sourceId()),
        value: new TextEncoder().encode(String(epoch)),
      }
      await engine.applyTableChange(table, route.rowsOf(logged), [], [progress])
      committed = epoch
    },
  }
}
