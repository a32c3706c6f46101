/** The `kafka` connector: `CREATE SOURCE ... WITH (connector = 'kafka', topic = ..., brokers = ..., format = 'json')`. */
import type { SourceFactory } from '../../engine/connector.ts'
import { KafkaSourceReader, kafkaSourceConfig } from './source.ts'

export const kafkaSourceFactory: SourceFactory = {
  connector: 'kafka',
  create(columns, options, ctx) {
    return new KafkaSourceReader(columns, kafkaSourceConfig(options), ctx)
  },
}
