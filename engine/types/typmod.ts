/**
 * Type modifiers, PostgreSQL's typmod: `varchar(n)`, `char(n)`, `numeric(p,s)`, `timestamp(p)`,
 * `timestamptz(p)`, `time(p)`.
 *
 * The engine types stay unmodified (varchar and char values are text, numeric(12,2) values are
 * Decimal), so operators and generated code never branch on a modifier. The modifier travels
 * beside the type: on catalog columns (ColumnSchema.typmod), on plan columns (a plain column
 * reference keeps it, an expression loses it, as in PostgreSQL) and on result columns; it is
 * applied to values where PostgreSQL applies it: when a value is assigned to a column (INSERT,
 * UPDATE, ingest) and on an explicit cast.
 */
import type { DataType, Value } from './datatype.ts'
import { Decimal } from './decimal.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { formatTypeName, typeFromOid, typeOid } from './oid.ts'

export interface TypeMod {
  /** The PostgreSQL type a text column was declared as: varchar (OID 1043) or bpchar (1042). */
  readonly spelling?: 'varchar' | 'bpchar'
  /**
   * PostgreSQL's typmod, as in pg_attribute.atttypmod: -1 for none; n + 4 for varchar(n) and
   * char(n); ((p << 16) | s) + 4 for numeric(p,s); p for timestamp(p), timestamptz(p), time(p).
   */
  readonly typmod: number
}

const VARHDRSZ = 4
const MAX_VARCHAR = 10_485_760
const MAX_NUMERIC_PRECISION = 1000

/** PostgreSQL's array OIDs of varchar and bpchar (the element OIDs are 1043 and 1042). */
const SPELLING_OID = { varchar: [1043, 1015], bpchar: [1042, 1014] } as const

const fail = (message: string, position: number | undefined): SluiceError =>
  new SluiceError(SqlState.invalid_parameter_value, message, { position })

/**
 * The modifier of a type as written: `name` is the parser's lower-case type name (`varchar`,
 * `bpchar`, `numeric`, ...), `mods` its integer modifiers. Undefined when the type carries none
 * that Sluice keeps. Bad modifiers fail with PostgreSQL's 22023 messages; a timestamp precision
 * above 6 is lowered to 6 (PostgreSQL warns), reported through `notice`.
 */
export function typeModOf(
  name: string,
  mods: readonly number[],
  position?: number,
  notice?: (message: string) => void,
): TypeMod | undefined {
  const spelling =
    name === 'varchar' || name === 'character varying'
      ? 'varchar'
      : name === 'bpchar' || name === 'char' || name === 'character'
        ? 'bpchar'
        : undefined
  if (spelling !== undefined) {
    if (mods.length > 1) throw fail('invalid type modifier', position)
    if (mods.length === 0) return { spelling, typmod: -1 }
    const label = spelling === 'varchar' ? 'varchar' : 'char'
    if (mods[0] < 1) throw fail(`length for type ${label} must be at least 1`, position)
    if (mods[0] > MAX_VARCHAR) throw fail(`length for type ${label} cannot exceed ${MAX_VARCHAR}`, position)
    return { spelling, typmod: mods[0] + VARHDRSZ }
  }
  if (mods.length === 0) return undefined
  if (name === 'numeric' || name === 'decimal') {
    if (mods.length > 2) throw fail('invalid NUMERIC type modifier', position)
    const [p, s = 0] = mods
    if (p < 1 || p > MAX_NUMERIC_PRECISION)
      throw fail(`NUMERIC precision ${p} must be between 1 and ${MAX_NUMERIC_PRECISION}`, position)
    if (s < -MAX_NUMERIC_PRECISION || s > MAX_NUMERIC_PRECISION)
      throw fail(`NUMERIC scale ${s} must be between -${MAX_NUMERIC_PRECISION} and ${MAX_NUMERIC_PRECISION}`, position)
    return { typmod: ((p << 16) | (s & 0x7ff)) + VARHDRSZ }
  }
  if (name === 'timestamp' || name === 'timestamptz' || name === 'time') {
    if (mods.length > 1) throw fail('invalid type modifier', position)
    const label = name === 'time' ? 'TIME' : name === 'timestamp' ? 'TIMESTAMP' : 'TIMESTAMP WITH TIME ZONE'
    if (mods[0] < 0) throw fail(`${label}(${mods[0]}) precision must not be negative`, position)
    if (mods[0] > 6) notice?.(`${label}(${mods[0]}) precision reduced to maximum allowed, 6`)
    return { typmod: Math.min(mods[0], 6) }
  }
  return undefined
}

/** numeric(p,s)'s precision and scale, from its typmod. */
function numericPS(typmod: number): [number, number] {
  const t = typmod - VARHDRSZ
  // The scale is an 11-bit two's-complement field (PostgreSQL 15 allows negative scales).
  return [(t >> 16) & 0xffff, ((t & 0x7ff) ^ 0x400) - 0x400]
}

/** pg_attribute.atttypid and RowDescription's type OID: varchar and bpchar columns have their own. */
export function pgTypeOid(type: DataType, mod: TypeMod | undefined): number {
  const spelling = mod?.spelling
  if (spelling === undefined) return typeOid(type)
  return SPELLING_OID[spelling][type.kind === 'array' ? 1 : 0]
}

/** pg_attribute.atttypmod and RowDescription's type modifier. */
export function pgTypmod(mod: TypeMod | undefined): number {
  return mod?.typmod ?? -1
}

/** format_type(oid, typmod): `character varying(5)`, `numeric(12,2)`, `timestamp(3) with time zone`, `character(1)[]`. */
export function formatType(type: DataType, mod: TypeMod | undefined): string {
  if (type.kind === 'array') return `${formatType(type.element, mod)}[]`
  const typmod = mod?.typmod ?? -1
  const spelling = mod?.spelling
  if (spelling !== undefined) {
    const base = spelling === 'varchar' ? 'character varying' : typmod < 0 ? 'bpchar' : 'character'
    return typmod < 0 ? base : `${base}(${typmod - VARHDRSZ})`
  }
  if (typmod < 0) return formatTypeName(type)
  switch (type.kind) {
    case 'numeric': {
      const [p, s] = numericPS(typmod)
      return `numeric(${p},${s})`
    }
    case 'timestamp':
      return `timestamp(${typmod}) without time zone`
    case 'timestamptz':
      return `timestamp(${typmod}) with time zone`
    case 'time':
      return `time(${typmod}) without time zone`
    default:
      return formatTypeName(type)
  }
}

/** format_type(oid, typmod) for any OID a client may ask about; undefined for unknown OIDs. */
export function formatTypeOid(oid: number, typmod: number): string | undefined {
  const type = typeFromOid(oid)
  if (type === undefined) return undefined
  const spelling = oid === 1043 || oid === 1015 ? 'varchar' : oid === 1042 || oid === 1014 ? 'bpchar' : undefined
  if (oid === 19) return 'name'
  if (oid === 26) return 'oid'
  if (oid === 18) return '"char"'
  if (oid === 114) return 'json'
  return formatType(type, spelling === undefined && typmod < 0 ? undefined : { spelling, typmod })
}

/** What information_schema.columns says of a column's type. */
export interface ColumnTypeInfo {
  readonly dataType: string
  readonly udtName: string
  readonly characterMaximumLength: number | null
  readonly characterOctetLength: number | null
  readonly numericPrecision: number | null
  readonly numericPrecisionRadix: number | null
  readonly numericScale: number | null
  readonly datetimePrecision: number | null
}

const INT_BITS: Partial<Record<DataType['kind'], number>> = { int2: 16, int4: 32, int8: 64, float4: 24, float8: 53 }

export function columnTypeInfo(type: DataType, mod: TypeMod | undefined): ColumnTypeInfo {
  const typmod = mod?.typmod ?? -1
  const none = {
    characterMaximumLength: null,
    characterOctetLength: null,
    numericPrecision: null,
    numericPrecisionRadix: null,
    numericScale: null,
    datetimePrecision: null,
  }
  const udt = (t: DataType): string => {
    const oid = pgTypeOid(t, mod)
    return oid === 1043
      ? 'varchar'
      : oid === 1042
        ? 'bpchar'
        : oid === 1015
          ? '_varchar'
          : oid === 1014
            ? '_bpchar'
            : formatUdt(t)
  }
  if (type.kind === 'array') return { ...none, dataType: 'ARRAY', udtName: udt(type) }
  const dataType = formatType(type, mod?.spelling === undefined ? undefined : { spelling: mod.spelling, typmod: -1 })
    .replace(/^bpchar$/, 'character')
    .replace(/\(\d+\)/, '')
  const base = { ...none, dataType, udtName: udt(type) }
  switch (type.kind) {
    case 'text': {
      const n = typmod < 0 ? null : typmod - VARHDRSZ
      // UTF-8: at most 4 bytes a character; unbounded text reports PostgreSQL's 1 GB limit.
      return { ...base, characterMaximumLength: n, characterOctetLength: n === null ? 1_073_741_824 : n * 4 }
    }
    case 'int2':
    case 'int4':
    case 'int8':
      return { ...base, numericPrecision: INT_BITS[type.kind] ?? null, numericPrecisionRadix: 2, numericScale: 0 }
    case 'float4':
    case 'float8':
      return { ...base, numericPrecision: INT_BITS[type.kind] ?? null, numericPrecisionRadix: 2 }
    case 'numeric': {
      if (typmod < 0) return { ...base, numericPrecisionRadix: 10 }
      const [p, s] = numericPS(typmod)
      return { ...base, numericPrecision: p, numericPrecisionRadix: 10, numericScale: s }
    }
    case 'date':
      return { ...base, datetimePrecision: 0 }
    case 'time':
    case 'timestamp':
    case 'timestamptz':
    case 'interval':
      return { ...base, datetimePrecision: typmod < 0 ? 6 : typmod }
    default:
      return base
  }
}

function formatUdt(t: DataType): string {
  const oid = typeOid(t)
  const names: Record<number, string> = {
    16: 'bool',
    21: 'int2',
    23: 'int4',
    20: 'int8',
    700: 'float4',
    701: 'float8',
    1700: 'numeric',
    25: 'text',
    17: 'bytea',
    1082: 'date',
    1083: 'time',
    1114: 'timestamp',
    1184: 'timestamptz',
    1186: 'interval',
    3802: 'jsonb',
  }
  return names[oid] ?? (t.kind === 'array' ? `_${formatUdt(t.element)}` : formatTypeName(t))
}

/**
 * Whether applying `mod` can change or reject a value (varchar without a length, or a modifier
 * PostgreSQL keeps only for show, cannot): callers skip the per-row pass when no column needs it.
 */
export function enforces(type: DataType, mod: TypeMod | undefined): boolean {
  if (mod === undefined || mod.typmod < 0) return false
  const kind = type.kind === 'array' ? elementKind(type) : type.kind
  return kind === 'text' || kind === 'numeric' || kind === 'timestamp' || kind === 'timestamptz' || kind === 'time'
}

function elementKind(t: DataType): DataType['kind'] {
  let el = t
  while (el.kind === 'array') el = el.element
  return el.kind
}

/** µs per unit of the last kept digit, for precisions 0..6. */
const TIME_SCALE = [1_000_000, 100_000, 10_000, 1000, 100, 10, 1]

/**
 * A value as a column (or an explicit cast) of type `type` with modifier `mod` holds it, as
 * PostgreSQL's length-coercion functions do:
 *   - varchar(n): longer values fail with 22001, unless the excess is all spaces (then cut);
 *     an explicit cast cuts silently. char(n): the same, and shorter values are padded with spaces.
 *   - numeric(p,s): rounded half away from zero to s digits; 22003 when it needs more than p-s
 *     integer digits.
 *   - timestamp(p), timestamptz(p), time(p): rounded half away from zero to p fractional digits.
 * Arrays apply the modifier to each element. NULL stays NULL.
 */
export function applyTypeMod(value: Value, type: DataType, mod: TypeMod, explicit = false): Value {
  if (value === null || mod.typmod < 0) return value
  if (type.kind === 'array') return (value as readonly Value[]).map((v) => applyTypeMod(v, type.element, mod, explicit))
  switch (type.kind) {
    case 'text':
      return fitText(value as string, mod.typmod - VARHDRSZ, mod.spelling === 'bpchar', explicit)
    case 'numeric':
      return fitNumeric(value as Decimal, mod.typmod)
    case 'timestamp':
    case 'timestamptz':
    case 'time':
      return roundMicros(value as number, mod.typmod)
    default:
      return value
  }
}

function fitText(s: string, n: number, pad: boolean, explicit: boolean): string {
  // UTF-16 units ≥ characters, so a short string needs no counting.
  if (s.length <= n) return pad && s.length < n ? padTo(s, n) : s
  const chars = [...s]
  if (chars.length <= n) return pad && chars.length < n ? padTo(s, n, chars.length) : s
  if (!explicit) {
    for (let i = n; i < chars.length; i++) {
      if (chars[i] !== ' ')
        throw new SluiceError(
          SqlState.string_data_right_truncation,
          `value too long for type ${pad ? 'character' : 'character varying'}(${n})`,
        )
    }
  }
  return chars.slice(0, n).join('')
}

function padTo(s: string, n: number, length = s.length): string {
  return s + ' '.repeat(n - length)
}

function fitNumeric(d: Decimal, typmod: number): Decimal {
  const [p, s] = numericPS(typmod)
  const r = d.round(s)
  // At scale s the value has at most p digits: |unscaled| < 10^p (10^(p-s) before the point).
  const unscaled = s >= 0 ? r.unscaled : r.unscaled / 10n ** BigInt(-s)
  const limit = 10n ** BigInt(p)
  if (unscaled >= limit || -unscaled >= limit) {
    throw new SluiceError(SqlState.numeric_value_out_of_range, 'numeric field overflow', {
      detail: `A field with precision ${p}, scale ${s} must round to an absolute value ${p - s > 0 ? `less than 10^${p - s}` : `less than 1`}.`,
    })
  }
  return s >= 0 ? r : new Decimal(r.unscaled, 0)
}

function roundMicros(us: number, p: number): number {
  if (!Number.isFinite(us) || p >= 6) return us
  const scale = TIME_SCALE[p]
  const half = scale / 2
  return us >= 0 ? Math.floor((us + half) / scale) * scale : -Math.floor((-us + half) / scale) * scale
}

/**
 * Applies the modifiers of `columns` to whole rows in place (INSERT, UPDATE, ingest); a no-op
 * when no column has a modifier that can change a value.
 */
export function applyColumnMods(
  columns: readonly { readonly type: DataType; readonly typmod?: TypeMod }[],
  rows: Value[][],
): void {
  for (let c = 0; c < columns.length; c++) {
    const { type, typmod } = columns[c]
    if (typmod === undefined || !enforces(type, typmod)) continue
    for (const row of rows) row[c] = applyTypeMod(row[c], type, typmod)
  }
}

/** The scale a numeric(p,s) column's values print with (s ≥ 0), or undefined for other columns. */
export function declaredScale(type: DataType, mod: TypeMod | undefined): number | undefined {
  if (type.kind !== 'numeric' || mod === undefined || mod.typmod < 0) return undefined
  const s = numericPS(mod.typmod)[1]
  return s >= 0 ? s : undefined
}
