/**
 * The `datagen` connector: `CREATE SOURCE bid WITH (connector = 'datagen', generator = 'nexmark',
 * table = 'bid', rate = '10000')`. Emits the events whose time has come at the configured rate
 * (events/s of the whole Nexmark stream); offsets (next event, base time) make restarts resume.
 */
import type { Chunk } from '../../engine/chunk.ts'
import type { ColumnSchema, ConnectorContext, ConnectorOptions, SourceFactory, SourceReader } from '../../engine/connector.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { T } from '../../engine/types/datatype.ts'
import { parseTimestamp } from '../../engine/types/time.ts'
import { COLUMNS, NexmarkGenerator, type NexmarkTable } from './nexmark.ts'

const OPTIONS = new Set(['generator', 'table', 'rate', 'seed', 'max_events', 'base_time'])

function option(options: ConnectorOptions, key: string): string | undefined {
  return options.get(key)
}

function positiveNumber(options: ConnectorOptions, key: string, fallback: number): number {
  const raw = option(options, key)
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new SluiceError(SqlState.invalid_parameter_value, `option "${key}" must be a positive number, got "${raw}"`)
  return n
}

function tableOf(options: ConnectorOptions): NexmarkTable {
  const t = (option(options, 'table') ?? 'bid').toLowerCase()
  if (t !== 'bid' && t !== 'auction' && t !== 'person') throw new SluiceError(SqlState.invalid_parameter_value, `option "table" must be bid, auction or person, got "${t}"`)
  return t
}

function validate(options: ConnectorOptions): void {
  for (const key of options.keys()) {
    if (!OPTIONS.has(key)) throw new SluiceError(SqlState.invalid_parameter_value, `unknown option "${key}" for connector datagen`, { hint: `known options: ${[...OPTIONS].join(', ')}` })
  }
  const generator = option(options, 'generator')
  if (generator?.toLowerCase() !== 'nexmark') throw new SluiceError(SqlState.invalid_parameter_value, `option "generator" must be 'nexmark'${generator === undefined ? '' : `, got "${generator}"`}`)
}

const TYPE = { int8: T.int8, text: T.text, timestamp: T.timestamp } as const

class DatagenReader implements SourceReader {
  private next = 0
  private baseMs = 0
  private openedAt = 0
  private startEvent = 0
  private generator!: NexmarkGenerator

  constructor(
    private readonly table: NexmarkTable,
    private readonly projection: readonly number[],
    private readonly rate: number,
    private readonly seed: number,
    private readonly maxEvents: number | undefined,
    private readonly baseTime: number | undefined,
    private readonly ctx: ConnectorContext,
  ) {}

  async open(restored?: Readonly<Record<string, string>>): Promise<void> {
    this.next = restored?.next === undefined ? 0 : Number(restored.next)
    this.baseMs = restored?.base !== undefined ? Number(restored.base) : (this.baseTime ?? this.ctx.now())
    this.generator = new NexmarkGenerator(this.seed, this.rate, this.baseMs)
    this.openedAt = this.ctx.now()
    this.startEvent = this.next
  }

  async poll(maxRows: number): Promise<Chunk | undefined> {
    const elapsed = (this.ctx.now() - this.openedAt) / 1000
    let due = this.startEvent + Math.floor(elapsed * this.rate)
    if (this.maxEvents !== undefined) due = Math.min(due, this.maxEvents)
    if (due <= this.next) return undefined
    const columns: Value[][] = this.projection.map(() => [])
    let rows = 0
    let n = this.next
    while (n < due && rows < maxRows) {
      if (this.generator.append(n, this.table, this.projection, columns)) rows++
      n++
    }
    this.next = n
    if (rows === 0) return undefined
    return { columns, ops: new Int8Array(rows).fill(1), length: rows }
  }

  offsets(): Record<string, string> {
    return { next: String(this.next), base: String(this.baseMs) }
  }

  async close(): Promise<void> {}
}

export const datagenSourceFactory: SourceFactory = {
  connector: 'datagen',
  defaultColumns(options) {
    validate(options)
    return COLUMNS[tableOf(options)].map(([name, type]) => ({ name, type: TYPE[type] }))
  },
  create(columns: readonly ColumnSchema[], options: ConnectorOptions, ctx: ConnectorContext): SourceReader {
    validate(options)
    const table = tableOf(options)
    const all = COLUMNS[table]
    const projection = columns.map((c) => {
      const i = all.findIndex(([name]) => name === c.name)
      if (i < 0) throw new SluiceError(SqlState.invalid_parameter_value, `the nexmark ${table} table has no column "${c.name}"`, { hint: `its columns: ${all.map(([n]) => n).join(', ')}` })
      if (c.type.kind !== all[i][1]) throw new SluiceError(SqlState.datatype_mismatch, `column "${c.name}" of the nexmark ${table} table is ${all[i][1]}, not ${c.type.kind}`)
      return i
    })
    const maxEvents = option(options, 'max_events') === undefined ? undefined : positiveNumber(options, 'max_events', 0)
    const base = option(options, 'base_time')
    return new DatagenReader(table, projection, positiveNumber(options, 'rate', 10_000), positiveNumber(options, 'seed', 42), maxEvents, base === undefined ? undefined : parseTimestamp(base) / 1000, ctx)
  },
}
