/**
 * CREATE SOURCE statements for the three Nexmark entities: from the Kafka JSON topics (the mode
 * compared with Flink) or from the built-in datagen (in-process mode: no Kafka, no JSON, the
 * generator in the engine's thread and unpaced, so the measured rate is the dataflow's own).
 * Both declare the same columns and the suite's watermark (date_time - 4 s).
 */
import type { NexmarkTable } from '../../connectors/datagen/nexmark.ts'
import { NEXMARK_COLUMNS } from '../../connectors/datagen/nexmark.ts'
import type { EventSpec } from './events.ts'
import { TABLES, topicOf } from './events.ts'

export type SourceMode = 'kafka' | 'datagen'

const SQL_TYPES: Record<string, string> = { int8: 'BIGINT', text: 'VARCHAR', timestamp: 'TIMESTAMP' }

function columnList(table: NexmarkTable): string {
  const cols = NEXMARK_COLUMNS[table].map((c) => `${c.name} ${SQL_TYPES[c.type.kind]}`)
  return `${cols.join(', ')}, WATERMARK FOR date_time AS date_time - INTERVAL '4 seconds'`
}

export function sourceStatements(mode: SourceMode, spec: EventSpec, brokers: string, prefix: string): string[] {
  return TABLES.map((table) => {
    const options =
      mode === 'kafka'
        ? `connector = 'kafka', topic = '${topicOf(prefix, table)}', brokers = '${brokers}', format = 'json'`
        : `connector = 'datagen', generator = 'nexmark', table = '${table}', rate = '${spec.rate}', ` +
          `seed = '${spec.seed}', max_events = '${spec.events}', base_time = '${spec.baseTime}', paced = 'false'`
    return `CREATE SOURCE ${table} (${columnList(table)}) WITH (${options})`
  })
}
