/**
 * Vitest global setup: stops the test Kafka broker after the run if a test started one
 * (tests start it on demand through test/kafka.ts).
 */
export default function setup(): () => Promise<void> {
  return async () => {
    const { stopTestKafkaIfStarted } = await import('./kafka.ts')
    await stopTestKafkaIfStarted()
  }
}
