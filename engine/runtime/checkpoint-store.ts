/**
 * Where checkpoints live in the store, and reading them back (docs/design/checkpoints.md): the
 * key layout, operators' own key ranges (state tables), recovery at startup, and what DROP
 * removes. The coordinator that writes checkpoints is checkpoint.ts.
 *
 * Key space (all under negative ids, away from object ids):
 *   (-3)                          → the meta record of the last durable checkpoint (JSON)
 *   (-4, object id, op index) ++ k → operator state entry k of that operator
 *   (-4, view id, -1 - shard, op)  → a sharded view's shard state (engine/shard/)
 *   (-5, sink id, epoch)           → a sink's logged output of an epoch not yet known committed
 */
import type { Operator, OperatorStore, StateCache, StateEntry } from '../ops/operator.ts'
import type { StateStore, StateWrite } from '../state/store.ts'
import type { SourceClocks } from '../connector.ts'
import { decodeKey, encodeKey } from '../state/codec.ts'
import { T } from '../types/datatype.ts'
import { SluiceError, SqlState } from '../errors.ts'

const I8 = T.int8
export const META_KEY = encodeKey([-3n], [I8])
const STATE = -4n
const SINK_LOG = -5n

/** What the meta record of a checkpoint holds; object ids as keys. */
export interface CheckpointMeta {
  readonly epoch: number
  /** Wall clock ms when it was taken. */
  readonly at: number
  /** Source id → reader offsets. */
  readonly sources: Readonly<Record<string, Readonly<Record<string, string>>>>
  /** Source id → the reader's per-partition clocks at those offsets (absent before 2026-12-07). */
  readonly clocks?: Readonly<Record<string, SourceClocks>>
  /** Table id → the last change-log entry its views had applied. */
  readonly tables: Readonly<Record<string, number>>
  /** Ids of the views and sinks whose operator state the checkpoint holds. */
  readonly dataflows: readonly number[]
  /** The engine's processing time (ms) at the checkpoint: a restart continues the ttl clock from it. */
  readonly clock?: number
  /** Relation id → [column, max event time] of its stream (rebuilds watermarks). */
  readonly marks: Readonly<Record<string, readonly (readonly [number, number])[]>>
  /**
   * The plan version of the build that wrote it: absent before window aggregates were fused
   * (WindowAggregate), 2 since, 3 since shared subplans (engine/plan/shared-subplans.ts).
   * Operator state is keyed by the operators' positions, so a dataflow restores under the plan
   * shape its state was written by.
   */
  readonly plans?: number
  /** With `plans`: the dataflows still planned without fused window aggregates. */
  readonly unfused?: readonly number[]
  /** With `plans` from 3: the dataflows still planned without shared subplans. */
  readonly unshared?: readonly number[]
  /**
   * Each dataflow's operators by name, in order (`Materialize,FilterProject,...`): a restore
   * whose plan lowers to another shape is refused rather than handing state to the wrong operators.
   */
  readonly shapes?: Readonly<Record<string, string>>
}

/** A dataflow's operators by name, in order (CheckpointMeta.shapes). */
export function operatorShape(ops: readonly Operator[]): string {
  return ops.map((op) => op.name).join(',')
}

export function operatorPrefix(objectId: number, opIndex: number): Uint8Array {
  return encodeKey([STATE, BigInt(objectId), BigInt(opIndex)], [I8, I8, I8])
}

/**
 * A sharded view's shard state (engine/shard/): operator `opIndex` of shard `shard`, or with
 * `opIndex` −1 the shard's reader positions. Apart from the view's own operators' keys (a
 * negative third component), inside its range (DROP removes it with the rest).
 */
export function shardOperatorPrefix(objectId: number, shard: number, opIndex: number): Uint8Array {
  return encodeKey([STATE, BigInt(objectId), BigInt(-1 - shard), BigInt(opIndex)], [I8, I8, I8, I8])
}

export function sinkLogKey(sinkId: number, epoch: number): Uint8Array {
  return encodeKey([SINK_LOG, BigInt(sinkId), BigInt(epoch)], [I8, I8, I8])
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

/** A sink's epochs that are durable in a checkpoint but not yet committed externally. */
export interface PendingEpoch {
  readonly epoch: number
  readonly bytes: Uint8Array | undefined
}

/**
 * Hands each operator with state tables its key range of the store (before any input, and
 * before restore).
 */
export function attachOperatorStores(
  store: StateStore,
  cache: StateCache,
  owner: string,
  objectId: number,
  ops: readonly Operator[],
): void {
  ops.forEach((op, i) => {
    if (op.attachStore === undefined) return
    const prefix = operatorPrefix(objectId, i)
    // A lookup's prefixed key is built in a scratch array (one per key length; the store reads it
    // at once and keeps nothing), not a new array per cache miss.
    let scratch = new Uint8Array(0)
    const local: OperatorStore = {
      owner,
      cache,
      getSync: (key) => {
        if (scratch.length !== prefix.length + key.length) {
          scratch = new Uint8Array(prefix.length + key.length)
          scratch.set(prefix)
        }
        scratch.set(key, prefix.length)
        return store.getSync(scratch)
      },
      snapshot: () => {
        const snapshot = store.snapshot()
        return {
          close: () => snapshot.close(),
          entries: async function* (gte?: Uint8Array) {
            const options = gte === undefined ? {} : { gte: concat(prefix, gte) }
            for await (const batch of snapshot.scanBatches(prefix, options))
              yield batch.map(([k, v]): StateEntry => [k.subarray(prefix.length), v])
          },
        }
      },
    }
    op.attachStore(local)
  })
}

/** The last durable checkpoint as read at startup. */
export class Recovery {
  private constructor(
    readonly meta: CheckpointMeta,
    private readonly store: StateStore,
  ) {}

  static async load(store: StateStore): Promise<Recovery | undefined> {
    const bytes = await store.get(META_KEY)
    if (bytes === undefined) return undefined
    return new Recovery(JSON.parse(new TextDecoder().decode(bytes)) as CheckpointMeta, store)
  }

  has(objectId: number): boolean {
    return this.meta.dataflows.includes(objectId)
  }

  /** Whether the dataflow's state was written by a plan with fused window aggregates. */
  fusedWindows(objectId: number): boolean {
    return this.meta.plans !== undefined && this.meta.unfused?.includes(objectId) !== true
  }

  /** Whether the dataflow's state was written by a plan with shared subplans. */
  sharedSubplans(objectId: number): boolean {
    return (this.meta.plans ?? 0) >= 3 && this.meta.unshared?.includes(objectId) !== true
  }

  /** Restores every operator of a dataflow from its entries (keys as the operator wrote them). */
  async restoreOperators(objectId: number, ops: readonly Operator[]): Promise<void> {
    const shape = this.meta.shapes?.[objectId]
    const now = operatorShape(ops)
    if (shape !== undefined && shape !== now)
      throw new SluiceError(
        SqlState.internal_error,
        `its checkpoint was written by a plan of other operators (${shape}), not this build's (${now})`,
        {
          hint: 'Checkpoints stay halted so that nothing of its state is lost; DROP and CREATE it again to start over.',
        },
      )
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]
      if (op.restore === undefined) continue
      const prefix = operatorPrefix(objectId, i)
      const entries: StateEntry[] = []
      const options = op.restoreBelow === undefined ? {} : { lt: concat(prefix, op.restoreBelow) }
      for await (const batch of this.store.scanBatches(prefix, options)) {
        for (const [key, value] of batch) entries.push([key.subarray(prefix.length), value])
        // The store reads the next batch while this one is restored.
        if (op.restoresInBatches === true) op.restore(entries.splice(0))
      }
      if (op.restoresInBatches !== true) op.restore(entries)
    }
  }

  /** Every entry under `prefix`, keys without it (a shard's state, read for its worker). */
  async entriesUnder(prefix: Uint8Array): Promise<StateEntry[]> {
    const entries: StateEntry[] = []
    for await (const batch of this.store.scanBatches(prefix, {}))
      for (const [key, value] of batch) entries.push([key.subarray(prefix.length), value])
    return entries
  }

  marks(objectId: number): readonly (readonly [number, number])[] {
    return this.meta.marks[objectId] ?? []
  }

  /** A sink's logged epochs (durable, maybe not committed), oldest first. */
  async sinkLog(sinkId: number): Promise<PendingEpoch[]> {
    const prefix = encodeKey([SINK_LOG, BigInt(sinkId)], [I8, I8])
    const out: PendingEpoch[] = []
    for await (const [key, value] of this.store.scan(prefix)) {
      out.push({ epoch: Number(decodeKey(key, [I8, I8, I8])[2]), bytes: value })
    }
    return out
  }
}

/** Writes that remove everything a dropped view or sink left in checkpoints. */
export function dropStateWrites(objectId: number): StateWrite[] {
  const out: StateWrite[] = []
  for (const base of [STATE, SINK_LOG]) {
    const gte = encodeKey([base, BigInt(objectId)], [I8, I8])
    const lt = encodeKey([base, BigInt(objectId + 1)], [I8, I8])
    out.push({ type: 'delRange', gte, lt })
  }
  return out
}
