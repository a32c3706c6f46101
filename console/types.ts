/** What the page's modules share: the endpoints' JSON (./wire.ts) and the page signature. */
export type { Graph, GraphOperator, HistorySeries, ObjectState, Overview, OverviewObject } from './wire.ts'

/** A page draws into `main` and returns what stops its timers and streams. */
export type Page = (main: HTMLElement, param: string) => () => void
