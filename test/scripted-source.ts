/**
 * A partitioned source whose records a test appends (`connector = 'scripted'`), for golden
 * recovery runs that must be deterministic: each poll takes records partition by partition in a
 * fixed order, so the same input gives the same batches in every run, which a real broker's
 * fetch timing does not. Event time per partition, idleness and their checkpointed clocks go
 * through the same code as the Kafka source (connectors/partition-time.ts); offsets are
 * `p/<partition>` → next record. A record that is a string is malformed: it becomes a dead letter
 * (reason decode_error) as a Kafka record that does not decode would.
 */
import type { Chunk, Column, Watermark } from '../engine/chunk.ts'
import type {
  ColumnSchema,
  ConnectorContext,
  ConnectorOptions,
  PartitionClock,
  SourceClocks,
  SourceFactory,
  SourceReader,
} from '../engine/connector.ts'
import { timeColumns } from '../engine/engine.ts'
import { SluiceError, SqlState } from '../engine/errors.ts'
import type { Value } from '../engine/types/datatype.ts'
import {
  clockOf,
  minimumWatermarks,
  observeTime,
  restoreClock,
  type PartitionTime,
} from '../connectors/partition-time.ts'

export type ScriptedRecord = readonly Value[] | string

/** The records of one scripted input, by partition; tests append, readers poll. */
export class Script {
  readonly partitions: ScriptedRecord[][]
  /** Polls by every reader of the script (tests wait for an idle poll after moving the clock). */
  polls = 0

  constructor(partitions: number) {
    this.partitions = Array.from({ length: partitions }, () => [])
  }

  append(partition: number, records: readonly ScriptedRecord[]): void {
    this.partitions[partition].push(...records)
  }
}

const scripts = new Map<string, Script>()

/** Registers (or replaces) the script that `script = '<name>'` sources read. */
export function defineScript(name: string, partitions: number): Script {
  const script = new Script(partitions)
  scripts.set(name, script)
  return script
}

interface ScriptedPartition extends PartitionTime {
  readonly id: number
  next: number
}

class ScriptedReader implements SourceReader {
  private readonly parts: ScriptedPartition[] = []
  private readonly time: number[]

  constructor(
    private readonly columns: readonly ColumnSchema[],
    private readonly script: Script,
    private readonly idleMs: number | undefined,
    private readonly ctx: ConnectorContext,
  ) {
    this.time = timeColumns(columns)
  }

  open(offsets?: Readonly<Record<string, string>>, clocks?: SourceClocks): Promise<void> {
    const now = this.ctx.now()
    for (let id = 0; id < this.script.partitions.length; id++) {
      const p: ScriptedPartition = {
        id,
        next: Number(offsets?.[`p/${id}`] ?? 0),
        lastDataAt: now,
        maxTime: this.time.map(() => -Infinity),
      }
      const clock = clocks?.[`p/${id}`]
      if (clock !== undefined) restoreClock(p, clock, this.time, now)
      this.parts.push(p)
    }
    return Promise.resolve()
  }

  poll(maxRows: number): Promise<Chunk | undefined> {
    this.script.polls++
    const now = this.ctx.now()
    const columns: Column[] = this.columns.map(() => [])
    const ops: number[] = []
    let taken = 0
    for (const p of this.parts) {
      const records = this.script.partitions[p.id]
      while (taken < maxRows && p.next < records.length) {
        const r = records[p.next]
        const offset = p.next++
        taken++
        p.lastDataAt = now
        if (typeof r === 'string') {
          this.ctx.deadLetter({
            object: this.ctx.name,
            reason: 'decode_error',
            detail: 'malformed record',
            payload: r,
            origin: `partition=${p.id} offset=${offset}`,
          })
          continue
        }
        for (let c = 0; c < columns.length; c++) columns[c].push(r[c])
        for (let k = 0; k < this.time.length; k++) observeTime(p, k, r[this.time[k]])
        ops.push(1)
      }
    }
    if (taken === 0) return Promise.resolve(undefined)
    return Promise.resolve({ columns, ops: Int8Array.from(ops), length: ops.length })
  }

  offsets(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const p of this.parts) out[`p/${p.id}`] = String(p.next)
    return out
  }

  clocks(): SourceClocks {
    const out: Record<string, PartitionClock> = {}
    for (const p of this.parts) out[`p/${p.id}`] = clockOf(p, this.time, this.ctx.now())
    return out
  }

  watermarks(): Watermark[] {
    return minimumWatermarks(
      this.parts,
      this.time,
      this.ctx.now(),
      this.idleMs,
      (p) => p.next < this.script.partitions[p.id].length,
    )
  }

  endOffsets(): Promise<Record<string, string>> {
    const out: Record<string, string> = {}
    this.script.partitions.forEach((records, id) => (out[`p/${id}`] = String(records.length)))
    return Promise.resolve(out)
  }

  reached(end: Readonly<Record<string, string>>): boolean {
    return this.parts.every((p) => p.next >= Number(end[`p/${p.id}`] ?? 0))
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

export const scriptedSourceFactory: SourceFactory = {
  connector: 'scripted',
  create(columns: readonly ColumnSchema[], options: ConnectorOptions, ctx: ConnectorContext): SourceReader {
    for (const key of options.keys()) {
      if (key !== 'script' && key !== 'idle_timeout_ms')
        throw new SluiceError(SqlState.invalid_parameter_value, `unknown option "${key}" for connector scripted`)
    }
    const script = scripts.get(options.get('script') ?? '')
    if (script === undefined)
      throw new SluiceError(SqlState.invalid_parameter_value, `no script "${options.get('script') ?? ''}"`)
    const idle = options.get('idle_timeout_ms')
    return new ScriptedReader(columns, script, idle === undefined ? undefined : Number(idle), ctx)
  },
}
