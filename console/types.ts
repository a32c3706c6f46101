/**
 * The JSON the console endpoints answer with, as the page reads it (the server's types live in
 * server/http/console/; the browser bundle does not import server code).
 */
export type ObjectState = 'running' | 'warning' | 'failing' | 'halted'

export interface OverviewObject {
  readonly kind: 'source' | 'table' | 'view' | 'materialized_view' | 'sink'
  readonly name: string
  readonly state: ObjectState
  readonly problem: string | null
  readonly connector: string | null
  readonly rate: number | null
  readonly rows: number | null
  readonly stateEntries: number | null
  readonly lag: readonly {
    readonly topic: string
    readonly partition: number | null
    readonly lag: number | null
    readonly paused: boolean
  }[]
  readonly watermarkDelay: number | null
  readonly commitMs: number | null
  readonly committedEpoch: number | null
  readonly pendingEpochs: number | null
}

export interface Overview {
  readonly now: number
  readonly objects: readonly OverviewObject[]
  readonly checkpoints: {
    readonly state: ObjectState
    readonly problem: string | null
    readonly lastEpoch: number | null
    readonly ageSeconds: number | null
    readonly lastDurationMs: number | null
    readonly successRate: number | null
  }
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

/** A page draws into `main` and returns what stops its timers and streams. */
export type Page = (main: HTMLElement, param: string) => () => void
