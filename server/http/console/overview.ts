/**
 * The console overview as one JSON document: every source, table, view and sink with a state
 * the page can colour (running, warning, failing, halted), its rate, lag per partition and
 * watermark delay, the checkpoints' health, dead letters by reason and sink commit latency.
 *
 * It reads what any client can read — the `sluice_catalog` system tables, through an ordinary
 * session — plus the sampler's rates, so the console shows nothing the SQL interface hides.
 */
import type { Value } from '../../../engine/types/datatype.ts'
import type { SqlDatabase } from '../sql.ts'
import type { MetricsHistory } from './history.ts'

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

/** A source whose lag grew in each of the last this many samples is flagged. */
const LAG_GROWTH_SAMPLES = 10
/** A sink with this many epochs waiting for their commit is stalled (sources pause at 8). */
const STALLED_EPOCHS = 4
/** A checkpoint older than this many intervals (at least 10 s) means checkpoints stopped. */
const CHECKPOINT_STALE_SECONDS = 10

const num = (v: Value | undefined): number | null =>
  typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : null
const str = (v: Value | undefined): string | null => (typeof v === 'string' ? v : null)

/** Runs the catalog queries in one session and shapes them with the sampler's latest values. */
export async function buildOverview(db: SqlDatabase, history: MetricsHistory): Promise<Overview> {
  const session = db.session({ applicationName: 'sluice-console' })
  const query = async (sql: string): Promise<Value[][]> => {
    const [r] = await session.execute(sql)
    return (r?.rows ?? []) as Value[][]
  }
  try {
    // One statement at a time: a session runs its statements in order, as a connection would.
    const results: Value[][][] = []
    for (const sql of [
      'SELECT name, connector, running, last_error FROM sluice_catalog.sources',
      'SELECT name, rows FROM sluice_catalog.tables',
      'SELECT name, rows, state_entries, status, error FROM sluice_catalog.views',
      'SELECT viewname FROM pg_views',
      'SELECT name, connector, status, last_error, committed_epoch, pending_epochs FROM sluice_catalog.sinks',
      'SELECT source, topic, partition, lag, paused FROM sluice_catalog.lag',
      'SELECT epoch, started_at, duration_ms, status, error FROM sluice_catalog.checkpoints',
      'SELECT object, reason, count(*) FROM sluice_catalog.dead_letters GROUP BY object, reason',
    ])
      results.push(await query(sql))
    const [sources, tables, views, plain, sinks, lags, checkpoints, letters] = results
    const now = Date.now()
    const current = history.current()
    const lagOf = new Map<string, PartitionLag[]>()
    for (const [source, topic, partition, lag, paused] of lags) {
      // Readers without partitions (datagen) report positions, not lag: nothing to show.
      if (num(lag) === null) continue
      const list = lagOf.get(String(source)) ?? []
      list.push({ topic: String(topic), partition: num(partition), lag: num(lag), paused: paused === true })
      lagOf.set(String(source), list)
    }
    const growing = lagGrowing(history)
    const base = {
      connector: null,
      rate: null,
      rows: null,
      stateEntries: null,
      lag: [],
      watermarkDelay: null,
      commitMs: null,
      committedEpoch: null,
      pendingEpochs: null,
    }
    const objects: OverviewObject[] = []
    for (const [name, connector, running, error] of sources) {
      const n = String(name)
      const lag = lagOf.get(n) ?? []
      // last_error is cleared by the next good poll: while it is set, the source is failing.
      const state: ObjectState =
        str(error) !== null ? 'failing' : running !== true ? 'halted' : growing.has(n) ? 'warning' : 'running'
      const problem = str(error) ?? (running !== true ? 'not reading' : growing.has(n) ? 'lag is growing' : null)
      objects.push({
        ...base,
        kind: 'source',
        name: n,
        state,
        problem,
        connector: str(connector),
        rate: current.get(`events:${n}`) ?? null,
        lag,
        watermarkDelay: current.get(`watermark_delay:${n}`) ?? null,
      })
    }
    for (const [name, rows] of tables) {
      const n = String(name)
      objects.push({
        ...base,
        kind: 'table',
        name: n,
        state: 'running',
        problem: null,
        rate: current.get(`events:${n}`) ?? null,
        rows: num(rows),
        watermarkDelay: current.get(`watermark_delay:${n}`) ?? null,
      })
    }
    for (const [name, rows, entries, status, error] of views) {
      const n = String(name)
      const failed = status !== 'running'
      objects.push({
        ...base,
        kind: 'materialized_view',
        name: n,
        state: failed ? 'failing' : 'running',
        problem: failed ? (str(error) ?? String(status)) : null,
        rate: current.get(`changes:${n}`) ?? null,
        rows: num(rows),
        stateEntries: num(entries),
      })
    }
    for (const [name] of plain)
      objects.push({ ...base, kind: 'view', name: String(name), state: 'running', problem: null })
    for (const [name, connector, status, error, epoch, pending] of sinks) {
      const n = String(name)
      // A sink whose commits hang without an error is as stuck as one that fails: count what waits.
      const stalled = (num(pending) ?? 0) >= STALLED_EPOCHS
      const failing = status !== 'running' || stalled
      const problem =
        status !== 'running'
          ? (str(error) ?? String(status))
          : stalled
            ? `stalled: ${num(pending)} checkpoint epochs not committed`
            : null
      objects.push({
        ...base,
        kind: 'sink',
        name: n,
        state: failing ? 'failing' : 'running',
        problem,
        connector: str(connector),
        rate: current.get(`changes:${n}`) ?? null,
        commitMs: current.get(`commit_ms:${n}`) ?? null,
        committedEpoch: num(epoch),
        pendingEpochs: num(pending),
      })
    }
    return {
      now,
      objects,
      checkpoints: checkpointHealth(checkpoints, now),
      deadLetters: letters
        .map(([object, reason, count]) => ({ object: String(object), reason: String(reason), count: num(count) ?? 0 }))
        .sort((a, b) => b.count - a.count),
    }
  } finally {
    session.close()
  }
}

/** Sources whose total lag rose sample after sample for the last LAG_GROWTH_SAMPLES samples. */
function lagGrowing(history: MetricsHistory): Set<string> {
  const out = new Set<string>()
  const { series } = history.series(['lag:'], LAG_GROWTH_SAMPLES * (history.sampleMs / 1000) + 1)
  for (const [key, points] of Object.entries(series)) {
    if (points.length < LAG_GROWTH_SAMPLES) continue
    let rising = true
    for (let i = 1; i < points.length && rising; i++) rising = (points[i] ?? 0) > (points[i - 1] ?? 0)
    if (rising) out.add(key.slice('lag:'.length))
  }
  return out
}

/** The checkpoints' state from sluice_catalog.checkpoints (rows oldest first, started_at in µs). */
function checkpointHealth(rows: readonly Value[][], now: number): CheckpointHealth {
  if (rows.length === 0)
    return {
      state: 'running',
      problem: null,
      lastEpoch: null,
      ageSeconds: null,
      lastDurationMs: null,
      successRate: null,
    }
  const completed = rows.filter((r) => r[3] === 'completed')
  const last = rows[rows.length - 1]
  const lastGood = completed[completed.length - 1]
  const startedMs = lastGood === undefined ? null : (num(lastGood[1]) ?? 0) / 1000
  const ageSeconds = startedMs === null ? null : Math.max(0, (now - startedMs) / 1000)
  let state: ObjectState = 'running'
  let problem: string | null = null
  if (last[3] !== 'completed') {
    state = 'failing'
    problem = str(last[4]) ?? 'the last checkpoint failed'
  }
  if (ageSeconds === null || ageSeconds > CHECKPOINT_STALE_SECONDS) {
    // No checkpoint completes any more: recovery would replay from an ever older point.
    state = 'halted'
    problem =
      str(last[4]) ??
      `no checkpoint completed for ${ageSeconds === null ? 'the whole run' : `${Math.round(ageSeconds)} s`}`
  }
  return {
    state,
    problem,
    lastEpoch: num(last[0]),
    ageSeconds,
    lastDurationMs: lastGood === undefined ? null : num(lastGood[2]),
    successRate: completed.length / rows.length,
  }
}
