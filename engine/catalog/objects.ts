/**
 * The objects of the catalog as the running engine holds them. Each relation (source, table,
 * materialized view) owns a Stream — the fan-out point its readers subscribe to — and can hand a
 * snapshot of its current rows to a new reader. Only the defining SQL is persisted (catalog.ts);
 * everything here is rebuilt from it at startup.
 */
import type { Chunk } from '../chunk.ts'
import type { ColumnSchema, ConnectorOptions, SinkWriter } from '../connector.ts'
import type { Dataflow, RelationInput } from '../runtime/dataflow.ts'
import type { Materialize } from '../ops/materialize.ts'
import type { SourceDriver } from '../runtime/source-driver.ts'
import type { TableRows } from './table-rows.ts'
import type { Stream } from '../runtime/stream.ts'
import type { LogicalPlan } from '../plan/logical.ts'
import type { PhysicalNode } from '../runtime/dataflow.ts'
import { emptyColumns } from '../chunk.ts'
import type { TableFeed } from '../runtime/table-feed.ts'

export type ObjectKind = 'source' | 'table' | 'materialized_view' | 'view' | 'sink'

interface Base {
  readonly id: number
  readonly name: string
  /** The CREATE statement as the user wrote it (SHOW CREATE, and replayed at startup). */
  readonly sql: string
  readonly columns: readonly ColumnSchema[]
  /** Names of objects that read this one (DROP needs CASCADE while any remain). */
  readonly dependents: Set<string>
}

export interface WatermarkDecl {
  readonly column: number
  /** Delay in µs. */
  readonly delay: number
}

export interface SourceObject extends Base, RelationInput {
  readonly kind: 'source'
  readonly connector: string
  readonly options: ConnectorOptions
  readonly watermark: WatermarkDecl | undefined
  readonly stream: Stream
  readonly driver: SourceDriver
}

export interface TableObject extends Base, RelationInput {
  readonly kind: 'table'
  readonly rows: TableRows
  readonly primaryKey: readonly number[] | undefined
  readonly appendOnly: boolean
  readonly watermark: WatermarkDecl | undefined
  readonly stream: Stream
  /** A table with a connector (`CREATE TABLE ... WITH (connector = ...)`): what feeds its rows. */
  readonly feed?: TableFeed
}

export interface MaterializedViewObject extends Base, RelationInput {
  readonly kind: 'materialized_view'
  readonly dependsOn: readonly string[]
  readonly plan: LogicalPlan
  readonly physical: PhysicalNode
  readonly dataflow: Dataflow
  readonly materialize: Materialize
  readonly stream: Stream
  readonly emitOnWindowClose: boolean
  /** µs, the trailing WATERMARK of the view. */
  readonly watermarkOverride: number | undefined
  /** Set when the view's dataflow failed (a bug): the view stops updating and says why. */
  failure: string | undefined
}

/** A plain (non-materialized) view: its query is inlined wherever it is read. */
export interface PlainViewObject extends Base {
  readonly kind: 'view'
  readonly dependsOn: readonly string[]
  /** The parsed query, kept as the statement tree the binder inlines. */
  readonly query: unknown
}

/**
 * A sink: a dataflow (the query of `CREATE SINK ... AS SELECT`, or a read of the view named in
 * `FROM`) whose output goes to a SinkWriter. The checkpoint coordinator drives the writer's
 * preCommit/commit per epoch (connector.ts).
 */
export interface SinkObject extends Base {
  readonly kind: 'sink'
  readonly connector: string
  readonly options: ConnectorOptions
  readonly dependsOn: readonly string[]
  readonly dataflow: Dataflow
  readonly writer: SinkWriter
  /** Resolves once the writer is open (it opens in the background, retrying, so startup never waits on it). */
  ready(): Promise<void>
  /** Set while the writer keeps failing (shown in sluice_catalog.sinks); cleared by a good commit. */
  lastError: string | undefined
  /** The last epoch this process saw committed by the writer (0 before the first). */
  committedEpoch: number
}

export type RelationObject = SourceObject | TableObject | MaterializedViewObject
export type CatalogObject = RelationObject | PlainViewObject | SinkObject

export function emptyChunk(width: number): Chunk {
  return { columns: emptyColumns(width), ops: new Int8Array(0), length: 0 }
}

export function kindLabel(kind: ObjectKind): string {
  switch (kind) {
    case 'source':
      return 'source'
    case 'table':
      return 'table'
    case 'materialized_view':
      return 'materialized view'
    case 'view':
      return 'view'
    case 'sink':
      return 'sink'
  }
}
