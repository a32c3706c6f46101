/**
 * The WITH options of a Kafka sink, checked once at CREATE SINK (SluiceError 22023 for unknown,
 * missing or invalid ones; 0A000 for a mode the input cannot be written in):
 *
 *   topic (required), brokers (required; alias properties.bootstrap.server),
 *   format = json (default) | avro, schema.registry (avro, required),
 *   delivery = exactly_once (default) | at_least_once,
 *   mode = append | upsert (default: append for an append-only input, else upsert by its key),
 *   key = 'col1,col2' (the record key; default the input's stream key in upsert mode, none in append mode),
 *   transactional.id (default `sluice-sink:<sink name>:<topic>`; also the sink's key in the progress topic),
 *   progress.topic (default `_sluice_sink_progress`).
 */
import type { ColumnSchema, ConnectorOptions, SinkSpec } from '../../engine/connector.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { parseBrokers } from './options.ts'

export const KAFKA_SINK_OPTIONS: readonly string[] = [
  'topic',
  'brokers',
  'properties.bootstrap.server',
  'format',
  'schema.registry',
  'delivery',
  'mode',
  'key',
  'transactional.id',
  'progress.topic',
]

/** The progress topic every Kafka sink records its last committed epoch in, unless told otherwise. */
export const DEFAULT_PROGRESS_TOPIC = '_sluice_sink_progress'

export type KafkaSinkFormat = 'json' | 'avro'
export type KafkaSinkDelivery = 'exactly_once' | 'at_least_once'
export type KafkaSinkMode = 'append' | 'upsert'

export interface KafkaSinkConfig {
  readonly topic: string
  readonly brokers: readonly string[]
  readonly format: KafkaSinkFormat
  /** Base URL of the schema registry (avro only). */
  readonly registry: string | undefined
  readonly delivery: KafkaSinkDelivery
  readonly mode: KafkaSinkMode
  /** Column indexes of the record key; empty: records have no key (append mode only). */
  readonly key: readonly number[]
  /** The producer's transactional.id, and the sink's key in the progress topic. */
  readonly transactionalId: string
  readonly progressTopic: string
}

function invalid(message: string, hint?: string): SluiceError {
  return new SluiceError(SqlState.invalid_parameter_value, message, hint === undefined ? {} : { hint })
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/

function topicName(raw: string | undefined, option: string): string | undefined {
  const t = raw?.trim()
  if (t === undefined) return undefined
  if (!TOPIC_NAME.test(t)) {
    throw invalid(
      `invalid topic name "${raw}" in option "${option}" of sink connector kafka`,
      'a Kafka topic name has up to 249 letters, digits, ".", "_" and "-"',
    )
  }
  return t
}

function oneOf<T extends string>(raw: string | undefined, option: string, allowed: readonly T[], fallback: T): T {
  if (raw === undefined) return fallback
  const v = raw.trim().toLowerCase()
  const hit = allowed.find((a) => a === v)
  if (hit === undefined) {
    throw invalid(
      `invalid value "${raw}" for option "${option}" of sink connector kafka`,
      `use ${allowed.map((a) => `'${a}'`).join(' or ')}`,
    )
  }
  return hit
}

function columnIndex(columns: readonly ColumnSchema[], name: string): number {
  const exact = columns.findIndex((c) => c.name === name)
  if (exact >= 0) return exact
  const lower = name.toLowerCase()
  const matches = columns.flatMap((c, i) => (c.name.toLowerCase() === lower ? [i] : []))
  return matches.length === 1 ? matches[0] : -1
}

function parseKey(raw: string, columns: readonly ColumnSchema[]): number[] {
  const names = raw.split(',').map((n) => n.trim())
  if (names.some((n) => n === ''))
    throw invalid(`option "key" of sink connector kafka has an empty column name`, "e.g. key = 'auction,bidder'")
  const out: number[] = []
  for (const n of names) {
    const i = columnIndex(columns, n)
    if (i < 0) {
      throw invalid(
        `key column "${n}" is not a column of the sink's input`,
        `columns: ${columns.map((c) => c.name).join(', ')}`,
      )
    }
    if (out.includes(i)) throw invalid(`key column "${n}" is named twice in option "key" of sink connector kafka`)
    out.push(i)
  }
  return out
}

/** The transactional.id a sink gets unless its options name one. */
export function defaultTransactionalId(sinkName: string, topic: string): string {
  return `sluice-sink:${sinkName}:${topic}`
}

/** Validates a Kafka sink's options against what the engine says about its input. */
export function parseKafkaSinkOptions(spec: SinkSpec, options: ConnectorOptions, sinkName: string): KafkaSinkConfig {
  for (const key of options.keys()) {
    if (key !== 'connector' && !KAFKA_SINK_OPTIONS.includes(key)) {
      throw invalid(
        `unknown option "${key}" for sink connector kafka`,
        `known options: ${KAFKA_SINK_OPTIONS.join(', ')}`,
      )
    }
  }
  const topic = topicName(options.get('topic'), 'topic')
  if (topic === undefined || topic === '') throw invalid('sink connector kafka requires the option "topic"')
  const brokers = options.get('brokers')
  const bootstrap = options.get('properties.bootstrap.server')
  if (brokers !== undefined && bootstrap !== undefined && brokers !== bootstrap) {
    throw invalid(
      'options "brokers" and "properties.bootstrap.server" of sink connector kafka disagree',
      'give only one of them',
    )
  }
  const brokerList = brokers ?? bootstrap
  if (brokerList === undefined) throw invalid('sink connector kafka requires the option "brokers"')

  const format = oneOf<KafkaSinkFormat>(options.get('format'), 'format', ['json', 'avro'], 'json')
  const registry = options.get('schema.registry')?.trim()
  if (format === 'avro') {
    if (registry === undefined || registry === '') {
      throw invalid(
        'format avro of sink connector kafka requires the option "schema.registry"',
        "e.g. schema.registry = 'http://127.0.0.1:8081'",
      )
    }
    if (!/^https?:\/\/[^\s/]+/i.test(registry)) {
      throw invalid(
        `invalid URL "${registry}" in option "schema.registry"`,
        "e.g. schema.registry = 'http://127.0.0.1:8081'",
      )
    }
  } else if (registry !== undefined) {
    throw invalid('option "schema.registry" of sink connector kafka applies to format avro only')
  }

  const delivery = oneOf<KafkaSinkDelivery>(
    options.get('delivery'),
    'delivery',
    ['exactly_once', 'at_least_once'],
    'exactly_once',
  )
  const keyOption = options.get('key')
  const key = keyOption === undefined ? undefined : parseKey(keyOption, spec.columns)
  const requested = options.get('mode')
  const mode = oneOf<KafkaSinkMode>(requested, 'mode', ['append', 'upsert'], spec.appendOnly ? 'append' : 'upsert')
  if (mode === 'append' && !spec.appendOnly) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      'a kafka sink in append mode needs an input that never retracts',
      {
        hint:
          spec.key.length > 0 || key !== undefined
            ? "use mode = 'upsert' (records keyed by the input's key, deletes as tombstones), or EMIT ON WINDOW CLOSE"
            : "give the sink a key (key = 'col1,col2') and use mode = 'upsert', or use EMIT ON WINDOW CLOSE or an append-only input",
      },
    )
  }
  const recordKey = key ?? (mode === 'upsert' ? [...spec.key] : [])
  if (mode === 'upsert' && recordKey.length === 0) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      'a kafka sink in upsert mode needs a key, and the input has none Sluice knows',
      {
        hint:
          requested === undefined
            ? "the input retracts rows: name the columns that identify a row with key = 'col1,col2'"
            : "name the columns that identify a row with key = 'col1,col2'",
      },
    )
  }

  // Stable across restarts (the options are in the catalog). The topic is part of it so that two
  // deployments on one cluster whose sinks share a name but not a topic do not fence each other.
  if (delivery === 'at_least_once') {
    for (const o of ['transactional.id', 'progress.topic']) {
      if (options.has(o)) throw invalid(`option "${o}" of sink connector kafka applies to delivery exactly_once only`)
    }
  }
  const transactionalId = options.get('transactional.id')?.trim() ?? defaultTransactionalId(sinkName, topic)
  if (transactionalId === '') throw invalid('option "transactional.id" of sink connector kafka is empty')
  const progressTopic = topicName(options.get('progress.topic'), 'progress.topic') ?? DEFAULT_PROGRESS_TOPIC
  if (progressTopic === topic)
    throw invalid('option "progress.topic" of sink connector kafka names the topic the sink writes')
  return {
    topic,
    brokers: parseBrokers(brokerList),
    format,
    registry: format === 'avro' ? registry : undefined,
    delivery,
    mode,
    key: recordKey,
    transactionalId,
    progressTopic,
  }
}
