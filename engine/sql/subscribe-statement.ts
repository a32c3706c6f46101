/**
 * SUBSCRIBE [TO] name | (query) [WITH (...)]: a stream of changes to the client.
 */
import type { Options, StatementBody } from './tree.ts'
import type { Token } from './lexer.ts'
import { blank } from './lexer.ts'
import { Converter } from './convert.ts'
import { syntaxError, pgParse } from './pg-parse.ts'
import { qualifiedName, liftOptions } from './with-options.ts'

export function subscribe(text: string, base: number, tokens: readonly Token[]): StatementBody {
  let i = 1
  if (tokens[i]?.value === 'to') i++
  if (tokens[i] === undefined) throw syntaxError('', base + text.length + 1)
  if (tokens[i].value === '(') {
    const close = tokens.findIndex((t, k) => k > i && t.value === ')' && t.depth === 0)
    if (close < 0) throw syntaxError('', base + text.length + 1)
    const options = subscribeWith(text, base, tokens, close + 1)
    const inner = blank(blank(text, 0, tokens[i].end), tokens[close].start, text.length)
    const nodes = pgParse(inner, base)
    return { kind: 'subscribe', name: undefined, query: new Converter(base).query(nodes[0]), options }
  }
  const { name, next } = qualifiedName(tokens, i)
  return { kind: 'subscribe', name, query: undefined, options: subscribeWith(text, base, tokens, next) }
}

/** The optional `WITH (...)` after SUBSCRIBE's target; anything else there is a syntax error. */
function subscribeWith(text: string, base: number, tokens: readonly Token[], at: number): Options {
  const t = tokens[at]
  if (t === undefined || t.value === ';') return new Map()
  if (t.value !== 'with' || tokens[at + 1]?.value !== '(') throw syntaxError(t.value, base + t.start + 1)
  const lifted = liftOptions(text, tokens, at)
  for (let k = at; k < tokens.length; k++) {
    const x = tokens[k]
    if (x.value !== ';' && lifted.text.slice(x.start, x.end).trim() !== '')
      throw syntaxError(x.value, base + x.start + 1)
  }
  return lifted.options
}
