/**
 * The Avro record format with the Confluent wire format: byte 0 is the magic byte 0, bytes 1–4
 * the writer's schema id (big-endian), the rest one Avro binary datum. The writer schema comes
 * from the schema registry (`schema.registry`), fetched once per id in `prepare`, before any
 * record of a batch is decoded, so decoding stays synchronous.
 *
 * Each record is read with Avro schema resolution (avsc's resolver) from its writer schema into
 * a *reader* schema built from the source's columns: one nullable field per column, default null.
 * So, as the Avro specification has it:
 *   - a writer field no column names is skipped; a column the writer lacks is NULL (the default);
 *   - ints promote to long/float/double, bytes and string read as each other;
 *   - a writer field of a type its column cannot read (a string field for a BIGINT column) makes
 *     every record of that schema id a `schema_mismatch` dead letter, naming the field.
 * When the columns change (ALTER SOURCE ADD COLUMN), `setColumns` drops the resolvers and the
 * next record of each id is resolved against the new reader schema: a field added by a newer
 * writer schema appears as soon as a column of its name exists, without a restart.
 *
 * Records that are not in the wire format (wrong magic byte, shorter than 5 bytes), name an id
 * the registry does not know, or whose datum is truncated or has trailing bytes are `decode_error`s.
 * Columns map to fields by name (exact, then case-insensitive). Conversions: long → BIGINT exactly
 * (as a bigint, never through a double); timestamp columns read longs as epoch milliseconds, or
 * microseconds when the writer field is `timestamp-micros`, and strings as ISO text; JSONB
 * columns take any Avro value (records become objects; bytes base64; longs beyond 2^53 strings).
 */
import avro from 'avsc'
import type { ColumnSchema } from '../../engine/connector.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { Jsonb, type JsonValue } from '../../engine/types/jsonb.ts'
import { formatTypeName } from '../../engine/types/oid.ts'
import { parseText } from '../../engine/types/text.ts'
import type { DecodeFailure, DecodeResult, RecordDecoder } from './decoder.ts'
import type { RegistryClient } from './registry.ts'

type AvroJson = string | { readonly [key: string]: unknown } | readonly unknown[]

/** A 64-bit Avro long read as a bigint, so BIGINT values beyond 2^53 stay exact. */
function bigintLong(): avro.types.LongType {
  return avro.types.LongType.__with({
    fromBuffer: (b: Buffer) => b.readBigInt64LE(),
    toBuffer: (n: bigint) => {
      const b = Buffer.alloc(8)
      b.writeBigInt64LE(BigInt(n))
      return b
    },
    fromJSON: (n: number | string) => BigInt(n),
    toJSON: (n: bigint) => Number(n),
    isValid: (n: unknown) => typeof n === 'bigint',
    compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
  })
}

/** Parses a schema with bigint longs; a fresh type registry each time (named types are per schema). */
export function avroType(schema: AvroJson): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { registry: { long: bigintLong() }, wrapUnions: false })
}

/** The reader branches (besides null) a column of `type` accepts from a writer. */
function readerBranches(type: DataType): unknown[] {
  if (type.kind === 'array') return [{ type: 'array', items: ['null', ...readerBranches(type.element)] }]
  switch (type.kind) {
    case 'bool':
      return ['boolean']
    case 'int2':
    case 'int4':
      return ['int']
    case 'int8':
      return ['long']
    case 'float4':
      return ['float']
    case 'float8':
      return ['double']
    case 'numeric':
      return ['string', 'long', 'double']
    case 'text':
    case 'unknown':
    case 'jsonb':
      return ['string']
    case 'bytea':
      return ['bytes']
    case 'timestamp':
    case 'timestamptz':
      return ['long', 'string']
    case 'date':
      return ['int', 'string']
    case 'time':
    case 'interval':
      return ['string']
  }
}

interface WriterField {
  readonly name: string
  readonly type: unknown
}

/** The first non-null branch of a (possibly union) writer type. */
function mainBranch(t: unknown): unknown {
  if (Array.isArray(t)) return t.find((b) => b !== 'null') ?? 'null'
  return t
}

function logicalType(t: unknown): string | undefined {
  const b = mainBranch(t)
  return typeof b === 'object' && b !== null ? ((b as { logicalType?: string }).logicalType ?? undefined) : undefined
}

type Converter = (v: unknown) => Value

class FieldError extends Error {}

function mismatch(type: DataType, v: unknown): FieldError {
  return new FieldError(`expected ${formatTypeName(type)}, got ${typeof v}`)
}

/** Avro values as JSON: records → objects, bytes → base64, longs beyond 2^53 → strings. */
function toJson(v: unknown): JsonValue {
  if (v === null || v === undefined) return null
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v
  if (Buffer.isBuffer(v)) return v.toString('base64')
  if (Array.isArray(v)) return v.map(toJson)
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toJson(x)]))
  const out: { [key: string]: JsonValue } = {}
  for (const k of Object.keys(v)) out[k] = toJson((v as Record<string, unknown>)[k])
  return out
}

/** A string field into a JSONB column: its JSON value when it is JSON text, else the string itself. */
function jsonText(s: string): JsonValue {
  try {
    return JSON.parse(s) as JsonValue
  } catch {
    return s
  }
}

/** Builds the converter of one column, knowing the writer field's type (for timestamp units). */
function converterFor(type: DataType, writerType: unknown): Converter {
  if (type.kind === 'array') {
    const element = converterFor(
      type.element,
      Array.isArray(writerType) ? undefined : (mainBranch(writerType) as { items?: unknown } | undefined)?.items,
    )
    return (v) => {
      if (!Array.isArray(v)) throw mismatch(type, v)
      return v.map((x: unknown) => (x === null ? null : element(x)))
    }
  }
  switch (type.kind) {
    case 'bool':
    case 'float8':
    case 'int4':
    case 'text':
    case 'unknown':
      return (v) => v as Value
    case 'int2':
      return (v) => {
        const n = v as number
        if (n > 32767 || n < -32768) throw new FieldError(`value ${n} is out of range for type smallint`)
        return n
      }
    case 'int8':
      return (v) => (typeof v === 'bigint' ? v : BigInt(v as number))
    case 'float4':
      return (v) => Math.fround(v as number)
    case 'numeric':
      return (v) => {
        if (typeof v === 'string') return Decimal.fromString(v)
        if (typeof v === 'bigint') return Decimal.fromString(v.toString())
        return Decimal.fromNumber(v as number)
      }
    case 'bytea':
      return (v) => new Uint8Array(v as Buffer) // a copy: the datum's buffer is the Kafka fetch buffer
    case 'timestamp':
    case 'timestamptz': {
      const lt = logicalType(writerType)
      const perUnit =
        lt === 'timestamp-micros' || lt === 'local-timestamp-micros' ? 1 : lt === 'timestamp-nanos' ? 0.001 : 1000
      return (v) => {
        if (typeof v === 'string') return parseText(type, v)
        if (typeof v === 'bigint' || typeof v === 'number') return Math.round(Number(v) * perUnit)
        throw mismatch(type, v)
      }
    }
    case 'date':
    case 'time':
    case 'interval':
      return (v) => (typeof v === 'string' ? parseText(type, v) : (v as number))
    case 'jsonb':
      return (v) => new Jsonb(typeof v === 'string' ? jsonText(v) : toJson(v))
  }
}

/** How records of one writer schema id are read into the current columns. */
type Resolution =
  | {
      readonly ok: true
      readonly reader: avro.Type
      readonly resolver: avro.Resolver
      readonly fields: readonly string[]
      readonly convert: readonly Converter[]
    }
  | { readonly ok: false; readonly failure: DecodeFailure }

const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Resolves `writerSchema` against the reader schema of `columns`; a failure names the field.
 * Exported for tests and for the ALTER check.
 */
export function resolveColumns(columns: readonly ColumnSchema[], writerSchema: AvroJson, what: string): Resolution {
  const writer =
    typeof writerSchema === 'string'
      ? undefined
      : (writerSchema as { type?: unknown; name?: unknown; namespace?: unknown; fields?: unknown })
  if (writer?.type !== 'record' || !Array.isArray(writer.fields)) {
    return { ok: false, failure: { reason: 'schema_mismatch', detail: `${what} is not an Avro record schema` } }
  }
  const wfields = writer.fields as WriterField[]
  const fields: string[] = []
  const convert: Converter[] = []
  const readerFields = columns.map((c, i) => {
    const w =
      wfields.find((f) => f.name === c.name) ?? wfields.find((f) => f.name.toLowerCase() === c.name.toLowerCase())
    const name = w?.name ?? (AVRO_NAME.test(c.name) ? c.name : `_sluice_column_${i}`)
    fields.push(name)
    convert.push(converterFor(c.type, w?.type))
    // JSONB takes the writer's own type (any shape); everything else a nullable union of what it can read.
    const type =
      c.type.kind === 'jsonb' && w !== undefined
        ? Array.isArray(w.type) && w.type.includes('null')
          ? w.type
          : ['null', w.type]
        : ['null', ...readerBranches(c.type)]
    return { name, type, default: null }
  })
  const readerSchema = { type: 'record', name: writer.name, namespace: writer.namespace, fields: readerFields }
  let reader: avro.Type
  let writerType: avro.Type
  try {
    writerType = avroType(writerSchema)
  } catch (e) {
    return {
      ok: false,
      failure: { reason: 'schema_mismatch', detail: `${what} is not a valid Avro schema: ${(e as Error).message}` },
    }
  }
  try {
    reader = avroType(readerSchema)
    return { ok: true, reader, resolver: reader.createResolver(writerType), fields, convert }
  } catch (e) {
    return {
      ok: false,
      failure: {
        reason: 'schema_mismatch',
        detail: `${what} does not fit the columns: ${culprit(columns, readerFields, wfields) ?? (e as Error).message}`,
      },
    }
  }
}

/** The first column whose writer field cannot be read, as a sentence. */
function culprit(
  columns: readonly ColumnSchema[],
  readerFields: readonly { name: string; type: unknown }[],
  wfields: readonly WriterField[],
): string | undefined {
  for (let i = 0; i < readerFields.length; i++) {
    const w = wfields.find((f) => f.name === readerFields[i].name)
    if (w === undefined) continue
    try {
      avroType(readerFields[i].type as AvroJson).createResolver(avroType(w.type as AvroJson))
    } catch {
      return `field "${w.name}" has Avro type ${JSON.stringify(w.type)}, which column "${columns[i].name}" (${formatTypeName(columns[i].type)}) cannot read`
    }
  }
  return undefined
}

export function createAvroDecoder(
  initial: readonly ColumnSchema[],
  registry: RegistryClient,
  subject: string,
): RecordDecoder {
  let columns = initial
  /** Per writer schema id, how it reads into the current columns; cleared when they change. */
  const resolutions = new Map<number, Resolution>()

  function resolution(id: number): Resolution {
    const hit = resolutions.get(id)
    if (hit !== undefined) return hit
    const lookup = registry.cached(id)
    let r: Resolution
    if (lookup === undefined)
      r = {
        ok: false,
        failure: { reason: 'decode_error', detail: `schema id ${id} was not fetched from the registry` },
      }
    else if (!lookup.found) r = { ok: false, failure: { reason: 'decode_error', detail: lookup.detail } }
    else {
      let parsed: AvroJson
      try {
        parsed = JSON.parse(lookup.schema) as AvroJson
      } catch {
        parsed = lookup.schema // a bare primitive name such as "string"
      }
      r = resolveColumns(columns, parsed, `writer schema id ${id}`)
    }
    if (lookup !== undefined) resolutions.set(id, r)
    return r
  }

  return {
    format: 'avro',
    async prepare(values) {
      const missing = new Set<number>()
      for (const v of values) {
        if (v === null || v.length < 5 || v[0] !== 0) continue
        const id = ((v[1] << 24) | (v[2] << 16) | (v[3] << 8) | v[4]) >>> 0
        if (registry.cached(id) === undefined) missing.add(id)
      }
      for (const id of missing) await registry.schemaById(id)
    },
    decode(value, out): DecodeResult {
      if (value === null) return { reason: 'decode_error', detail: 'the record has no value (a tombstone)' }
      if (value.length < 5)
        return {
          reason: 'decode_error',
          detail: `a ${value.length}-byte record is too short for the Confluent wire format (magic byte and schema id)`,
        }
      if (value[0] !== 0)
        return {
          reason: 'decode_error',
          detail: `wrong magic byte ${value[0]} (the Confluent wire format starts with 0)`,
        }
      const id = ((value[1] << 24) | (value[2] << 16) | (value[3] << 8) | value[4]) >>> 0
      const r = resolution(id)
      if (!r.ok) return r.failure
      let record: Record<string, unknown>
      try {
        const buf = Buffer.isBuffer(value)
          ? value.subarray(5)
          : Buffer.from(value.buffer, value.byteOffset + 5, value.byteLength - 5)
        record = r.reader.fromBuffer(buf, r.resolver) as Record<string, unknown>
      } catch (e) {
        return { reason: 'decode_error', detail: `invalid Avro datum for schema id ${id}: ${(e as Error).message}` }
      }
      const width = columns.length
      let c = 0
      try {
        for (; c < width; c++) {
          const v = record[r.fields[c]]
          out[c].push(v === null || v === undefined ? null : r.convert[c](v))
        }
      } catch (e) {
        for (let undo = 0; undo < c; undo++) out[undo].pop()
        return { reason: 'type_error', detail: `field "${r.fields[c]}": ${(e as Error).message}` }
      }
      return 1
    },
    setColumns(next) {
      columns = next
      resolutions.clear()
    },
    async checkColumns(next) {
      const latest = await registry.latest(subject)
      if (latest === undefined) return
      let parsed: AvroJson
      try {
        parsed = JSON.parse(latest.schema) as AvroJson
      } catch {
        parsed = latest.schema
      }
      const r = resolveColumns(next, parsed, `the latest schema of subject "${subject}" (id ${latest.id})`)
      if (!r.ok)
        throw new SluiceError(SqlState.datatype_mismatch, r.failure.detail, {
          hint: 'declare the column with a type its Avro field can be read as (see docs/sql.md, Avro)',
        })
    },
    payloadText: (value) => Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
  }
}
