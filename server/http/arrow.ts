/**
 * Arrow IPC stream encoding of a view read over HTTP (GET /v1/views/:name with format=arrow):
 * bool, int2/4/8, float4/8 as their Arrow types, timestamp as Timestamp(µs), timestamptz as
 * Timestamp(µs, UTC), date as DateDay, bytea as Binary, everything else as Utf8 in PostgreSQL text
 * form (numeric stays exact). Imported on first use by views.ts.
 */
import type { DataType as ArrowType, Vector } from 'apache-arrow'
import {
  Binary,
  Bool,
  DateDay,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Table,
  TimestampMicrosecond,
  Utf8,
  tableToIPC,
  vectorFromArray,
} from 'apache-arrow'
import type { ResultColumn } from '../../engine/session-api.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import { formatText } from '../../engine/types/text.ts'

const MS_PER_DAY = 86_400_000

function arrowColumn(type: DataType, values: Value[], tz: string): { type: ArrowType; values: unknown[] } {
  switch (type.kind) {
    case 'bool':
      return { type: new Bool(), values }
    case 'int2':
      return { type: new Int16(), values }
    case 'int4':
      return { type: new Int32(), values }
    case 'int8':
      return { type: new Int64(), values }
    case 'float4':
      return { type: new Float32(), values }
    case 'float8':
      return { type: new Float64(), values }
    case 'timestamp':
      return { type: new TimestampMicrosecond(), values }
    case 'timestamptz':
      return { type: new TimestampMicrosecond('UTC'), values }
    case 'date':
      // Arrow's builder takes dates as epoch milliseconds.
      return { type: new DateDay(), values: values.map((v) => (typeof v === 'number' ? v * MS_PER_DAY : null)) }
    case 'bytea':
      return { type: new Binary(), values }
    case 'numeric':
    case 'text':
    case 'unknown':
    case 'time':
    case 'interval':
    case 'jsonb':
    case 'array':
      return { type: new Utf8(), values: values.map((v) => (v === null ? null : formatText(type, v, tz))) }
  }
}

export function encodeArrow(
  columns: readonly ResultColumn[],
  rows: readonly (readonly Value[])[],
  tz: string,
): Uint8Array {
  const vectors: Record<string, Vector> = {}
  columns.forEach((c, i) => {
    const values = rows.map((r) => r[i] ?? null)
    const col = arrowColumn(c.type, values, tz)
    // Arrow needs distinct field names; a repeated name gets a suffix.
    let name = c.name
    for (let k = 2; name in vectors; k++) name = `${c.name}_${k}`
    vectors[name] = vectorFromArray(col.values, col.type) as Vector
  })
  return tableToIPC(new Table(vectors), 'stream')
}
