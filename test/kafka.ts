/** Placeholder until the Kafka test harness lands. */
export async function stopTestKafkaIfStarted(): Promise<void> {}
