/** The `kafka` connector: `CREATE SOURCE ... WITH (connector = 'kafka', topic = ..., brokers = ..., format = 'json')`. */
export { kafkaSourceFactory, KafkaSourceReader, type KafkaReaderTuning, type KafkaReaderStats } from './source.ts'
export { parseKafkaSourceOptions, KAFKA_SOURCE_OPTIONS, type KafkaSourceConfig, type KafkaStartup } from './options.ts'
