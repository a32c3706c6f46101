/**
 * The WITH options of a Kafka source, checked once at CREATE SOURCE:
 *   topic (required), brokers (required; alias properties.bootstrap.server),
 *   startup = earliest | latest | an ISO timestamp | epoch milliseconds (default earliest),
 *   format = json | csv | avro | debezium_json with its options (connectors/formats/decoder.ts),
 *   group.id (lag metrics only),
 *   idle_timeout (a duration), dead_letter (a Kafka topic that rejected records are produced to).
 */
import type { ConnectorOptions, SourceTarget } from '../../engine/connector.ts'
import { ALL_FORMAT_OPTIONS, parseFormatConfig, type Format, type FormatConfig } from '../formats/decoder.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { parseDuration } from '../../engine/types/interval.ts'
import { parseTimestamptz } from '../../engine/types/time.ts'

export const KAFKA_SOURCE_OPTIONS: readonly string[] = [
  'topic',
  'brokers',
  'properties.bootstrap.server',
  'startup',
  'format',
  'group.id',
  'idle_timeout',
  'dead_letter',
  ...ALL_FORMAT_OPTIONS,
]

/** Where a reader starts in partitions that have no restored offset. */
export type KafkaStartup =
  { readonly kind: 'earliest' } | { readonly kind: 'latest' } | { readonly kind: 'timestamp'; readonly epochMs: number }

export interface KafkaSourceConfig {
  readonly topic: string
  readonly brokers: readonly string[]
  readonly startup: KafkaStartup
  readonly format: Format
  /** The format and its options, validated; the decoder is built from this. */
  readonly formatConfig: FormatConfig
  /** What the reader feeds: a source, or a PRIMARY KEY table (Debezium changes). */
  readonly target: SourceTarget
  /** Consumer group whose committed offsets mirror the reader's position, for lag dashboards. */
  readonly groupId: string | undefined
  /** How long a partition may stay silent before it stops holding back watermarks (µs). */
  readonly idleTimeoutMicros: number | undefined
  /**
   * `dead_letter = 'topic'`: rejected records are also produced there as JSON. A dead_letter
   * naming a Sluice table is routed by the engine and never reaches the connector.
   */
  readonly deadLetterTopic: string | undefined
}

function invalid(message: string, hint?: string): SluiceError {
  return new SluiceError(SqlState.invalid_parameter_value, message, hint === undefined ? {} : { hint })
}

function parseStartup(raw: string): KafkaStartup {
  const text = raw.trim()
  const lower = text.toLowerCase()
  if (lower === 'earliest') return { kind: 'earliest' }
  if (lower === 'latest') return { kind: 'latest' }
  if (/^\d+$/.test(text)) return { kind: 'timestamp', epochMs: Number(text) }
  try {
    return { kind: 'timestamp', epochMs: Math.floor(parseTimestamptz(text, 'UTC') / 1000) }
  } catch {
    throw invalid(
      `invalid value "${raw}" for option "startup" of connector kafka`,
      "use 'earliest', 'latest', an ISO timestamp or epoch milliseconds",
    )
  }
}

/** A comma-separated `host:port` list (also used by the Kafka sink's options). */
export function parseBrokers(raw: string): string[] {
  const brokers = raw
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '')
  for (const b of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(b) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(b)) {
      throw invalid(
        `invalid broker address "${b}" in option "brokers" of connector kafka`,
        "write host:port, comma-separated, e.g. '127.0.0.1:19092'",
      )
    }
  }
  if (brokers.length === 0) throw invalid('option "brokers" of connector kafka is empty')
  return brokers
}

/** Validates the options; SluiceError 22023 for unknown, missing or invalid ones, 0A000 for planned formats. */
export function parseKafkaSourceOptions(
  options: ConnectorOptions,
  target: SourceTarget = { kind: 'source' },
): KafkaSourceConfig {
  for (const key of options.keys()) {
    if (!KAFKA_SOURCE_OPTIONS.includes(key)) {
      throw invalid(`unknown option "${key}" for connector kafka`, `known options: ${KAFKA_SOURCE_OPTIONS.join(', ')}`)
    }
  }
  const topic = options.get('topic')?.trim()
  if (topic === undefined || topic === '') throw invalid('connector kafka requires the option "topic"')
  const brokers = options.get('brokers')
  const bootstrap = options.get('properties.bootstrap.server')
  if (brokers !== undefined && bootstrap !== undefined && brokers !== bootstrap) {
    throw invalid(
      'options "brokers" and "properties.bootstrap.server" of connector kafka disagree',
      'give only one of them',
    )
  }
  const brokerList = brokers ?? bootstrap
  if (brokerList === undefined) throw invalid('connector kafka requires the option "brokers"')

  const formatConfig = parseFormatConfig('kafka', options, target, topic)

  const idle = options.get('idle_timeout')
  const groupId = options.get('group.id')?.trim()
  const deadLetter = options.get('dead_letter')?.trim()
  if (deadLetter !== undefined && !/^[a-zA-Z0-9._-]{1,249}$/.test(deadLetter)) {
    throw invalid(
      `invalid topic name "${deadLetter}" in option "dead_letter" of connector kafka`,
      'a Kafka topic name has up to 249 letters, digits, ".", "_" and "-"; or name an existing table',
    )
  }
  if (deadLetter === topic) throw invalid('option "dead_letter" of connector kafka names the topic the source reads')
  let idleTimeoutMicros: number | undefined
  if (idle !== undefined) {
    try {
      idleTimeoutMicros = parseDuration(idle)
    } catch {
      throw invalid(
        `invalid duration "${idle}" for option "idle_timeout" of connector kafka`,
        "e.g. idle_timeout = '5s'",
      )
    }
    if (!(idleTimeoutMicros > 0)) throw invalid('option "idle_timeout" of connector kafka must be positive')
  }
  return {
    topic,
    brokers: parseBrokers(brokerList),
    startup: parseStartup(options.get('startup') ?? 'earliest'),
    format: formatConfig.format,
    formatConfig,
    target,
    groupId: groupId === '' ? undefined : groupId,
    idleTimeoutMicros,
    deadLetterTopic: deadLetter === '' ? undefined : deadLetter,
  }
}
