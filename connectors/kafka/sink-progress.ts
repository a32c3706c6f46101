/**
 * Where a Kafka sink records the last epoch it committed, inside the same transaction as the
 * epoch's records, so that both become visible together or not at all:
 *
 * 1. a **progress record** in the progress topic (default `_sluice_sink_progress`, compacted, one
 *    partition), keyed by the sink's identity (its transactional id), e.g.
 *    `{"sink":"out","epoch":42,"topic":"big_bids"}`: the protocol of ARCHITECTURE.md, readable by
 *    operators and by any read_committed consumer;
 * 2. the **committed offset of a consumer group** named like the identity on that topic's
 *    partition 0, set to the epoch (`sendOffsets` in the transaction). This is the copy the sink
 *    reads back.
 *
 * Why two: reading the progress topic back with kafkajs is not safe. Its read_committed filter
 * assumes the fetch's aborted-transaction list is ordered by first offset and activates at most
 * one per record; the broker orders it by when each abort completed. When two aborted
 * transactions interleave on one partition and are aborted in the other order (two sinks' commits
 * cut off by one crash, fenced by their restarted writers one after the other), kafkajs returns
 * a record of an aborted transaction as committed (reproduced against the test broker). A sink
 * that believed an aborted progress record would skip that epoch: lost output. The progress topic
 * is shared by every sink, so such interleaving is the normal case after a crash.
 * Transactional offset commits have no such reader: the group coordinator makes the offset
 * visible only when the transaction's commit marker is written, and an OffsetFetch answers with
 * the committed value, also while another sink's transaction is open on the progress topic.
 *
 * Offsets of a group without members expire after the broker's `offsets.retention.minutes`
 * (7 days by default) without a commit. That loses nothing: an epoch still in the checkpoint's
 * log after a crash was committed (if at all) moments before it, so its offset is fresh.
 */
import type { Admin } from 'kafkajs'

/** All progress records go to this partition. */
export const PROGRESS_PARTITION = 0

/** The value of a progress record. */
export interface ProgressValue {
  readonly sink: string
  readonly epoch: number
  readonly topic: string
}

export function progressKey(id: string): Buffer {
  return Buffer.from(id, 'utf8')
}

export function progressValue(v: ProgressValue): Buffer {
  return Buffer.from(JSON.stringify(v), 'utf8')
}

/** The consumer group whose committed offset holds the sink's progress. */
export function progressGroup(id: string): string {
  return id
}

/** The offsets a commit of `epoch` sets (in `sendOffsets` or `setOffsets`). */
export function progressOffsets(
  progressTopic: string,
  epoch: number,
): { topic: string; partitions: { partition: number; offset: string }[] } {
  return { topic: progressTopic, partitions: [{ partition: PROGRESS_PARTITION, offset: String(epoch) }] }
}

/**
 * The last epoch committed under `id` (0 if none). Only meaningful after the caller's producer
 * fenced earlier ones: their transactions are then committed or aborted, none still pending.
 */
export async function readProgress(admin: Admin, progressTopic: string, id: string): Promise<number> {
  const topics = await whileRetriable(() => admin.fetchOffsets({ groupId: progressGroup(id), topics: [progressTopic] }))
  const offset = topics
    .find((t) => t.topic === progressTopic)
    ?.partitions.find((p) => p.partition === PROGRESS_PARTITION)?.offset
  const epoch = offset === undefined ? -1 : Number(offset)
  return Number.isSafeInteger(epoch) && epoch > 0 ? epoch : 0
}

/**
 * Creates `topic` when it does not exist: the progress topic compacted with one partition, an
 * output topic with the broker's defaults.
 */
export async function ensureTopic(admin: Admin, topic: string, progress: boolean): Promise<void> {
  if ((await admin.listTopics()).includes(topic)) return
  try {
    await admin.createTopics({
      topics: [
        progress
          ? {
              topic,
              numPartitions: 1,
              configEntries: [
                { name: 'cleanup.policy', value: 'compact' },
                // Small segments, so compaction keeps the topic to about one record per sink.
                { name: 'segment.ms', value: '600000' },
              ],
            }
          : { topic },
      ],
      waitForLeaders: true,
    })
  } catch (e) {
    // Another writer may have created it at the same moment.
    if (!(await admin.listTopics()).includes(topic)) throw e
  }
}

/**
 * Runs `op` again while it fails with an error the broker calls retriable (kafkajs sets
 * `retriable`), for about 10 s, waiting 100 ms doubling to 1 s between tries. A broker that has
 * just started answers offset requests with NOT_COORDINATOR (or COORDINATOR_LOAD_IN_PROGRESS)
 * until it has loaded its group coordinator; a sink connecting at that moment should wait, not
 * fail and wait for the next checkpoint to try again.
 */
export async function whileRetriable<T>(op: () => Promise<T>, budgetMs = 10_000): Promise<T> {
  const deadline = Date.now() + budgetMs
  for (let wait = 100; ; wait = Math.min(1000, wait * 2)) {
    try {
      return await op()
    } catch (e) {
      const retriable = typeof e === 'object' && e !== null && (e as { retriable?: unknown }).retriable === true
      if (!retriable || Date.now() + wait > deadline) throw e
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
}
