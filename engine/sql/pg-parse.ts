/**
 * PostgreSQL's grammar (libpg-query) for the front door: inline for ordinary statements, on the
 * parser thread (parse-thread.ts) for long or deeply nested text, with its errors as SQLSTATEs
 * (42601 syntax, 54001 too complex) located in the user's text.
 */
import { parseSync } from 'libpg-query'
import type { Expr } from './tree.ts'
import type { PgNode } from './pg-node.ts'
import { Converter } from './convert.ts'
import { field, list } from './pg-node.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { INLINE_PARSE_BYTES, ThreadParseError, parseOnThread } from './parse-thread.ts'

/** Thrown (inside a synchronous parseOne) for text that the parser thread must parse. */
class NeedsThread {
  constructor(readonly text: string) {}
}

/** Trees the parser thread returned for the statement being converted, by the text parsed. */
let threadTrees: Map<string, PgNode[] | ThreadParseError> | undefined

async function threadParse(text: string): Promise<PgNode[] | ThreadParseError> {
  try {
    const result = (await parseOnThread(text)) as { stmts?: { stmt: PgNode }[] }
    return (result.stmts ?? []).map((s) => s.stmt)
  } catch (e) {
    if (e instanceof ThreadParseError) return e
    throw e
  }
}

/**
 * Runs `convert` (a synchronous conversion that may call pgParse) until it completes: a text
 * the main thread should not parse (parse-thread.ts) makes it throw NeedsThread, and it is run
 * again once the parser thread has answered for each piece of text that asked for it.
 */
export async function convertWithThread<T>(convert: () => T): Promise<T> {
  const trees = new Map<string, PgNode[] | ThreadParseError>()
  for (;;) {
    threadTrees = trees
    try {
      return convert()
    } catch (e) {
      if (!(e instanceof NeedsThread) || trees.has(e.text)) throw tooComplex(e)
      trees.set(e.text, await threadParse(e.text))
    } finally {
      threadTrees = undefined
    }
  }
}

/**
 * 54001 for a statement nested deeper than a recursive pass can follow: the parser's own limit
 * (bison's stack: "memory exhausted") or the JS stack of the conversion (a RangeError).
 */
function tooComplex(e: unknown): unknown {
  if (!(e instanceof RangeError)) return e
  return new SluiceError(SqlState.statement_too_complex, 'statement too complex: expressions nested too deeply', {
    hint: 'Write long chains of operators as several statements, or use IN (...) or an array.',
    cause: e,
  })
}

export function syntaxError(near: string, position: number): SluiceError {
  return new SluiceError(
    SqlState.syntax_error,
    near === '' ? 'syntax error at end of input' : `syntax error at or near "${near}"`,
    { position },
  )
}

/** Runs PostgreSQL's grammar over `text` (located at `base` in the input). */
export function pgParse(text: string, base: number): PgNode[] {
  try {
    const done = threadTrees?.get(text)
    if (done instanceof ThreadParseError) throw done
    if (done !== undefined) return done
    if (text.length > INLINE_PARSE_BYTES && threadTrees !== undefined) throw new NeedsThread(text)
    const result = parseSync(text) as { stmts?: { stmt: PgNode }[] }
    return (result.stmts ?? []).map((s) => s.stmt)
  } catch (e) {
    if (e instanceof NeedsThread) throw e
    // Too deep for this thread's stack: the parser thread has a larger one.
    if (e instanceof RangeError && threadTrees !== undefined && !threadTrees.has(text)) throw new NeedsThread(text)
    const details = (e as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails
    const message = details?.message ?? (e instanceof Error ? e.message : String(e))
    const cursor = details?.cursorPosition
    const position = cursor === undefined ? undefined : base + cursor + 1
    // Bison's stack limit (e.g. 10,000 nested parentheses) and the thread's stack are limits, not syntax.
    if (
      e instanceof RangeError ||
      (e instanceof ThreadParseError && e.tooDeep) ||
      message.startsWith('memory exhausted')
    ) {
      throw new SluiceError(SqlState.statement_too_complex, 'statement too complex: expressions nested too deeply', {
        position,
        cause: e,
      })
    }
    throw new SluiceError(SqlState.syntax_error, message, { position })
  }
}

/** Parses a lone expression located at `base`. */
export function parseExpr(exprText: string, base: number): Expr {
  const prefix = 'SELECT '
  const nodes = pgParse(prefix + exprText, base - prefix.length)
  const select = field(nodes[0], 'SelectStmt')
  const targets = list(select.targetList)
  if (targets.length !== 1 || select.fromClause !== undefined) throw syntaxError(exprText, base + 1)
  return new Converter(base - prefix.length).expr(field(targets[0], 'ResTarget').val as PgNode)
}
