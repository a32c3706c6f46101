/**
 * Key groups and the routing of rows to shards, as Flink does it: a keyed stream is hashed into
 * a fixed number of key groups, and each of `shards` shards owns a contiguous range of them.
 * State is checkpointed per key group range, so a view can later be restored onto a different
 * number of shards by handing out the ranges anew, without rehashing any key.
 *
 * Why the hash is pinned: a row's key group decides which shard's state holds its key, and that
 * state outlives the process. The hash is therefore a pure function of the SQL value (the
 * per-type column hashers of util/key-slots.ts, consistent with valuesEqual; no seeds, no object
 * identity), the same in every thread and process; key-group.test.ts pins a few groups so that a
 * change to it shows up as a failing test rather than as state read by the wrong shard.
 */
import type { Chunk, Column } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { KeyColumn } from '../util/key-slots.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { hashCombine } from '../types/compare.ts'
import { columnFill, keyColumn } from '../util/key-slots.ts'

/** Key groups a keyed stream is split into (fixed for the life of a view's state; shards own ranges of them). */
export const KEY_GROUPS = 256

/** The shard owning a key group when there are `shards` shards: contiguous ranges, as Flink assigns them. */
export function shardOfKeyGroup(keyGroup: number, shards: number): number {
  return Math.floor((keyGroup * shards) / KEY_GROUPS)
}

/**
 * murmur3's 32-bit finalizer. hashCombine leaves consecutive integers in nearby hashes whose
 * low bits cycle; this spreads every input bit over the bits that pick the key group.
 */
function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** A router for one exchange: the key columns of its input and their types. */
export class KeyRouter {
  private readonly hashers: readonly KeyColumn[]
  /** Per input column: whether it holds JS numbers (copied by its own loop, so they stay unboxed). */
  private readonly numeric: readonly boolean[]
  /** The shard of each row of the chunk being partitioned (grown, never shrunk). */
  private shardOf = new Int32Array(1024)
  /** Key group → shard for `ownersFor` shards. */
  private owners = new Int32Array(KEY_GROUPS)
  private ownersFor = 0
  /** Rows per shard, then the next row's position in each shard's part. */
  private readonly counts = new Int32Array(KEY_GROUPS)
  private readonly filled = new Int32Array(KEY_GROUPS)

  constructor(
    private readonly keyColumns: readonly number[],
    /** The input's column types. */
    types: readonly DataType[],
  ) {
    for (const k of keyColumns) {
      if (k < 0 || k >= types.length) throw routerError(`key column ${k} is not among ${types.length} columns`)
    }
    this.hashers = keyColumns.map((k) => keyColumn(types[k]))
    this.numeric = types.map((t) => columnFill(t) === 0)
  }

  /** The key group of row i (0..KEY_GROUPS-1). Rows whose keys are equal under valuesEqual (NULLs equal to each other) get the same group. */
  keyGroupOf(chunk: Chunk, i: number): number {
    const columns = chunk.columns
    const keys = this.keyColumns
    let h = 17
    for (let k = 0; k < keys.length; k++) h = hashCombine(h, this.hashers[k].at(columns[keys[k]], i))
    return fmix32(h) & (KEY_GROUPS - 1)
  }

  /** Splits a chunk into one chunk per shard (undefined where a shard gets no rows), rows in their original order within each part. With shards === 1 returns [chunk]. */
  partition(chunk: Chunk, shards: number): (Chunk | undefined)[] {
    if (shards === 1) return [chunk]
    if (!Number.isInteger(shards) || shards < 1 || shards > KEY_GROUPS) {
      throw routerError(`cannot partition into ${shards} shards (1 to ${KEY_GROUPS})`)
    }
    const n = chunk.length
    if (this.shardOf.length < n) this.shardOf = new Int32Array(Math.max(n, this.shardOf.length * 2))
    const shardOf = this.shardOf
    const owners = this.ownersOf(shards)
    const counts = this.counts.fill(0, 0, shards)
    for (let i = 0; i < n; i++) {
      const s = owners[this.keyGroupOf(chunk, i)]
      shardOf[i] = s
      counts[s]++
    }
    const parts = new Array<Chunk | undefined>(shards).fill(undefined)
    for (let s = 0; s < shards; s++) {
      // Every row to one shard (a skewed or single-key chunk): hand the chunk on as it is.
      if (counts[s] === n) {
        if (n > 0) parts[s] = chunk
        return parts
      }
    }

    const ops: Int8Array[] = []
    for (let s = 0; s < shards; s++) ops.push(new Int8Array(counts[s]))
    const at = this.filled.fill(0, 0, shards)
    const src = chunk.ops
    for (let i = 0; i < n; i++) {
      const s = shardOf[i]
      ops[s][at[s]++] = src[i]
    }
    const width = chunk.columns.length
    const columns: Column[][] = []
    for (let s = 0; s < shards; s++) columns.push([])
    for (let c = 0; c < width; c++) {
      const outs: Value[][] = []
      for (let s = 0; s < shards; s++) {
        const out: Value[] = []
        outs.push(out)
        columns[s].push(out)
      }
      if (this.numeric[c]) scatterNumbers(chunk.columns[c], shardOf, n, outs)
      else scatterValues(chunk.columns[c], shardOf, n, outs)
    }
    for (let s = 0; s < shards; s++) {
      if (ops[s].length > 0) parts[s] = { ops: ops[s], columns: columns[s], length: ops[s].length }
    }
    return parts
  }

  private ownersOf(shards: number): Int32Array {
    if (this.ownersFor !== shards) {
      for (let g = 0; g < KEY_GROUPS; g++) this.owners[g] = shardOfKeyGroup(g, shards)
      this.ownersFor = shards
    }
    return this.owners
  }
}

// Two copies of one loop: each keeps its own type feedback, so a column of doubles is read and
// pushed unboxed instead of through a load site that also sees strings and bigints.

function scatterNumbers(src: Column, shardOf: Int32Array, n: number, outs: Value[][]): void {
  for (let i = 0; i < n; i++) outs[shardOf[i]].push(src[i])
}

function scatterValues(src: Column, shardOf: Int32Array, n: number, outs: Value[][]): void {
  for (let i = 0; i < n; i++) outs[shardOf[i]].push(src[i])
}

function routerError(message: string): SluiceError {
  return new SluiceError(SqlState.internal_error, `key router: ${message}`, { domain: 'internal' })
}
