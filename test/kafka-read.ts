/**
 * Reading a whole topic back in tests, the way a downstream consumer of a Sluice sink would:
 * read_committed by default (aborted transactions never appear), from the beginning up to the
 * end each partition has when the read starts. Deterministic: it stops at those end offsets,
 * never after a quiet period.
 */
import { randomBytes } from 'node:crypto'
import { Kafka, logLevel, type IHeaders } from 'kafkajs'

/** One record as read back. */
export interface ReadRecord {
  readonly partition: number
  readonly offset: bigint
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers: IHeaders
}

/**
 * Every record of `topic` up to its current end, per partition in offset order, partitions in
 * order. Both stop at the last stable offset at the start; `readUncommitted` also shows the
 * records of aborted transactions below it.
 */
export async function readTopic(
  brokers: string,
  topic: string,
  options: { readUncommitted?: boolean; timeoutMs?: number } = {},
): Promise<ReadRecord[]> {
  const kafka = new Kafka({ clientId: 'sluice-test-reader', brokers: [brokers], logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  let ends: Map<number, bigint>
  try {
    // The last stable offset (kafkajs lists offsets read_committed): for a read_uncommitted read
    // this is the end only once no transaction is open on the topic. A commit that just returned
    // has its markers written by the broker a moment later, moving the offset: read it until it
    // holds still for 100 ms.
    const fetchEnds = async (): Promise<Map<number, bigint>> =>
      new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]))
    ends = await fetchEnds()
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 100))
      const again = await fetchEnds()
      const same = again.size === ends.size && [...again].every(([p, end]) => ends.get(p) === end)
      ends = again
      if (same) break
    }
  } finally {
    await admin.disconnect()
  }
  // By partition and offset: a batch fetched twice (after a rebalance) counts once.
  const records = new Map<string, ReadRecord>()
  const positions = new Map<number, bigint>()
  const done = (): boolean => [...ends].every(([p, end]) => end === 0n || (positions.get(p) ?? 0n) >= end)
  if (done()) return []
  const consumer = kafka.consumer({
    groupId: `sluice-test-reader-${randomBytes(6).toString('hex')}`,
    readUncommitted: options.readUncommitted ?? false,
    maxWaitTimeInMs: 100,
  })
  let timer: NodeJS.Timeout | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`reading topic ${topic} did not reach its end offsets in time`)),
        options.timeoutMs ?? 30_000,
      )
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.topic !== topic) return
        const next = BigInt(payload.lastOffset) + 1n
        if (next > (positions.get(payload.partition) ?? 0n)) positions.set(payload.partition, next)
        if (done()) resolve()
      })
      const start = async (): Promise<void> => {
        await consumer.connect()
        await consumer.subscribe({ topic, fromBeginning: true })
        await consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const end = ends.get(batch.partition) ?? 0n
            for (const m of batch.messages) {
              const offset = BigInt(m.offset)
              if (offset < end)
                records.set(`${batch.partition}:${offset}`, {
                  partition: batch.partition,
                  offset,
                  key: m.key ?? null,
                  value: m.value ?? null,
                  headers: m.headers ?? {},
                })
            }
          },
        })
      }
      start().catch(reject)
    })
  } finally {
    clearTimeout(timer)
    await consumer.disconnect().catch(() => {})
  }
  return [...records.values()].sort(
    (a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0),
  )
}

/**
 * A keyed topic as log compaction leaves it: the last value per key, a tombstone removing the
 * key. Keys and values as text.
 */
export function compacted(records: readonly ReadRecord[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const r of records) {
    const key = r.key?.toString('utf8') ?? ''
    if (r.value === null) out.delete(key)
    else out.set(key, r.value.toString('utf8'))
  }
  return out
}
