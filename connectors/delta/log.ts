/**
 * The part of the Delta Lake transaction protocol the sink needs: a table is a directory of
 * Parquet files plus `_delta_log/NNNNNNNNNNNNNNNNNNNN.json` commits, each a list of actions
 * (protocol, metaData, add, txn, commitInfo) applied in version order. A commit is made visible
 * by creating its version file with put-if-absent semantics (`wx`): two writers can never both
 * own one version.
 *
 * The `txn` action (appId, version) is Delta's own idempotence record: the sink writes one per
 * checkpoint epoch, keyed by its appId, so "is epoch n committed?" is answered by the log itself.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface DeltaField {
  readonly name: string
  /** A Delta primitive type name: boolean, short, integer, long, float, double, string, binary, date, timestamp, timestamp_ntz. */
  readonly type: string
  readonly nullable: boolean
}

export interface AddAction {
  readonly path: string
  readonly partitionValues: Readonly<Record<string, string | null>>
  readonly size: number
  readonly modificationTime: number
  readonly dataChange: boolean
}

/** What the sink learns from reading a table's log. */
export interface LogState {
  /** Highest committed version, -1 for a table with no log yet. */
  readonly version: number
  readonly fields: readonly DeltaField[] | undefined
  readonly partitionColumns: readonly string[]
  /** Highest txn version recorded for each appId. */
  readonly txn: ReadonlyMap<string, number>
}

const VERSION_FILE = /^(\d{20})\.json$/

export function logDir(table: string): string {
  return join(table, '_delta_log')
}

export function versionFile(table: string, version: number): string {
  return join(logDir(table), `${String(version).padStart(20, '0')}.json`)
}

/** Reads every JSON commit of the log (the sink writes no Parquet checkpoints of the log). */
export function readLog(table: string): LogState {
  let names: string[]
  try {
    names = readdirSync(logDir(table))
  } catch {
    return { version: -1, fields: undefined, partitionColumns: [], txn: new Map() }
  }
  const versions = names
    .map((n) => VERSION_FILE.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b)
  let fields: DeltaField[] | undefined
  let partitionColumns: string[] = []
  const txn = new Map<string, number>()
  for (const v of versions) {
    for (const line of readFileSync(versionFile(table, v), 'utf8').split('\n')) {
      if (line.trim() === '') continue
      const action = JSON.parse(line) as Record<string, unknown>
      const meta = action.metaData as { schemaString: string; partitionColumns: string[] } | undefined
      if (meta !== undefined) {
        fields = (JSON.parse(meta.schemaString) as { fields: DeltaField[] }).fields.map((f) => ({
          name: f.name,
          type: f.type,
          nullable: f.nullable,
        }))
        partitionColumns = meta.partitionColumns
      }
      const t = action.txn as { appId: string; version: number } | undefined
      if (t !== undefined) txn.set(t.appId, Math.max(txn.get(t.appId) ?? 0, t.version))
    }
  }
  return { version: versions.length === 0 ? -1 : versions[versions.length - 1], fields, partitionColumns, txn }
}

/** Version 0: the protocol and the table's schema. */
export function initialActions(
  fields: readonly DeltaField[],
  partitionColumns: readonly string[],
  now: number,
  id: string,
): object[] {
  const ntz = fields.some((f) => f.type === 'timestamp_ntz')
  const protocol = ntz
    ? { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['timestampNtz'], writerFeatures: ['timestampNtz'] }
    : { minReaderVersion: 1, minWriterVersion: 2 }
  const schemaString = JSON.stringify({
    type: 'struct',
    fields: fields.map((f) => ({ name: f.name, type: f.type, nullable: f.nullable, metadata: {} })),
  })
  return [
    { protocol },
    {
      metaData: {
        id,
        format: { provider: 'parquet', options: {} },
        schemaString,
        partitionColumns,
        configuration: {},
        createdTime: now,
      },
    },
  ]
}

/**
 * Creates version `version` with `actions`. Returns false when that version exists already
 * (another writer won it); the caller re-reads the log and decides again.
 */
export function tryCommit(table: string, version: number, actions: readonly object[]): boolean {
  mkdirSync(logDir(table), { recursive: true })
  try {
    writeFileSync(versionFile(table, version), actions.map((a) => JSON.stringify(a)).join('\n') + '\n', { flag: 'wx' })
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw e
  }
}
