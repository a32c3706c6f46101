/**
 * The statement front door: SQL text → Sluice's statement tree.
 *
 * A script is split at top-level semicolons. Sluice-only statements (CREATE SOURCE/SINK, SHOW
 * SOURCES, DESCRIBE, FLUSH, SUBSCRIBE, EXPLAIN stages, DROP SOURCE/SINK) are recognised from
 * their leading words. Sluice-only clauses inside otherwise PostgreSQL statements (WATERMARK FOR
 * in a column list, APPEND ONLY, trailing WATERMARK and EMIT on a view, connector WITH options)
 * are lifted out and replaced by spaces, so every character offset — and so every error position
 * — still points into the user's text. The rest goes to PostgreSQL's own grammar (libpg-query).
 *
 * This module is the dispatcher; each statement family is in its own module (pg-statements.ts,
 * source-sink-statements.ts, create-table-view.ts, show-statements.ts, subscribe-statement.ts,
 * role-statement.ts, index-statement.ts). EXPLAIN stays here because it dispatches again.
 */
import { loadModule } from 'libpg-query'
import type { ExplainStage, Statement, StatementBody } from './tree.ts'
import type { Token } from './lexer.ts'
import { forgetTokens, splitStatements, tokenize, words } from './lexer.ts'
import { createSecret, createToken, dropSecret, dropToken } from './role-statement.ts'
import { rewriteDriverQueries } from './driver-queries.ts'
import { createTable, createMaterializedView } from './create-table-view.ts'
import { liftLookups, liftFlinkWindows } from './lift-relations.ts'
import { convertWithThread, syntaxError, pgParse } from './pg-parse.ts'
import { convertStatement } from './pg-statements.ts'
import { showObjects, showCreate, describe } from './show-statements.ts'
import { createSource, alterSource, createSink, dropSluiceObject } from './source-sink-statements.ts'
import { subscribe } from './subscribe-statement.ts'

let loaded: Promise<void> | undefined

/** Parses every statement of `text`. */
export async function parseSql(text: string): Promise<Statement[]> {
  loaded ??= loadModule()
  await loaded
  try {
    return await parseStatements(text)
  } finally {
    forgetTokens()
  }
}

async function parseStatements(text: string): Promise<Statement[]> {
  const out: Statement[] = []
  for (const { text: stmt, location } of splitStatements(rewriteDriverQueries(text)))
    out.push({ ...(await convertWithThread(() => parseOne(stmt, location))), text: stmt, location })
  return out
}

function parseOne(original: string, base: number): StatementBody {
  const text = liftLookups(liftFlinkWindows(original), base)
  const tokens = tokenize(text)
  const head = words(tokens, 0, 4)
  const is = (prefix: string): boolean => head === prefix || head.startsWith(prefix + ' ')

  if (is('create source')) return createSource(text, base, tokens)
  if (is('create sink')) return createSink(text, base, tokens)
  if (is('create table')) return createTable(text, base, tokens)
  if (is('create materialized view')) return createMaterializedView(text, base, tokens)
  if (is('drop source') || is('drop sink')) return dropSluiceObject(tokens, base)
  if (is('show create')) return showCreate(tokens, base)
  if (is('show sources') || is('show tables') || is('show materialized views') || is('show views') || is('show sinks'))
    return showObjects(text, base, tokens)
  if (is('describe') || is('desc')) return describe(text, base, tokens)
  if (head === 'flush') return { kind: 'flush' }
  if (is('subscribe')) return subscribe(text, base, tokens)
  if (is('explain')) return explain(text, base, tokens)
  if (is('alter source')) return alterSource(text, base, tokens)
  if (is('create secret') || is('create or replace secret') || is('alter secret'))
    return createSecret(text, base, tokens)
  if (is('drop secret')) return dropSecret(text, base, tokens)
  if (is('create token')) return createToken(text, base, tokens)
  if (is('drop token')) return dropToken(text, base, tokens)

  const nodes = pgParse(text, base)
  if (nodes.length === 0) return { kind: 'noop', tag: '' }
  return convertStatement(nodes[0], base, text)
}

function explain(text: string, base: number, tokens: readonly Token[]): StatementBody {
  let i = 1
  let stage: ExplainStage = 'all'
  const w = tokens[1]?.value
  const stages: Record<string, ExplainStage> = {
    bound: 'bound',
    logical: 'logical',
    optimized: 'optimized',
    stream: 'stream',
    physical: 'physical',
    plan: 'all',
  }
  if (w !== undefined && tokens[1].type === 'word' && stages[w] !== undefined) {
    stage = stages[w]
    i = 2
  } else if (w === '(') {
    return convertStatement(pgParse(text, base)[0], base, text)
  }
  if (tokens[i] === undefined) throw syntaxError('', base + text.length + 1)
  const innerText = text.slice(tokens[i].start)
  const inner = parseOne(innerText, base + tokens[i].start)
  return { kind: 'explain', stage, statement: { ...inner, text: innerText, location: base + tokens[i].start } }
}
