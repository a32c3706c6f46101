/**
 * The console's in-process metrics history: once a second it reads the engine's Prometheus
 * registry (and the dataflows' row counters) and keeps the last minutes of the numbers an
 * operator watches — events/s per source, lag per source, watermark delay, checkpoint duration,
 * sink commit latency, changes/s per view and rows/s per operator. Counters become rates here,
 * so the browser only draws. No external Prometheus is needed for the first look.
 */
import type { Registry } from 'prom-client'
import type { DataflowInfo } from '../../../engine/index.ts'

/** What the sampler reads; `Sluice` satisfies it (dataflows is optional for test doubles of the HTTP API). */
export interface HistoryDatabase {
  readonly metrics: Registry
  dataflows?(): DataflowInfo[]
}

/** One metric as prom-client's getMetricsAsJSON gives it. */
interface MetricJson {
  readonly name: string
  readonly values: readonly {
    readonly value: number
    readonly labels: Readonly<Record<string, string | number>>
    readonly metricName?: string
  }[]
}

/** Rows/s in and out of each operator of one dataflow, root first. */
export interface OperatorRates {
  readonly rowsInPerSec: readonly number[]
  readonly rowsOutPerSec: readonly number[]
}

/** The series of the last minutes: `t` in ms since the epoch, each series aligned with it (null: no value then). */
export interface HistorySeries {
  readonly t: readonly number[]
  readonly series: Readonly<Record<string, readonly (number | null)[]>>
}

interface Sample {
  readonly t: number
  readonly values: ReadonlyMap<string, number>
}

/** Totals of the previous sample, to turn counters into rates. */
interface Totals {
  readonly t: number
  readonly counters: Map<string, number>
  readonly operators: Map<string, { rowsIn: number[]; rowsOut: number[] }>
}

export const DEFAULT_SAMPLE_MS = 1000
/** Ten minutes at one sample a second. */
export const DEFAULT_KEEP = 600

export class MetricsHistory {
  private readonly samples: Sample[] = []
  private previous: Totals | undefined
  private timer: NodeJS.Timeout | undefined
  private sampling = false
  private rates = new Map<string, OperatorRates>()
  private latest: ReadonlyMap<string, number> = new Map()

  constructor(
    private readonly db: HistoryDatabase,
    readonly sampleMs = DEFAULT_SAMPLE_MS,
    private readonly keep = DEFAULT_KEEP,
    private readonly onError: (e: unknown) => void = () => {},
  ) {}

  start(): void {
    if (this.timer !== undefined) return
    void this.sample()
    this.timer = setInterval(() => void this.sample(), this.sampleMs)
    // The sampler must never keep a closing server (or a test) alive.
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  /** The last sample's values by series name (rates, lags, delays). */
  current(): ReadonlyMap<string, number> {
    return this.latest
  }

  /** Per-operator rates of a view or sink over the last sample interval. */
  operatorRates(name: string): OperatorRates | undefined {
    return this.rates.get(name)
  }

  /** Series whose names start with one of `prefixes` (all when none), over the last `seconds`. */
  series(prefixes: readonly string[] = [], seconds = Infinity): HistorySeries {
    const since = Date.now() - seconds * 1000
    const picked = this.samples.filter((s) => s.t >= since)
    const names = new Set<string>()
    for (const s of picked)
      for (const k of s.values.keys()) if (prefixes.length === 0 || prefixes.some((p) => k.startsWith(p))) names.add(k)
    const series: Record<string, (number | null)[]> = {}
    for (const name of [...names].sort()) series[name] = picked.map((s) => s.values.get(name) ?? null)
    return { t: picked.map((s) => s.t), series }
  }

  /** Takes one sample now (the timer calls it; tests may too). */
  async sample(): Promise<void> {
    // A slow registry read must not pile up samples behind it.
    if (this.sampling) return
    this.sampling = true
    try {
      const t = Date.now()
      const metrics = (await this.db.metrics.getMetricsAsJSON()) as unknown as MetricJson[]
      const flows = this.db.dataflows?.() ?? []
      this.record(t, metrics, flows)
    } catch (e) {
      this.onError(e)
    } finally {
      this.sampling = false
    }
  }

  private record(t: number, metrics: readonly MetricJson[], flows: readonly DataflowInfo[]): void {
    const values = new Map<string, number>()
    const counters = new Map<string, number>()
    const prev = this.previous
    const dt = prev === undefined ? 0 : (t - prev.t) / 1000
    const rate = (key: string, total: number): void => {
      counters.set(key, total)
      const before = prev?.counters.get(key)
      // A counter that went down was reset (a dropped and recreated object): no rate this time.
      if (before !== undefined && dt > 0 && total >= before) values.set(key, (total - before) / dt)
    }
    const byName = new Map(metrics.map((m) => [m.name, m]))
    for (const v of byName.get('sluice_source_rows_total')?.values ?? [])
      rate(`events:${String(v.labels.source)}`, v.value)
    const lag = new Map<string, number>()
    for (const v of byName.get('sluice_source_lag_records')?.values ?? []) {
      const source = String(v.labels.source)
      lag.set(source, (lag.get(source) ?? 0) + v.value)
    }
    for (const [source, n] of lag) values.set(`lag:${source}`, n)
    for (const v of byName.get('sluice_watermark_lag_seconds')?.values ?? [])
      values.set(`watermark_delay:${String(v.labels.relation)}`, v.value)
    for (const v of byName.get('sluice_dead_letters_total')?.values ?? [])
      rate(`dead_letters:${String(v.labels.object)}`, v.value)
    const mean = (key: string, sum: number | undefined, count: number | undefined): void => {
      if (sum === undefined || count === undefined) return
      const before = { sum: prev?.counters.get(`${key}#sum`), count: prev?.counters.get(`${key}#count`) }
      counters.set(`${key}#sum`, sum)
      counters.set(`${key}#count`, count)
      // The mean over this interval; nothing new in it: no point (the chart shows a gap).
      if (before.sum !== undefined && before.count !== undefined && count > before.count)
        values.set(key, ((sum - before.sum) / (count - before.count)) * 1000)
    }
    const histogram = (metric: string, label: string | undefined, prefix: string): void => {
      const parts = new Map<string, { sum?: number; count?: number }>()
      for (const v of byName.get(metric)?.values ?? []) {
        const key = label === undefined ? prefix : `${prefix}:${String(v.labels[label])}`
        const p = parts.get(key) ?? {}
        if (v.metricName?.endsWith('_sum') === true) p.sum = v.value
        else if (v.metricName?.endsWith('_count') === true) p.count = v.value
        parts.set(key, p)
      }
      for (const [key, p] of parts) mean(key, p.sum, p.count)
    }
    histogram('sluice_checkpoint_duration_seconds', undefined, 'checkpoint_ms')
    histogram('sluice_sink_commit_seconds', 'sink', 'commit_ms')
    for (const v of byName.get('sluice_view_rows')?.values ?? [])
      values.set(`view_rows:${String(v.labels.view)}`, v.value)

    const operators = new Map<string, { rowsIn: number[]; rowsOut: number[] }>()
    const rates = new Map<string, OperatorRates>()
    for (const flow of flows) {
      const now = { rowsIn: flow.operators.map((o) => o.rowsIn), rowsOut: flow.operators.map((o) => o.rowsOut) }
      operators.set(flow.name, now)
      const before = prev?.operators.get(flow.name)
      if (before === undefined || dt <= 0 || before.rowsIn.length !== now.rowsIn.length) continue
      const perSec = (a: readonly number[], b: readonly number[]): number[] =>
        a.map((x, i) => Math.max(0, x - b[i]) / dt)
      const r = { rowsInPerSec: perSec(now.rowsIn, before.rowsIn), rowsOutPerSec: perSec(now.rowsOut, before.rowsOut) }
      rates.set(flow.name, r)
      // The root's input: the changes reaching the view's result (or the sink's writer) per second.
      values.set(`changes:${flow.name}`, r.rowsInPerSec[0] ?? 0)
    }
    this.previous = { t, counters, operators }
    this.rates = rates
    this.latest = values
    this.samples.push({ t, values })
    if (this.samples.length > this.keep) this.samples.splice(0, this.samples.length - this.keep)
  }
}
