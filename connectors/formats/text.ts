/** Record bytes as text, for the text formats (JSON, CSV, Debezium JSON) and their dead letters. */
const utf8 = new TextDecoder('utf-8', { fatal: false })

/** The record's UTF-8 text (Kafka values are Buffers, whose toString is the fastest path). */
export function textPayload(value: Uint8Array): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : utf8.decode(value)
}
