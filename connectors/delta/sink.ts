/**
 * The `delta` sink: a Delta Lake table on the local file system, the history layer of a
 * pipeline. `CREATE SINK s FROM v WITH (connector = 'delta', path = '/data/lake/v',
 * partition_by = 'window_start')`.
 *
 * One checkpoint epoch becomes one Delta commit: its rows are encoded as Parquet files (one per
 * partition) at preCommit, so the checkpoint's write-ahead log holds exactly the bytes that will
 * be written; commit writes the files under names derived from the epoch, then creates the next
 * log version with the files' `add` actions and a `txn` action (appId = the sink, version = the
 * epoch). Repeating a commit after a crash finds the txn in the log and does nothing; a crash
 * after the files but before the log version leaves files no reader sees, rewritten identically
 * by the repeat.
 *
 * Delta tables are append-only: an input that retracts needs `mode = 'changelog'`, which adds an
 * `_op` column (1 insert, -1 delete) to every row.
 */
import type { Chunk } from '../../engine/chunk.ts'
import type {
  ColumnSchema,
  ConnectorContext,
  ConnectorOptions,
  SinkFactory,
  SinkSpec,
  SinkWriter,
} from '../../engine/connector.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import type { AddAction, DeltaField } from './log.ts'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { scalar } from '../../engine/types/datatype.ts'
import { initialActions, readLog, tryCommit } from './log.ts'
import { deltaFields, encodeParquet, loadParquetWriter, partitionValue } from './parquet.ts'

export const DELTA_SINK_OPTIONS: readonly string[] = ['path', 'partition_by', 'mode']

const OP_FIELD: DeltaField = { name: '_op', type: 'short', nullable: false }

interface DeltaSinkConfig {
  readonly path: string
  /** Index of the partition column, or -1. */
  readonly partition: number
  readonly changelog: boolean
}

function invalid(message: string, hint?: string): SluiceError {
  return new SluiceError(SqlState.invalid_parameter_value, message, hint === undefined ? {} : { hint })
}

function parseOptions(spec: SinkSpec, options: ConnectorOptions): DeltaSinkConfig {
  for (const key of options.keys()) {
    if (key !== 'connector' && !DELTA_SINK_OPTIONS.includes(key)) {
      throw invalid(`unknown option "${key}" for connector delta`, `known options: ${DELTA_SINK_OPTIONS.join(', ')}`)
    }
  }
  const path = options.get('path')
  if (path === undefined || path.trim() === '')
    throw invalid('connector delta needs option "path" (the table directory)')
  const mode = (options.get('mode') ?? 'append').toLowerCase()
  if (mode !== 'append' && mode !== 'changelog')
    throw invalid(`invalid value "${mode}" for option "mode" of connector delta`, "use 'append' or 'changelog'")
  if (mode === 'append' && !spec.appendOnly) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      'a delta sink in append mode needs an input that never retracts',
      {
        hint: "use EMIT ON WINDOW CLOSE or an append-only input, or mode = 'changelog' to write every change with an _op column",
      },
    )
  }
  let partition = -1
  const by = options.get('partition_by')
  if (by !== undefined) {
    partition = spec.columns.findIndex((c) => c.name === by.trim())
    if (partition < 0) throw invalid(`partition_by column "${by}" is not a column of the sink's input`)
  }
  return { path, partition, changelog: mode === 'changelog' }
}

export class DeltaSinkWriter implements SinkWriter {
  private readonly appId: string
  /** Data columns (partition column excluded) as Delta fields and engine types. */
  private readonly dataFields: DeltaField[]
  private readonly dataTypes: DataType[]
  private readonly allFields: DeltaField[]
  private readonly partitionName: string | undefined
  private pending: Chunk[] = []
  private committed = 0

  constructor(
    private readonly columns: readonly ColumnSchema[],
    private readonly config: DeltaSinkConfig,
    private readonly ctx: ConnectorContext,
  ) {
    this.appId = `sluice:${ctx.name}`
    this.allFields = deltaFields(columns, config.changelog ? [OP_FIELD] : [])
    this.partitionName = config.partition >= 0 ? columns[config.partition].name : undefined
    this.dataFields = this.allFields.filter((_f, i) => i !== config.partition)
    this.dataTypes = [...columns.map((c) => c.type), ...(config.changelog ? [scalar('int2')] : [])].filter(
      (_t, i) => i !== config.partition,
    )
  }

  open(): Promise<void> {
    const { path } = this.config
    mkdirSync(path, { recursive: true })
    let log = readLog(path)
    if (log.version < 0) {
      const partitions = this.partitionName === undefined ? [] : [this.partitionName]
      tryCommit(path, 0, initialActions(this.allFields, partitions, this.ctx.now(), randomUUID()))
      log = readLog(path)
    }
    const expected = this.allFields.map((f) => `${f.name} ${f.type}`).join(', ')
    const found = (log.fields ?? []).map((f) => `${f.name} ${f.type}`).join(', ')
    if (expected !== found) {
      return Promise.reject(
        new SluiceError(
          SqlState.datatype_mismatch,
          `delta table at "${path}" has columns (${found}), the sink writes (${expected})`,
          { domain: 'user' },
        ),
      )
    }
    this.committed = log.txn.get(this.appId) ?? 0
    return Promise.resolve()
  }

  write(chunk: Chunk): void {
    if (chunk.length > 0) this.pending.push(chunk)
  }

  preCommit(_epoch: number): Uint8Array | undefined {
    const chunks = this.pending
    this.pending = []
    if (chunks.length === 0) return undefined
    return encodeEpoch(this.encodeFiles(chunks))
  }

  commit(epoch: number, logged: Uint8Array | undefined): Promise<void> {
    if (logged === undefined || epoch <= this.committed) return Promise.resolve()
    const { path } = this.config
    const files = decodeEpoch(logged)
    const now = this.ctx.now()
    const adds: AddAction[] = files.map((f, i) => {
      // On disk, partition directories escape as Hive does; in the log, paths are URI-encoded.
      const dir =
        this.partitionName === undefined
          ? ''
          : `${this.partitionName}=${hiveEscape(f.partition ?? '__HIVE_DEFAULT_PARTITION__')}/`
      const rel = `${dir}part-${String(epoch).padStart(10, '0')}-${String(i).padStart(4, '0')}.parquet`
      const full = join(path, rel)
      mkdirSync(join(full, '..'), { recursive: true })
      writeFileSync(`${full}.tmp`, f.bytes)
      renameSync(`${full}.tmp`, full)
      const partitionValues = this.partitionName === undefined ? {} : { [this.partitionName]: f.partition }
      return {
        path: rel.split('/').map(encodeURIComponent).join('/'),
        partitionValues,
        size: f.bytes.length,
        modificationTime: now,
        dataChange: true,
      }
    })
    const actions = [
      ...adds.map((add) => ({ add })),
      { txn: { appId: this.appId, version: epoch, lastUpdated: now } },
      {
        commitInfo: {
          timestamp: now,
          operation: 'STREAMING UPDATE',
          operationParameters: { epochId: String(epoch), outputMode: 'Append' },
          engineInfo: 'sluice',
        },
      },
    ]
    // Another writer may take a version between our read and our create: read again and retry,
    // unless that writer was an earlier attempt of ours that already recorded this epoch.
    for (;;) {
      const log = readLog(path)
      if ((log.txn.get(this.appId) ?? 0) >= epoch) break
      if (tryCommit(path, log.version + 1, actions)) break
    }
    this.committed = epoch
    return Promise.resolve()
  }

  committedEpoch(): Promise<number> {
    return Promise.resolve(readLog(this.config.path).txn.get(this.appId) ?? 0)
  }

  close(): Promise<void> {
    return Promise.resolve()
  }

  /** The epoch's rows as one Parquet file per partition value. */
  private encodeFiles(chunks: readonly Chunk[]): EpochFile[] {
    const { partition, changelog } = this.config
    const width = this.columns.length
    const groups = new Map<string | null, Value[][]>()
    for (const chunk of chunks) {
      for (let i = 0; i < chunk.length; i++) {
        const key = partition < 0 ? null : partitionValue(chunk.columns[partition][i], this.columns[partition].type)
        let cols = groups.get(key)
        if (cols === undefined) {
          cols = this.dataFields.map(() => [])
          groups.set(key, cols)
        }
        let out = 0
        for (let c = 0; c < width; c++) if (c !== partition) cols[out++].push(chunk.columns[c][i])
        if (changelog) cols[out].push(chunk.ops[i])
      }
    }
    return [...groups].map(([key, cols]) => ({
      partition: key,
      bytes: encodeParquet(this.dataFields, this.dataTypes, cols),
    }))
  }
}

/** Hive's escaping of partition values in directory names. */
function hiveEscape(value: string): string {
  let out = ''
  for (const c of value) {
    const code = c.charCodeAt(0)
    out +=
      code < 0x20 || code === 0x7f || HIVE_SPECIAL.includes(c)
        ? `%${code.toString(16).toUpperCase().padStart(2, '0')}`
        : c
  }
  return out
}

const HIVE_SPECIAL = '"#%\'*/:=?\\{[]^'

interface EpochFile {
  readonly partition: string | null
  readonly bytes: Uint8Array
}

/** Write-ahead form of an epoch: a JSON header (partition values and sizes), then the files. */
function encodeEpoch(files: readonly EpochFile[]): Uint8Array {
  const header = Buffer.from(JSON.stringify(files.map((f) => [f.partition, f.bytes.length])))
  const out = Buffer.alloc(4 + header.length + files.reduce((n, f) => n + f.bytes.length, 0))
  out.writeUInt32LE(header.length, 0)
  header.copy(out, 4)
  let at = 4 + header.length
  for (const f of files) {
    out.set(f.bytes, at)
    at += f.bytes.length
  }
  return out
}

function decodeEpoch(bytes: Uint8Array): EpochFile[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const headerLength = buf.readUInt32LE(0)
  const header = JSON.parse(buf.subarray(4, 4 + headerLength).toString('utf8')) as [string | null, number][]
  let at = 4 + headerLength
  return header.map(([partition, size]) => {
    const file = { partition, bytes: bytes.subarray(at, at + size) }
    at += size
    return file
  })
}

export const deltaSinkFactory: SinkFactory = {
  connector: 'delta',
  prepare: loadParquetWriter,
  create(spec: SinkSpec, options: ConnectorOptions, ctx: ConnectorContext): SinkWriter {
    return new DeltaSinkWriter(spec.columns, parseOptions(spec, options), ctx)
  },
}
