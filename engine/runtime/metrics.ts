/**
 * The engine's Prometheus metrics (prom-client), one registry per engine instance so that
 * several engines in one process (tests) do not collide. Names follow ARCHITECTURE.md's
 * observability list.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

export class EngineMetrics {
  readonly registry = new Registry()
  readonly sourceRows: Counter<'source'>
  readonly sourceBatches: Counter<'source'>
  readonly lateRows: Counter<'view'>
  readonly evalErrors: Counter<'view'>
  readonly deadLetters: Counter<'object' | 'reason'>
  readonly viewRows: Gauge<'view'>
  readonly viewState: Gauge<'view'>
  readonly stateCached: Gauge<'view'>
  readonly stateCachedBytes: Gauge<'view'>
  readonly stateCacheBudget: Gauge
  readonly stateReads: Gauge<'view' | 'result'>
  readonly stateEvictions: Gauge<'view'>
  readonly stateHolds: Gauge<'where'>
  readonly stateDiskBytes: Gauge<'view'>
  readonly watermarkDelay: Gauge<'relation'>
  readonly sourceLag: Gauge<'source' | 'partition'>
  readonly sourcePaused: Gauge<'source' | 'partition'>
  readonly checkpoints: Counter<'status'>
  readonly checkpointSeconds: Histogram
  readonly checkpointBytes: Gauge
  readonly checkpointEpoch: Gauge
  readonly sinkCommitSeconds: Histogram<'sink'>
  readonly sinkErrors: Counter<'sink'>

  constructor(collect: (m: EngineMetrics) => void) {
    const registers = [this.registry]
    this.sourceRows = new Counter({
      name: 'sluice_source_rows_total',
      help: 'Rows read by each source or written to each table',
      labelNames: ['source'],
      registers,
    })
    this.sourceBatches = new Counter({
      name: 'sluice_source_batches_total',
      help: 'Batches (polls, INSERT statements) applied per source or table',
      labelNames: ['source'],
      registers,
    })
    this.lateRows = new Counter({
      name: 'sluice_late_rows_total',
      help: 'Rows dropped as late, per view',
      labelNames: ['view'],
      registers,
    })
    this.evalErrors = new Counter({
      name: 'sluice_eval_errors_total',
      help: 'Rows that failed to evaluate (division by zero, bad cast), per view',
      labelNames: ['view'],
      registers,
    })
    this.deadLetters = new Counter({
      name: 'sluice_dead_letters_total',
      help: 'Records sent to dead letters, by object and reason',
      labelNames: ['object', 'reason'],
      registers,
    })
    this.viewRows = new Gauge({
      name: 'sluice_view_rows',
      help: 'Rows held by each materialized view',
      labelNames: ['view'],
      registers,
      collect: () => collect(this),
    })
    this.viewState = new Gauge({
      name: 'sluice_view_state_entries',
      help: 'Operator state entries (groups, rows) per view',
      labelNames: ['view'],
      registers,
    })
    // State tables (docs/design/state.md): totals are read from the operators at each scrape,
    // so they are gauges even where they only grow.
    this.stateCached = new Gauge({
      name: 'sluice_state_cached_entries',
      help: 'Operator state entries held in memory per view (the rest of sluice_view_state_entries is on disk)',
      labelNames: ['view'],
      registers,
    })
    this.stateCachedBytes = new Gauge({
      name: 'sluice_state_cached_bytes',
      help: 'Estimated bytes of operator state held in memory per view',
      labelNames: ['view'],
      registers,
    })
    this.stateCacheBudget = new Gauge({
      name: 'sluice_state_cache_budget_bytes',
      help: 'The memory budget of operator state (--state-cache)',
      registers,
    })
    this.stateReads = new Gauge({
      name: 'sluice_state_cache_lookups',
      help: 'State lookups per view since start, by result: hit (in memory) or miss (read from disk)',
      labelNames: ['view', 'result'],
      registers,
    })
    this.stateEvictions = new Gauge({
      name: 'sluice_state_cache_evictions',
      help: 'State entries evicted from memory per view since start (they stay on disk)',
      labelNames: ['view'],
      registers,
    })
    this.stateHolds = new Gauge({
      name: 'sluice_state_backpressure_holds',
      help: "Times since start that sources' polls waited for a checkpoint to evict state (where: main, shard)",
      labelNames: ['where'],
      registers,
    })
    this.stateDiskBytes = new Gauge({
      name: 'sluice_state_disk_bytes',
      help: "Bytes of operator state on disk per view or sink (the store's table files; measured after checkpoints, every few seconds at most)",
      labelNames: ['view'],
      registers,
    })
    this.sourceLag = new Gauge({
      name: 'sluice_source_lag_records',
      help: "Records between a source partition's read position and its end, per source and partition",
      labelNames: ['source', 'partition'],
      registers,
      collect: () => collect(this),
    })
    this.sourcePaused = new Gauge({
      name: 'sluice_source_paused',
      help: '1 while a source partition is paused by backpressure',
      labelNames: ['source', 'partition'],
      registers,
    })
    this.checkpoints = new Counter({
      name: 'sluice_checkpoints_total',
      help: 'Checkpoints taken, by status (completed, failed)',
      labelNames: ['status'],
      registers,
    })
    this.checkpointSeconds = new Histogram({
      name: 'sluice_checkpoint_duration_seconds',
      help: 'Time from taking a checkpoint to it being durable',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    })
    this.checkpointBytes = new Gauge({
      name: 'sluice_checkpoint_size_bytes',
      help: 'Bytes written by the last checkpoint (changed state, offsets, sink logs)',
      registers,
    })
    this.checkpointEpoch = new Gauge({
      name: 'sluice_checkpoint_epoch',
      help: 'The last durable checkpoint epoch',
      registers,
    })
    this.sinkCommitSeconds = new Histogram({
      name: 'sluice_sink_commit_seconds',
      help: 'Sink write latency: time to commit one epoch externally, per sink',
      labelNames: ['sink'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    })
    this.sinkErrors = new Counter({
      name: 'sluice_sink_errors_total',
      help: 'Failed sink commits (retried at the next checkpoint), per sink',
      labelNames: ['sink'],
      registers,
    })
    this.watermarkDelay = new Gauge({
      name: 'sluice_watermark_lag_seconds',
      help: 'Wall clock minus the max event time seen, per source or table',
      labelNames: ['relation'],
      registers,
    })
  }
}
