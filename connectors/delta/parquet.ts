/**
 * SQL columns as Delta fields and Parquet columns. Types Delta has natively keep their type
 * (integers, floats, boolean, text, bytea, date, timestamps at microsecond precision); NUMERIC
 * becomes a string so that no digit is lost (Delta decimals need a fixed precision and scale,
 * Sluice's NUMERIC has none), and interval, time, jsonb and arrays travel as their text form.
 */
import type { SchemaElement } from 'hyparquet-writer'
import type * as HyparquetWriter from 'hyparquet-writer'
import type { ColumnSchema } from '../../engine/connector.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import type { DeltaField } from './log.ts'
import { formatText } from '../../engine/types/text.ts'
import { scalar } from '../../engine/types/datatype.ts'

type ParquetColumn = (Value | bigint)[]

export function deltaType(type: DataType): string {
  switch (type.kind) {
    case 'bool':
      return 'boolean'
    case 'int2':
      return 'short'
    case 'int4':
      return 'integer'
    case 'int8':
      return 'long'
    case 'float4':
      return 'float'
    case 'float8':
      return 'double'
    case 'bytea':
      return 'binary'
    case 'date':
      return 'date'
    case 'timestamptz':
      return 'timestamp'
    case 'timestamp':
      return 'timestamp_ntz'
    default:
      return 'string'
  }
}

export function deltaFields(columns: readonly ColumnSchema[], extra: readonly DeltaField[] = []): DeltaField[] {
  return [...columns.map((c) => ({ name: c.name, type: deltaType(c.type), nullable: true })), ...extra]
}

function schemaElement(name: string, type: string): SchemaElement {
  const optional = { name, repetition_type: 'OPTIONAL' } as const
  switch (type) {
    case 'boolean':
      return { ...optional, type: 'BOOLEAN' }
    case 'short':
      return { ...optional, type: 'INT32', converted_type: 'INT_16' }
    case 'integer':
      return { ...optional, type: 'INT32' }
    case 'long':
      return { ...optional, type: 'INT64' }
    case 'float':
      return { ...optional, type: 'FLOAT' }
    case 'double':
      return { ...optional, type: 'DOUBLE' }
    case 'binary':
      return { ...optional, type: 'BYTE_ARRAY' }
    case 'date':
      return { ...optional, type: 'INT32', converted_type: 'DATE' }
    case 'timestamp':
      return { ...optional, type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } }
    case 'timestamp_ntz':
      return { ...optional, type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' } }
    default:
      return { ...optional, type: 'BYTE_ARRAY', converted_type: 'UTF8' }
  }
}

/** One column's values as the Parquet writer takes them. */
function parquetValues(values: readonly Value[], type: DataType, delta: string): ParquetColumn {
  if (delta === 'timestamp' || delta === 'timestamp_ntz')
    return values.map((v) => (v === null ? null : BigInt(Math.round(v as number))))
  if (delta === 'string' && type.kind !== 'text') return values.map((v) => (v === null ? null : formatText(type, v)))
  return values.slice()
}

/** A partition value as the Delta protocol spells it (timestamps without offset, in UTC). */
export function partitionValue(value: Value, type: DataType): string | null {
  if (value === null) return null
  if (type.kind === 'timestamptz') return formatText(scalar('timestamp'), value)
  return formatText(type, value)
}

/**
 * Encodes rows (given column-wise) as one Parquet file. `columns` are the data columns only:
 * Delta keeps partition columns out of the data files.
 */
/**
 * The Parquet writer, imported by `loadParquetWriter` (the sink's open) rather than at module
 * load: hyparquet-writer takes some 60 ms to import, on every server start otherwise.
 */
let writer: typeof HyparquetWriter | undefined

export async function loadParquetWriter(): Promise<void> {
  writer ??= await import('hyparquet-writer')
}

export function encodeParquet(
  fields: readonly DeltaField[],
  types: readonly DataType[],
  columns: readonly (readonly Value[])[],
): Uint8Array {
  if (writer === undefined) throw new Error('encodeParquet before loadParquetWriter')
  const buffer = writer.parquetWriteBuffer({
    columnData: fields.map((f, i) => ({ name: f.name, data: parquetValues(columns[i], types[i], f.type) })),
    schema: [{ name: 'root', num_children: fields.length }, ...fields.map((f) => schemaElement(f.name, f.type))],
    createdBy: 'sluice',
  })
  return new Uint8Array(buffer)
}
