/**
 * sluice_catalog: Sluice's own tables (sources, views, tables, sinks, lag, dead letters, secrets,
 * checkpoints) and the integers generate_series in FROM draws from.
 */
import type { Engine } from '../engine.ts'
import type { PartitionLag } from '../connector.ts'
import type { OwnerState } from '../state/cache.ts'
import type { Value } from '../types/datatype.ts'
import { T } from '../types/datatype.ts'
import { secretRows } from './access-rows.ts'
import { redactSql, redactText } from './redact.ts'
import type { SystemTable } from './system-table.ts'
import { col } from './system-table.ts'

/** The range of generate_series in FROM: attribute numbers and array subscripts, with room. */
export const SERIES_MIN = -1

export const SERIES_MAX = 10_000

const SERIES: Value[][] = Array.from({ length: SERIES_MAX - SERIES_MIN + 1 }, (_, i) => [SERIES_MIN + i])

/** sluice_catalog's own tables: Sluice's objects, their state and health. */
export const SLUICE_CATALOG: readonly SystemTable[] = [
  {
    schema: 'sluice_catalog',
    name: 'series',
    // The integers generate_series(...) in FROM draws from (see engine/sql/convert.ts).
    columns: [col('n', T.int4)],
    rows: () => SERIES,
  },
  {
    schema: 'sluice_catalog',
    name: 'dead_letters',
    columns: [
      col('object', T.text),
      col('reason', T.text),
      col('detail', T.text),
      col('payload', T.text),
      col('received_at', T.timestamptz),
      col('origin', T.text),
    ],
    rows: (engine) =>
      engine.deadLetters.list().map((l) => [l.object, l.reason, l.detail, l.payload, l.receivedAt, l.origin ?? null]),
  },
  {
    schema: 'sluice_catalog',
    name: 'sources',
    columns: [
      col('name', T.text),
      col('connector', T.text),
      col('running', T.bool),
      col('last_error', T.text),
      col('definition', T.text),
    ],
    rows: (engine) =>
      engine.sources().map((s) => [
        s.name,
        s.connector,
        // Sharded views read the source with readers of their own (engine/shard/).
        s.driver.started || engine.shardHosts.readersOf(s.name).some((r) => r.running),
        redactError(
          s.driver.lastError ?? engine.shardHosts.readersOf(s.name).find((r) => r.error !== undefined)?.error,
        ),
        redactSql(s.sql),
      ]),
  },
  {
    schema: 'sluice_catalog',
    name: 'views',
    columns: [
      col('name', T.text),
      col('rows', T.int8),
      col('state_entries', T.int8),
      col('status', T.text),
      col('error', T.text),
      col('definition', T.text),
    ],
    rows: (engine) =>
      engine.materializedViews().map((v) => {
        let state = 0
        for (const op of v.dataflow.operators()) state += op.stateSize?.() ?? 0
        const waiting =
          v.failure === undefined
            ? (engine.shardHosts.get(v.id)?.waiting() ?? waitingInput(engine, v.dependsOn))
            : undefined
        // Checkpoints failing for lack of disk space pause every source: the view does not move.
        const halted = v.failure === undefined ? engine.checkpoints.stalled : undefined
        const status =
          v.failure !== undefined
            ? 'failed'
            : halted !== undefined
              ? 'halted'
              : waiting !== undefined
                ? 'waiting'
                : 'running'
        return [
          v.name,
          BigInt(v.materialize.rowCount),
          BigInt(state),
          status,
          v.failure ?? halted ?? waiting ?? null,
          v.sql,
        ]
      }),
  },
  {
    schema: 'sluice_catalog',
    name: 'tables',
    columns: [col('name', T.text), col('rows', T.int8), col('append_only', T.bool), col('definition', T.text)],
    rows: (engine) =>
      [...engine.objects.values()].flatMap((o) =>
        o.kind === 'table' ? [[o.name, BigInt(o.rows.size), o.appendOnly, redactSql(o.sql)]] : [],
      ),
  },
  {
    schema: 'sluice_catalog',
    name: 'lag',
    // One row per partition of each running source: next offset to read, the partition's end as
    // last seen, and their difference (readers without partitions show their positions only).
    columns: [
      col('source', T.text),
      col('topic', T.text),
      col('partition', T.int4),
      col('offset', T.int8),
      col('high_watermark', T.int8),
      col('lag', T.int8),
      col('paused', T.bool),
    ],
    rows: (engine) =>
      engine.sources().flatMap((s): Value[][] => {
        // Sharded views read the source with readers of their own (engine/shard/).
        const shards = engine.shardHosts.readersOf(s.name).flatMap((r) => lagRows(s.name, r.lag, r.offsets))
        if (!s.driver.started) return shards
        const reader = s.driver.reader
        return [...lagRows(s.name, reader.lag?.() ?? [], reader.lag === undefined ? reader.offsets() : {}), ...shards]
      }),
  },
  {
    schema: 'sluice_catalog',
    name: 'sinks',
    // status: running, or unhealthy while its writer keeps failing (commits retried each checkpoint).
    columns: [
      col('name', T.text),
      col('connector', T.text),
      col('status', T.text),
      col('last_error', T.text),
      col('committed_epoch', T.int8),
      col('pending_epochs', T.int4),
      col('definition', T.text),
    ],
    rows: (engine) =>
      [...engine.objects.values()].flatMap((o) =>
        o.kind === 'sink'
          ? [
              [
                o.name,
                o.connector,
                o.lastError === undefined ? 'running' : 'unhealthy',
                o.lastError === undefined ? null : redactText(o.lastError),
                BigInt(o.committedEpoch),
                engine.checkpoints.pendingEpochs(o.id),
                redactSql(o.sql),
              ],
            ]
          : [],
      ),
  },
  {
    schema: 'sluice_catalog',
    name: 'secrets',
    // Names only, and only for superusers (engine/exec/privileges.ts): values never leave the catalog.
    columns: [col('name', T.text)],
    rows: secretRows,
  },
  {
    schema: 'sluice_catalog',
    name: 'checkpoints',
    // The last 100 checkpoints this process took, oldest first.
    columns: [
      col('epoch', T.int8),
      col('started_at', T.timestamptz),
      col('duration_ms', T.float8),
      col('size_bytes', T.int8),
      col('status', T.text),
      col('error', T.text),
    ],
    rows: (engine) =>
      engine.checkpoints.history.map((c) => [
        BigInt(c.epoch),
        c.startedAt * 1000,
        c.durationMs,
        BigInt(c.sizeBytes),
        c.status,
        c.error ?? null,
      ]),
  },
  {
    schema: 'sluice_catalog',
    name: 'state',
    // Every view and sink with checkpointed state: its operator state on disk (the last
    // measurement, NULL before the first), and for state tables (docs/design/state.md) what is
    // held in memory and how the cache does since start; 0 where all state is in memory.
    columns: [
      col('name', T.text),
      col('entries', T.int8),
      col('cached_entries', T.int8),
      col('cached_bytes', T.int8),
      col('hits', T.int8),
      col('misses', T.int8),
      col('evictions', T.int8),
      col('disk_bytes', T.int8),
    ],
    rows: stateRows,
  },
]

/** sluice_catalog.state: views and sinks in creation order, and any other owner of a state table. */
function stateRows(engine: Engine): Value[][] {
  const cached = engine.stateCache.byOwner()
  const out: Value[][] = []
  for (const o of engine.objects.values()) {
    if (o.kind !== 'materialized_view' && o.kind !== 'sink') continue
    const s = cached.get(o.name)
    // Without checkpoints no state is written: a view shows only if it has a state table.
    if (s === undefined && !engine.checkpointing) continue
    cached.delete(o.name)
    const disk = engine.stateDisk.bytes(o.id)
    if (s !== undefined) out.push([...cacheColumns(o.name, s), disk === undefined ? null : BigInt(disk)])
    else {
      let entries = 0
      for (const op of o.dataflow.operators()) entries += op.stateSize?.() ?? 0
      out.push([o.name, BigInt(entries), 0n, 0n, 0n, 0n, 0n, disk === undefined ? null : BigInt(disk)])
    }
  }
  for (const [name, s] of cached) out.push([...cacheColumns(name, s), null])
  return out
}

function cacheColumns(name: string, s: OwnerState): Value[] {
  return [
    name,
    BigInt(s.totalEntries),
    BigInt(s.cachedEntries),
    BigInt(Math.round(s.cachedBytes)),
    BigInt(s.hits),
    BigInt(s.misses),
    BigInt(s.evictions),
  ]
}

/** Why a view waits for its input: the last error of a source it reads that could not start yet. */
/** A reader's rows of sluice_catalog.lag: one per partition, or its positions when it has no partitions. */
function lagRows(source: string, lag: readonly PartitionLag[], offsets: Readonly<Record<string, string>>): Value[][] {
  if (lag.length > 0) return lag.map((p) => [source, p.topic, p.partition, p.offset, p.end, p.end - p.offset, p.paused])
  return Object.entries(offsets).map(([k, v]) => [
    source,
    k,
    null,
    /^\d+$/.test(v) ? BigInt(v) : null,
    null,
    null,
    false,
  ])
}

function redactError(error: string | undefined): string | null {
  return error === undefined ? null : redactText(error)
}

function waitingInput(engine: Engine, dependsOn: readonly string[], seen = new Set<string>()): string | undefined {
  for (const name of dependsOn) {
    if (seen.has(name)) continue
    seen.add(name)
    const o = engine.get(name)
    if (o?.kind === 'source' && o.driver.waiting) return `source ${name}: ${o.driver.lastError ?? 'not started'}`
    if (o?.kind === 'materialized_view' || o?.kind === 'view') {
      const up = waitingInput(engine, o.dependsOn, seen)
      if (up !== undefined) return up
    }
  }
  return undefined
}
