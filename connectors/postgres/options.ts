/**
 * The WITH options of a PostgreSQL sink, checked once at CREATE SINK:
 *   url (required, postgres:// or postgresql://), table (default the sink's name),
 *   schema (default public), key (row key columns; default the input's stream key),
 *   create_table ('true' | 'false', default true: create the table when it is missing).
 * Names follow SQL identifier rules: unquoted names are lower-cased, "Quoted" names kept as written.
 */
import type { ConnectorOptions, SinkSpec } from '../../engine/connector.ts'
import { booleanOption, checkKnownOptions, invalidOption, rowKey } from '../upsert/options.ts'

export const POSTGRES_SINK_OPTIONS: readonly string[] = ['url', 'table', 'schema', 'key', 'create_table']

export interface PostgresSinkConfig {
  readonly url: string
  readonly schema: string
  readonly table: string
  readonly key: readonly number[]
  readonly createTable: boolean
}

/** An identifier as PostgreSQL would read it in SQL text (without the quotes). */
function identifier(option: string, raw: string): string {
  const t = raw.trim()
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) {
    const inner = t.slice(1, -1)
    if (inner.replace(/""/g, '').includes('"'))
      throw invalidOption(`invalid identifier ${raw} in option "${option}" of connector postgres`)
    if (inner === '') throw invalidOption(`option "${option}" of connector postgres must not be empty`)
    return inner.replace(/""/g, '"')
  }
  if (!/^[A-Za-z_][A-Za-z0-9_$]*$/.test(t)) {
    throw invalidOption(
      `invalid name "${raw}" in option "${option}" of connector postgres`,
      `use a plain name, or a "quoted" one${option === 'table' ? "; name the schema with schema = '...'" : ''}`,
    )
  }
  return t.toLowerCase()
}

export function parsePostgresOptions(sinkName: string, spec: SinkSpec, options: ConnectorOptions): PostgresSinkConfig {
  checkKnownOptions('postgres', options, POSTGRES_SINK_OPTIONS)
  const url = options.get('url')?.trim()
  if (url === undefined || url === '')
    throw invalidOption('connector postgres needs option "url"', "e.g. url = 'postgres://user@127.0.0.1:5432/db'")
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw invalidOption(
      `invalid value for option "url" of connector postgres`,
      'use postgres://user:password@host:port/database',
    )
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw invalidOption(`option "url" of connector postgres must start with postgres:// or postgresql://`)
  }
  return {
    url,
    schema: identifier('schema', options.get('schema') ?? 'public'),
    table: identifier('table', options.get('table') ?? sinkName),
    key: rowKey('postgres', spec, options),
    createTable: booleanOption('postgres', options, 'create_table', true),
  }
}
