/**
 * What the Kafka reader tells lag dashboards, never used for correctness: partition ends
 * refreshed now and then (a held fetcher fetches nothing, so batches stop telling), and the
 * position mirrored to `group.id` so Kafka's lag tools see how far behind Sluice is.
 */
import type { Admin } from 'kafkajs'
import type { ConnectorContext } from '../../engine/connector.ts'
import type { KafkaSourceConfig } from './options.ts'
import type { PartitionState } from './partition-state.ts'
import type { KafkaReaderTuning } from './reader-tuning.ts'

export class PositionReports {
  /** When ends were last refreshed (the reader sets it when it has just read them). */
  lastLagRefresh = 0
  private lagRefresh: Promise<void> | undefined
  private lastGroupCommit = 0
  private groupCommit: Promise<void> | undefined

  constructor(
    private readonly config: KafkaSourceConfig,
    private readonly ctx: ConnectorContext,
    private readonly tuning: KafkaReaderTuning,
  ) {}

  /** Refreshes partition ends now and then: a held fetcher fetches nothing, so batches stop telling. */
  refreshEnds(admin: Admin | undefined, partitions: ReadonlyMap<number, PartitionState>): void {
    if (admin === undefined || this.lagRefresh !== undefined) return
    const now = this.ctx.now()
    if (now - this.lastLagRefresh < this.tuning.lagRefreshMs) return
    this.lastLagRefresh = now
    this.lagRefresh = admin
      .fetchTopicOffsets(this.config.topic)
      .then((parts) => {
        for (const p of parts) {
          const st = partitions.get(p.partition)
          if (st !== undefined && BigInt(p.high) > st.end) st.end = BigInt(p.high)
        }
      })
      .catch((e: unknown) => this.ctx.log('debug', `could not refresh end offsets: ${(e as Error).message}`))
      .finally(() => (this.lagRefresh = undefined))
  }

  /** Mirrors the position to `group.id` now and then, so lag tools see how far behind Sluice is. */
  mirrorToGroup(admin: Admin | undefined, partitions: ReadonlyMap<number, PartitionState>): void {
    const groupId = this.config.groupId
    if (groupId === undefined || admin === undefined || this.groupCommit !== undefined || partitions.size === 0) return
    const now = this.ctx.now()
    if (now - this.lastGroupCommit < this.tuning.groupCommitIntervalMs) return
    this.lastGroupCommit = now
    const positions = [...partitions.values()].map((st) => ({ partition: st.id, offset: st.next.toString() }))
    this.groupCommit = admin
      .setOffsets({ groupId, topic: this.config.topic, partitions: positions })
      .catch((e: unknown) =>
        this.ctx.log('warn', `could not record offsets in consumer group "${groupId}": ${(e as Error).message}`),
      )
      .finally(() => (this.groupCommit = undefined))
  }

  /** Waits for the group commit and the end refresh in flight, if any. */
  async settled(): Promise<void> {
    await this.groupCommit
    await this.lagRefresh
  }
}
