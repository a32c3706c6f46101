/**
 * Feeds a TABLE from a connector (`CREATE TABLE t (id BIGINT PRIMARY KEY, ...) WITH (connector =
 * 'kafka', format = 'debezium_json', ...)`): polls the reader and applies each batch through the
 * table's normal write path, so the rows are stored and every view over the table sees the
 * changes (and retracts) exactly as after INSERT/UPDATE/DELETE.
 *
 * A reader row with op +1 is an upsert by primary key (the stored row of that key, if any, is
 * retracted and the new one inserted); op -1 deletes the row of its key (a missing key is a no-op).
 * Because every change is keyed and idempotent, replaying the topic from its start converges to
 * the same rows; that is how a restart resumes (the table's rows are durable, the reader starts
 * from `startup` again). Changes of one batch apply in order: a key seen twice in a batch splits
 * it into consecutive writes.
 */
import type { Chunk } from '../chunk.ts'
import type { SourceReader } from '../connector.ts'
import type { TableRows } from '../catalog/table-rows.ts'
import type { Value } from '../types/datatype.ts'
import { RowMap } from '../util/row-map.ts'

export interface TableFeedOptions {
  readonly maxRows: number
  /** Wait after an empty poll, ms. */
  readonly idleMs: number
  /** Applies one write (inserts, deletes by row sequence) through the table's normal path. */
  apply(inserts: Value[][], deletes: number[]): Promise<void>
  onError(error: unknown): void
}

export class TableFeed {
  private running = false
  private stopped = false
  private inFlight = false
  private loop: Promise<void> | undefined
  /** The last error of the reader, cleared by the next good poll. */
  lastError: string | undefined

  constructor(
    readonly reader: SourceReader,
    private readonly rows: TableRows,
    private readonly options: TableFeedOptions,
  ) {}

  get started(): boolean {
    return this.running
  }

  async start(): Promise<void> {
    if (this.running || this.stopped) return
    this.running = true
    await this.reader.open()
    this.loop = this.run()
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.loop
    if (this.running) await this.reader.close()
    this.running = false
  }

  /** Resolves once every record the input held when called has been applied (FLUSH). */
  async caughtUp(timeoutMs: number): Promise<boolean> {
    if (!this.running || this.reader.endOffsets === undefined || this.reader.reached === undefined) return true
    const end = await this.reader.endOffsets()
    const deadline = Date.now() + timeoutMs
    while (!(this.reader.reached(end) && !this.inFlight)) {
      if (this.stopped || Date.now() > deadline) return false
      await sleep(5)
    }
    return true
  }

  private async run(): Promise<void> {
    let backoff = 100
    while (!this.stopped) {
      this.inFlight = true
      let chunk: Chunk | undefined
      try {
        chunk = await this.reader.poll(this.options.maxRows)
        // Not under the engine's write lock: FLUSH holds it while waiting for this feed. Each
        // key lookup and its in-memory apply run without an await in between, so statements
        // writing the same table interleave only between whole writes.
        if (chunk !== undefined && chunk.length > 0) await this.applyChunk(chunk)
        this.lastError = undefined
        backoff = 100
      } catch (e) {
        this.lastError = e instanceof Error ? e.message : String(e)
        this.options.onError(e)
        this.inFlight = false
        await sleep(backoff)
        backoff = Math.min(backoff * 2, 5000)
        continue
      }
      this.inFlight = false
      await (chunk === undefined || chunk.length === 0
        ? sleep(this.options.idleMs)
        : new Promise<void>((r) => setImmediate(r)))
    }
  }

  /** Turns keyed upserts and deletes into table writes, in order. */
  private async applyChunk(chunk: Chunk): Promise<void> {
    const rows = this.rows
    const key = rows.primaryKey ?? []
    const width = chunk.columns.length
    let touched = new RowMap<number>(key.map((k) => rows.types[k]))
    let inserts: Value[][] = []
    let deletes: number[] = []
    for (let i = 0; i < chunk.length; i++) {
      const h = touched.hashAt(chunk.columns, key, i)
      if (touched.findAt(chunk.columns, key, i, h) !== undefined) {
        // The second change of a key in this batch must see the first one applied.
        await this.options.apply(inserts, deletes)
        inserts = []
        deletes = []
        touched = new RowMap<number>(touched.keyTypes)
      }
      touched.insert(touched.keyAt(chunk.columns, key, i), touched.hashAt(chunk.columns, key, i), i)
      const existing = rows.findByKey(touched.keyAt(chunk.columns, key, i))
      if (existing !== undefined) deletes.push(existing)
      if (chunk.ops[i] === 1) {
        const row: Value[] = new Array<Value>(width)
        for (let c = 0; c < width; c++) row[c] = chunk.columns[c][i]
        inserts.push(row)
      }
    }
    if (inserts.length > 0 || deletes.length > 0) await this.options.apply(inserts, deletes)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
