/**
 * The messages of the sharded runtime (docs/design/shards.md): between the main thread and a
 * view's shard workers, and between two shards of a view. Everything here survives the
 * structured clone of postMessage: chunks travel encoded (wire.ts) in buffers that are
 * transferred, not copied.
 */
import type { MessagePort } from 'node:worker_threads'
import type { ColumnSchema, DeadLetter, PartitionLag, SourceClocks } from '../connector.ts'
import type { OwnerState } from '../state/cache.ts'
import type { StateLinkEnds } from './state-link.ts'

/** A source as a shard rebuilds it: its own reader of its split, with the source's declaration. */
export interface ShardSource {
  readonly name: string
  readonly connector: string
  /** Where the worker imports the connector's factory from (SourceFactory.splits). */
  readonly module: string
  readonly exportName: string
  /** The WITH options, secrets resolved, without `connector`. */
  readonly options: readonly (readonly [string, string])[]
  readonly columns: readonly ColumnSchema[]
  /** WATERMARK FOR: column index and delay (µs). */
  readonly watermark: { readonly column: number; readonly delay: number } | undefined
}

/**
 * What a shard resumes from: its readers' positions, and whether its operators have checkpointed
 * state (read through the state link, state-link.ts).
 */
export interface ShardRestore {
  readonly offsets: Readonly<Record<string, Readonly<Record<string, string>>>>
  readonly clocks: Readonly<Record<string, SourceClocks>>
  readonly restored: boolean
}

/** A shard's state tables (when the engine checkpoints): its link to the store and its first cache budget. */
export interface ShardState {
  readonly link: StateLinkEnds
  readonly budgetBytes: number
}

/** workerData of a shard's thread. */
export interface ShardInit {
  readonly view: string
  readonly shard: number
  readonly shards: number
  /** The CREATE MATERIALIZED VIEW statement, planned again in the worker. */
  readonly sql: string
  readonly timezone: string
  /** now() of the CREATE statement (µs), so every shard plans what the main thread planned. */
  readonly now: number
  readonly fuseWindows: boolean
  readonly sources: readonly ShardSource[]
  /** Plain views the query reads (inlined): name and CREATE VIEW text. */
  readonly views: readonly { readonly name: string; readonly sql: string }[]
  /** Channel to each other shard of the view, by shard index (undefined at this shard's own). */
  readonly peers: readonly (MessagePort | undefined)[]
  readonly restore: ShardRestore | undefined
  readonly state: ShardState | undefined
  readonly maxBatchRows: number
}

/** One checkpoint write of a shard's operator `op` (local keys, as Operator.checkpoint wrote them). */
export type ShardWrite =
  | { readonly op: number; readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly op: number; readonly type: 'del'; readonly key: Uint8Array }
  | { readonly op: number; readonly type: 'clear' }

/** Main thread → shard. */
export type ToShard =
  /**
   * Stop reading, drain the exchanges, snapshot (then wait for `resume`). `allowance`: the bytes
   * of state the shard may keep cached from now on (its share of the engine's budget).
   */
  | { readonly t: 'barrier'; readonly epoch: number; readonly snapshot: boolean; readonly allowance?: number }
  | { readonly t: 'resume' }
  /** The checkpoint holding the last snapshot is durable. */
  | { readonly t: 'durable' }
  /** Output chunks the main thread has applied (credits). */
  | { readonly t: 'ack'; readonly n: number }
  | { readonly t: 'tick'; readonly now: number }
  /** FLUSH: answer `caught_up` once the readers reached what their inputs hold now. */
  | { readonly t: 'flush'; readonly id: number; readonly timeoutMs: number }
  | { readonly t: 'stop' }
  /** Sources paused (a full disk, sinks behind on commits) or not; a barrier pauses them too. */
  | { readonly t: 'pause'; readonly paused: boolean }

/** One reader of a shard as sluice_catalog shows it (sent when it changes, at most every 500 ms). */
export interface ReaderStatus {
  readonly source: string
  readonly running: boolean
  /** Could not start for a reason that may pass (a topic not created yet): the view waits. */
  readonly waiting: boolean
  readonly error: string | undefined
  /** Per partition: position, end and lag (Kafka). */
  readonly lag: readonly PartitionLag[]
  /** Positions, for readers without partitions (e.g. the generator's next event). */
  readonly offsets: Readonly<Record<string, string>>
}

/** Shard → main thread. */
export type FromShard =
  | { readonly t: 'ready' }
  | { readonly t: 'chunk'; readonly bytes: Uint8Array }
  | { readonly t: 'watermark'; readonly column: number; readonly value: number }
  | {
      readonly t: 'aligned'
      readonly epoch: number
      readonly writes: readonly ShardWrite[]
      /** How many operators the shard has (the checkpoint records it to restore them). */
      readonly operators: number
      readonly offsets: Readonly<Record<string, Readonly<Record<string, string>>>>
      readonly clocks: Readonly<Record<string, SourceClocks>>
      /** The shard's state tables in its cache, summed over its operators. */
      readonly cache: OwnerState | undefined
    }
  | { readonly t: 'caught_up'; readonly id: number; readonly ok: boolean }
  /** `source`: a reader's reject (decode_error...), else the view's operators' (late, eval_error). */
  | { readonly t: 'dead_letter'; readonly letter: Omit<DeadLetter, 'object'>; readonly source?: string }
  | { readonly t: 'readers'; readonly readers: readonly ReaderStatus[] }
  | { readonly t: 'counts'; readonly late: number; readonly evalErrors: number }
  | { readonly t: 'source_rows'; readonly source: string; readonly rows: number }
  | { readonly t: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly message: string }
  | { readonly t: 'failed'; readonly message: string; readonly stack: string | undefined }
  | { readonly t: 'stopped' }
  /** The shard's cache is over its high-water mark: its polls wait for a durable checkpoint. */
  | { readonly t: 'pressure' }

/** Shard → shard, on their channel. `edge` numbers the view's exchanges (the same in every shard). */
export type PeerMessage =
  | { readonly t: 'chunk'; readonly edge: number; readonly bytes: Uint8Array }
  | { readonly t: 'watermark'; readonly edge: number; readonly column: number; readonly value: number }
  /**
   * The sender has nothing to read and has sent no watermark on `edge` (a Kafka split whose
   * partitions hold no records): left out of the watermark's minimum until it sends one.
   */
  | { readonly t: 'idle'; readonly edge: number }
  /** Every row the sender sends on `edge` before the barrier has been sent. */
  | { readonly t: 'marker'; readonly edge: number }
  | { readonly t: 'ack'; readonly n: number }
