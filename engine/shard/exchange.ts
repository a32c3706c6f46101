/**
 * A shard's side of its view's keyed exchanges (docs/design/shards.md).
 *
 * An exchange sits on the input of a stateful operator. The stage below it runs in every shard
 * over that shard's rows; its output is split by the operator's key columns into key groups
 * (key-group.ts), each owned by one shard. Rows of this shard's own key groups are pushed on
 * synchronously, the others are encoded (wire.ts) and posted to their shard. On the receiving
 * side every sender is one input: the exchange's watermark is the minimum over the senders', and
 * a checkpoint barrier has passed the exchange once a marker came from every sender.
 *
 * Flow control: a sender counts the chunks it posted to each peer and not yet acknowledged; the
 * shard's readers do not poll while any peer has more than `MAX_IN_FLIGHT` (ShardNet.ready),
 * so a slow shard slows the sources instead of growing the queues.
 */
import type { MessagePort } from 'node:worker_threads'
import type { Chunk } from '../chunk.ts'
import type { Emitter } from '../ops/operator.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { RelationInput } from '../runtime/dataflow.ts'
import { Stream } from '../runtime/stream.ts'
import { emptyColumns } from '../chunk.ts'
import { KeyRouter } from './key-group.ts'
import { decodeChunk, encodeChunk } from './wire.ts'
import type { PeerMessage } from './protocol.ts'

/** Chunks a sender may have posted to one peer before its readers wait for acknowledgements. */
export const MAX_IN_FLIGHT = 8
/** A receiver acknowledges this many chunks at a time. */
export const ACK_EVERY = 2

/** One shard's channels to the other shards of its view, with their credits. */
export class ShardNet {
  private readonly inFlight: Int32Array
  private readonly unacked: Int32Array
  private waiters: (() => void)[] = []
  private readonly waiting = new Set<ExchangeEdge>()

  constructor(
    readonly shard: number,
    readonly shards: number,
    private readonly peers: readonly (MessagePort | undefined)[],
  ) {
    this.inFlight = new Int32Array(shards)
    this.unacked = new Int32Array(shards)
  }

  sendChunk(to: number, edge: number, bytes: Uint8Array): void {
    this.inFlight[to]++
    this.post(to, { t: 'chunk', edge, bytes }, [bytes.buffer as ArrayBuffer])
  }

  post(to: number, message: PeerMessage, transfer?: ArrayBuffer[]): void {
    const port = this.peers[to]
    if (port === undefined) throw new Error(`shard ${this.shard} has no channel to shard ${to}`)
    port.postMessage(message, transfer ?? [])
  }

  /** A chunk from `from` was applied: acknowledges every ACK_EVERY of them. */
  applied(from: number): void {
    if (++this.unacked[from] < ACK_EVERY) return
    this.post(from, { t: 'ack', n: this.unacked[from] })
    this.unacked[from] = 0
  }

  acknowledged(from: number, n: number): void {
    this.inFlight[from] -= n
    if (this.waiters.length > 0 && this.open()) {
      const waiters = this.waiters
      this.waiters = []
      for (const w of waiters) w()
    }
  }

  /** Sends what is still unacknowledged (before a barrier ends: nothing may stay owed). */
  flushAcks(): void {
    for (let p = 0; p < this.shards; p++) {
      if (this.unacked[p] === 0) continue
      this.post(p, { t: 'ack', n: this.unacked[p] })
      this.unacked[p] = 0
    }
  }

  private open(): boolean {
    for (let p = 0; p < this.shards; p++) if (this.inFlight[p] > MAX_IN_FLIGHT) return false
    return true
  }

  /**
   * Flushes `edge` within GATHER_MS if nothing fills it first (one timer for all edges): what a
   * gather waits for when rows come slowly.
   */
  later(edge: ExchangeEdge): void {
    this.waiting.add(edge)
    if (this.waiting.size > 1) return
    setTimeout(() => {
      const edges = [...this.waiting]
      this.waiting.clear()
      for (const e of edges) e.flush()
    }, GATHER_MS)
  }

  /** Resolves when every peer has room (undefined when they have now: no await). */
  ready(): Promise<void> | undefined {
    if (this.open()) return undefined
    return new Promise((resolve) => this.waiters.push(resolve))
  }
}

/**
 * Rows an exchange holds at most while it waits for a round from every sender (then it hands on
 * what it has). A stateful operator emits once per group per chunk it receives: two halves of
 * one stretch of input handed on apart would double its output, and a join above it
 * re-evaluates every change.
 */
const GATHER_MAX_ROWS = 16_384
/** The longest a received row waits for the other senders' rounds, ms. */
const GATHER_MS = 20

/** The chunks as one (columns concatenated in order); a lone non-empty chunk as it is, uncopied. */
function concatChunks(all: readonly Chunk[], rows: number): Chunk {
  // A round often has empty parts (a sender without rows for this shard): they cost no copy.
  const chunks = all.length === 1 ? all : all.filter((c) => c.length > 0)
  if (chunks.length === 1) return chunks[0]
  if (chunks.length === 0) return all[0]
  const width = chunks[0].columns.length
  const ops = new Int8Array(rows)
  const columns: Value[][] = []
  for (let c = 0; c < width; c++) columns.push(new Array<Value>(rows))
  let at = 0
  for (const chunk of chunks) {
    ops.set(chunk.ops, at)
    for (let c = 0; c < width; c++) {
      const from = chunk.columns[c]
      const to = columns[c]
      for (let i = 0; i < chunk.length; i++) to[at + i] = from[i]
    }
    at += chunk.length
  }
  return { ops, columns, length: rows }
}

/** One exchange of the view, in one shard: sender of the stage below, receiver of the operator above. */
export class ExchangeEdge {
  private readonly stream: Stream
  /** Per sender, chunks received and not yet handed on (see GATHER_ROWS). */
  private readonly queues: Chunk[][]
  private pendingRows = 0
  private readonly empty: Chunk
  /** The senders' minimum per watermark column, handed on with the rows. */
  private readonly pendingMarks = new Map<number, number>()
  private readonly router: KeyRouter
  /** Per watermark column: each sender's latest value (−∞ until it sent one). */
  private readonly marks = new Map<number, Float64Array>()
  /** Per sender: 1 while it has declared itself idle (declareIdle). */
  private readonly idle: Uint8Array
  /** This shard has said it is idle here and sent no watermark since. */
  private declaredIdle = false
  /** Markers received from senders, over all barriers (a barrier has passed at shards × barriers). */
  markers = 0
  readonly relation: RelationInput

  constructor(
    readonly id: number,
    readonly keys: readonly number[],
    private readonly types: readonly DataType[],
    private readonly net: ShardNet,
  ) {
    this.stream = new Stream(`exchange ${id}`)
    this.queues = Array.from({ length: net.shards }, (): Chunk[] => [])
    this.idle = new Uint8Array(net.shards)
    this.empty = { columns: emptyColumns(types.length), ops: new Int8Array(0), length: 0 }
    this.router = new KeyRouter(keys, types)
    const width = types.length
    this.relation = {
      name: `exchange ${id}`,
      stream: this.stream,
      snapshot: (): Chunk => ({ columns: emptyColumns(width), ops: new Int8Array(0), length: 0 }),
    }
  }

  /** Where the stage below the exchange emits. */
  sender(): Emitter {
    const net = this.net
    const self = net.shard
    return {
      chunk: (chunk) => {
        const parts = this.router.partition(chunk, net.shards)
        for (let to = 0; to < parts.length; to++) {
          // Every shard gets a part of every chunk, empty or not: it gathers by rounds (receive).
          const part = parts[to] ?? this.empty
          if (to === self) this.receive(self, part)
          else net.sendChunk(to, this.id, encodeChunk(part, this.types))
        }
      },
      watermark: (w) => {
        this.declaredIdle = false
        for (let to = 0; to < net.shards; to++) {
          if (to === self) this.watermarkFrom(self, w.column, w.value)
          else net.post(to, { t: 'watermark', edge: this.id, column: w.column, value: w.value })
        }
      },
    }
  }

  /** After every row before the barrier was sent: a marker to every shard (this one counts at once). */
  sendMarkers(): void {
    for (let to = 0; to < this.net.shards; to++) {
      if (to === this.net.shard) this.markers++
      else this.net.post(to, { t: 'marker', edge: this.id })
    }
  }

  receiveChunk(from: number, bytes: Uint8Array): void {
    this.receive(from, decodeChunk(bytes, this.types))
  }

  private receive(from: number, chunk: Chunk): void {
    const queues = this.queues
    queues[from].push(chunk)
    this.pendingRows += chunk.length
    // A round: the oldest chunk of every sender together. Each shard reads its split in batches
    // of the same size and order, so the i-th chunks of all senders cover the same stretch of the
    // input: together they are what one thread would have seen in one batch.
    while (queues.every((q) => q.length > 0)) {
      const round = queues.map((q) => q.shift()!)
      const rows = round.reduce((n, c) => n + c.length, 0)
      this.pendingRows -= rows
      this.stream.push(concatChunks(round, rows))
    }
    if (this.pendingRows >= GATHER_MAX_ROWS) this.flush()
    else if (this.pendingRows === 0 && this.pendingMarks.size > 0) this.pushMarks()
    else if (this.pendingRows > 0) this.net.later(this)
  }

  /** Hands on everything received (a sender fell behind, a barrier, a watermark waiting), then the watermarks. */
  flush(): void {
    if (this.pendingRows > 0) {
      const chunks = this.queues.flatMap((q) => q.splice(0))
      const chunk = concatChunks(chunks, this.pendingRows)
      this.pendingRows = 0
      this.stream.push(chunk)
    }
    this.pushMarks()
  }

  /** After the rows received before them (flush): a row held past its watermark would be judged late. */
  private pushMarks(): void {
    if (this.pendingMarks.size === 0) return
    const marks = [...this.pendingMarks]
    this.pendingMarks.clear()
    for (const [column, value] of marks) this.stream.pushWatermark({ kind: 'watermark', column, value })
  }

  /**
   * This shard's readers vouch for no event time (its Kafka partitions hold no records, or have
   * all been silent for the source's idle_timeout) and it has nothing in flight: the other
   * shards leave it out of the minimum, as a reader leaves out such a partition, until it sends
   * a watermark again.
   */
  declareIdle(): void {
    if (this.declaredIdle) return
    this.declaredIdle = true
    for (let to = 0; to < this.net.shards; to++) {
      if (to === this.net.shard) this.idleFrom(to)
      else this.net.post(to, { t: 'idle', edge: this.id })
    }
  }

  idleFrom(sender: number): void {
    this.idle[sender] = 1
    for (const column of this.marks.keys()) this.advance(column)
  }

  watermarkFrom(sender: number, column: number, value: number): void {
    let marks = this.marks.get(column)
    if (marks === undefined) {
      marks = new Float64Array(this.net.shards).fill(-Infinity)
      this.marks.set(column, marks)
    }
    this.idle[sender] = 0
    if (value <= marks[sender]) return
    marks[sender] = value
    this.advance(column)
  }

  /**
   * The minimum over the senders that are not idle, handed on when it moved; with every sender
   * idle, the maximum over all, as a reader does when all its partitions are idle
   * (connectors/partition-time.ts): the shards' splits go quiet one after the other in any order,
   * and the last one to go must not leave the watermark where the others' idleness had stopped it.
   */
  private advance(column: number): void {
    const marks = this.marks.get(column)!
    let min = Infinity
    let max = -Infinity
    let counted = 0
    for (let s = 0; s < marks.length; s++) {
      if (marks[s] > max) max = marks[s]
      if (this.idle[s] === 1) continue
      counted++
      if (marks[s] < min) min = marks[s]
    }
    const value = counted > 0 ? min : max
    // A sender without a watermark yet holds it back.
    if (value === -Infinity || value === Infinity) return
    // The batch rule (docs/sql.md): rows received before the watermark moved are judged before
    // it; rows after it, after. Every row before it goes on first (the stream drops a value
    // that does not move it, e.g. after a sender came back from idle behind the others).
    this.pendingMarks.set(column, value)
    this.flush()
  }
}
