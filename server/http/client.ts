/**
 * A small client for the HTTP API and psql-style text output, used by `sluice sql`: results as
 * aligned tables, errors as `ERROR:  ...` with the statement line and a caret at the position.
 */
import type { JsonValue } from '../../engine/types/jsonb.ts'
import type { JsonStatementResult } from './sql.ts'
import { formatJson } from '../../engine/types/jsonb.ts'
import { formatFloat } from '../../engine/types/text.ts'

/** A problem document as the server sends it. */
export interface ProblemBody {
  readonly type?: string
  readonly title?: string
  readonly status?: number
  readonly detail?: string
  readonly code?: string
  readonly position?: number
  readonly hint?: string
  readonly message_detail?: string
  readonly results?: readonly JsonStatementResult[]
}

export type SqlOutcome =
  | { readonly ok: true; readonly results: readonly JsonStatementResult[] }
  | { readonly ok: false; readonly problem: ProblemBody }

/** POSTs `sql` to `<url>/v1/sql`. Network failures throw; HTTP errors come back as problems. */
export async function postSql(
  url: string,
  sql: string,
  options: { token?: string; params?: readonly JsonValue[] } = {},
): Promise<SqlOutcome> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  const body = JSON.stringify(options.params === undefined ? { sql } : { sql, params: options.params })
  const res = await fetch(new URL('/v1/sql', url), { method: 'POST', headers, body })
  const text = await res.text()
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  if (res.ok && typeof parsed === 'object' && parsed !== null && 'results' in parsed && Array.isArray(parsed.results)) {
    return { ok: true, results: parsed.results as JsonStatementResult[] }
  }
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return { ok: false, problem: parsed }
  return { ok: false, problem: { status: res.status, detail: `HTTP ${res.status}: ${text.slice(0, 200)}` } }
}

/** A JSON value back in PostgreSQL's text form where the JSON rule changed it (bool, float, jsonb). */
function cell(v: JsonValue, type: string): string {
  if (v === null) return ''
  if (type === 'jsonb') return formatJson(v)
  if (typeof v === 'boolean') return v ? 't' : 'f'
  if (typeof v === 'number' && (type === 'double precision' || type === 'real')) return formatFloat(v, type === 'real')
  if (typeof v === 'object') return JSON.stringify(v)
  return String(v)
}

const NUMERIC_TYPES: ReadonlySet<string> = new Set([
  'smallint',
  'integer',
  'bigint',
  'real',
  'double precision',
  'numeric',
])

/**
 * One result as psql's aligned format prints it: centered headers, numbers right-aligned, a
 * `(n rows)` footer and a blank line; statements without rows print their command tag.
 */
export function formatResult(r: JsonStatementResult): string {
  if (r.columns === undefined) return r.tag + '\n'
  const headers = r.columns.map((c) => c.name)
  const right = r.columns.map((c) => NUMERIC_TYPES.has(c.type))
  const types = r.columns.map((c) => c.type)
  const rows = (r.rows ?? []).map((row) => row.map((v, i) => cell(v, types[i])))
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)))
  const last = headers.length - 1
  const center = (s: string, w: number): string => {
    const left = Math.floor((w - s.length) / 2)
    return ' '.repeat(left) + s + ' '.repeat(w - s.length - left)
  }
  const out = [
    headers.map((h, i) => ` ${center(h, widths[i])} `).join('|'),
    widths.map((w) => '-'.repeat(w + 2)).join('+'),
  ]
  for (const row of rows) {
    // psql pads every cell but a left-aligned last one.
    const cells = headers.map((_h, i) => {
      const v = row[i] ?? ''
      if (right[i]) return ` ${v.padStart(widths[i])}${i === last ? '' : ' '}`
      return i === last ? ` ${v}` : ` ${v.padEnd(widths[i])} `
    })
    out.push(cells.join('|'))
  }
  out.push(`(${rows.length} ${rows.length === 1 ? 'row' : 'rows'})`)
  return out.join('\n') + '\n\n'
}

/** A problem as psql prints an error: message, the statement line with a caret, detail, hint. */
export function formatProblem(p: ProblemBody, sql: string): string {
  const lines = [
    `ERROR:  ${p.detail ?? p.title ?? 'request failed'}${p.code !== undefined ? ` (SQLSTATE ${p.code})` : ''}`,
  ]
  if (p.position !== undefined && p.position >= 1 && p.position <= sql.length + 1) {
    const before = sql.slice(0, p.position - 1)
    const lineNo = before.split('\n').length
    const lineStart = before.lastIndexOf('\n') + 1
    const lineEnd = sql.indexOf('\n', lineStart)
    const prefix = `LINE ${lineNo}: `
    lines.push(prefix + sql.slice(lineStart, lineEnd < 0 ? undefined : lineEnd))
    lines.push(' '.repeat(prefix.length + p.position - 1 - lineStart) + '^')
  }
  if (p.message_detail !== undefined) lines.push(`DETAIL:  ${p.message_detail}`)
  if (p.hint !== undefined) lines.push(`HINT:  ${p.hint}`)
  return lines.join('\n') + '\n'
}
