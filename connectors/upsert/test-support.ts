/** Helpers the Redis and PostgreSQL sink tests share. */
import type { Sluice } from '../../engine/index.ts'

/** How many commits the sink's write-latency histogram has observed (sluice_sink_commit_seconds). */
export async function commitsObserved(db: Sluice, sink: string): Promise<number | undefined> {
  const metric = await db.engine.metrics.registry.getSingleMetric('sluice_sink_commit_seconds')?.get()
  return metric?.values.find(
    (v) => 'metricName' in v && v.metricName === 'sluice_sink_commit_seconds_count' && v.labels.sink === sink,
  )?.value
}

/** The SQLSTATE a promise rejects with, undefined if it resolves. */
export async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (e) {
    return (e as { code?: string }).code
  }
  return undefined
}
