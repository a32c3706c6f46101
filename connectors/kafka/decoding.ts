/**
 * How the Kafka source turns a record value into a row: the format's decoder, chosen by the
 * `format` option. The decoders themselves live in connectors/formats/; this module is the one
 * seam between them and the reader. JSON is read from the fetched bytes in place (`decodeRange`).
 */
import type { Column } from '../../engine/chunk.ts'
import type { ColumnSchema, DeadLetterReason } from '../../engine/connector.ts'
import { createDecoder } from '../formats/decoder.ts'
import { createJsonDecoder } from '../formats/json.ts'
import { textPayload } from '../formats/text.ts'
import type { KafkaSourceConfig } from './options.ts'

/** Why a record could not become a row; the reader turns it into a dead letter. */
export interface DecodeFailure {
  readonly reason: DeadLetterReason
  readonly detail: string
}

/** The decoder contract the reader uses (a record → +1 / -1 / 0 rows, or a failure). */
export interface RecordDecoder {
  prepare?(values: readonly (Uint8Array | null)[]): Promise<void>
  /** Appends one value to each of `out` (the payload columns) and returns the op, or appends nothing. */
  decode(value: Uint8Array | null, out: Column[]): 1 | -1 | 0 | DecodeFailure
  /** The same for the value in bytes [start, end) of `bytes`, without a view per record; optional. */
  decodeRange?(bytes: Buffer, start: number, end: number, out: Column[]): 1 | -1 | 0 | DecodeFailure
  setColumns(columns: readonly ColumnSchema[]): void
  /** Rejects columns the format cannot read (Avro: against the subject's latest schema); optional. */
  checkColumns?(columns: readonly ColumnSchema[]): Promise<void>
  /** The record as dead-letter payload text. */
  payloadText(value: Uint8Array): string
}

/** The decoder of the source's format over its payload columns (connectors/formats/decoder.ts). */
export function createRecordDecoder(config: KafkaSourceConfig, columns: readonly ColumnSchema[]): RecordDecoder {
  if (config.format === 'json') return jsonRecordDecoder(columns)
  return createDecoder(config.formatConfig, columns, config.target)
}

/**
 * format = 'json', reading each record straight from the fetched bytes (decodeRange): flat
 * records never become a string or an object (connectors/formats/json.ts).
 */
function jsonRecordDecoder(initial: readonly ColumnSchema[]): RecordDecoder {
  let json = createJsonDecoder(initial)
  return {
    decode(value, out) {
      if (value === null) return { reason: 'decode_error', detail: 'the record has no value (a tombstone)' }
      return json.decode(textPayload(value), out) ?? 1
    },
    decodeRange(bytes, start, end, out) {
      return json.decodeBytes(bytes, start, end, out) ?? 1
    },
    setColumns(columns) {
      json = createJsonDecoder(columns)
    },
    payloadText: textPayload,
  }
}
