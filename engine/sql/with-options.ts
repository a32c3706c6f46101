/**
 * Words shared by the Sluice-only statements: (schema-qualified) names and connector
 * `WITH (key = value, ...)` option lists, lifted out of the text so offsets stay put.
 */
import type { Token } from './lexer.ts'
import { blank } from './lexer.ts'
import { secretRef } from './secret-ref.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { syntaxError } from './pg-parse.ts'

/** A possibly schema-qualified name starting at token `i`; the schema is dropped except for system schemas. */
export function qualifiedName(tokens: readonly Token[], i: number): { name: string; next: number } {
  const first = tokens[i]
  if (first === undefined || (first.type !== 'word' && first.type !== 'quoted')) {
    throw syntaxError(first === undefined ? '' : first.value, (first?.start ?? 0) + 1)
  }
  if (tokens[i + 1]?.value === '.' && tokens[i + 2] !== undefined) {
    const schema = first.value
    const name = tokens[i + 2].value
    return { name: schema === 'public' ? name : `${schema}.${name}`, next: i + 3 }
  }
  return { name: first.value, next: i + 1 }
}

/** Finds the last top-level `WITH (...)` option list, returns the options and blanks it out. */
export function liftOptions(
  text: string,
  tokens: readonly Token[],
  from: number,
): { text: string; options: Map<string, string>; start: number | undefined } {
  for (let i = tokens.length - 1; i >= from; i--) {
    const t = tokens[i]
    if (
      t.depth === 0 &&
      t.type === 'word' &&
      t.value === 'with' &&
      tokens[i + 1]?.value === '(' &&
      tokens[i + 1].type === 'punct'
    ) {
      let close = i + 2
      while (
        close < tokens.length &&
        !(tokens[close].value === ')' && tokens[close].type === 'punct' && tokens[close].depth === 0)
      )
        close++
      if (close >= tokens.length) throw syntaxError('', text.length + 1)
      const options = parseOptions(text, tokens.slice(i + 2, close))
      const end = close === tokens.length - 1 ? text.length : tokens[close].end
      return { text: blank(text, t.start, end), options, start: t.start }
    }
  }
  return { text, options: new Map(), start: undefined }
}

/** `key = value, ...` where keys may be dotted and values are strings, numbers or words. */
function parseOptions(text: string, tokens: readonly Token[]): Map<string, string> {
  const options = new Map<string, string>()
  let i = 0
  while (i < tokens.length) {
    let key = ''
    while (i < tokens.length && tokens[i].value !== '=' && tokens[i].value !== ',') {
      key += tokens[i].type === 'string' ? tokens[i].value : text.slice(tokens[i].start, tokens[i].end)
      i++
    }
    if (tokens[i]?.value !== '=') throw syntaxError(tokens[i]?.value ?? '', (tokens[i]?.start ?? text.length) + 1)
    i++
    let value = ''
    const startTok = tokens[i]
    // `key = SECRET name`: a reference, resolved only when the connector is built (secret-ref.ts).
    const next = tokens[i + 1]
    if (
      startTok?.type === 'word' &&
      startTok.value === 'secret' &&
      next !== undefined &&
      (next.type === 'word' || next.type === 'quoted') &&
      (tokens[i + 2] === undefined || tokens[i + 2].value === ',')
    ) {
      options.set(key.toLowerCase(), secretRef(next.value))
      i += 3
      continue
    }
    while (
      i < tokens.length &&
      !(tokens[i].value === ',' && tokens[i].type === 'punct' && tokens[i].depth === startTok.depth)
    ) {
      value += tokens[i].type === 'string' ? tokens[i].value : text.slice(tokens[i].start, tokens[i].end)
      i++
    }
    if (key === '' || startTok === undefined) throw syntaxError('=', text.length + 1)
    if (value.includes('\u0000'))
      throw new SluiceError(SqlState.invalid_parameter_value, `option "${key}" holds a NUL character`)
    options.set(key.toLowerCase(), value)
    i++ // the comma
  }
  return options
}
