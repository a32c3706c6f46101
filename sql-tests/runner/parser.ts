/**
 * Parser for the sqllogictest format as DataFusion, RisingWave and sqllogictest-rs write it.
 * Records are separated by blank lines; `#` lines between records are comments. Each record
 * keeps the 0-based line indexes of its parts so `--complete` can rewrite expected output and
 * leave every other byte of the file as it was.
 *
 *   statement ok | statement error [SQLSTATE | regex]   SQL lines [---- expected message]
 *   query <types> [nosort|rowsort|valuesort] [label]    SQL lines ---- expected rows
 *   query error [SQLSTATE | regex]                      SQL lines [---- expected message]
 *   hash-threshold N | halt | sleep <duration> | include <glob>
 *   skipif <engine> | onlyif <engine>                    (before a record; apply to it only)
 */
import type { SortMode } from './format.ts'
import { TYPE_LETTERS } from './format.ts'

/** What an erroring statement must match. */
export type ErrorPattern =
  | { readonly kind: 'any' }
  | { readonly kind: 'sqlstate'; readonly code: string }
  | { readonly kind: 'regex'; readonly source: string; readonly regex: RegExp }

export interface Condition {
  readonly kind: 'skipif' | 'onlyif'
  readonly engine: string
}

interface RecordBase {
  /** 0-based index of the first line of the record (its first condition, or its header). */
  readonly firstLine: number
  /** 0-based index of the header line (`statement ...`, `query ...`). */
  readonly headerLine: number
  /** 0-based index one past the record's last line. */
  readonly endLine: number
  readonly conditions: readonly Condition[]
}

/** The parts shared by statements and queries. */
interface SqlRecord extends RecordBase {
  readonly sql: string
  /** 0-based index of the `----` line, when the record has one. */
  readonly separatorLine: number | undefined
  /** The lines after `----` (expected rows or error message), as written. */
  readonly expected: readonly string[]
}

export interface StatementRecord extends SqlRecord {
  readonly kind: 'statement'
  /** undefined = `statement ok`. */
  readonly error: ErrorPattern | undefined
}

export interface QueryRecord extends SqlRecord {
  readonly kind: 'query'
  /** Set for `query error ...`; then types and sortMode are unused. */
  readonly error: ErrorPattern | undefined
  readonly types: string
  readonly sortMode: SortMode
  readonly label: string | undefined
}

export type SltRecord =
  | StatementRecord
  | QueryRecord
  | (RecordBase & { readonly kind: 'hash-threshold'; readonly threshold: number })
  | (RecordBase & { readonly kind: 'halt' })
  | (RecordBase & { readonly kind: 'sleep'; readonly ms: number })
  | (RecordBase & { readonly kind: 'include'; readonly pattern: string })

/** A syntax error in an .slt file; `line` is 1-based. */
export class SltParseError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`)
    this.name = 'SltParseError'
  }
}

/** Splits file text into lines without their line endings (`\n` or `\r\n`). */
export function splitLines(text: string): string[] {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  return lines
}

/** A 5-character SQLSTATE such as `42601` or `0A000` (not a word like `error`). */
export function isSqlState(text: string): boolean {
  return /^[0-9A-Z]{5}$/.test(text) && /[0-9]/.test(text)
}

/** Parses the text after `statement error` / `query error`. */
export function parseErrorPattern(text: string): ErrorPattern {
  const t = text.trim()
  if (t === '') return { kind: 'any' }
  if (isSqlState(t)) return { kind: 'sqlstate', code: t }
  return { kind: 'regex', source: t, regex: new RegExp(t) }
}

/** Parses a duration such as `1s`, `500ms`, `2m`, `1h` (a bare number is seconds). */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim())
  if (m === null) return undefined
  const unit = m[2] ?? 's'
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000
  return Number(m[1]) * factor
}

const isBlank = (line: string): boolean => line.trim() === ''

/** Parses an .slt file's text. `file` names the file in error messages. */
export function parseSlt(text: string, file = '<slt>'): SltRecord[] {
  const lines = splitLines(text)
  const records: SltRecord[] = []
  let conditions: Condition[] = []
  let firstLine = -1
  let i = 0
  const fail = (at: number, message: string): never => {
    throw new SltParseError(file, at + 1, message)
  }

  /** Reads SQL lines from `start` up to a blank line or `----`. */
  const readBody = (
    start: number,
  ): { sql: string; separatorLine: number | undefined; expected: string[]; end: number } => {
    const sqlLines: string[] = []
    let j = start
    while (j < lines.length && !isBlank(lines[j]) && lines[j].trim() !== '----') {
      // A `#` line inside SQL is a commented-out line, not SQL PostgreSQL would accept.
      if (!lines[j].trimStart().startsWith('#')) sqlLines.push(lines[j])
      j++
    }
    if (sqlLines.length === 0) fail(start - 1, 'record has no SQL')
    let separatorLine: number | undefined
    const expected: string[] = []
    if (j < lines.length && lines[j].trim() === '----') {
      separatorLine = j
      j++
      while (j < lines.length && !isBlank(lines[j])) expected.push(lines[j++])
    }
    return { sql: sqlLines.join('\n'), separatorLine, expected, end: j }
  }

  while (i < lines.length) {
    const raw = lines[i]
    const trimmed = raw.trim()
    if (trimmed === '' || trimmed.startsWith('#')) {
      i++
      continue
    }
    // Header lines may carry a trailing comment.
    const header = trimmed.replace(/\s+#.*$/, '')
    const words = header.split(/\s+/)
    const start = firstLine >= 0 ? firstLine : i
    const base = { firstLine: start, headerLine: i, conditions }
    const rest = (n: number): string => header.split(/\s+/).slice(n).join(' ')
    switch (words[0]) {
      case 'skipif':
      case 'onlyif':
        if (words.length !== 2) fail(i, `${words[0]} needs one engine name`)
        conditions = [...conditions, { kind: words[0], engine: words[1] }]
        if (firstLine < 0) firstLine = i
        i++
        continue
      case 'statement': {
        let error: ErrorPattern | undefined
        if (words[1] === 'ok' && words.length === 2) error = undefined
        else if (words[1] === 'error') error = errorPattern(header, i)
        else fail(i, `expected "statement ok" or "statement error", got "${header}"`)
        const body = readBody(i + 1)
        if (error === undefined && body.separatorLine !== undefined)
          fail(body.separatorLine, '"statement ok" takes no expected output')
        records.push({
          ...base,
          kind: 'statement',
          error,
          sql: body.sql,
          separatorLine: body.separatorLine,
          expected: body.expected,
          endLine: body.end,
        })
        i = body.end
        break
      }
      case 'query': {
        if (words.length < 2) fail(i, 'query needs column types')
        let error: ErrorPattern | undefined
        let types = ''
        let sortMode: SortMode = 'nosort'
        let label: string | undefined
        if (words[1] === 'error') error = errorPattern(header, i)
        else {
          types = words[1]
          for (const ch of types)
            if (!TYPE_LETTERS.has(ch))
              fail(i, `unknown column type "${ch}" in "${types}" (known: ${[...TYPE_LETTERS].join(' ')})`)
          if (words[2] !== undefined) {
            if (words[2] !== 'nosort' && words[2] !== 'rowsort' && words[2] !== 'valuesort')
              fail(i, `unknown sort mode "${words[2]}"`)
            sortMode = words[2] as SortMode
          }
          label = words[3]
          if (words.length > 4) fail(i, `unexpected "${rest(4)}" after the query label`)
        }
        const body = readBody(i + 1)
        records.push({
          ...base,
          kind: 'query',
          error,
          types,
          sortMode,
          label,
          sql: body.sql,
          separatorLine: body.separatorLine,
          expected: body.expected,
          endLine: body.end,
        })
        i = body.end
        break
      }
      case 'hash-threshold': {
        const n = Number(words[1])
        if (words.length !== 2 || !Number.isInteger(n) || n < 0) fail(i, 'hash-threshold needs a non-negative integer')
        records.push({ ...base, kind: 'hash-threshold', threshold: n, endLine: i + 1 })
        i++
        break
      }
      case 'halt':
        records.push({ ...base, kind: 'halt', endLine: i + 1 })
        i++
        break
      case 'sleep': {
        const ms = parseDuration(rest(1))
        if (ms === undefined) fail(i, `invalid duration "${rest(1)}"`)
        records.push({ ...base, kind: 'sleep', ms: ms as number, endLine: i + 1 })
        i++
        break
      }
      case 'include':
        if (words.length !== 2) fail(i, 'include needs one path or glob')
        records.push({ ...base, kind: 'include', pattern: words[1], endLine: i + 1 })
        i++
        break
      default:
        fail(i, `unknown record "${words[0]}"`)
    }
    conditions = []
    firstLine = -1
  }
  if (conditions.length > 0) fail(lines.length - 1, 'skipif/onlyif at the end of the file applies to no record')
  return records

  function errorPattern(header: string, at: number): ErrorPattern {
    const text = header.replace(/^\S+\s+error\s*/, '')
    try {
      return parseErrorPattern(text)
    } catch (e) {
      return fail(at, `invalid error regex "${text}": ${e instanceof Error ? e.message : String(e)}`)
    }
  }
}
