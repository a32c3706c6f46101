/**
 * Option helpers shared by the upsert sinks (Redis, PostgreSQL): column lists such as
 * `key = 'category, auction'`, the row key with its default (the input's stream key), and the
 * check that a sink's WITH clause names only options it knows.
 */
import type { ColumnSchema, ConnectorOptions, SinkSpec } from '../../engine/connector.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'

export function invalidOption(message: string, hint?: string): SluiceError {
  return new SluiceError(SqlState.invalid_parameter_value, message, hint === undefined ? {} : { hint })
}

/** Throws 22023 for an option the connector does not know (keys arrive lower-cased). */
export function checkKnownOptions(connector: string, options: ConnectorOptions, known: readonly string[]): void {
  for (const key of options.keys()) {
    if (key !== 'connector' && !known.includes(key)) {
      throw invalidOption(
        `unknown option "${key}" for sink connector ${connector}`,
        `known options: ${known.join(', ')}`,
      )
    }
  }
}

/**
 * A comma-separated list of the input's column names (double quotes keep case and commas), as
 * column indexes. Unquoted names match case-insensitively, as SQL identifiers do.
 */
export function parseColumnList(
  connector: string,
  option: string,
  raw: string,
  columns: readonly ColumnSchema[],
): number[] {
  const names = splitNames(raw)
  if (names === undefined || names.length === 0)
    throw invalidOption(`option "${option}" of connector ${connector} needs a list of column names, got "${raw}"`)
  const out: number[] = []
  for (const { name, quoted } of names) {
    let at = columns.findIndex((c) => c.name === name)
    if (at < 0 && !quoted) at = columns.findIndex((c) => c.name.toLowerCase() === name.toLowerCase())
    if (at < 0) {
      throw invalidOption(
        `column "${name}" in option "${option}" is not a column of the sink's input`,
        `columns: ${columns.map((c) => c.name).join(', ')}`,
      )
    }
    if (out.includes(at)) throw invalidOption(`column "${name}" appears twice in option "${option}"`)
    out.push(at)
  }
  return out
}

function splitNames(raw: string): { name: string; quoted: boolean }[] | undefined {
  const out: { name: string; quoted: boolean }[] = []
  let i = 0
  const skip = (): void => {
    while (i < raw.length && /\s/.test(raw[i])) i++
  }
  for (;;) {
    skip()
    if (raw[i] === '"') {
      let name = ''
      i++
      for (;;) {
        if (i >= raw.length) return undefined
        if (raw[i] === '"') {
          if (raw[i + 1] !== '"') break
          i++
        }
        name += raw[i++]
      }
      i++
      out.push({ name, quoted: true })
    } else {
      const start = i
      while (i < raw.length && raw[i] !== ',') i++
      const name = raw.slice(start, i).trim()
      if (name === '') return undefined
      out.push({ name, quoted: false })
    }
    skip()
    if (i >= raw.length) return out
    if (raw[i] !== ',') return undefined
    i++
  }
}

/**
 * The row key: the `key` option, else the input's stream key (a view's GROUP BY columns, a top-N
 * view's partition and row number, a table's primary key). An input without one must name it: a
 * keyed store cannot hold rows it cannot address.
 */
export function rowKey(connector: string, spec: SinkSpec, options: ConnectorOptions): number[] {
  const raw = options.get('key')
  if (raw !== undefined) return parseColumnList(connector, 'key', raw, spec.columns)
  if (spec.key.length === 0) {
    throw invalidOption(
      `a ${connector} sink needs a row key, and its input has none Sluice can derive`,
      `name the columns that identify a row with key = 'col1, col2'`,
    )
  }
  return [...spec.key]
}

/** Option `name` as a boolean ('true' | 'false', any case), or `fallback` when absent. */
export function booleanOption(connector: string, options: ConnectorOptions, name: string, fallback: boolean): boolean {
  const raw = options.get(name)
  if (raw === undefined) return fallback
  const v = raw.trim().toLowerCase()
  if (v === 'true') return true
  if (v === 'false') return false
  throw invalidOption(`invalid value "${raw}" for option "${name}" of connector ${connector}`, "use 'true' or 'false'")
}
