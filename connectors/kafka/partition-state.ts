/**
 * Per-partition bookkeeping of the Kafka reader: the queued batches and each partition's
 * position, end and event-time clock, and what is derived from them (checkpointed offsets,
 * clocks, watermarks, lag, whether an end has been reached).
 */
import type { Watermark } from '../../engine/chunk.ts'
import type { PartitionClock, PartitionLag, SourceClocks } from '../../engine/connector.ts'
import type { FetchedBatch } from './fetched.ts'
import { allIdle, clockOf, minimumWatermarks, type PartitionTime } from '../partition-time.ts'

/** A fetched batch of one partition, consumed by poll from `index` on. */
export interface Segment {
  readonly partition: PartitionState
  readonly batch: FetchedBatch
  /** The batch's values as a Buffer (no copy), for decoders and dead-letter payloads. */
  readonly values: Buffer
  index: number
  /** The offset after the batch, past any trailing transaction markers or aborted records. */
  readonly end: bigint
  prepared: boolean
}

/** Everything the reader tracks per partition. */
export interface PartitionState extends PartitionTime {
  readonly id: number
  /** The offset after everything poll has returned: the checkpointed position. */
  next: bigint
  /** The offset after everything queued: where a restarted fetcher resumes. */
  fetched: bigint
  /** The end of the partition as last seen (high watermark; the last stable offset under read_committed). */
  end: bigint
  low: bigint
  queued: number
}

/** The position of every partition (the next offset poll returns), keyed `topic/partition`. */
export function partitionOffsets(
  partitions: ReadonlyMap<number, PartitionState>,
  topic: string,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const st of partitions.values()) out[`${topic}/${st.id}`] = st.next.toString()
  return out
}

/**
 * Each partition's max event time and how long it has been quiet, at the same point as
 * `offsets()`: restored, a lagging partition keeps holding the watermark back after a restart
 * even though it has nothing new to read.
 */
export function partitionClocks(
  partitions: ReadonlyMap<number, PartitionState>,
  topic: string,
  time: readonly number[],
  now: number,
): SourceClocks {
  const out: Record<string, PartitionClock> = {}
  for (const st of partitions.values()) out[`${topic}/${st.id}`] = clockOf(st, time, now)
  return out
}

/** The minimum over partitions of their max event time (connectors/partition-time.ts). */
export function partitionWatermarks(
  partitions: ReadonlyMap<number, PartitionState>,
  time: readonly number[],
  now: number,
  idleTimeoutMicros: number | undefined,
): Watermark[] {
  if (time.length === 0 || partitions.size === 0) return []
  const idleMs = idleTimeoutMicros === undefined ? undefined : idleTimeoutMicros / 1000
  return minimumWatermarks(partitions.values(), time, now, idleMs, (st) => st.queued > 0 || st.next < st.end)
}

/** Whether no partition holds the watermark back (partition-time.ts allIdle). */
export function partitionsIdle(
  partitions: ReadonlyMap<number, PartitionState>,
  now: number,
  idleTimeoutMicros: number | undefined,
): boolean {
  const idleMs = idleTimeoutMicros === undefined ? undefined : idleTimeoutMicros / 1000
  return allIdle(partitions.values(), now, idleMs, (st) => st.queued > 0 || st.next < st.end)
}

/** Whether fetching of partition `st` is held back by the full queue (`held`: the partition held). */
export function isPaused(st: PartitionState, held: number | undefined): boolean {
  return held !== undefined && (st.queued > 0 || st.id === held)
}

export function partitionLag(
  partitions: ReadonlyMap<number, PartitionState>,
  topic: string,
  held: number | undefined,
): PartitionLag[] {
  return [...partitions.values()]
    .sort((a, b) => a.id - b.id)
    .map((st) => ({
      topic,
      partition: st.id,
      offset: st.next,
      end: st.end > st.next ? st.end : st.next,
      paused: isPaused(st, held),
    }))
}

/** Whether every partition of `topic` in `end` has been read up to its offset there. */
export function reachedEnds(
  partitions: ReadonlyMap<number, PartitionState>,
  topic: string,
  end: Readonly<Record<string, string>>,
): boolean {
  const prefix = `${topic}/`
  for (const key in end) {
    if (!key.startsWith(prefix)) continue
    const st = partitions.get(Number(key.slice(prefix.length)))
    const at = st === undefined ? 0n : st.next > st.low ? st.next : st.low
    if (at < BigInt(end[key])) return false
  }
  return true
}
