/**
 * The record decoder interface every format implements, and the one place a source picks a
 * decoder by its `format` option. A source reader calls only this interface:
 *
 *   1. `prepare(values)` once per fetched batch, before any record of it is decoded: the only
 *      asynchronous step (Avro fetches unknown schema ids from the registry here), so decoding
 *      itself stays synchronous straight-line work over the batch;
 *   2. `decode(value, out)` per record: appends one value to each output column and returns the
 *      row's op, 0 for a record that carries no row (a Debezium tombstone), or why it was rejected;
 *   3. `setColumns(columns)` when the source's columns change (ALTER SOURCE ... ADD COLUMN): the
 *      decoder rebuilds its converters for the new list; later records decode into it.
 */
import type { Column } from '../../engine/chunk.ts'
import type { ColumnSchema, ConnectorOptions, DeadLetterReason } from '../../engine/connector.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { createJsonDecoder } from './json.ts'
import { createCsvDecoder, parseCsvOptions } from './csv.ts'
import { createAvroDecoder } from './avro.ts'
import { createDebeziumDecoder } from './debezium.ts'
import { RegistryClient } from './registry.ts'
import { textPayload } from './text.ts'

/** Why a record could not become a row; the reader turns it into a dead letter. */
export interface DecodeFailure {
  readonly reason: DeadLetterReason
  readonly detail: string
}

/** A decoded record: +1 insert (or upsert by key), -1 delete, 0 no row; otherwise a failure. */
export type DecodeResult = 1 | -1 | 0 | DecodeFailure

export interface RecordDecoder {
  readonly format: Format
  /** Asynchronous lookups a batch needs before it is decoded (schema ids); optional. */
  prepare?(values: readonly (Uint8Array | null)[]): Promise<void>
  /**
   * Decodes one record value (null: a Kafka tombstone) into `out` (one array per column, declared
   * order). On failure nothing is appended.
   */
  decode(value: Uint8Array | null, out: Column[]): DecodeResult
  /** Rebuild hook: the column list changed; records decoded from now on fill the new list. */
  setColumns(columns: readonly ColumnSchema[]): void
  /**
   * Checks that `columns` can be read from what the format knows now (Avro: the subject's latest
   * registered schema); throws a SluiceError (42804) naming the conflicting field otherwise.
   */
  checkColumns?(columns: readonly ColumnSchema[]): Promise<void>
  /** The record as dead-letter payload text (text formats as they are, binary ones as base64). */
  payloadText(value: Uint8Array): string
}

export const FORMATS = ['json', 'csv', 'avro', 'debezium_json'] as const
export type Format = (typeof FORMATS)[number]

/** The format options each format accepts, besides `format` itself. */
export const FORMAT_OPTIONS: Readonly<Record<Format, readonly string[]>> = {
  json: [],
  csv: ['csv.delimiter', 'csv.header'],
  avro: ['schema.registry', 'schema.registry.subject'],
  debezium_json: [],
}

/** Every format option key, for connectors that check their WITH keys. */
export const ALL_FORMAT_OPTIONS: readonly string[] = [...new Set(Object.values(FORMAT_OPTIONS).flat())]

/**
 * What the decoder is feeding: a source (append-only rows) or a PRIMARY KEY table (upserts);
 * the same shape as the engine's SourceTarget.
 */
export interface DecoderTarget {
  readonly kind: 'source' | 'table'
  /** Column indexes of the table's primary key. */
  readonly primaryKey?: readonly number[]
}

/** A validated format choice; building the decoder later cannot fail on options. */
export interface FormatConfig {
  readonly format: Format
  readonly options: ConnectorOptions
  /** Subject whose latest schema `checkColumns` reads (Avro), default `<topic>-value`. */
  readonly subject: string | undefined
}

function invalid(message: string, hint?: string): SluiceError {
  return new SluiceError(SqlState.invalid_parameter_value, message, hint === undefined ? {} : { hint })
}

/**
 * Checks `format` and its options (22023 for unknown or invalid ones, 0A000 for a format the
 * target cannot take). `connector` names the connector in messages; `topic` gives the default subject.
 */
export function parseFormatConfig(
  connector: string,
  options: ConnectorOptions,
  target: DecoderTarget,
  topic: string,
): FormatConfig {
  const format = (options.get('format') ?? 'json').trim().toLowerCase()
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw invalid(`unknown format "${format}" for connector ${connector}`, `formats: ${FORMATS.join(', ')}`)
  }
  const f = format as Format
  for (const key of ALL_FORMAT_OPTIONS) {
    if (options.has(key) && !FORMAT_OPTIONS[f].includes(key)) {
      throw invalid(`option "${key}" does not apply to format ${f}`)
    }
  }
  if (f === 'debezium_json' && (target.kind !== 'table' || (target.primaryKey?.length ?? 0) === 0)) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      `format debezium_json needs a table with a PRIMARY KEY (its changes update and delete rows)`,
      {
        hint: `write CREATE TABLE t (id BIGINT PRIMARY KEY, ...) WITH (connector = '${connector}', format = 'debezium_json', ...)`,
      },
    )
  }
  if (f === 'csv') parseCsvOptions(options)
  let subject: string | undefined
  if (f === 'avro') {
    const url = options.get('schema.registry')
    if (url === undefined || url.trim() === '') {
      throw invalid(`format avro needs the option "schema.registry"`, "e.g. schema.registry = 'http://127.0.0.1:8081'")
    }
    try {
      const u = new URL(url.trim())
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http')
    } catch {
      throw invalid(
        `invalid URL "${url}" in option "schema.registry"`,
        "write an http(s) URL, e.g. 'http://127.0.0.1:8081'",
      )
    }
    subject = options.get('schema.registry.subject')?.trim() ?? `${topic}-value`
  }
  return { format: f, options, subject }
}

/** Builds the decoder of a validated format for `columns`. */
export function createDecoder(
  config: FormatConfig,
  columns: readonly ColumnSchema[],
  target: DecoderTarget,
): RecordDecoder {
  switch (config.format) {
    case 'json':
      return jsonRecordDecoder(columns)
    case 'csv':
      return createCsvDecoder(columns, parseCsvOptions(config.options))
    case 'avro': {
      const url = (config.options.get('schema.registry') ?? '').trim()
      return createAvroDecoder(columns, new RegistryClient(url), config.subject ?? '')
    }
    case 'debezium_json':
      return createDebeziumDecoder(columns, target.primaryKey ?? [])
  }
}

function jsonRecordDecoder(initial: readonly ColumnSchema[]): RecordDecoder {
  let json = createJsonDecoder(initial)
  return {
    format: 'json',
    decode(value, out) {
      if (value === null) return { reason: 'decode_error', detail: 'the record has no value (a tombstone)' }
      return json.decode(textPayload(value), out) ?? 1
    },
    setColumns(columns) {
      json = createJsonDecoder(columns)
    },
    payloadText: textPayload,
  }
}
