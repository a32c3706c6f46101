/**
 * Event time of a partitioned input (docs/design/kafka-partitions.md): each partition keeps the
 * max event time it has returned per time column and when it last returned a row; the source's
 * watermark is the minimum over the partitions that count. Its clocks are checkpointed with its
 * offsets and restored with them (docs/design/watermarks.md, "What a restart keeps"), so a restart
 * neither forgets a lagging partition nor restarts or expires its idle time.
 *
 * Shared by every reader with partitions (Kafka; the scripted source of the recovery tests), so
 * the rule is written once.
 */
import type { Watermark } from '../engine/chunk.ts'
import type { PartitionClock } from '../engine/connector.ts'

/** What the combination reads of one partition. */
export interface PartitionTime {
  /** Max event time (µs) per time column, in the order of the reader's time columns; -Infinity before the first row. */
  readonly maxTime: number[]
  /** The connector's clock (ms) when a row of the partition was last returned (or when it was first seen). */
  lastDataAt: number
}

/** Raises the partition's max event time with one value of time column `k`. */
export function observeTime(p: PartitionTime, k: number, value: unknown): void {
  if (typeof value === 'number' && value > p.maxTime[k]) p.maxTime[k] = value
}

/**
 * Per time column, the minimum over partitions of their max event time. Partitions that do not
 * count: idle ones (no row for `idleMs` and nothing waiting), and ones that never returned a row
 * and have nothing to read. When no partition counts, the maximum over all of them (every
 * partition is idle). `waiting(p)`: whether records of `p` are queued or known to be unread.
 */
export function minimumWatermarks<P extends PartitionTime>(
  partitions: Iterable<P>,
  timeColumns: readonly number[],
  now: number,
  idleMs: number | undefined,
  waiting: (p: P) => boolean,
): Watermark[] {
  const out: Watermark[] = []
  for (let k = 0; k < timeColumns.length; k++) {
    let min = Infinity
    let max = -Infinity
    let counted = 0
    for (const p of partitions) {
      const v = p.maxTime[k]
      if (v > max) max = v
      if (idleMs !== undefined && now - p.lastDataAt >= idleMs && !waiting(p)) continue
      if (v === -Infinity && !waiting(p)) continue
      counted++
      if (v < min) min = v
    }
    const value = counted > 0 ? min : max
    if (value > -Infinity && value < Infinity) out.push({ kind: 'watermark', column: timeColumns[k], value })
  }
  return out
}

/**
 * Whether no partition holds the watermark back (each is past the idle timeout or has never
 * had data, and none has data waiting): the reader then vouches for no event time of its own.
 * For a sharded view's split (engine/shard/): the other shards need not wait for it.
 */
export function allIdle<P extends PartitionTime>(
  partitions: Iterable<P>,
  now: number,
  idleMs: number | undefined,
  waiting: (p: P) => boolean,
): boolean {
  for (const p of partitions) {
    if (waiting(p)) return false
    const quiet = idleMs !== undefined && now - p.lastDataAt >= idleMs
    if (!quiet && p.maxTime.some((v) => v > -Infinity)) return false
  }
  return true
}

/** The partition's clock for a checkpoint: marks by the time column's index, and its quiet time so far. */
export function clockOf(p: PartitionTime, timeColumns: readonly number[], now: number): PartitionClock {
  const marks: Record<string, number> = {}
  for (let k = 0; k < timeColumns.length; k++) if (p.maxTime[k] > -Infinity) marks[timeColumns[k]] = p.maxTime[k]
  return { marks, quietMs: Math.max(0, now - p.lastDataAt) }
}

/**
 * Restores a checkpointed clock: its marks, and a quiet time that continues from what it was
 * (the time the process was down does not count: nothing was observed then).
 */
export function restoreClock(
  p: PartitionTime,
  clock: PartitionClock,
  timeColumns: readonly number[],
  now: number,
): void {
  for (let k = 0; k < timeColumns.length; k++) observeTime(p, k, clock.marks[timeColumns[k]])
  p.lastDataAt = now - clock.quietMs
}
