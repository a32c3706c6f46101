/**
 * A shard's state tables over the main thread's store (docs/design/shards.md, "State").
 *
 * The store (LevelDB) is open in the main thread only: a LevelDB directory takes one handle per
 * process, and a checkpoint writes every shard's changes and the readers' positions in one
 * atomic batch there. A shard's operators reach their key ranges through this link:
 *
 * - a cache miss in the middle of a chunk (`getSync`, the same synchronous read as on the main
 *   thread, docs/design/state.md) posts the key and blocks the shard's thread on a shared
 *   counter until the main thread has read it and posted the value back; the shard takes the
 *   reply with receiveMessageOnPort, so its event loop never runs in the middle of a chunk;
 * - recovery scans (the pages an operator keeps in memory) are pulled a batch at a time over a
 *   second channel, asynchronously, as the main thread restores its own views.
 *
 * The main thread never waits on a shard, so a blocked shard cannot deadlock with it; a miss
 * costs a thread round trip on top of LevelDB's read (docs/benchmarks.md, "Shards").
 */
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads'
import type { StateEntry } from '../ops/operator.ts'
import type { StateStore, StoreSnapshot } from '../state/store.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { concat } from '../runtime/checkpoint-store.ts'

/** The shard's ends of its link (in ShardInit; the ports are transferred). */
export interface StateLinkEnds {
  /** Point reads: requests from the shard, replies taken synchronously by the shard. */
  readonly gets: MessagePort
  /** Scans: pulled a batch at a time. */
  readonly scans: MessagePort
  /** One Int32: bumped by the main thread after each get reply. */
  readonly signal: SharedArrayBuffer
}

interface GetRequest {
  readonly op: number
  readonly key: Uint8Array
}

interface GetReply {
  readonly value: Uint8Array | undefined
  readonly error?: string
}

type ScanRequest =
  | {
      readonly t: 'open'
      readonly id: number
      readonly op: number
      readonly gte?: Uint8Array
      readonly lt?: Uint8Array
    }
  | { readonly t: 'next'; readonly id: number }
  | { readonly t: 'close'; readonly id: number }

interface ScanReply {
  readonly id: number
  readonly entries: StateEntry[]
  readonly done: boolean
  readonly error?: string
}

/** A copy holding exactly these bytes (a view's clone would carry its whole buffer). */
function own(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes)
}

/**
 * The main thread's side of one shard's link: serves its reads from the store under the shard's
 * operator prefixes (`prefixOf(op)`).
 */
export class ShardStateServer {
  readonly ends: StateLinkEnds
  private readonly gets: MessagePort
  private readonly scans: MessagePort
  private readonly signal: Int32Array
  private readonly open = new Map<
    number,
    { snapshot: StoreSnapshot; batches: AsyncIterator<readonly [Uint8Array, Uint8Array][]>; skip: number }
  >()

  constructor(
    private readonly store: StateStore,
    private readonly prefixOf: (op: number) => Uint8Array,
  ) {
    const gets = new MessageChannel()
    const scans = new MessageChannel()
    const signal = new SharedArrayBuffer(4)
    this.gets = gets.port1
    this.scans = scans.port1
    this.signal = new Int32Array(signal)
    this.ends = { gets: gets.port2, scans: scans.port2, signal }
    this.gets.on('message', (m: GetRequest) => this.get(m))
    this.scans.on('message', (m: ScanRequest) => void this.scan(m))
    // The shard's threads keep the process alive while they run; the links need not.
    this.gets.unref()
    this.scans.unref()
  }

  /** The ports to transfer with the shard's init. */
  transfer(): MessagePort[] {
    return [this.ends.gets, this.ends.scans]
  }

  private get(m: GetRequest): void {
    let reply: GetReply
    try {
      const value = this.store.getSync(concat(this.prefixOf(m.op), m.key))
      reply = { value: value === undefined ? undefined : own(value) }
    } catch (e) {
      reply = { value: undefined, error: e instanceof Error ? e.message : String(e) }
    }
    this.gets.postMessage(reply)
    Atomics.add(this.signal, 0, 1)
    Atomics.notify(this.signal, 0)
  }

  private async scan(m: ScanRequest): Promise<void> {
    try {
      if (m.t === 'close') return this.finish(m.id)
      if (m.t === 'open') {
        const prefix = this.prefixOf(m.op)
        const snapshot = this.store.snapshot()
        const options = {
          ...(m.gte === undefined ? {} : { gte: concat(prefix, m.gte) }),
          ...(m.lt === undefined ? {} : { lt: concat(prefix, m.lt) }),
        }
        const batches = snapshot.scanBatches(prefix, options)[Symbol.asyncIterator]()
        this.open.set(m.id, { snapshot, batches, skip: prefix.length })
      }
      const scan = this.open.get(m.id)
      if (scan === undefined) return
      const next = await scan.batches.next()
      const entries =
        next.done === true ? [] : next.value.map(([k, v]): StateEntry => [own(k.subarray(scan.skip)), own(v)])
      const done = next.done === true
      if (done) this.finish(m.id)
      this.scans.postMessage({ id: m.id, entries, done } satisfies ScanReply)
    } catch (e) {
      this.finish(m.id)
      const error = e instanceof Error ? e.message : String(e)
      this.scans.postMessage({ id: m.id, entries: [], done: true, error } satisfies ScanReply)
    }
  }

  private finish(id: number): void {
    this.open.get(id)?.snapshot.close()
    this.open.delete(id)
  }

  close(): void {
    for (const id of [...this.open.keys()]) this.finish(id)
    this.gets.close()
    this.scans.close()
  }
}

/** The shard's side: reads of its operators' key ranges in the main thread's store. */
export class ShardStateClient {
  private readonly signal: Int32Array
  private nextScan = 1
  private readonly waiting = new Map<number, (reply: ScanReply) => void>()

  constructor(private readonly ends: StateLinkEnds) {
    this.signal = new Int32Array(ends.signal)
    // Referenced: a shard restoring waits on it before anything else holds its thread open.
    ends.scans.on('message', (reply: ScanReply) => this.waiting.get(reply.id)?.(reply))
  }

  /**
   * Operator `op`'s durable value of a local key: blocks this thread until the main thread
   * answers (it never waits on a shard, so it always does).
   */
  getSync(op: number, key: Uint8Array): Uint8Array | undefined {
    const seen = Atomics.load(this.signal, 0)
    this.ends.gets.postMessage({ op, key: key.slice() } satisfies GetRequest)
    for (;;) {
      Atomics.wait(this.signal, 0, seen, 1000)
      const m = receiveMessageOnPort(this.ends.gets)
      if (m === undefined) continue
      const reply = m.message as GetReply
      if (reply.error !== undefined)
        throw new SluiceError(SqlState.io_error, `could not read the view's state: ${reply.error}`, {
          domain: 'external',
        })
      return reply.value
    }
  }

  /** Operator `op`'s entries (local keys) within gte/lt, a batch at a time, from a snapshot. */
  async *scan(op: number, gte?: Uint8Array, lt?: Uint8Array): AsyncGenerator<StateEntry[]> {
    const id = this.nextScan++
    let done = false
    const reply = (): Promise<ScanReply> =>
      new Promise((resolve) =>
        this.waiting.set(id, (r) => {
          this.waiting.delete(id)
          resolve(r)
        }),
      )
    try {
      let pending = reply()
      this.ends.scans.postMessage({ t: 'open', id, op, gte, lt } satisfies ScanRequest)
      for (;;) {
        const r = await pending
        done = r.done
        if (r.error !== undefined)
          throw new SluiceError(SqlState.io_error, `could not read the view's state: ${r.error}`, {
            domain: 'external',
          })
        if (!done) {
          // The next batch is read while this one is restored.
          pending = reply()
          this.ends.scans.postMessage({ t: 'next', id } satisfies ScanRequest)
        }
        if (r.entries.length > 0) yield r.entries
        if (done) return
      }
    } finally {
      this.waiting.delete(id)
      if (!done) this.ends.scans.postMessage({ t: 'close', id } satisfies ScanRequest)
    }
  }

  close(): void {
    this.ends.gets.close()
    this.ends.scans.close()
  }
}
