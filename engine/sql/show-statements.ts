/**
 * SHOW SOURCES | TABLES | MATERIALIZED VIEWS | VIEWS | SINKS, SHOW CREATE and DESCRIBE.
 */
import type { ObjectKindWord, StatementBody } from './tree.ts'
import type { Token } from './lexer.ts'
import { words } from './lexer.ts'
import { syntaxError } from './pg-parse.ts'
import { qualifiedName } from './with-options.ts'

/** SHOW SOURCES | TABLES | MATERIALIZED VIEWS | VIEWS | SINKS. */
export function showObjects(text: string, base: number, tokens: readonly Token[]): StatementBody {
  const w = tokens[1].value
  const objectKind: ObjectKindWord =
    w === 'sources'
      ? 'source'
      : w === 'tables'
        ? 'table'
        : w === 'sinks'
          ? 'sink'
          : w === 'views'
            ? 'view'
            : 'materialized_view'
  const expected = objectKind === 'materialized_view' ? 3 : 2
  if (tokens.length > expected)
    throw syntaxError(text.slice(tokens[expected].start, tokens[expected].end), base + tokens[expected].start + 1)
  return { kind: 'show_objects', objectKind }
}

export function showCreate(tokens: readonly Token[], base: number): StatementBody {
  const w = words(tokens, 2, 2)
  let objectKind: ObjectKindWord
  let i: number
  if (w === 'materialized view') {
    objectKind = 'materialized_view'
    i = 4
  } else if (
    tokens[2]?.value === 'source' ||
    tokens[2]?.value === 'table' ||
    tokens[2]?.value === 'sink' ||
    tokens[2]?.value === 'view'
  ) {
    objectKind = tokens[2].value
    i = 3
  } else throw syntaxError(tokens[2]?.value ?? '', base + (tokens[2]?.start ?? 0) + 1)
  const { name, next } = qualifiedName(tokens, i)
  if (next < tokens.length) throw syntaxError(tokens[next].value, base + tokens[next].start + 1)
  return { kind: 'show_create', objectKind, name }
}

/** DESCRIBE (or DESC) name. */
export function describe(text: string, base: number, tokens: readonly Token[]): StatementBody {
  const name = tokens[1]
  if (name === undefined) throw syntaxError('', base + text.length + 1)
  const ident = qualifiedName(tokens, 1)
  if (ident.next < tokens.length)
    throw syntaxError(text.slice(tokens[ident.next].start, tokens[ident.next].end), base + tokens[ident.next].start + 1)
  return { kind: 'describe', name: ident.name, position: base + name.start + 1 }
}
