/**
 * The batch executor's unit: a cursor yields a plan node's rows a piece at a time. Every piece is
 * insert-only (stateful operators hand out their consolidated result), and one `next()` does a
 * bounded amount of work — one input chunk consumed, or at most STEP_ROWS rows produced — so the
 * driver (pull-query.ts) can check the interrupt and yield the event loop between steps.
 *
 * Stateless and stateful operators are the streaming ones (ops/), driven through the adapters
 * here, so a pull query computes exactly what a view over the same query holds; only joins have
 * a batch operator of their own (batch-join.ts), because their output can explode.
 */
import type { Chunk } from '../chunk.ts'
import type { Emitter, Operator } from '../ops/operator.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { QueryBudget } from './budget.ts'
import { ChunkBuilder, emptyColumns } from '../chunk.ts'
import { RowMap } from '../util/row-map.ts'

/** Rows a cursor produces per step at most (joins, generate_series-style explosions, results). */
export const STEP_ROWS = 4096

export interface Cursor {
  readonly name: string
  readonly inputs: readonly Cursor[]
  /**
   * The next piece of output, possibly empty (work was done, nothing to show yet), or undefined
   * once the cursor is exhausted. Insert-only.
   */
  next(): Chunk | undefined
  /** EXPLAIN detail. */
  explain(): string
  /** Reads what must be read at the query's start (a scan's rows). */
  open?(): void
  /** Returns what the cursor reserved from the budget (after the last step or on failure). */
  close?(): void
  /**
   * A read from disk this cursor waits for (its `next()` returns empty pieces until it lands),
   * or undefined: the async driver awaits it instead of stepping in vain.
   */
  waiting?(): Promise<void> | undefined
}

/**
 * A scan's rows: a chunk, stored rows by reference, pieces made on demand, or pieces read from
 * disk over awaits (a view whose rows are in its aggregate's state table).
 */
export type ScanRows = Chunk | readonly (readonly Value[])[] | Iterator<Chunk> | AsyncIterable<Chunk>

export function emptyChunk(width: number): Chunk {
  return { columns: emptyColumns(width), ops: new Int8Array(0), length: 0 }
}

export function sliceChunk(chunk: Chunk, start: number, end: number): Chunk {
  if (start === 0 && end === chunk.length) return chunk
  return {
    columns: chunk.columns.map((c) => c.slice(start, end)),
    ops: chunk.ops.slice(start, end),
    length: end - start,
  }
}

/** Rough bytes of a row held in memory (array header, boxed cells, string payloads). */
export function rowBytes(chunk: Chunk, i: number): number {
  let n = 32 + 16 * chunk.columns.length
  for (const col of chunk.columns) {
    const v = col[i]
    if (typeof v === 'string' || v instanceof Uint8Array) n += v.length
    else if (Array.isArray(v)) n += 16 * v.length
  }
  return n
}

/** Bytes of a whole chunk, by sampling its first rows (per-row exactness is not worth a pass). */
export function chunkBytes(chunk: Chunk): number {
  if (chunk.length === 0) return 0
  const sample = Math.min(chunk.length, 16)
  let n = 0
  for (let i = 0; i < sample; i++) n += rowBytes(chunk, i)
  return Math.ceil((n / sample) * chunk.length)
}

/** A relation's rows (its snapshot or an index lookup), handed out in STEP_ROWS pieces. */
export class ScanCursor implements Cursor {
  readonly inputs: readonly Cursor[] = []
  private rows: Exclude<ScanRows, AsyncIterable<Chunk>> | undefined
  private at = 0
  /** Rows read from disk: one read at a time, the next started as soon as a piece is taken. */
  private disk: DiskRead | undefined

  constructor(
    readonly name: string,
    /** The rows (a chunk, or stored rows by reference), or an iterator of pieces made on demand or read from disk. */
    private readonly read: () => ScanRows,
    private readonly width: number,
    private readonly detail: string,
  ) {}

  /**
   * Takes the relation's rows now: every scan of a query opens before the first step, so the
   * query reads one state of every relation even though other statements run between its steps.
   * A scan from disk is opened (its rows captured) now and read over the following steps.
   */
  open(): void {
    if (this.rows !== undefined || this.disk !== undefined) return
    const rows = this.read()
    if (Symbol.asyncIterator in rows) {
      this.disk = new DiskRead(rows[Symbol.asyncIterator]())
      this.rows = emptyChunk(this.width)
    } else this.rows = rows
  }

  /** Whether the rows are read from disk over awaits (a synchronous driver cannot run this scan). */
  get fromDisk(): boolean {
    return this.disk !== undefined
  }

  waiting(): Promise<void> | undefined {
    return this.disk?.pending
  }

  close(): void {
    this.disk?.stop()
  }

  next(): Chunk | undefined {
    this.open()
    if (this.disk !== undefined) {
      const piece = this.disk.take()
      return piece === null ? emptyChunk(this.width) : piece
    }
    const rows = this.rows!
    if (!('length' in rows)) {
      const piece = rows.next()
      return piece.done === true ? undefined : piece.value
    }
    if (this.at >= rows.length) return undefined
    const end = Math.min(rows.length, this.at + STEP_ROWS)
    let piece: Chunk
    if (Array.isArray(rows)) {
      const builder = new ChunkBuilder(this.width)
      for (let i = this.at; i < end; i++) builder.push(1, (rows as readonly (readonly Value[])[])[i])
      piece = builder.take() ?? emptyChunk(this.width)
    } else piece = sliceChunk(rows as Chunk, this.at, end)
    this.at = end
    return piece
  }

  explain(): string {
    return this.detail
  }
}

/** An asynchronous scan read one piece ahead: `take()` is the ready piece, null while a read is pending, undefined at the end. */
class DiskRead {
  pending: Promise<void> | undefined
  private ready: Chunk | undefined
  private done = false
  private failure: unknown = undefined

  constructor(private readonly source: AsyncIterator<Chunk>) {
    this.fetch()
  }

  take(): Chunk | null | undefined {
    if (this.failure !== undefined) throw this.failure
    const piece = this.ready
    if (piece !== undefined) {
      this.ready = undefined
      this.fetch()
      return piece
    }
    return this.done ? undefined : null
  }

  /** Stops reading (the query ended or failed early): the source releases what it holds. */
  stop(): void {
    if (this.done) return
    this.done = true
    this.ready = undefined
    this.source.return?.().catch(() => {})
  }

  private fetch(): void {
    if (this.done || this.pending !== undefined) return
    this.pending = this.source.next().then(
      (r) => {
        this.pending = undefined
        if (r.done === true) this.done = true
        else if (!this.done) this.ready = r.value
      },
      (e: unknown) => {
        this.pending = undefined
        this.done = true
        this.failure = e ?? new Error('scan failed')
      },
    )
  }
}

/** UNION ALL: the inputs one after the other. */
export class ConcatCursor implements Cursor {
  readonly name = 'Concat'
  private current = 0

  constructor(readonly inputs: readonly Cursor[]) {}

  next(): Chunk | undefined {
    while (this.current < this.inputs.length) {
      const piece = this.inputs[this.current].next()
      if (piece !== undefined) return piece
      this.current++
    }
    return undefined
  }

  explain(): string {
    return `${this.inputs.length} inputs`
  }
}

/** Collects what a streaming operator emits for one input chunk. */
class Collector implements Emitter {
  readonly chunks: Chunk[] = []
  chunk(c: Chunk): void {
    if (c.length > 0) this.chunks.push(c)
  }
  watermark(): void {}
}

/**
 * A row-at-a-time streaming operator (filter, projection, window assignment) applied to each
 * input piece. Its output per piece is bounded by the piece (a HOP window multiplies it by a
 * constant), so no further slicing is needed.
 */
export class MapCursor implements Cursor {
  readonly name: string
  readonly inputs: readonly Cursor[]
  private readonly out = new Collector()
  private pending: Chunk[] = []
  private started = false

  constructor(
    private readonly op: Operator,
    input: Cursor,
    private readonly width: number,
  ) {
    this.name = op.name
    this.inputs = [input]
  }

  next(): Chunk | undefined {
    if (!this.started) {
      this.started = true
      this.op.onStart?.(this.out)
    }
    if (this.pending.length === 0) {
      const piece = this.inputs[0].next()
      if (piece === undefined) {
        if (this.out.chunks.length === 0) return undefined
      } else if (piece.length > 0) this.op.onChunk(piece, 0, this.out)
      this.pending = this.out.chunks.splice(0)
      if (this.pending.length === 0) return emptyChunk(this.width)
    }
    return this.pending.shift()
  }

  explain(): string {
    return this.op.explain?.() ?? ''
  }
}

/** An operator that can hand out its result a piece at a time (EXCEPT / INTERSECT). */
export interface PiecewiseOutput {
  outputPieces(maxRows: number): Iterator<Chunk>
}

function isPiecewise(op: Operator): op is Operator & PiecewiseOutput {
  return typeof (op as Partial<PiecewiseOutput>).outputPieces === 'function'
}

/**
 * A stateful streaming operator (aggregate, row numbering, session windows, EXCEPT/INTERSECT)
 * fed every input piece, one per step; once the inputs are exhausted its result (the operator's
 * current output, or the sum of the changes it emitted) is handed out in STEP_ROWS pieces.
 * Inputs are read in order: all of input 0, then input 1.
 */
export class BlockingCursor implements Cursor {
  readonly name: string
  private readonly out = new Collector()
  private input = 0
  private result: Chunk | undefined
  private pieces: Iterator<Chunk> | undefined
  private at = 0
  private started = false
  private current = false
  /** Emitted change chunks already accounted for (when they are kept to be summed). */
  private kept = 0
  private reserved = 0

  constructor(
    private readonly op: Operator,
    readonly inputs: readonly Cursor[],
    private readonly types: readonly DataType[],
    private readonly budget: QueryBudget | undefined,
  ) {
    this.name = op.name
  }

  next(): Chunk | undefined {
    if (!this.started) {
      this.started = true
      this.op.onStart?.(this.out)
      // An operator that can tell its current output (most aggregates) needs none of the changes
      // it emits kept; one that cannot (windowed aggregation) has them summed at the end.
      this.current = this.op.currentOutput?.() !== undefined
    }
    if (this.result === undefined) {
      if (this.input < this.inputs.length) {
        const piece = this.inputs[this.input].next()
        if (piece === undefined) this.input++
        else if (piece.length > 0) {
          const before = this.op.stateSize?.()
          this.op.onChunk(piece, this.input, this.out)
          // The state grew by the entries (groups, rows) it reports, each about an input row's
          // size; an operator that does not report keeps at most every input row.
          const after = this.op.stateSize?.()
          const bytes = chunkBytes(piece)
          this.reserve(
            before === undefined || after === undefined ? bytes : Math.max(0, after - before) * (bytes / piece.length),
          )
          if (this.current) this.out.chunks.length = 0
          else for (const c of this.out.chunks.slice(this.kept)) this.reserve(chunkBytes(c))
          this.kept = this.out.chunks.length
        }
        return emptyChunk(this.types.length)
      }
      if (isPiecewise(this.op)) {
        this.pieces ??= this.op.outputPieces(STEP_ROWS)
        const next = this.pieces.next()
        if (next.done !== true) return next.value
        this.close()
        return undefined
      }
      this.result = (this.current ? this.op.currentOutput?.() : undefined) ?? consolidate(this.out.chunks, this.types)
      this.out.chunks.length = 0
    }
    if (this.at >= this.result.length) {
      this.close()
      return undefined
    }
    const end = Math.min(this.result.length, this.at + STEP_ROWS)
    const piece = sliceChunk(this.result, this.at, end)
    this.at = end
    return piece
  }

  close(): void {
    this.budget?.release(this.reserved)
    this.reserved = 0
  }

  private reserve(bytes: number): void {
    this.budget?.reserve(bytes)
    this.reserved += bytes
  }

  explain(): string {
    return this.op.explain?.() ?? ''
  }
}

/** The net rows of a list of changes: each distinct row as often as its inserts outnumber its deletes. */
export function consolidate(chunks: readonly Chunk[], types: readonly DataType[]): Chunk {
  const all = types.map((_t, i) => i)
  const counts = new RowMap<{ row: Value[]; n: number }>(types)
  const order: { row: Value[]; n: number }[] = []
  for (const c of chunks) {
    for (let i = 0; i < c.length; i++) {
      const hash = counts.hashAt(c.columns, all, i)
      let entry = counts.findAt(c.columns, all, i, hash)
      if (entry === undefined) {
        const row = counts.keyAt(c.columns, all, i)
        entry = counts.insert(row, hash, { row, n: 0 })
        order.push(entry.value)
      }
      entry.value.n += c.ops[i]
    }
  }
  const builder = new ChunkBuilder(types.length)
  for (const e of order) for (let k = 0; k < e.n; k++) builder.push(1, e.row)
  return builder.take() ?? emptyChunk(types.length)
}
