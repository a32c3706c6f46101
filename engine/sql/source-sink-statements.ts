/**
 * Sources and sinks: CREATE SOURCE (column list, WATERMARK FOR, INCLUDE metadata columns, WITH
 * connector options), ALTER SOURCE ... ADD COLUMN, CREATE SINK, DROP SOURCE/SINK.
 */
import type { ColumnDef, IncludeClause, ObjectKindWord, StatementBody, WatermarkClause } from './tree.ts'
import type { Token } from './lexer.ts'
import { blank, tokenize, words } from './lexer.ts'
import { Converter } from './convert.ts'
import { field, list } from './pg-node.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { liftWatermarkFor } from './create-table-view.ts'
import { syntaxError, pgParse } from './pg-parse.ts'
import { createTableBody } from './pg-statements.ts'
import { qualifiedName, liftOptions } from './with-options.ts'

export function createSource(text: string, base: number, tokens: readonly Token[]): StatementBody {
  let i = 2
  let ifNotExists = false
  if (words(tokens, 2, 3) === 'if not exists') {
    ifNotExists = true
    i = 5
  }
  const { name, next } = qualifiedName(tokens, i)
  const withOptions = liftOptions(text, tokens, next)
  const inc = liftIncludes(withOptions.text, base)
  const lifted = { ...withOptions, text: inc.text }
  let columns: ColumnDef[] | undefined
  let watermark: WatermarkClause | undefined
  if (tokens[next]?.value === '(' && (lifted.start === undefined || tokens[next].start < lifted.start)) {
    // Parse the column list with PostgreSQL's CREATE TABLE grammar, keeping offsets.
    const wm = liftWatermarkFor(lifted.text, tokenize(lifted.text), base)
    watermark = wm.watermark
    const head = 'CREATE TABLE'
    const sourceWord = tokens[1]
    const asTable = blank(wm.text, 0, sourceWord.end).replace(/^ {12}/, head)
    const stmt = field(pgParse(asTable, base)[0], 'CreateStmt')
    const body = createTableBody(new Converter(base), stmt, false, watermark, new Map())
    if (body.kind !== 'create_table') throw syntaxError(name, base + 1)
    if (body.primaryKey !== undefined)
      throw new SluiceError(
        SqlState.feature_not_supported,
        'a SOURCE cannot have a PRIMARY KEY (use a TABLE fed by Debezium CDC for keyed data)',
      )
    columns = [...body.columns]
  } else {
    const rest = tokenize(lifted.text).filter((t) => t.start >= tokens[next - 1].end)
    if (rest.length > 0) throw syntaxError(rest[0].value, base + rest[0].start + 1)
  }
  if (lifted.start === undefined)
    throw new SluiceError(SqlState.syntax_error, `CREATE SOURCE ${name} needs WITH (connector = ...)`, {
      position: base + text.length + 1,
    })
  return {
    kind: 'create_source',
    name,
    ifNotExists,
    columns,
    watermark,
    options: lifted.options,
    includes: inc.includes,
  }
}

const INCLUDE_WHAT = ['key', 'partition', 'offset', 'timestamp', 'header'] as const

/**
 * `INCLUDE key AS k INCLUDE header 'trace' AS t ...` after a source's column list (RisingWave's
 * syntax): lifted out and blanked. Without AS a column is called `_key`, `_partition`, `_offset`,
 * `_timestamp` or `_header_<name>`.
 */
function liftIncludes(text: string, base: number): { text: string; includes: IncludeClause[] } {
  const tokens = tokenize(text)
  const includes: IncludeClause[] = []
  let out = text
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]
    if (!(t.depth === 0 && t.type === 'word' && t.value === 'include')) continue
    const w = tokens[i + 1]
    const what = INCLUDE_WHAT.find((x) => w?.type === 'word' && w.value === x)
    if (what === undefined) {
      throw new SluiceError(
        SqlState.syntax_error,
        w === undefined ? 'syntax error at end of input' : `syntax error at or near "${w.value}"`,
        {
          position: base + (w?.start ?? text.length) + 1,
          hint: `INCLUDE takes one of ${INCLUDE_WHAT.join(', ')} (header with a name: INCLUDE header 'trace_id' AS trace)`,
        },
      )
    }
    let j = i + 2
    let header: string | undefined
    if (what === 'header') {
      const h = tokens[j]
      if (h?.type !== 'string' || h.value === '')
        throw new SluiceError(SqlState.syntax_error, `INCLUDE header needs the header's name as a string literal`, {
          position: base + (h?.start ?? text.length) + 1,
        })
      header = h.value
      j++
    }
    let alias = what === 'header' ? `_header_${header ?? ''}` : `_${what}`
    if (tokens[j]?.type === 'word' && tokens[j].value === 'as') {
      const a = tokens[j + 1]
      if (a === undefined || (a.type !== 'word' && a.type !== 'quoted'))
        throw syntaxError(a?.value ?? '', base + (a?.start ?? text.length) + 1)
      alias = a.value
      j += 2
    }
    includes.push({ what, header, alias, position: base + t.start + 1 })
    out = blank(out, t.start, tokens[j - 1].end)
    i = j - 1
  }
  return { text: out, includes }
}

export function alterSource(text: string, base: number, tokens: readonly Token[]): StatementBody {
  const { name, next } = qualifiedName(tokens, 2)
  const action = tokens[next]
  if (action?.type === 'word' && ['drop', 'alter', 'rename', 'set'].includes(action.value)) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      `ALTER SOURCE ... ${action.value.toUpperCase()} is not supported: a source's schema evolves additively (ADD COLUMN)`,
      {
        position: base + action.start + 1,
        hint: 'to change or drop a column, create a new source and views over it',
      },
    )
  }
  if (words(tokens, next, 2) !== 'add column' && tokens[next]?.value !== 'add')
    throw syntaxError(tokens[next]?.value ?? '', base + (tokens[next]?.start ?? text.length) + 1)
  const colStart = tokens[next + 1]?.value === 'column' ? next + 2 : next + 1
  const colText = `CREATE TABLE x (${text.slice(tokens[colStart].start)})`
  const stmt = field(pgParse(colText, base + tokens[colStart].start - 16)[0], 'CreateStmt')
  const col = new Converter(base + tokens[colStart].start - 16).columnDef(field(list(stmt.tableElts)[0], 'ColumnDef'))
  return { kind: 'alter_source_add_column', source: name, column: col }
}

export function createSink(text: string, base: number, tokens: readonly Token[]): StatementBody {
  const { name, next } = qualifiedName(tokens, 2)
  const lifted = liftOptions(text, tokens, next)
  const mode = tokens[next]?.value
  if (mode === 'from') {
    const from = qualifiedName(tokens, next + 1)
    return { kind: 'create_sink', name, from: from.name, query: undefined, options: lifted.options }
  }
  if (mode === 'as') {
    const queryText = blank(lifted.text, 0, tokens[next].end)
    const nodes = pgParse(queryText, base)
    return {
      kind: 'create_sink',
      name,
      from: undefined,
      query: new Converter(base).query(nodes[0]),
      options: lifted.options,
    }
  }
  throw syntaxError(mode ?? '', base + (tokens[next]?.start ?? text.length) + 1)
}

export function dropSluiceObject(tokens: readonly Token[], base: number): StatementBody {
  const objectKind: ObjectKindWord = tokens[1].value === 'source' ? 'source' : 'sink'
  let i = 2
  let ifExists = false
  if (words(tokens, 2, 2) === 'if exists') {
    ifExists = true
    i = 4
  }
  const names: string[] = []
  for (;;) {
    const n = qualifiedName(tokens, i)
    names.push(n.name)
    i = n.next
    if (tokens[i]?.value !== ',') break
    i++
  }
  let cascade = false
  if (tokens[i]?.value === 'cascade') {
    cascade = true
    i++
  } else if (tokens[i]?.value === 'restrict') i++
  if (i < tokens.length) throw syntaxError(tokens[i].value, base + tokens[i].start + 1)
  return { kind: 'drop', objectKind, names, ifExists, cascade }
}
