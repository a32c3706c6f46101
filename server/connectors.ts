/**
 * Every connector the server offers. startServer imports this module only after pgwire and HTTP
 * listen: the connectors' client libraries (kafkajs, pg, ...) take a few hundred milliseconds to
 * load, which a restart should not spend before it answers (docs/design/fast-restart.md).
 */
import type { SinkFactory, SourceFactory } from '../engine/index.ts'
import { datagenSourceFactory } from '../connectors/datagen/index.ts'
import { kafkaSourceFactory } from '../connectors/kafka/index.ts'
import { blackholeSinkFactory } from '../connectors/blackhole/sink.ts'
import { deltaSinkFactory } from '../connectors/delta/sink.ts'
import { redisSinkFactory } from '../connectors/redis/sink.ts'
import { postgresSinkFactory, postgresqlSinkFactory } from '../connectors/postgres/sink.ts'
import { kafkaSinkFactory } from '../connectors/kafka/sink.ts'

/** CREATE SOURCE ... WITH (connector = '...'). */
export const SOURCES: readonly SourceFactory[] = [datagenSourceFactory, kafkaSourceFactory]

/** CREATE SINK ... WITH (connector = '...'). */
export const SINKS: readonly SinkFactory[] = [
  kafkaSinkFactory,
  deltaSinkFactory,
  blackholeSinkFactory,
  redisSinkFactory,
  postgresSinkFactory,
  postgresqlSinkFactory,
]
