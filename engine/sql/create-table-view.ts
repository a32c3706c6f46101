/**
 * CREATE TABLE and CREATE MATERIALIZED VIEW with Sluice's clauses: APPEND ONLY, WATERMARK FOR
 * in a column list, and a view's trailing WATERMARK <duration> and EMIT CHANGES | ON WINDOW CLOSE.
 */
import type { StatementBody, WatermarkClause } from './tree.ts'
import type { Token } from './lexer.ts'
import { blank, tokenize, words } from './lexer.ts'
import { Converter } from './convert.ts'
import { unwrap } from './pg-node.ts'
import { parseDurationMicros } from './duration.ts'
import { syntaxError, pgParse, parseExpr } from './pg-parse.ts'
import { convertStatement, createTableBody } from './pg-statements.ts'
import { liftOptions } from './with-options.ts'

export function createTable(text: string, base: number, tokens: readonly Token[]): StatementBody {
  let t = text
  let appendOnly = false
  // Trailing APPEND ONLY (before or after a WITH clause).
  const ao = tokens.findIndex((tok, i) => tok.depth === 0 && tok.value === 'append' && tokens[i + 1]?.value === 'only')
  if (ao >= 0) {
    appendOnly = true
    t = blank(t, tokens[ao].start, tokens[ao + 1].end)
  }
  const lifted = liftOptions(t, tokenize(t), 2)
  const wm = liftWatermarkFor(lifted.text, tokenize(lifted.text), base)
  const nodes = pgParse(wm.text, base)
  const [kind, s] = unwrap(nodes[0])
  if (kind !== 'CreateStmt') return convertStatement(nodes[0], base, text)
  return createTableBody(new Converter(base), s, appendOnly, wm.watermark, lifted.options)
}

/** Lifts `WATERMARK FOR col AS expr` out of a column list (depth 1). */
export function liftWatermarkFor(
  text: string,
  tokens: readonly Token[],
  base: number,
): { text: string; watermark: WatermarkClause | undefined } {
  const at = tokens.findIndex(
    (t, i) => t.depth === 1 && t.value === 'watermark' && t.type === 'word' && tokens[i + 1]?.value === 'for',
  )
  if (at < 0) return { text, watermark: undefined }
  const col = tokens[at + 2]
  if (col === undefined || (col.type !== 'word' && col.type !== 'quoted'))
    throw syntaxError(col?.value ?? '', base + (col?.start ?? text.length) + 1)
  if (tokens[at + 3]?.value !== 'as')
    throw syntaxError(tokens[at + 3]?.value ?? '', base + (tokens[at + 3]?.start ?? text.length) + 1)
  const exprStart = tokens[at + 4]
  if (exprStart === undefined) throw syntaxError('', base + text.length + 1)
  let end = at + 4
  // The clause ends at the next comma of the column list, or at the list's closing parenthesis
  // (which the lexer puts back at depth 0).
  const ends = (t: Token): boolean =>
    t.type === 'punct' && ((t.depth === 1 && t.value === ',') || (t.depth === 0 && t.value === ')'))
  while (end < tokens.length && !ends(tokens[end])) end++
  if (end >= tokens.length) throw syntaxError('', base + text.length + 1)
  const exprText = text.slice(exprStart.start, tokens[end - 1].end)
  const expr = parseExpr(exprText, base + exprStart.start)
  // Remove the clause and the comma that separates it from its neighbour.
  let from = tokens[at].start
  let to = tokens[end - 1].end
  if (tokens[end].value === ',') to = tokens[end].end
  else if (tokens[at - 1]?.value === ',') from = tokens[at - 1].start
  return { text: blank(text, from, to), watermark: { column: col.value, expr, position: base + tokens[at].start + 1 } }
}

export function createMaterializedView(text: string, base: number, tokens: readonly Token[]): StatementBody {
  let t = text
  let emit: 'changes' | 'on_window_close' = 'changes'
  let watermark: number | undefined
  let end = tokens.length
  // Trailing clauses, in either order: EMIT CHANGES | EMIT ON WINDOW CLOSE, WATERMARK <duration>.
  for (let pass = 0; pass < 2; pass++) {
    const emitAt = lastTopLevel(tokens, 'emit', end)
    if (emitAt >= 0 && emitAt < end) {
      const w = words(tokens, emitAt + 1, 3)
      if (w === 'on window close') emit = 'on_window_close'
      else if (!w.startsWith('changes'))
        throw syntaxError(tokens[emitAt + 1]?.value ?? '', base + (tokens[emitAt + 1]?.start ?? text.length) + 1)
      t = blank(t, tokens[emitAt].start, tokens[end - 1].end)
      end = emitAt
      continue
    }
    const wmAt = lastTopLevel(tokens, 'watermark', end)
    if (wmAt >= 0 && wmAt < end) {
      const durText = text.slice(tokens[wmAt + 1]?.start ?? text.length, tokens[end - 1].end)
      if (durText.trim() === '') throw syntaxError('', base + text.length + 1)
      const cleaned = durText
        .replace(/^\s*interval\s+/i, '')
        .trim()
        .replace(/^'(.*)'$/s, '$1')
      watermark = parseDurationMicros(cleaned, base + tokens[wmAt].start + 1)
      t = blank(t, tokens[wmAt].start, tokens[end - 1].end)
      end = wmAt
    }
  }
  const nodes = pgParse(t, base)
  const body = convertStatement(nodes[0], base, t)
  if (body.kind !== 'create_materialized_view') throw syntaxError(text, base + 1)
  return { ...body, watermark, emit }
}

/** The last depth-0 occurrence of word `w` before token `end` that is not inside the query's own clauses. */
function lastTopLevel(tokens: readonly Token[], w: string, end: number): number {
  for (let i = end - 1; i >= 0; i--) {
    if (tokens[i].depth === 0 && tokens[i].type === 'word' && tokens[i].value === w) return i
  }
  return -1
}
