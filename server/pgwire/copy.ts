/**
 * COPY ... TO STDOUT: the statement is recognised here, at the wire, because it is a protocol
 * feature (CopyOutResponse, CopyData, CopyDone) rather than a query: `COPY (SELECT ...) TO STDOUT`
 * and `COPY name [(columns)] TO STDOUT` run their query through the session like any SELECT, and
 * the rows go out in PostgreSQL's text or CSV COPY format. psql's `\copy (...) to stdout` sends
 * exactly this statement. Both option syntaxes are accepted: `WITH (FORMAT csv, HEADER)` and the
 * older `WITH CSV HEADER DELIMITER ';'`. COPY FROM and binary COPY are refused with 0A000.
 */
import type { ResultColumn } from '../../engine/session-api.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { formatText } from '../../engine/types/text.ts'
import { WireError } from './errors.ts'

export interface CopyOptions {
  readonly format: 'text' | 'csv'
  readonly header: boolean
  readonly delimiter: string
  readonly nullString: string
  readonly quote: string
  readonly escape: string
}

/** A COPY statement to send out: the query to run and how to format its rows. */
export interface CopyOut {
  readonly query: string
  readonly options: CopyOptions
}

/**
 * The COPY statement in `sql`, or undefined when `sql` is not a COPY statement. Throws WireError
 * (0A000, 42601, 22023) for COPY forms Sluice does not run or options it does not know.
 */
export function parseCopy(sql: string): CopyOut | undefined {
  const lex = new Lexer(sql)
  if (!lex.word('copy')) return undefined
  let query: string
  if (lex.peek() === '(') {
    query = lex.parenthesised()
  } else {
    const table = lex.identifier()
    if (table === undefined) throw syntax('COPY needs a table name or a parenthesised query')
    let columns = '*'
    if (lex.peek() === '(') columns = lex.parenthesised()
    query = `SELECT ${columns} FROM ${table}`
  }
  if (lex.word('from'))
    throw new WireError('0A000', 'COPY FROM is not supported: insert rows with INSERT or HTTP ingest')
  if (!lex.word('to')) throw syntax('expected TO after the COPY source')
  if (!lex.word('stdout')) {
    throw new WireError('0A000', 'COPY TO a file or program is not supported: use COPY ... TO STDOUT (psql: \\copy)')
  }
  const options = copyOptions(lex)
  lex.skipSpace()
  if (lex.peek() === ';') lex.take()
  lex.skipSpace()
  if (!lex.atEnd()) throw syntax(`unexpected text after COPY options: "${lex.rest().slice(0, 40)}"`)
  return { query, options }
}

function copyOptions(lex: Lexer): CopyOptions {
  const o = {
    format: 'text',
    header: false,
    delimiter: undefined as string | undefined,
    nullString: undefined as string | undefined,
    quote: '"',
    escape: undefined as string | undefined,
  }
  const set = (name: string, value: string | undefined): void => {
    switch (name) {
      case 'format': {
        const f = (value ?? '').toLowerCase()
        if (f === 'binary') throw new WireError('0A000', 'COPY in binary format is not supported: use text or csv')
        if (f !== 'text' && f !== 'csv') throw new WireError('22023', `COPY format "${value ?? ''}" not recognized`)
        o.format = f
        return
      }
      case 'csv':
        o.format = 'csv'
        return
      case 'binary':
        throw new WireError('0A000', 'COPY in binary format is not supported: use text or csv')
      case 'header':
        o.header = value === undefined ? true : bool(name, value)
        return
      case 'delimiter':
        o.delimiter = single(name, value)
        return
      case 'null':
        if (value === undefined) throw new WireError('22023', 'COPY option NULL needs a value')
        o.nullString = value
        return
      case 'quote':
        o.quote = single(name, value)
        return
      case 'escape':
        o.escape = single(name, value)
        return
      case 'encoding':
        if (value === undefined || !/^utf-?8$/i.test(value))
          throw new WireError('0A000', "COPY supports only ENCODING 'UTF8'")
        return
      default:
        throw new WireError('22023', `option "${name}" not recognized`)
    }
  }
  lex.word('with')
  if (lex.peek() === '(') {
    // The modern form: (name [value], ...).
    lex.take()
    for (;;) {
      const name = lex.identifier()
      if (name === undefined) throw syntax('expected a COPY option name')
      lex.skipSpace()
      const next = lex.peek()
      const value = next === ',' || next === ')' ? undefined : lex.value()
      set(name.toLowerCase(), value)
      lex.skipSpace()
      const sep = lex.take()
      if (sep === ')') break
      if (sep !== ',') throw syntax('expected , or ) in the COPY option list')
    }
  } else {
    // The pre-9.0 form: CSV, HEADER, DELIMITER [AS] 'x', NULL [AS] 'x', QUOTE [AS] 'x', ESCAPE [AS] 'x'.
    for (;;) {
      lex.skipSpace()
      if (lex.atEnd() || lex.peek() === ';') break
      const name = lex.identifier()?.toLowerCase()
      if (name === undefined) throw syntax(`unexpected text in COPY options: "${lex.rest().slice(0, 40)}"`)
      if (name === 'csv' || name === 'header' || name === 'binary') set(name, undefined)
      else if (name === 'delimiter' || name === 'null' || name === 'quote' || name === 'escape') {
        lex.word('as')
        set(name, lex.value())
      } else throw new WireError('22023', `option "${name}" not recognized`)
    }
  }
  const csv = o.format === 'csv'
  if (!csv && o.header) throw new WireError('0A000', 'COPY HEADER available only in CSV mode')
  const delimiter = o.delimiter ?? (csv ? ',' : '\t')
  if (delimiter === '\n' || delimiter === '\r' || delimiter === '\\')
    throw new WireError('22023', 'COPY delimiter cannot be newline, carriage return or backslash')
  return {
    format: csv ? 'csv' : 'text',
    header: o.header,
    delimiter,
    nullString: o.nullString ?? (csv ? '' : '\\N'),
    quote: o.quote,
    escape: o.escape ?? o.quote,
  }
}

function bool(name: string, value: string): boolean {
  const v = value.toLowerCase()
  if (['true', 'on', '1', 'yes'].includes(v)) return true
  if (['false', 'off', '0', 'no'].includes(v)) return false
  throw new WireError('22023', `${name} requires a Boolean value`)
}

function single(name: string, value: string | undefined): string {
  if (value === undefined || value.length !== 1)
    throw new WireError('22023', `COPY ${name} must be a single one-byte character`)
  return value
}

function syntax(message: string): WireError {
  return new WireError('42601', message)
}

/** The CopyData payload of the header line (CSV with HEADER). */
export function copyHeader(columns: readonly ResultColumn[], o: CopyOptions): string {
  return columns.map((c) => csvField(c.name, o)).join(o.delimiter) + '\n'
}

/** One row as a line of COPY output (text or CSV), newline included. */
export function copyLine(row: readonly Value[], columns: readonly ResultColumn[], o: CopyOptions, tz: string): string {
  let line = ''
  for (let c = 0; c < columns.length; c++) {
    if (c > 0) line += o.delimiter
    const v = row[c] ?? null
    if (v === null) {
      line += o.nullString
      continue
    }
    const text = formatText(columns[c].type, v, tz)
    line += o.format === 'csv' ? csvField(text, o) : textField(text, o.delimiter)
  }
  return line + '\n'
}

/** Text format: backslash escapes for backslash, newline, carriage return, tab and the delimiter. */
function textField(s: string, delimiter: string): string {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]
    if (ch === '\\') out += '\\\\'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (ch === delimiter) out += '\\' + ch
    else out += ch
  }
  return out
}

/**
 * CSV: quoted when the value holds the delimiter, the quote, a newline, or equals the NULL
 * string (so an empty string reads back as '' and not as NULL), or starts with `\.`.
 */
function csvField(s: string, o: CopyOptions): string {
  const needs =
    s === o.nullString ||
    s.startsWith('\\.') ||
    s.includes(o.delimiter) ||
    s.includes(o.quote) ||
    s.includes('\n') ||
    s.includes('\r')
  if (!needs) return s
  let out = o.quote
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]
    if (ch === o.quote || ch === o.escape) out += o.escape
    out += ch
  }
  return out + o.quote
}

/** Just enough of SQL's lexical rules to find the end of a parenthesised query and read options. */
class Lexer {
  private at = 0
  constructor(private readonly s: string) {}

  atEnd(): boolean {
    return this.at >= this.s.length
  }

  rest(): string {
    return this.s.slice(this.at)
  }

  skipSpace(): void {
    for (;;) {
      while (this.at < this.s.length && /\s/.test(this.s[this.at])) this.at++
      if (this.s.startsWith('--', this.at)) {
        const nl = this.s.indexOf('\n', this.at)
        this.at = nl < 0 ? this.s.length : nl + 1
      } else if (this.s.startsWith('/*', this.at)) {
        const end = this.s.indexOf('*/', this.at + 2)
        this.at = end < 0 ? this.s.length : end + 2
      } else return
    }
  }

  peek(): string {
    this.skipSpace()
    return this.s[this.at] ?? ''
  }

  take(): string {
    return this.s[this.at++] ?? ''
  }

  /** Consumes the keyword `w` (case-insensitive, whole word) if it comes next. */
  word(w: string): boolean {
    this.skipSpace()
    const next = this.s.slice(this.at, this.at + w.length)
    if (next.toLowerCase() !== w) return false
    const after = this.s[this.at + w.length] ?? ''
    if (/[A-Za-z0-9_$]/.test(after)) return false
    this.at += w.length
    return true
  }

  /** A plain or quoted (possibly schema-qualified) name, as written. */
  identifier(): string | undefined {
    this.skipSpace()
    const m = /^(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")(?:\.(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+"))?/.exec(
      this.rest(),
    )
    if (m === null) return undefined
    this.at += m[0].length
    return m[0]
  }

  /** An option value: a quoted string (with '' and E'' escapes), a word or a number. */
  value(): string {
    this.skipSpace()
    const rest = this.rest()
    const e = /^[Ee]'/.test(rest)
    if (rest[0] === "'" || e) {
      this.at += e ? 2 : 1
      let out = ''
      for (;;) {
        const ch = this.s[this.at++]
        if (ch === undefined) throw syntax('unterminated quoted string in COPY options')
        if (ch === "'") {
          if (this.s[this.at] === "'") {
            out += "'"
            this.at++
            continue
          }
          return out
        }
        if (e && ch === '\\') {
          const n = this.s[this.at++] ?? ''
          out += n === 't' ? '\t' : n === 'n' ? '\n' : n === 'r' ? '\r' : n
          continue
        }
        out += ch
      }
    }
    const m = /^[A-Za-z0-9_.+-]+/.exec(rest)
    if (m === null) throw syntax(`expected a COPY option value at "${rest.slice(0, 20)}"`)
    this.at += m[0].length
    return m[0]
  }

  /** The text between a `(` and its matching `)`, skipping quoted strings, identifiers and comments. */
  parenthesised(): string {
    this.skipSpace()
    const start = ++this.at
    let depth = 1
    while (this.at < this.s.length) {
      const ch = this.s[this.at]
      if (ch === "'" || ch === '"') {
        const end = this.s.indexOf(ch, this.at + 1)
        if (end < 0) break
        this.at = end + 1
        continue
      }
      if (this.s.startsWith('--', this.at) || this.s.startsWith('/*', this.at)) {
        this.skipSpace()
        continue
      }
      if (ch === '(') depth++
      else if (ch === ')' && --depth === 0) {
        const inner = this.s.slice(start, this.at)
        this.at++
        return inner
      }
      this.at++
    }
    throw syntax('unterminated parenthesis in COPY')
  }
}
