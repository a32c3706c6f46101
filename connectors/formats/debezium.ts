/**
 * Debezium's JSON change events (`format = 'debezium_json'`), for tables with a PRIMARY KEY.
 *
 * An event is `{"before": {...}, "after": {...}, "op": "c|r|u|d", ...}`, or the same wrapped as
 * `{"schema": ..., "payload": {...}}` when the producer's JSON converter embeds schemas. Each
 * event becomes one row with an op the table applies by primary key:
 *   - `c` (create) and `r` (snapshot read): +1 with `after` — an upsert, so a replayed topic or
 *     a snapshot overlapping the stream converges to the same rows;
 *   - `u` (update): +1 with `after`, replacing the row of its key (the table retracts the old row,
 *     so `before` is not needed — PostgreSQL's default replica identity does not send it);
 *   - `d` (delete): -1 with `before`, of which only the key columns are used.
 * Kafka tombstones (null values, which Debezium writes after each delete for log compaction) carry
 * no row and are skipped. Field values follow the JSON format's rules (connectors/formats/json.ts);
 * configure Debezium with `decimal.handling.mode=string` (or `double`) for NUMERIC columns and
 * `time.precision.mode=connect` for millisecond timestamps.
 * Anything else (not JSON, no `op`, an unknown op, a missing image, a NULL key) is a `decode_error`.
 */
import type { Column } from '../../engine/chunk.ts'
import type { ColumnSchema } from '../../engine/connector.ts'
import { createJsonObjectDecoder, type JsonObjectDecoder } from './json.ts'
import type { DecodeResult, RecordDecoder } from './decoder.ts'
import { textPayload } from './text.ts'

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

export function createDebeziumDecoder(initial: readonly ColumnSchema[], primaryKey: readonly number[]): RecordDecoder {
  let columns = initial
  let images: JsonObjectDecoder = createJsonObjectDecoder(initial)

  function image(event: Record<string, unknown>, which: 'before' | 'after', op: string, out: Column[]): DecodeResult {
    const row = event[which]
    if (!isObject(row))
      return { reason: 'decode_error', detail: `Debezium event with op "${op}" has no "${which}" object` }
    const failure = images.decodeObject(row, undefined, out)
    if (failure !== undefined) return failure
    for (const k of primaryKey) {
      const col = out[k]
      if (col[col.length - 1] === null) {
        for (const c of out) c.pop()
        return {
          reason: 'decode_error',
          detail: `Debezium "${which}" image has no value for key column "${columns[k].name}"`,
        }
      }
    }
    return which === 'after' ? 1 : -1
  }

  return {
    format: 'debezium_json',
    decode(value, out): DecodeResult {
      if (value === null) return 0
      const text = textPayload(value)
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch (e) {
        return { reason: 'decode_error', detail: `invalid JSON: ${(e as Error).message}` }
      }
      if (!isObject(parsed)) return { reason: 'decode_error', detail: 'a Debezium event must be a JSON object' }
      const event = isObject(parsed.payload) && 'schema' in parsed ? parsed.payload : parsed
      const op = event.op
      switch (op) {
        case 'c':
        case 'r':
        case 'u':
          return image(event, 'after', op, out)
        case 'd':
          return image(event, 'before', op, out)
        case undefined:
          return { reason: 'decode_error', detail: 'not a Debezium change event: no "op" field' }
        default:
          return {
            reason: 'decode_error',
            detail: `unsupported Debezium op ${JSON.stringify(op)} (expected c, r, u or d)`,
          }
      }
    },
    setColumns(next) {
      columns = next
      images = createJsonObjectDecoder(next)
    },
    payloadText: textPayload,
  }
}
