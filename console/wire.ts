/**
 * The JSON the console endpoints answer with: one definition for the server that builds it
 * (server/http/console/) and the page that reads it (no DOM types here, so both programs check it).
 */
export type ObjectState = 'running' | 'warning' | 'failing' | 'halted'

export interface PartitionLag {
  readonly topic: string
  readonly partition: number | null
  readonly lag: number | null
  readonly paused: boolean
}

export interface OverviewObject {
  readonly kind: 'source' | 'table' | 'view' | 'materialized_view' | 'sink'
  readonly name: string
  readonly state: ObjectState
  /** Why the state is not running, in words. */
  readonly problem: string | null
  readonly connector: string | null
  /** Events/s (sources, tables) or changes/s (views, sinks) over the last sample. */
  readonly rate: number | null
  readonly rows: number | null
  readonly stateEntries: number | null
  readonly lag: readonly PartitionLag[]
  /** Seconds between wall-clock time and the newest event time seen (sources, tables). */
  readonly watermarkDelay: number | null
  /** Sinks: mean commit latency over the last sample, ms; the last committed epoch; epochs waiting. */
  readonly commitMs: number | null
  readonly committedEpoch: number | null
  readonly pendingEpochs: number | null
}

export interface CheckpointHealth {
  readonly state: ObjectState
  readonly problem: string | null
  readonly lastEpoch: number | null
  /** Seconds since the last completed checkpoint started. */
  readonly ageSeconds: number | null
  readonly lastDurationMs: number | null
  /** Completed / all of the checkpoints this process remembers (the last 100). */
  readonly successRate: number | null
}

export interface Overview {
  readonly now: number
  readonly objects: readonly OverviewObject[]
  readonly checkpoints: CheckpointHealth
  readonly deadLetters: readonly { readonly object: string; readonly reason: string; readonly count: number }[]
}

export interface HistorySeries {
  readonly t: readonly number[]
  readonly series: Readonly<Record<string, readonly (number | null)[]>>
}

export interface GraphOperator {
  readonly id: number
  readonly name: string
  readonly detail: string
  readonly inputs: readonly ({ readonly operator: number } | { readonly relation: string })[]
  readonly rowsIn: number
  readonly rowsOut: number
  readonly stateEntries: number
  readonly rowsInPerSec: number | null
  readonly rowsOutPerSec: number | null
}

export interface Graph {
  readonly name: string
  readonly kind: 'materialized_view' | 'sink' | 'source' | 'table'
  readonly failure: string | null
  readonly operators: readonly GraphOperator[]
  readonly upstream: readonly string[]
  readonly downstream: readonly { readonly name: string; readonly kind: 'materialized_view' | 'sink' }[]
}
