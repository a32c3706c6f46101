/**
 * Builtins: the session and catalog functions psql, drivers and BI tools call (`version()`,
 * `current_database()`, `pg_table_is_visible`, `format_type`, ...). Sluice has one database and
 * one user namespace, so most answer constants; they exist so client introspection queries run.
 */
import type { Value } from '../types/datatype.ts'
import { def } from './registry.ts'
import { formatText } from '../types/text.ts'
import { formatTypeName, typeFromOid } from '../types/oid.ts'

export const SERVER_VERSION = 'PostgreSQL 16.0 (Sluice 0.1.0, a streaming SQL engine)'

def('version', { args: [], ret: 'text', strict: false, impl: () => SERVER_VERSION })
def(['current_user', 'session_user', 'user', 'current_role'], { args: [], ret: 'text', strict: false, impl: () => 'sluice' })
def(['current_database', 'current_catalog'], { args: [], ret: 'text', strict: false, impl: () => 'sluice' })
def('current_schema', { args: [], ret: 'text', strict: false, impl: () => 'public' })
def('pg_backend_pid', { args: [], ret: 'int4', strict: false, impl: () => process.pid })
def('pg_get_userbyid', { args: ['int8'], ret: 'text', impl: () => 'sluice' })
def('pg_encoding_to_char', { args: ['int4'], ret: 'text', impl: (e) => (e === 6 ? 'UTF8' : 'SQL_ASCII') })
def('pg_table_is_visible', { args: ['int8'], ret: 'bool', impl: () => true })
def('pg_type_is_visible', { args: ['int8'], ret: 'bool', impl: () => true })
def('has_table_privilege', { args: ['any', 'text'], ret: 'bool', impl: () => true }, { args: ['text', 'any', 'text'], ret: 'bool', impl: () => true })
def('has_schema_privilege', { args: ['any', 'text'], ret: 'bool', impl: () => true }, { args: ['text', 'any', 'text'], ret: 'bool', impl: () => true })
def(['obj_description', 'col_description', 'shobj_description'], { args: ['int8', 'any'], ret: 'text', strict: false, impl: () => null })
def('pg_get_expr', { args: ['text', 'int8'], ret: 'text', strict: false, impl: () => null }, { args: ['text', 'int8', 'bool'], ret: 'text', strict: false, impl: () => null })
def('format_type', {
  args: ['int8', 'int4'],
  ret: 'text',
  strict: false,
  impl: (oid) => {
    if (oid === null) return null
    const t = typeFromOid(Number(oid))
    return t === undefined ? '???' : formatTypeName(t)
  },
})
def('array_to_string', {
  args: ['any', 'text'],
  ret: 'text',
  bind: (ctx, types) => {
    const t = types[0]
    const element = t.kind === 'array' ? t.element : t
    return (arr: Value, sep: Value) =>
      Array.isArray(arr) ? (arr as Value[]).filter((v) => v !== null).map((v) => formatText(element, v, ctx.timezone)).join(sep as string) : formatText(t, arr, ctx.timezone)
  },
})
