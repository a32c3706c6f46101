/** The `kafka` connector: `CREATE SOURCE ... WITH (connector = 'kafka', topic = ..., brokers = ..., format = 'json')`. */
export { kafkaSourceFactory, KafkaSourceReader } from './source.ts'
export type { KafkaReaderTuning, KafkaReaderStats } from './reader-tuning.ts'
export { parseKafkaSourceOptions, KAFKA_SOURCE_OPTIONS, type KafkaSourceConfig, type KafkaStartup } from './options.ts'
