/**
 * The `datagen` connector: `CREATE SOURCE bid WITH (connector = 'datagen', generator = 'nexmark',
 * table = 'bid', rate = '10000')`. Emits one Nexmark entity's rows out of the full event stream
 * (so sources with the same seed agree on ids), paced at `rate` events/s of the whole stream.
 * Offsets (next event, base time) make a restart continue the same sequence.
 *
 * `generator = 'sequence'` emits one column `n BIGINT`: 0, 1, 2, ... (one row per event), for
 * benchmarks and tests whose expected results have a closed form (bench/state.ts).
 *
 * Options: generator ('nexmark' or 'sequence', required), table (bid | auction | person, default bid), rate
 * (events/s, default 10000), seed (default 42), max_events (stop after that many events of the
 * whole stream), base_time (event time of event 0, ISO; default the wall clock at first open),
 * paced ('true' by default; 'false' generates as fast as the dataflow reads, while event time still
 * follows `rate`: for benchmarks, where pacing would cap the measured throughput).
 *
 * With max_events, FLUSH waits for every event due so far (all of them when unpaced), so a bounded
 * run can be awaited; an endless generator has no end for FLUSH to wait for.
 *
 * A sharded view's reader reads a split (ConnectorContext.split): the events of every count-th
 * block of SPLIT_BLOCK events. Its offsets, pacing and ends stay in the whole stream's event
 * indexes, so rate and max_events mean the same for every split and a restored split reader
 * continues from its own `next`.
 */
import type { Chunk, Column } from '../../engine/chunk.ts'
import type {
  ColumnSchema,
  ConnectorContext,
  ConnectorOptions,
  SourceFactory,
  SourceReader,
} from '../../engine/connector.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { T, typeEquals } from '../../engine/types/datatype.ts'
import { parseTimestamptz } from '../../engine/types/time.ts'
import type { NexmarkTable } from './nexmark.ts'
import { NEXMARK_COLUMNS, NexmarkGenerator } from './nexmark.ts'

const OPTIONS = ['generator', 'table', 'rate', 'seed', 'max_events', 'base_time', 'paced']

/**
 * Events per block of a split: split `index` of `count` reads the events i with
 * floor(i / SPLIT_BLOCK) % count === index. Blocks rather than every count-th event, which would
 * line up with Nexmark's 50-event kind cycle (with 2 splits, every person would fall in split 0);
 * blocks rather than one contiguous range per split, so each split's event time advances like
 * the whole stream's, in steps of a block, and windows close in every shard at about the same time.
 */
export const SPLIT_BLOCK = 1024

/** Which part of the event sequence a reader reads (ConnectorContext.split, validated). */
interface Split {
  readonly index: number
  readonly count: number
}

/** The context's split, checked; undefined for the whole stream (also for a split of 1). */
function splitOf(ctx: ConnectorContext): Split | undefined {
  const split = ctx.split
  if (split === undefined) return undefined
  const { index, count } = split
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new SluiceError(SqlState.internal_error, `invalid datagen split ${index} of ${count}`, { domain: 'internal' })
  }
  return count === 1 ? undefined : split
}

/** The first event at or after `n` that belongs to split `index` of `count`. */
export function splitStart(n: number, index: number, count: number): number {
  const block = Math.floor(n / SPLIT_BLOCK)
  const own = block - (block % count) + index
  if (own === block) return n
  return (own > block ? own : own + count) * SPLIT_BLOCK
}

/** Validated options of one datagen source. */
export interface DatagenConfig {
  readonly generator: 'nexmark' | 'sequence'
  readonly table: NexmarkTable
  readonly rate: number
  readonly seed: number
  readonly maxEvents: number | undefined
  /** Event time of event 0 in ms since the epoch, when given. */
  readonly baseMs: number | undefined
  /** False: no wall-clock pacing (event time still follows the rate). */
  readonly paced: boolean
}

function invalid(message: string, hint?: string): SluiceError {
  return new SluiceError(SqlState.invalid_parameter_value, message, hint === undefined ? {} : { hint })
}

function numberOption(
  options: ConnectorOptions,
  key: string,
  check: (n: number) => boolean,
  what: string,
): number | undefined {
  const raw = options.get(key)
  if (raw === undefined) return undefined
  const n = raw.trim() === '' ? NaN : Number(raw)
  if (!Number.isFinite(n) || !check(n))
    throw invalid(`invalid value for datagen option "${key}": "${raw}"`, `"${key}" must be ${what}`)
  return n
}

/** Parses and validates the WITH options (SluiceError 22023 naming the offending option). */
export function parseDatagenOptions(options: ConnectorOptions): DatagenConfig {
  for (const key of options.keys()) {
    if (!OPTIONS.includes(key))
      throw invalid(`unknown option "${key}" for connector datagen`, `known options: ${OPTIONS.join(', ')}`)
  }
  const generator = options.get('generator')
  if (generator === undefined) throw invalid('connector datagen needs the option "generator"', `generator = 'nexmark'`)
  const kind = generator.toLowerCase()
  if (kind !== 'nexmark' && kind !== 'sequence')
    throw invalid(`unknown datagen generator "${generator}"`, `the generators are 'nexmark' and 'sequence'`)
  const table = (options.get('table') ?? 'bid').toLowerCase()
  if (table !== 'bid' && table !== 'auction' && table !== 'person') {
    throw invalid(
      `invalid value for datagen option "table": "${options.get('table')}"`,
      `"table" must be bid, auction or person`,
    )
  }
  const rate = numberOption(options, 'rate', (n) => n > 0, 'a positive number of events per second') ?? 10_000
  const seed = numberOption(options, 'seed', Number.isSafeInteger, 'an integer') ?? 42
  const maxEvents = numberOption(
    options,
    'max_events',
    (n) => Number.isSafeInteger(n) && n >= 0,
    'a non-negative integer',
  )
  const baseText = options.get('base_time')
  let baseMs: number | undefined
  if (baseText !== undefined) {
    try {
      baseMs = Math.floor(parseTimestamptz(baseText) / 1000)
    } catch {
      throw invalid(
        `invalid value for datagen option "base_time": "${baseText}"`,
        `"base_time" must be an ISO timestamp such as '2024-01-01T00:00:00Z'`,
      )
    }
  }
  const pacedText = (options.get('paced') ?? 'true').toLowerCase()
  if (pacedText !== 'true' && pacedText !== 'false')
    throw invalid(
      `invalid value for datagen option "paced": "${options.get('paced')}"`,
      `"paced" must be true or false`,
    )
  return { generator: kind, table, rate, seed, maxEvents, baseMs, paced: pacedText === 'true' }
}

/** The one column of the 'sequence' generator. */
const SEQUENCE_COLUMNS: readonly ColumnSchema[] = [{ name: 'n', type: T.int8 }]

function columnsOf(config: DatagenConfig): readonly ColumnSchema[] {
  return config.generator === 'sequence' ? SEQUENCE_COLUMNS : NEXMARK_COLUMNS[config.table]
}

/** Maps declared columns to the entity's column indexes (all of them when none are declared). */
function projectionOf(config: DatagenConfig, columns: readonly ColumnSchema[]): number[] {
  const table = config.generator === 'sequence' ? 'sequence' : config.table
  const all = columnsOf(config)
  return columns.map((c) => {
    const i = all.findIndex((a) => a.name === c.name)
    if (i < 0) {
      throw new SluiceError(
        SqlState.undefined_column,
        `column "${c.name}" does not exist in the nexmark ${table} table`,
        {
          hint: `its columns: ${all.map((a) => a.name).join(', ')}`,
        },
      )
    }
    if (!typeEquals(c.type, all[i].type)) {
      throw new SluiceError(
        SqlState.datatype_mismatch,
        `column "${c.name}" of the nexmark ${table} table has type ${all[i].type.kind}, not ${c.type.kind}`,
      )
    }
    return i
  })
}

class DatagenReader implements SourceReader {
  private next = 0
  private baseMs = 0
  /** Wall clock and event index when this reader opened: pacing counts from there. */
  private openedAt = 0
  private openedAtEvent = 0
  private generator: NexmarkGenerator | undefined
  private readonly split: Split | undefined

  constructor(
    private readonly config: DatagenConfig,
    private readonly projection: readonly number[],
    private readonly ctx: ConnectorContext,
  ) {
    this.split = splitOf(ctx)
    // Only a bounded generator has an end FLUSH can wait for: the events due by now.
    if (config.maxEvents !== undefined) this.endOffsets = async () => ({ next: String(this.due()) })
  }

  // `declare`: no own property unless bounded, so the runtime sees an endless generator as one.
  declare readonly endOffsets: (() => Promise<Record<string, string>>) | undefined

  async open(restored?: Readonly<Record<string, string>>): Promise<void> {
    const next = restored?.next === undefined ? 0 : Number(restored.next)
    const base =
      restored?.base === undefined ? (this.config.baseMs ?? Math.floor(this.ctx.now())) : Number(restored.base)
    if (!Number.isSafeInteger(next) || next < 0 || !Number.isFinite(base)) {
      throw new SluiceError(
        SqlState.invalid_parameter_value,
        `invalid restored datagen offsets ${JSON.stringify(restored)}`,
        { domain: 'internal' },
      )
    }
    this.next = next
    this.baseMs = base
    this.generator = new NexmarkGenerator(this.config.seed, this.config.rate, base * 1000)
    this.openedAt = this.ctx.now()
    this.openedAtEvent = next
  }

  async poll(maxRows: number): Promise<Chunk | undefined> {
    const generator = this.generator
    if (generator === undefined) throw new SluiceError(SqlState.internal_error, 'datagen source polled before open')
    const due = this.due()
    if (due <= this.next || maxRows <= 0) return undefined
    if (this.split !== undefined) return this.pollSplit(this.split, generator, due, maxRows)
    if (this.config.generator === 'sequence') {
      const length = Math.min(maxRows, due - this.next)
      const n = new Array<bigint>(length)
      for (let i = 0; i < length; i++) n[i] = BigInt(this.next + i)
      this.next += length
      return { columns: this.projection.map(() => n), ops: new Int8Array(length).fill(1), length }
    }
    const full: Column[] = NEXMARK_COLUMNS[this.config.table].map(() => [])
    this.next = generator.fill(this.config.table, this.next, due, maxRows, full)
    const length = full[0].length
    if (length === 0) return undefined
    return { columns: this.projection.map((i) => full[i]), ops: new Int8Array(length).fill(1), length }
  }

  /**
   * poll for a split: the due events of its own blocks, one block at a time. Other splits' blocks
   * are jumped over, never generated: an event is a function of its index alone (nexmark.ts).
   */
  private pollSplit(split: Split, generator: NexmarkGenerator, due: number, maxRows: number): Chunk | undefined {
    const sequence = this.config.generator === 'sequence'
    const table = this.config.table
    const full: Column[] = sequence ? [[]] : NEXMARK_COLUMNS[table].map(() => [])
    let length = 0
    while (length < maxRows) {
      const from = splitStart(this.next, split.index, split.count)
      if (from >= due) {
        // Every event of this split below `due` has been returned.
        if (this.next < due) this.next = due
        break
      }
      const to = Math.min(due, (Math.floor(from / SPLIT_BLOCK) + 1) * SPLIT_BLOCK)
      if (sequence) {
        const n = full[0]
        const stop = Math.min(to, from + maxRows - length)
        for (let i = from; i < stop; i++) n.push(BigInt(i))
        this.next = stop
      } else {
        this.next = generator.fill(table, from, to, maxRows - length, full)
      }
      length = full[0].length
    }
    if (length === 0) return undefined
    const columns = sequence ? this.projection.map(() => full[0]) : this.projection.map((i) => full[i])
    return { columns, ops: new Int8Array(length).fill(1), length }
  }

  /** The event index generation may reach now (exclusive), in the whole stream's indexes. */
  private due(): number {
    const max = this.config.maxEvents
    if (!this.config.paced) return max ?? Number.MAX_SAFE_INTEGER
    const due = this.openedAtEvent + Math.floor(((this.ctx.now() - this.openedAt) * this.config.rate) / 1000)
    return max !== undefined && due > max ? max : due
  }

  offsets(): Record<string, string> {
    return { next: String(this.next), base: String(this.baseMs) }
  }

  reached(end: Readonly<Record<string, string>>): boolean {
    // A split is done once its next own event is at or past the end, whatever lies between.
    const next = this.split === undefined ? this.next : splitStart(this.next, this.split.index, this.split.count)
    return next >= Number(end.next)
  }

  async close(): Promise<void> {}
}

export const datagenSourceFactory: SourceFactory = {
  connector: 'datagen',
  // Readers take ConnectorContext.split: a sharded view's threads import this factory from here.
  splits: { module: import.meta.url, exportName: 'datagenSourceFactory' },
  defaultColumns(options: ConnectorOptions): readonly ColumnSchema[] {
    return columnsOf(parseDatagenOptions(options))
  },
  create(columns: readonly ColumnSchema[], options: ConnectorOptions, ctx: ConnectorContext): SourceReader {
    const config = parseDatagenOptions(options)
    return new DatagenReader(config, projectionOf(config, columns), ctx)
  },
}
