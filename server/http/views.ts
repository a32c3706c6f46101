/**
 * `GET /v1/views/:name`: a relation's current rows (a materialized view, a table, or a
 * `sluice_catalog.*` system table) as JSON, CSV or Arrow IPC.
 *
 * The format comes from `?format=json|csv|arrow` when given, else from Accept (the first listed
 * type Sluice can produce; `*∕*` or no Accept → JSON); an Accept that names none of them → 406.
 *
 * - JSON: `{ "columns": [{name, type}], "rows": [[...]] }`, values by the rule of json.ts.
 * - CSV (RFC 4180): a header line, then one line per row; values in PostgreSQL text form, NULL an
 *   empty field, fields quoted when they hold a comma, quote, CR or LF, or are empty strings
 *   (so "" is an empty string and nothing is NULL, as in PostgreSQL's COPY ... CSV).
 * - Arrow IPC stream (`application/vnd.apache.arrow.stream`): bool, int2/4/8, float4/8 as their
 *   Arrow types, timestamp as Timestamp(µs), timestamptz as Timestamp(µs, UTC), date as
 *   Date32, bytea as Binary, everything else (numeric, text, interval, time, jsonb, arrays) as
 *   Utf8 in PostgreSQL text form (numeric stays exact).
 *
 * `?limit=n` returns at most n rows. A missing relation is 404 (42P01).
 */
import type { ResultColumn, StatementResult } from '../../engine/session-api.ts'
import type { Value } from '../../engine/types/datatype.ts'
import type { JsonValue } from '../../engine/types/jsonb.ts'
import type { SqlDatabase } from './sql.ts'
import type { Problem } from './problem.ts'
import { SqlState } from '../../engine/errors.ts'
import { formatTypeName } from '../../engine/types/oid.ts'
import { formatText } from '../../engine/types/text.ts'
import { toJson } from './json.ts'
import { problemFromError } from './problem.ts'

export type ViewFormat = 'json' | 'csv' | 'arrow'

export const VIEW_CONTENT_TYPES: Readonly<Record<ViewFormat, string>> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  arrow: 'application/vnd.apache.arrow.stream',
}

const BY_MEDIA_TYPE: ReadonlyMap<string, ViewFormat> = new Map([
  ['application/json', 'json'],
  ['text/csv', 'csv'],
  ['application/vnd.apache.arrow.stream', 'arrow'],
  ['application/vnd.apache.arrow.file', 'arrow'],
  ['application/*', 'json'],
  ['text/*', 'csv'],
  ['*/*', 'json'],
])

/** The format asked for, or a 400/406 problem. */
export function chooseFormat(query: string | undefined, accept: string | undefined): ViewFormat | Problem {
  if (query !== undefined) {
    const f = query.toLowerCase()
    if (f === 'json' || f === 'csv' || f === 'arrow') return f
    return {
      status: 400,
      code: SqlState.invalid_parameter_value,
      detail: `unknown format "${query.slice(0, 100)}"`,
      hint: 'Use format=json, csv or arrow.',
    }
  }
  if (accept === undefined || accept.trim() === '') return 'json'
  // Media ranges in order of preference (q), ties by position; q=0 means "not this one".
  const ranges = accept
    .split(',')
    .map((part, i) => {
      const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase())
      const q = params.find((p) => p.startsWith('q='))
      const weight = q === undefined ? 1 : Number(q.slice(2))
      return { type, weight: Number.isFinite(weight) ? weight : 0, i }
    })
    .filter((r) => r.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.i - b.i)
  for (const r of ranges) {
    const f = BY_MEDIA_TYPE.get(r.type)
    if (f !== undefined) return f
  }
  return {
    status: 406,
    code: SqlState.invalid_parameter_value,
    detail: `none of the accepted types can be produced: ${accept.slice(0, 200)}`,
    hint: 'Accept application/json, text/csv or application/vnd.apache.arrow.stream (or pass ?format=).',
  }
}

/** `name` or `schema.name` as a quoted SQL name. */
function quoteName(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join('.')
}

/** Reads the relation; a problem for bad names and engine errors (42P01 → 404). */
export async function readView(
  db: SqlDatabase,
  name: string,
  limit: number | undefined,
): Promise<StatementResult | Problem> {
  if (name === '' || name.length > 200 || name.split('.').length > 2 || name.includes('\0')) {
    return { status: 404, code: SqlState.undefined_table, detail: `relation "${name.slice(0, 200)}" does not exist` }
  }
  const session = db.session({ applicationName: 'sluice-http' })
  try {
    const [result] = await session.execute(
      `SELECT * FROM ${quoteName(name)}${limit === undefined ? '' : ` LIMIT ${limit}`}`,
    )
    return result
  } catch (e) {
    const p = problemFromError(e)
    return p.code === SqlState.undefined_table
      ? { ...p, status: 404, position: undefined }
      : { ...p, position: undefined }
  } finally {
    session.close()
  }
}

/** The result as a response body of `format`. */
export async function encodeView(
  result: StatementResult,
  format: ViewFormat,
  tz: string,
): Promise<string | Uint8Array> {
  const columns = result.columns ?? []
  const rows = result.rows ?? []
  switch (format) {
    case 'json':
      return JSON.stringify({
        columns: columns.map((c) => ({ name: c.name, type: formatTypeName(c.type) })),
        rows: jsonRows(columns, rows, tz),
      })
    case 'csv':
      return csv(columns, rows, tz)
    case 'arrow':
      // Loaded on first use: apache-arrow takes about 0.14 s to import, on every server start otherwise.
      return (await import('./arrow.ts')).encodeArrow(columns, rows, tz)
  }
}

function jsonRows(columns: readonly ResultColumn[], rows: readonly (readonly Value[])[], tz: string): JsonValue[][] {
  const types = columns.map((c) => c.type)
  return rows.map((row) => types.map((t, i) => toJson(row[i] ?? null, t, tz)))
}

function csvField(s: string): string {
  return s === '' || /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

function csv(columns: readonly ResultColumn[], rows: readonly (readonly Value[])[], tz: string): string {
  const lines: string[] = [columns.map((c) => csvField(c.name)).join(',')]
  const types = columns.map((c) => c.type)
  for (const row of rows) {
    const cells = new Array<string>(types.length)
    for (let i = 0; i < types.length; i++) {
      const v = row[i] ?? null
      cells[i] = v === null ? '' : csvField(formatText(types[i], v, tz))
    }
    lines.push(cells.join(','))
  }
  return lines.join('\r\n') + '\r\n'
}
