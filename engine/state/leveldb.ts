/**
 * The LevelDB StateStore (`level`, i.e. classic-level on Node): byte-ordered keys, atomic write
 * batches, durable once a batch resolves.
 *
 * LevelDB has no range delete inside a batch (`clear()` is a separate, non-atomic operation), so a
 * `delRange` is expanded into single deletes of the keys found in the range plus the keys that
 * earlier puts of the same batch add to it. Writes are serialised so that no other batch lands
 * between that scan and the batch.
 */
import { statfs } from 'node:fs/promises'
import { Level } from 'level'
import type { ScanOptions, StateStore, StateWrite, StoreSnapshot } from './store.ts'
import { compareBytes, scanBounds } from './store.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { Mutex } from '../util/mutex.ts'

type Db = Level<Uint8Array, Uint8Array>
/**
 * classic-level's own methods: `level` is classic-level on Node, but its type is the one shared
 * with browsers, which leaves them out.
 */
interface RangeMaintenance {
  approximateSize(start: Uint8Array, end: Uint8Array): Promise<number>
  compactRange(start: Uint8Array, end: Uint8Array): Promise<void>
}
type LevelOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }

/**
 * Free bytes a reopen after a failed write needs besides the batch: LevelDB writes its memtable
 * (4 MB, and as much again being compacted) to a table file when it opens.
 */
const REOPEN_ROOM = 8 << 20

/**
 * Entries, and bytes of keys and values, fetched per round trip to the native iterator, whichever
 * is reached first. classic-level stops a batch at 16 KB by default: a recovery reading 44 MB of
 * aggregate pages made 2,800 round trips of 11 entries and spent 0.55 s waiting on them.
 */
const SCAN_BATCH = 10_000
const SCAN_BATCH_BYTES = 1 << 20

/** Opens (creating if needed) the LevelDB store in `dir`. */
export async function openLevelStore(dir: string): Promise<StateStore> {
  const db = levelDb(dir)
  try {
    await db.open()
  } catch (e) {
    throw new SluiceError(
      SqlState.io_error,
      `cannot open the state store in "${dir}": ${e instanceof Error ? e.message : String(e)}`,
      {
        domain: 'external',
        hint: 'Is another Sluice process using the same data directory?',
        cause: e,
      },
    )
  }
  return new LevelStore(db, dir)
}

function levelDb(dir: string): Db {
  return new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
}

class LevelStore implements StateStore {
  private readonly writes = new Mutex()
  /** The error of a failed write: the handle takes no further write until reopened. */
  private failure: SluiceError | undefined

  constructor(
    private db: Db,
    private readonly dir: string,
  ) {}

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return (await this.db.get(key)) ?? undefined
  }

  getSync(key: Uint8Array): Uint8Array | undefined {
    return this.db.getSync(key) ?? undefined
  }

  snapshot(): StoreSnapshot {
    const snapshot = this.db.snapshot()
    return {
      scanBatches: (prefix, options) => this.scanBatches(prefix, options, snapshot),
      close: () => void snapshot.close().catch(() => undefined),
    }
  }

  async *scan(prefix: Uint8Array, options: ScanOptions = {}): AsyncIterable<[Uint8Array, Uint8Array]> {
    for await (const batch of this.scanBatches(prefix, options)) yield* batch
  }

  async *scanBatches(
    prefix: Uint8Array,
    options: ScanOptions = {},
    snapshot?: ReturnType<Db['snapshot']>,
  ): AsyncIterable<readonly [Uint8Array, Uint8Array][]> {
    const { gte, lt } = scanBounds(prefix, options)
    if (lt !== undefined && compareBytes(gte, lt) >= 0) return
    const range: {
      gte: Uint8Array
      lt?: Uint8Array
      limit?: number
      reverse?: boolean
      snapshot?: ReturnType<Db['snapshot']>
      highWaterMarkBytes: number
    } = { gte, highWaterMarkBytes: SCAN_BATCH_BYTES }
    if (snapshot !== undefined) range.snapshot = snapshot
    if (lt !== undefined) range.lt = lt
    if (options.limit !== undefined) range.limit = options.limit
    if (options.reverse !== undefined) range.reverse = options.reverse
    const it = this.db.iterator(range)
    // The next batch is read (on LevelDB's thread) while the caller decodes this one.
    let next: Promise<[Uint8Array, Uint8Array][]> | undefined
    try {
      let entries = await it.nextv(SCAN_BATCH)
      while (entries.length > 0) {
        next = it.nextv(SCAN_BATCH)
        yield entries
        entries = await next
        next = undefined
      }
    } finally {
      // A caller that stopped early leaves a read in flight: let it finish before closing.
      await next?.catch(() => undefined)
      await it.close()
    }
  }

  async write(batch: readonly StateWrite[]): Promise<void> {
    if (batch.length === 0) return
    await this.writes.run(async () => {
      if (this.failure !== undefined) await this.reopen(batch)
      const ops = batch.some((w) => w.type === 'delRange') ? await this.expand(batch) : (batch as readonly LevelOp[])
      try {
        // A chained batch: one native call per op costs the main thread a third of what the
        // array form does (it reads every op object's fields through N-API), measured on 500k puts.
        const batch = this.db.batch()
        for (const op of ops) {
          if (op.type === 'put') batch.put(op.key, op.value)
          else batch.del(op.key)
        }
        await batch.write()
      } catch (e) {
        this.failure = new SluiceError(
          SqlState.io_error,
          `cannot write to the state store in "${this.dir}": ${e instanceof Error ? e.message : String(e)}`,
          {
            domain: 'external',
            cause: e,
          },
        )
        throw this.failure
      }
    })
  }

  /**
   * After a failed write (a full disk) LevelDB's log may end in a torn record its writer has
   * already stepped past: a later write that succeeds lands misaligned and is silently dropped
   * when the log is replayed at the next open (reproduced on a full tmpfs), and a failed memtable
   * flush fails every later write. So that handle takes no more writes: the next one first
   * reopens the store, which replays the log up to the torn record. Only when the disk has room
   * for the open's memtable flush: a failed open would leave reads without a store.
   */
  private async reopen(batch: readonly StateWrite[]): Promise<void> {
    const failure = this.failure
    if (failure === undefined) return
    let bytes = 0
    for (const w of batch) bytes += w.type === 'put' ? w.key.length + w.value.length : 0
    const need = REOPEN_ROOM + 2 * bytes
    const fs = await statfs(this.dir).catch(() => undefined)
    const free = fs === undefined ? undefined : fs.bavail * fs.bsize
    if (free !== undefined && free < need) {
      throw new SluiceError(SqlState.io_error, `${failure.message} (${free} bytes free, ${need} needed to resume)`, {
        domain: 'external',
        cause: failure,
      })
    }
    await this.db.close()
    const db = levelDb(this.dir)
    try {
      await db.open()
    } catch (e) {
      throw new SluiceError(
        SqlState.io_error,
        `cannot reopen the state store in "${this.dir}": ${e instanceof Error ? e.message : String(e)}`,
        { domain: 'external', cause: e },
      )
    }
    this.db = db
    this.failure = undefined
  }

  async approximateSize(gte: Uint8Array, lt: Uint8Array): Promise<number> {
    if (compareBytes(gte, lt) >= 0) return 0
    return (this.db as unknown as RangeMaintenance).approximateSize(gte, lt)
  }

  async compactRange(gte: Uint8Array, lt: Uint8Array): Promise<void> {
    if (compareBytes(gte, lt) >= 0) return
    // Not under the write mutex: LevelDB runs it in the background and takes writes meanwhile.
    await (this.db as unknown as RangeMaintenance).compactRange(gte, lt)
  }

  async close(): Promise<void> {
    await this.writes.run(() => this.db.close())
  }

  /** Replaces each delRange by deletes of the keys it covers at that point of the batch. */
  private async expand(batch: readonly StateWrite[]): Promise<LevelOp[]> {
    const ops: LevelOp[] = []
    for (const w of batch) {
      if (w.type !== 'delRange') {
        ops.push(w)
        continue
      }
      if (compareBytes(w.gte, w.lt) >= 0) continue
      const before = ops.length
      const it = this.db.keys({ gte: w.gte, lt: w.lt })
      try {
        for (;;) {
          const keys = await it.nextv(SCAN_BATCH)
          if (keys.length === 0) break
          for (const key of keys) ops.push({ type: 'del', key })
        }
      } finally {
        await it.close()
      }
      // Keys put earlier in this batch are not in the store yet.
      for (let i = 0; i < before; i++) {
        const op = ops[i]
        if (op.type === 'put' && compareBytes(op.key, w.gte) >= 0 && compareBytes(op.key, w.lt) < 0)
          ops.push({ type: 'del', key: op.key })
      }
    }
    return ops
  }
}
