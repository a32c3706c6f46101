/**
 * For tests of operators over state tables (hash-aggregate-spill, hash-join-spill): one operator
 * wired to a MemoryStore as engine/runtime/checkpoint.ts wires it, a checkpoint in its two halves,
 * and recovery as the coordinator does it.
 */
import type { Chunk, Watermark } from '../chunk.ts'
import type { Value } from '../types/datatype.ts'
import type { CheckpointWriter, Emitter, Operator, OperatorStore, StateEntry } from './operator.ts'
import { rowAt } from '../chunk.ts'
import type { EngineStateCache } from '../state/cache.ts'
import type { MemoryStore } from '../state/memory.ts'
import type { StateWrite } from '../state/store.ts'
import { prefixEnd } from '../state/store.ts'

/** The operator's key range in the store. */
const PREFIX = new Uint8Array([9, 9])

function withPrefix(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(PREFIX.length + key.length)
  out.set(PREFIX)
  out.set(key, PREFIX.length)
  return out
}

/** The engine's wiring of one operator to a store. */
export function operatorStore(store: MemoryStore, cache: EngineStateCache): OperatorStore {
  return {
    owner: 'v',
    cache,
    getSync: (key) => store.getSync(withPrefix(key)),
    snapshot: () => {
      const snap = store.snapshot()
      return {
        close: () => snap.close(),
        entries: async function* (gte?: Uint8Array) {
          const options = gte === undefined ? {} : { gte: withPrefix(gte) }
          // Small batches, a macrotask apart: the dataflow and checkpoints run between them.
          for await (const batch of snap.scanBatches(PREFIX, options)) {
            for (let i = 0; i < batch.length; i += 3) {
              await new Promise((resolve) => setImmediate(resolve))
              yield batch.slice(i, i + 3).map(([k, v]): StateEntry => [k.subarray(PREFIX.length), v])
            }
          }
        },
      }
    },
  }
}

type Checkpointed = Required<Pick<Operator, 'checkpoint' | 'checkpointed'>>

/**
 * A checkpoint in its two halves: the synchronous collect now, the store write and the
 * `checkpointed()` call later (the dataflow keeps running between them in the engine).
 */
export function collect(op: Checkpointed): (store: MemoryStore) => Promise<void> {
  const writes: StateWrite[] = []
  const writer: CheckpointWriter = {
    put: (key, value) => writes.push({ type: 'put', key: withPrefix(key), value }),
    del: (key) => writes.push({ type: 'del', key: withPrefix(key) }),
    clear: () => writes.push({ type: 'delRange', gte: PREFIX, lt: prefixEnd(PREFIX)! }),
  }
  op.checkpoint(writer)
  return async (store) => {
    await store.write(writes)
    op.checkpointed()
  }
}

/** A whole checkpoint at once. */
export async function checkpoint(op: Checkpointed, store: MemoryStore): Promise<void> {
  await collect(op)(store)
}

/** Recovery as the coordinator does it: the entries below `restoreBelow`, then restore(); their count. */
export async function restore(op: Required<Pick<Operator, 'restore'>> & Operator, store: MemoryStore): Promise<number> {
  const entries: StateEntry[] = []
  const lt = op.restoreBelow === undefined ? prefixEnd(PREFIX)! : withPrefix(op.restoreBelow)
  for await (const batch of store.scanBatches(PREFIX, { lt }))
    for (const [k, v] of batch) entries.push([k.subarray(PREFIX.length), v])
  // An operator restoring in batches gets small ones (three entries), so every test restores
  // across batch boundaries.
  if (op.restoresInBatches === true)
    for (let at = 0; at < entries.length; at += 3) op.restore(entries.slice(at, at + 3))
  else op.restore(entries)
  return entries.length
}

/** A row as text, bigints as strings. */
export function text(row: readonly Value[]): string {
  return JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))
}

/** What downstream holds: row text → multiplicity. */
export class Held implements Emitter {
  readonly rows = new Map<string, number>()
  chunk(c: Chunk): void {
    for (let i = 0; i < c.length; i++) {
      const k = text(rowAt(c, i))
      const n = (this.rows.get(k) ?? 0) + c.ops[i]
      if (n === 0) this.rows.delete(k)
      else this.rows.set(k, n)
    }
  }
  watermark(_w: Watermark): void {}
  /** The distinct rows held, sorted. */
  sorted(): string[] {
    return [...this.rows.keys()].sort()
  }
  /** The rows held with their multiplicities, sorted. */
  counted(): string[] {
    return [...this.rows.entries()].map(([k, n]) => `${k}×${n}`).sort()
  }
}
