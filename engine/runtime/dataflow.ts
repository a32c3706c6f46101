/**
 * A running operator graph: the physical plan of one view (or one pull query) wired to the
 * streams of the relations it reads.
 *
 * Attaching a view subscribes its leaves and, in the same synchronous step, feeds them the
 * relation's current rows as the first batch (a view created over existing rows reads them, none
 * late), then the relation's current event-time high marks as watermarks. Because no await
 * separates snapshot and subscription, no change can fall between the two. A relation whose rows
 * are partly on disk opens a scan in that same step instead of a snapshot (its rows are captured
 * then, read later), so only `attachInSlices` can attach over it.
 */
import type { Chunk, Watermark } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { Emitter, Operator } from '../ops/operator.ts'
import type { Stream, Subscriber } from './stream.ts'

/** What one backfill slice aims to cost (ms), and its largest size in rows (attachInSlices). */
const SLICE_MS = 4
const MAX_SLICE_ROWS = 16_384

/** A relation as a dataflow leaf sees it. */
export interface RelationInput {
  readonly name: string
  readonly stream: Stream
  /** The relation's current rows as one insert chunk (empty for sources, which hold no rows). */
  snapshot(): Chunk
  /**
   * Pull queries: only the rows whose `columns` equal `values`, through an index; undefined when
   * the relation has none for those columns (the query then reads the snapshot).
   */
  lookup?(columns: readonly number[], values: readonly Value[]): Chunk | undefined
  /** The number of rows the relation holds now, without copying them (the batch planner's estimates). */
  rowCount?(): number
  /** Columns whose values identify at most one row (a table's primary key), for estimates. */
  readonly uniqueKey?: readonly number[]
  /**
   * The current rows by reference, cheaper than `snapshot()` (no columns are built): stored rows
   * are never changed in place, so a pull query takes this consistent copy at once and builds
   * its chunks from it a piece at a time.
   */
  snapshotRows?(): readonly (readonly Value[])[]
  /**
   * Rows made on demand rather than stored (generate_series): produced `maxRows` at a time as a
   * pull query asks, so a large series never exists as a whole.
   */
  pieces?(maxRows: number): Iterator<Chunk>
  /**
   * True while some of the relation's rows are only on disk (a view that reads its rows from its
   * aggregate's state table): `snapshot()` and `snapshotRows()` cannot be called then, the rows
   * are read with `openScan`.
   */
  rowsOnDisk?(): boolean
  /**
   * The relation's rows as of this call (captured synchronously: later changes do not show),
   * read in pieces of about `maxRows` rows over later awaits. Whoever opens it iterates it to
   * the end or calls the iterator's `return()`, which releases what the scan holds.
   */
  openScan?(maxRows: number): AsyncIterable<Chunk>
}

/** The relation's rows as a scan when some are only on disk, else undefined (read them synchronously). */
export function diskScan(relation: RelationInput, maxRows: number): AsyncIterable<Chunk> | undefined {
  return relation.openScan !== undefined && relation.rowsOnDisk?.() === true ? relation.openScan(maxRows) : undefined
}

export interface PhysicalNode {
  readonly op: Operator
  readonly inputs: readonly (PhysicalNode | RelationInput)[]
  readonly types: readonly DataType[]
}

export function isRelationInput(x: PhysicalNode | RelationInput): x is RelationInput {
  return 'stream' in x
}

class Runner {
  readonly emitter: Emitter
  /** Rows received and sent since the graph was built (the console's per-operator rates). */
  rowsIn = 0
  rowsOut = 0
  /** The operators reading this one: more than one for a shared subplan (LowerOptions.shared). */
  private readonly downstream: Emitter[]
  constructor(
    readonly op: Operator,
    downstream: Emitter,
  ) {
    this.downstream = [downstream]
    const all = this.downstream
    // One counter add per chunk, not per row: the hot path stays as it was.
    this.emitter = {
      chunk: (c) => {
        this.rowsOut += c.length
        // Readers never change a chunk they are given (docs/design/chunks.md): all get the same one.
        if (all.length === 1) all[0].chunk(c)
        else for (let i = 0; i < all.length; i++) all[i].chunk(c)
      },
      watermark: (w) => {
        if (all.length === 1) all[0].watermark(w)
        else for (let i = 0; i < all.length; i++) all[i].watermark(w)
      },
    }
  }
  /** A second reader of a shared subplan's output. */
  feed(reader: Emitter): void {
    this.downstream.push(reader)
  }
  chunk(chunk: Chunk, input: number): void {
    this.rowsIn += chunk.length
    this.op.onChunk(chunk, input, this.emitter)
  }
  watermark(w: Watermark, input: number): void {
    if (this.op.onWatermark !== undefined) this.op.onWatermark(w, input, this.emitter)
    else this.emitter.watermark(w)
  }
}

interface Leaf {
  readonly relation: RelationInput
  readonly runner: Runner
  readonly input: number
  subscriber?: Subscriber
}

export class Dataflow {
  private readonly leaves: Leaf[] = []
  private readonly runners: Runner[] = []
  failure: unknown = undefined

  constructor(
    readonly root: PhysicalNode,
    output: Emitter,
    private readonly onFailure: (error: unknown) => void = () => {},
  ) {
    this.build(root, output)
  }

  /** Every operator of the graph, root first. */
  operators(): Operator[] {
    return this.runners.map((r) => r.op)
  }

  /** Rows each operator received and sent so far, in the order of operators(). */
  rowCounts(): { readonly rowsIn: number; readonly rowsOut: number }[] {
    return this.runners.map((r) => ({ rowsIn: r.rowsIn, rowsOut: r.rowsOut }))
  }

  /**
   * Starts the operators, feeds each leaf its relation's current rows and subscribes it.
   * `restored`: the operators' state came from a checkpoint (restore()), which already holds the
   * effect of the start hooks and of the relations' rows as of that checkpoint: only the
   * event-time high marks are replayed (they rebuild every operator's watermark) before subscribing.
   */
  attach(restored = false): void {
    if (!restored && this.readsFromDisk())
      throw new Error('Dataflow.attach: a relation has rows on disk; attach with attachInSlices')
    if (!restored) {
      this.start()
      for (const leaf of this.leaves) {
        const snapshot = leaf.relation.snapshot()
        if (snapshot.length > 0) leaf.runner.chunk(snapshot, leaf.input)
      }
    }
    for (const leaf of this.leaves) {
      for (const [column, value] of leaf.relation.stream.maxEventTime) {
        leaf.runner.watermark({ kind: 'watermark', column, value }, leaf.input)
      }
      const subscriber: Subscriber = {
        chunk: (c) => leaf.runner.chunk(c, leaf.input),
        watermark: (w) => leaf.runner.watermark(w, leaf.input),
        failed: (e) => this.fail(e),
      }
      leaf.subscriber = subscriber
      leaf.relation.stream.subscribe(subscriber)
    }
  }

  /**
   * `attach()` for a new view over big relations, in slices with `between` awaited after each
   * (it yields to the event loop and throws when the statement is cancelled or timed out), so a
   * long backfill neither holds up every other session nor outlives its statement. A slice's rows
   * adapt to its cost (a join can turn one input row into thousands): each aims at SLICE_MS.
   * The leaves subscribe when their snapshots are taken; what the relations receive meanwhile is
   * held and fed, in order, after the snapshot: the same sequence `attach()` would have seen. If
   * `between` throws, the leaves are unsubscribed and the graph is to be discarded.
   */
  async attachInSlices(between: () => Promise<void>): Promise<void> {
    // From one row up: the first slice of a skewed join must already be small.
    let sliceRows = 1
    this.start()
    const held: (() => void)[] = []
    let holding = true
    const work = this.leaves.map((leaf) => {
      // Rows on disk are read over awaits; the scan is opened (its rows captured) right here, in
      // the same synchronous step as the subscription, like a snapshot.
      const scan = diskScan(leaf.relation, MAX_SLICE_ROWS)?.[Symbol.asyncIterator]()
      const snapshot = scan === undefined ? leaf.relation.snapshot() : undefined
      const marks = [...leaf.relation.stream.maxEventTime]
      const subscriber: Subscriber = {
        chunk: (c) => (holding ? held.push(() => leaf.runner.chunk(c, leaf.input)) : leaf.runner.chunk(c, leaf.input)),
        watermark: (w) =>
          holding ? held.push(() => leaf.runner.watermark(w, leaf.input)) : leaf.runner.watermark(w, leaf.input),
        failed: (e) => this.fail(e),
      }
      leaf.subscriber = subscriber
      leaf.relation.stream.subscribe(subscriber)
      return { leaf, snapshot, scan, marks }
    })
    const feed = async (leaf: Leaf, rows: Chunk): Promise<void> => {
      for (let start = 0; start < rows.length;) {
        const end = Math.min(rows.length, start + sliceRows)
        const piece: Chunk =
          start === 0 && end === rows.length
            ? rows
            : {
                columns: rows.columns.map((c) => c.slice(start, end)),
                ops: rows.ops.slice(start, end),
                length: end - start,
              }
        const t0 = performance.now()
        leaf.runner.chunk(piece, leaf.input)
        const took = performance.now() - t0
        if (took < SLICE_MS / 2) sliceRows = Math.min(MAX_SLICE_ROWS, sliceRows * 2)
        else if (took > SLICE_MS * 2) sliceRows = Math.max(1, sliceRows >> 1)
        start = end
        await between()
      }
    }
    let at = 0
    try {
      for (; at < work.length; at++) {
        const { leaf, snapshot, scan, marks } = work[at]
        // Each leaf from one row up again: a join's first input is cheap to feed (the other side
        // is still empty), its second can turn every row into thousands, so a slice size learnt
        // on the first would make one synchronous slice of billions of pairs.
        sliceRows = 1
        if (snapshot !== undefined) await feed(leaf, snapshot)
        if (scan !== undefined) {
          for (;;) {
            const r = await scan.next()
            if (r.done === true) break
            await feed(leaf, r.value)
          }
        }
        for (const [column, value] of marks) leaf.runner.watermark({ kind: 'watermark', column, value }, leaf.input)
      }
      // Held changes are fed in one synchronous run, so nothing new can slip in before the switch.
      for (const change of held) change()
      holding = false
    } catch (e) {
      // Scans not read to their end release what they hold.
      for (let i = at; i < work.length; i++) work[i].scan?.return?.().catch(() => {})
      this.detach()
      throw e
    }
  }

  /** Whether a leaf's relation has rows only on disk now (attach() cannot read them: attachInSlices). */
  readsFromDisk(): boolean {
    return this.leaves.some((l) => l.relation.openScan !== undefined && l.relation.rowsOnDisk?.() === true)
  }

  /**
   * Runs the graph once over the relations' current rows (a pull query); no subscription. With
   * `sliceRows`, each snapshot goes in pieces of at most that many rows and `between` runs after
   * each piece (a statement timeout check: the only place a synchronous query can be stopped).
   */
  runBatch(sliceRows?: number, between?: () => void): void {
    this.start()
    for (const leaf of this.leaves) {
      const snapshot = leaf.relation.snapshot()
      if (snapshot.length === 0) continue
      if (sliceRows === undefined || snapshot.length <= sliceRows) {
        leaf.runner.chunk(snapshot, leaf.input)
        between?.()
        continue
      }
      for (let start = 0; start < snapshot.length; start += sliceRows) {
        const end = Math.min(snapshot.length, start + sliceRows)
        const piece: Chunk = {
          columns: snapshot.columns.map((c) => c.slice(start, end)),
          ops: snapshot.ops.slice(start, end),
          length: end - start,
        }
        leaf.runner.chunk(piece, leaf.input)
        between?.()
      }
    }
  }

  /** Hands the runtime's clock (ms) to the operators that keep processing-time state (ttl). */
  tick(now: number): void {
    if (this.failure !== undefined) return
    try {
      for (const runner of this.runners) runner.op.onTick?.(now, runner.emitter)
    } catch (e) {
      this.fail(e)
    }
  }

  detach(): void {
    for (const leaf of this.leaves) {
      if (leaf.subscriber !== undefined) leaf.relation.stream.unsubscribe(leaf.subscriber)
      leaf.subscriber = undefined
    }
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return
    this.failure = error
    this.detach()
    this.onFailure(error)
  }

  private start(): void {
    // Root first: every operator is started before anything upstream can send it rows (a Values
    // leaf emits in its start hook; a global aggregate must exist before those rows reach it).
    for (const runner of this.runners) runner.op.onStart?.(runner.emitter)
  }

  /**
   * Builds the runners from the root down, pre-order. A node reached a second time (a shared
   * subplan) gets the new parent as another reader, and no second runner.
   */
  private build(node: PhysicalNode, output: Emitter, built = new Map<PhysicalNode, Runner>()): Runner {
    const seen = built.get(node)
    if (seen !== undefined) {
      seen.feed(output)
      return seen
    }
    const runner = new Runner(node.op, output)
    built.set(node, runner)
    this.runners.push(runner)
    node.inputs.forEach((input, index) => {
      if (isRelationInput(input)) {
        this.leaves.push({ relation: input, runner, input: index })
        return
      }
      this.build(
        input,
        {
          chunk: (c) => runner.chunk(c, index),
          watermark: (w) => runner.watermark(w, index),
        },
        built,
      )
    })
    return runner
  }
}
