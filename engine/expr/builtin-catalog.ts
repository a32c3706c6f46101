/**
 * Builtins: the session and catalog functions psql, drivers and BI tools call (`version()`,
 * `current_database()`, `pg_table_is_visible`, `format_type`, ...). Sluice has one database and
 * one user namespace, so most answer constants; they exist so client introspection queries run.
 */
import type { Value } from '../types/datatype.ts'
import type { JsonValue } from '../types/jsonb.ts'
import { def } from './registry.ts'
import { formatText } from '../types/text.ts'
import { formatTypeOid } from '../types/typmod.ts'
import { T, arrayOf } from '../types/datatype.ts'
import { Decimal } from '../types/decimal.ts'
import { Jsonb } from '../types/jsonb.ts'
import { castValue } from '../types/cast.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { onSearchPath } from '../catalog/system.ts'

export const SERVER_VERSION = 'PostgreSQL 16.0 (Sluice 0.1.0, a streaming SQL engine)'

def('version', { args: [], ret: 'text', strict: false, impl: () => SERVER_VERSION })
def(['current_user', 'session_user', 'user', 'current_role'], {
  args: [],
  ret: 'text',
  strict: false,
  impl: () => 'sluice',
})
def(['current_database', 'current_catalog'], { args: [], ret: 'text', strict: false, impl: () => 'sluice' })
def('current_schema', { args: [], ret: 'text', strict: false, impl: () => 'public' })
def('pg_backend_pid', { args: [], ret: 'int4', strict: false, impl: () => process.pid })
def('pg_get_userbyid', { args: ['int8'], ret: 'text', impl: () => 'sluice' })
def('pg_encoding_to_char', { args: ['int4'], ret: 'text', impl: (e) => (e === 6 ? 'UTF8' : 'SQL_ASCII') })
def('pg_table_is_visible', { args: ['int8'], ret: 'bool', impl: (oid) => onSearchPath(BigInt(oid as bigint)) })
def('pg_type_is_visible', { args: ['int8'], ret: 'bool', impl: () => true })
def(
  'has_table_privilege',
  { args: ['any', 'text'], ret: 'bool', impl: () => true },
  { args: ['text', 'any', 'text'], ret: 'bool', impl: () => true },
)
def(
  'has_schema_privilege',
  { args: ['any', 'text'], ret: 'bool', impl: () => true },
  { args: ['text', 'any', 'text'], ret: 'bool', impl: () => true },
)
def(['obj_description', 'col_description', 'shobj_description'], {
  args: ['int8', 'any'],
  ret: 'text',
  strict: false,
  impl: () => null,
})
def(
  'pg_get_expr',
  { args: ['text', 'int8'], ret: 'text', strict: false, impl: () => null },
  { args: ['text', 'int8', 'bool'], ret: 'text', strict: false, impl: () => null },
)
def('format_type', {
  args: ['int8', 'int4'],
  ret: 'text',
  strict: false,
  impl: (oid, typmod) => {
    if (oid === null) return null
    return formatTypeOid(Number(oid), typmod === null ? -1 : Number(typmod)) ?? '???'
  },
})
def('array_to_string', {
  args: ['any', 'text'],
  ret: 'text',
  bind: (ctx, types) => {
    const t = types[0]
    const element = t.kind === 'array' ? t.element : t
    return (arr: Value, sep: Value) =>
      Array.isArray(arr)
        ? (arr as Value[])
            .filter((v) => v !== null)
            .map((v) => formatText(element, v, ctx.timezone))
            .join(sep as string)
        : formatText(t, arr, ctx.timezone)
  },
})

// ---- arrays as catalog queries use them ----

/** The element at a 1-based subscript, NULL outside the array (`(current_schemas(true))[1]`). */
def('array_element', {
  args: ['any', 'int4'],
  ret: 'text',
  returns: (types) => (types[0].kind === 'array' ? types[0].element : types[0]),
  impl: (arr, i) => (Array.isArray(arr) ? ((arr as Value[])[(i as number) - 1] ?? null) : null),
})
def('current_schemas', {
  args: ['bool'],
  ret: 'text',
  returns: () => arrayOf(T.text),
  impl: (implicit) => (implicit === true ? ['pg_catalog', 'public'] : ['public']),
})
def(['array_upper', 'array_length'], {
  args: ['any', 'int4'],
  ret: 'int4',
  impl: (arr, dim) => (Array.isArray(arr) && dim === 1 && arr.length > 0 ? arr.length : null),
})
def('array_lower', {
  args: ['any', 'int4'],
  ret: 'int4',
  impl: (arr, dim) => (Array.isArray(arr) && dim === 1 && arr.length > 0 ? 1 : null),
})
def('cardinality', { args: ['any'], ret: 'int4', impl: (arr) => (Array.isArray(arr) ? arr.length : null) })

/** Equality across the engine's representations of one SQL value (int4 is a number, int8 a bigint). */
function looseEquals(a: Value, b: Value): boolean {
  if (typeof a === 'bigint' || typeof b === 'bigint') {
    if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint'))
      return BigInt(a) === BigInt(b)
    return false
  }
  if (a instanceof Decimal || b instanceof Decimal) return String(a) === String(b)
  return a === b
}

/** `x = ANY (array)`, `x <> ALL (array)` and their mirrors, with SQL's three-valued results. */
for (const [op, negate] of [
  ['=', false],
  ['<>', true],
] as const) {
  for (const quantifier of ['any', 'all'] as const) {
    def(`${op} ${quantifier}`, {
      args: ['any', 'any'],
      ret: 'bool',
      bind: (ctx, types) => {
        const element = types[1].kind === 'array' ? types[1].element : types[1]
        const left = types[0]
        const cast = (v: Value): Value =>
          v === null || left.kind === element.kind || left.kind === 'unknown'
            ? v
            : castValue(v, left, element, ctx.timezone)
        return (x: Value, arr: Value) => {
          if (!Array.isArray(arr)) return null
          if (arr.length === 0) return quantifier === 'all'
          const v = cast(x)
          let sawNull = v === null
          for (const item of arr as Value[]) {
            if (item === null || v === null) {
              sawNull = true
              continue
            }
            const hit = looseEquals(v, item) !== negate
            if (quantifier === 'any' && hit) return true
            if (quantifier === 'all' && !hit) return false
          }
          return sawNull ? null : quantifier === 'all'
        }
      },
    })
  }
}

// ---- the rest of what psql, pgJDBC, psycopg2 and SQLAlchemy call while introspecting ----

def(
  'pg_get_constraintdef',
  { args: ['int8'], ret: 'text', impl: () => null },
  { args: ['int8', 'bool'], ret: 'text', impl: () => null },
)
def(
  'pg_get_indexdef',
  { args: ['int8'], ret: 'text', impl: () => null },
  { args: ['int8', 'int4', 'bool'], ret: 'text', impl: () => null },
)
def(
  [
    'pg_get_partkeydef',
    'pg_get_statisticsobjdef_columns',
    'pg_get_triggerdef',
    'pg_get_ruledef',
    'pg_get_function_identity_arguments',
    'pg_get_function_result',
    'pg_get_function_arguments',
  ],
  { args: ['int8'], ret: 'text', impl: () => null },
)
def('pg_get_serial_sequence', { args: ['text', 'text'], ret: 'text', impl: () => null })
def('pg_tablespace_location', { args: ['int8'], ret: 'text', impl: () => '' })
def(['pg_relation_size', 'pg_total_relation_size', 'pg_table_size', 'pg_indexes_size'], {
  args: ['int8'],
  ret: 'int8',
  impl: () => 0n,
})
def('pg_database_size', { args: ['any'], ret: 'int8', impl: () => 0n })
def('pg_size_pretty', { args: ['int8'], ret: 'text', impl: (n) => `${String(n)} bytes` })
def('pg_is_in_recovery', { args: [], ret: 'bool', impl: () => false })
def(
  [
    'has_database_privilege',
    'has_column_privilege',
    'has_function_privilege',
    'has_sequence_privilege',
    'has_any_column_privilege',
    'pg_has_role',
  ],
  { args: ['any', 'text'], ret: 'bool', impl: () => true },
  { args: ['text', 'any', 'text'], ret: 'bool', impl: () => true },
  { args: ['any', 'any', 'text'], ret: 'bool', impl: () => true },
)
def('pg_function_is_visible', { args: ['int8'], ret: 'bool', impl: () => true })
def('pg_get_keywords', { args: [], ret: 'text', impl: () => null })
def('quote_ident', {
  args: ['text'],
  ret: 'text',
  impl: (s) => (/^[a-z_][a-z0-9_$]*$/.test(s as string) ? s : `"${(s as string).replace(/"/g, '""')}"`),
})
def('txid_current', { args: [], ret: 'int8', strict: false, impl: () => 1n })
def('pg_postmaster_start_time', { args: [], ret: 'timestamptz', strict: false, impl: () => STARTED_AT })
def(['inet_server_addr', 'inet_client_addr'], { args: [], ret: 'text', strict: false, impl: () => '127.0.0.1' })
def('json_build_object', {
  args: ['any'],
  variadic: true,
  ret: 'jsonb',
  strict: false,
  bind:
    (ctx, types) =>
    (...values: Value[]) => {
      if (values.length % 2 !== 0)
        throw new SluiceError(SqlState.invalid_parameter_value, 'argument list must have even number of elements')
      const out: Record<string, JsonValue> = {}
      for (let i = 0; i < values.length; i += 2) {
        if (values[i] === null)
          throw new SluiceError(SqlState.invalid_parameter_value, 'null value not allowed for object key')
        const v = values[i + 1]
        const t = types[i + 1]
        out[formatText(types[i], values[i], ctx.timezone)] =
          v === null
            ? null
            : v instanceof Jsonb
              ? v.value
              : typeof v === 'boolean'
                ? v
                : typeof v === 'number'
                  ? v
                  : typeof v === 'bigint'
                    ? Number(v)
                    : formatText(t, v, ctx.timezone)
      }
      return new Jsonb(out)
    },
})

/** µs since the epoch when this process loaded the engine. */
const STARTED_AT = Date.now() * 1000

/** A bound of generate_series in FROM, checked against the integers it can draw from. */
def('generate_series_bound', {
  args: ['int4'],
  ret: 'int4',
  impl: (v) => {
    const n = v as number
    if (n < -1 || n > 10_000)
      throw new SluiceError(SqlState.feature_not_supported, `generate_series in FROM covers -1 to 10000 here, not ${n}`)
    return n
  },
})
def('generate_series_step', {
  args: ['int4'],
  ret: 'int4',
  impl: (v) => {
    if ((v as number) <= 0)
      throw new SluiceError(SqlState.feature_not_supported, 'generate_series in FROM takes a positive step here')
    return v
  },
})
def('pg_relation_is_publishable', { args: ['int8'], ret: 'bool', impl: () => false })
def('pg_get_ruledef', { args: ['int8', 'bool'], ret: 'text', impl: () => null })
