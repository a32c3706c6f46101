/**
 * A running operator graph: the physical plan of one view (or one pull query) wired to the
 * streams of the relations it reads.
 *
 * Attaching a view subscribes its leaves and, in the same synchronous step, feeds them the
 * relation's current rows as the first batch (a view created over existing rows reads them, none
 * late), then the relation's current event-time high marks as watermarks. Because no await
 * separates snapshot and subscription, no change can fall between the two.
 */
import type { Chunk, Watermark } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { Emitter, Operator } from '../ops/operator.ts'
import type { Stream, Subscriber } from './stream.ts'

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
  constructor(
    readonly op: Operator,
    downstream: Emitter,
  ) {
    this.emitter = downstream
  }
  chunk(chunk: Chunk, input: number): void {
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

  /**
   * Starts the operators, feeds each leaf its relation's current rows and subscribes it.
   * `restored`: the operators' state came from a checkpoint (restore()), which already holds the
   * effect of the start hooks and of the relations' rows as of that checkpoint: only the
   * event-time high marks are replayed (they rebuild every operator's watermark) before subscribing.
   */
  attach(restored = false): void {
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
        const piece: Chunk = { columns: snapshot.columns.map((c) => c.slice(start, end)), ops: snapshot.ops.slice(start, end), length: end - start }
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

  private build(node: PhysicalNode, output: Emitter): Runner {
    const runner = new Runner(node.op, output)
    this.runners.push(runner)
    node.inputs.forEach((input, index) => {
      if (isRelationInput(input)) {
        this.leaves.push({ relation: input, runner, input: index })
        return
      }
      this.build(input, {
        chunk: (c) => runner.chunk(c, index),
        watermark: (w) => runner.watermark(w, index),
      })
    })
    return runner
  }
}
