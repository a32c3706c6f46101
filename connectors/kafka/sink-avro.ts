/**
 * Rows as Avro records for the Kafka sink (`format = 'avro'`), in the Confluent wire format:
 * byte 0 the magic byte 0, bytes 1–4 the schema id (big-endian), then one Avro binary datum.
 *
 * The schema is derived from the columns: a record with one field per column, each a union
 * `["null", T]` with default null (SQL columns are nullable). Types are chosen so that Sluice's own
 * Avro source reads them back to the same values:
 *
 *   BOOLEAN boolean · SMALLINT, INT int · BIGINT long · REAL float · DOUBLE double ·
 *   NUMERIC string (exact decimal text: Avro's decimal needs a fixed scale, NUMERIC has none) ·
 *   TEXT string · BYTEA bytes · DATE int (logical `date`) · TIMESTAMP long (logical
 *   `local-timestamp-micros`) · TIMESTAMPTZ long (logical `timestamp-micros`) · TIME, INTERVAL
 *   string (PostgreSQL text) · JSONB string (JSON text) · arrays: array of the element's union.
 *
 * Column names that are not Avro names (`?column?`) become one by replacing each other character
 * with `_` (and a leading `_` before a digit); two columns that end up with one name are refused at
 * CREATE (42701: alias one of them).
 *
 * Records are encoded while the epoch runs, before the schema id is known (the registry is only
 * reached when the writer opens): the id bytes are written as 0 and `patchSchemaId` fills them in
 * at commit time.
 */
import avro from 'avsc'
import type { Chunk } from '../../engine/chunk.ts'
import type { ColumnSchema } from '../../engine/connector.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import type { Interval } from '../../engine/types/interval.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { Jsonb } from '../../engine/types/jsonb.ts'
import { formatTime } from '../../engine/types/time.ts'
import type { RowEncoder } from './sink-json.ts'

/** An Avro schema as JSON. */
export type AvroSchemaJson = { readonly [key: string]: unknown }

const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** A column name as an Avro name. */
export function avroName(name: string): string {
  if (AVRO_NAME.test(name)) return name
  const replaced = name.replace(/[^A-Za-z0-9_]/g, '_')
  return /^[0-9]/.test(replaced) || replaced === '' ? `_${replaced}` : replaced
}

function branch(type: DataType): unknown {
  if (type.kind === 'array') return { type: 'array', items: ['null', branch(type.element)] }
  switch (type.kind) {
    case 'bool':
      return 'boolean'
    case 'int2':
    case 'int4':
      return 'int'
    case 'int8':
      return 'long'
    case 'float4':
      return 'float'
    case 'float8':
      return 'double'
    case 'bytea':
      return 'bytes'
    case 'date':
      return { type: 'int', logicalType: 'date' }
    case 'timestamp':
      return { type: 'long', logicalType: 'local-timestamp-micros' }
    case 'timestamptz':
      return { type: 'long', logicalType: 'timestamp-micros' }
    case 'numeric':
    case 'text':
    case 'unknown':
    case 'time':
    case 'interval':
    case 'jsonb':
      return 'string'
  }
}

type ToAvro = (v: Value) => unknown

/** A 64-bit long written from a bigint, so BIGINT values beyond 2^53 stay exact. */
const BIGINT_LONG = avro.types.LongType.__with({
  fromBuffer: (b: Buffer) => b.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const b = Buffer.alloc(8)
    b.writeBigInt64LE(n)
    return b
  },
  fromJSON: (n: number | string) => BigInt(n),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
})

/**
 * The avsc type of a sink schema: every long (logical ones included) a bigint, unions wrapped
 * (`{ long: 5n }`): avsc picks an unwrapped union's branch by the value's JS type, and has no
 * branch for a bigint.
 */
export function sinkAvroType(schema: AvroSchemaJson): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, {
    wrapUnions: true,
    typeHook: (s: avro.Schema) =>
      s === 'long' || (typeof s === 'object' && (s as { type?: unknown }).type === 'long') ? BIGINT_LONG : undefined,
  })
}

/** The converter of one column to its union's wrapped value (`{ branch: value }`). */
function converter(type: DataType): ToAvro {
  if (type.kind === 'array') {
    const element = converter(type.element)
    return (v) => ({ array: (v as readonly Value[]).map((e) => (e === null ? null : element(e))) })
  }
  switch (type.kind) {
    case 'bool':
      return (v) => ({ boolean: v })
    case 'int2':
    case 'int4':
    case 'date':
      return (v) => ({ int: v })
    case 'float4':
      return (v) => ({ float: Number(v) })
    case 'float8':
      return (v) => ({ double: Number(v) })
    case 'int8':
      return (v) => ({ long: typeof v === 'bigint' ? v : BigInt(Math.trunc(v as number)) })
    case 'timestamp':
    case 'timestamptz':
      return (v) => ({ long: BigInt(Math.round(v as number)) })
    case 'bytea':
      return (v) => ({ bytes: Buffer.from(v as Uint8Array) })
    case 'numeric':
      return (v) => ({ string: v instanceof Decimal ? v.toString() : String(v) })
    case 'text':
    case 'unknown':
      return (v) => ({ string: v })
    case 'time':
      return (v) => ({ string: formatTime(v as number) })
    case 'interval':
      return (v) => ({ string: (v as Interval).toString() })
    case 'jsonb':
      return (v) => ({ string: v instanceof Jsonb ? JSON.stringify(v.value) : String(v) })
  }
}

/** The record schema of `columns[indexes]`, named `name` (an Avro full name). */
export function avroSchema(columns: readonly ColumnSchema[], indexes: readonly number[], name: string): AvroSchemaJson {
  const seen = new Map<string, string>()
  const fields = indexes.map((c) => {
    const col = columns[c]
    const field = avroName(col.name)
    const other = seen.get(field)
    if (other !== undefined) {
      throw new SluiceError(
        SqlState.duplicate_column,
        `columns "${other}" and "${col.name}" would both be the Avro field "${field}"`,
        {
          hint: 'give the columns distinct names with AS',
        },
      )
    }
    seen.set(field, col.name)
    return { name: field, type: ['null', branch(col.type)], default: null }
  })
  return { type: 'record', name, namespace: 'sluice', fields }
}

/** The Avro name of a sink's record (`<sink>_value`, `<sink>_key`). */
export function recordName(sinkName: string, part: 'key' | 'value'): string {
  return `${avroName(sinkName)}_${part}`
}

/** Confluent wire-format records of `columns[indexes]`; the schema id bytes are 0 until patched. */
export function avroRowEncoder(
  columns: readonly ColumnSchema[],
  indexes: readonly number[],
  schema: AvroSchemaJson,
): RowEncoder {
  const type = sinkAvroType(schema)
  const fields = (schema.fields as readonly { name: string }[]).map((f) => f.name)
  const convert = indexes.map((c) => converter(columns[c].type))
  const width = indexes.length
  return {
    encode(chunk: Chunk, row: number) {
      const record: Record<string, unknown> = {}
      for (let i = 0; i < width; i++) {
        const v = chunk.columns[indexes[i]][row]
        record[fields[i]] = v === null ? null : convert[i](v)
      }
      const body = type.toBuffer(record)
      const out = Buffer.allocUnsafe(body.length + 5)
      out.fill(0, 0, 5)
      body.copy(out, 5)
      return out
    },
  }
}

/** Writes the schema id into a wire-format record (bytes 1–4), in place. */
export function patchSchemaId(record: Uint8Array, id: number): void {
  record[1] = (id >>> 24) & 0xff
  record[2] = (id >>> 16) & 0xff
  record[3] = (id >>> 8) & 0xff
  record[4] = id & 0xff
}
