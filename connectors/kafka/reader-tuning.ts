/**
 * The Kafka reader's knobs (tests turn them down; the defaults suit production) and what it
 * reports for metrics and tests.
 */
import type { FetcherPlacement } from './fetch-thread.ts'

/** Knobs tests turn down; the defaults suit production. */
export interface KafkaReaderTuning {
  /** Records held between the fetcher and poll before fetching holds. */
  readonly queueMax: number
  /** Bytes of record values held before fetching holds (whichever limit comes first). */
  readonly queueMaxBytes: number
  /** Per-partition fetch size: bounds what one fetch adds to a full queue. */
  readonly maxBytesPerPartition: number
  /** How often (ms) the position is mirrored to `group.id`, when one is set. */
  readonly groupCommitIntervalMs: number
  /** How often (ms) partition end offsets are refreshed for lag reporting. */
  readonly lagRefreshMs: number
  /** Dead-letter records produced to the dead-letter topic at most in flight before poll waits. */
  readonly deadLetterBacklog: number
  /** Where the fetcher runs: a worker thread (default) or this thread. */
  readonly fetchThread: FetcherPlacement
  /** Without a completed fetch for this long (ms), the reader counts as disconnected. */
  readonly staleMs: number
  /** A consumer without a fetch for this long (ms) is dropped and a new one built (with backoff). */
  readonly stuckMs: number
}

export const DEFAULT_TUNING: KafkaReaderTuning = {
  queueMax: 100_000,
  queueMaxBytes: 32 << 20,
  maxBytesPerPartition: 1 << 20,
  groupCommitIntervalMs: 5000,
  lagRefreshMs: 1000,
  deadLetterBacklog: 5000,
  fetchThread: process.env.SLUICE_KAFKA_FETCH_THREAD === 'main' ? 'main' : 'worker',
  staleMs: 5000,
  stuckMs: 30_000,
}

export interface KafkaReaderStats {
  readonly queued: number
  readonly paused: boolean
  readonly pausedPartitions: readonly number[]
  /** Dead-letter records not yet acknowledged by the dead-letter topic (per epoch: not yet handed to a checkpoint). */
  readonly deadLettersInFlight: number
  /** Whether the fetcher reaches the brokers (false after `staleMs` without a fetch). */
  readonly connected: boolean
  /** Why not, while not connected. */
  readonly connectionError: string | undefined
}
