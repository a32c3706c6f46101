/**
 * The CSV record format: each Kafka record is one CSV line whose fields fill the declared
 * columns by position (RFC 4180 quoting: `"a ""quoted"", field"`).
 *
 * Options: `csv.delimiter` (one character, default `,`; `\t` for tabs) and `csv.header`
 * (default false; when true, a record whose fields equal the column names, case-insensitively,
 * is a header line and is skipped). An unquoted empty field is SQL NULL, a quoted empty field
 * `""` the empty string. Fields are read with PostgreSQL's text input rules for their column's
 * type (as COPY ... CSV does). A record with the wrong number of fields or an unterminated quote
 * is a `decode_error`; a field its type cannot read a `type_error` naming the column.
 */
import type { ColumnSchema, ConnectorOptions } from '../../engine/connector.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import { parseText } from '../../engine/types/text.ts'
import type { DecodeResult, RecordDecoder } from './decoder.ts'
import { textPayload } from './text.ts'

export interface CsvOptions {
  /** Char code of the field delimiter. */
  readonly delimiter: number
  readonly header: boolean
}

export function parseCsvOptions(options: ConnectorOptions): CsvOptions {
  const raw = options.get('csv.delimiter') ?? ','
  const delimiter = raw === '\\t' ? '\t' : raw
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new SluiceError(SqlState.invalid_parameter_value, `invalid value "${raw}" for option "csv.delimiter"`, {
      hint: "give one character other than a quote or a line break, e.g. ',' ';' '|' or '\\t'",
    })
  }
  const header = (options.get('csv.header') ?? 'false').trim().toLowerCase()
  if (header !== 'true' && header !== 'false') {
    throw new SluiceError(SqlState.invalid_parameter_value, `invalid value "${header}" for option "csv.header"`, {
      hint: "use 'true' or 'false'",
    })
  }
  return { delimiter: delimiter.charCodeAt(0), header: header === 'true' }
}

/** A parsed line: `fields[i]` is undefined for an unquoted empty field (NULL). */
type Fields = (string | undefined)[]

/** Splits one CSV line; a string is the reason it is malformed. Trailing CR/LF is ignored. */
export function splitCsvLine(line: string, delimiter: number): Fields | string {
  const fields: Fields = []
  let end = line.length
  while (end > 0 && (line.charCodeAt(end - 1) === 0x0a || line.charCodeAt(end - 1) === 0x0d)) end--
  let i = 0
  for (;;) {
    if (i < end && line.charCodeAt(i) === 0x22) {
      // Quoted field: "" is a quote; the field ends at a lone quote, which must precede a delimiter or the end.
      let value = ''
      let from = i + 1
      for (;;) {
        const q = line.indexOf('"', from)
        if (q < 0 || q >= end) return `unterminated quoted field at character ${i + 1}`
        if (q + 1 < end && line.charCodeAt(q + 1) === 0x22) {
          value += line.slice(from, q + 1)
          from = q + 2
          continue
        }
        value += line.slice(from, q)
        i = q + 1
        break
      }
      fields.push(value)
      if (i === end) return fields
      if (line.charCodeAt(i) !== delimiter) return `unexpected character after a quoted field at character ${i + 1}`
      i++
      continue
    }
    let next = i
    while (next < end && line.charCodeAt(next) !== delimiter) next++
    const text = line.slice(i, next)
    if (text.includes('"')) return `a quote inside an unquoted field at character ${i + text.indexOf('"') + 1}`
    fields.push(text === '' ? undefined : text)
    if (next >= end) return fields
    i = next + 1
  }
}

type Converter = (text: string) => Value

function converterFor(type: DataType): Converter {
  if (type.kind === 'text' || type.kind === 'unknown') return (t) => t
  return (t) => parseText(type, t)
}

export function createCsvDecoder(initial: readonly ColumnSchema[], options: CsvOptions): RecordDecoder {
  let columns = initial
  let convert = initial.map((c) => converterFor(c.type))
  let lowerNames = initial.map((c) => c.name.toLowerCase())

  function isHeader(fields: Fields): boolean {
    if (fields.length !== lowerNames.length) return false
    for (let i = 0; i < fields.length; i++) if (fields[i]?.trim().toLowerCase() !== lowerNames[i]) return false
    return true
  }

  return {
    format: 'csv',
    decode(value, out): DecodeResult {
      if (value === null) return { reason: 'decode_error', detail: 'the record has no value (a tombstone)' }
      const fields = splitCsvLine(textPayload(value), options.delimiter)
      if (typeof fields === 'string') return { reason: 'decode_error', detail: `invalid CSV: ${fields}` }
      const width = columns.length
      if (fields.length !== width) {
        if (options.header && isHeader(fields)) return 0
        return { reason: 'decode_error', detail: `expected ${width} CSV fields, got ${fields.length}` }
      }
      if (options.header && isHeader(fields)) return 0
      let c = 0
      try {
        for (; c < width; c++) {
          const f = fields[c]
          out[c].push(f === undefined ? null : convert[c](f))
        }
      } catch (e) {
        for (let undo = 0; undo < c; undo++) out[undo].pop()
        return { reason: 'type_error', detail: `column "${columns[c].name}": ${(e as Error).message}` }
      }
      return 1
    },
    setColumns(next) {
      columns = next
      convert = next.map((c) => converterFor(c.type))
      lowerNames = next.map((c) => c.name.toLowerCase())
    },
    payloadText: textPayload,
  }
}
