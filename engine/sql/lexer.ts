/**
 * A small SQL lexer for the front door: enough to split a script into statements and to find
 * Sluice-only keywords at the right nesting level, while never looking inside string literals,
 * quoted identifiers, dollar-quoted strings or comments. PostgreSQL's real grammar (libpg-query)
 * does the actual parsing.
 */

export interface Token {
  readonly type: 'word' | 'quoted' | 'string' | 'number' | 'punct'
  /** Words are lower-cased; quoted identifiers keep their case; strings are unescaped. */
  readonly value: string
  readonly start: number
  readonly end: number
  /** Parenthesis depth at the token (a `(` has the outer depth). */
  readonly depth: number
}

/** Lexes `text`; stops quietly at an unterminated literal (the parser will report it). */
export function tokenize(text: string): Token[] {
  // The front door tokenizes one statement several times (split, each lifting pass, and again
  // when the parser thread answers): for a long statement that was most of its main-thread time.
  if (text.length >= MEMO_CHARS && text === memo?.text) return memo.tokens
  const tokens = scan(text)
  if (text.length >= MEMO_CHARS) memo = { text, tokens }
  return tokens
}

/** Texts at least this long keep their tokens for the next call with the same text. */
const MEMO_CHARS = 64 * 1024
let memo: { readonly text: string; readonly tokens: Token[] } | undefined

/** Drops the remembered tokens (parseSql calls it when done, so a big statement is not kept). */
export function forgetTokens(): void {
  memo = undefined
}

function scan(text: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  let depth = 0
  const n = text.length
  while (i < n) {
    const ch = text[i]
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f') {
      i++
    } else if (ch === '-' && text[i + 1] === '-') {
      while (i < n && text[i] !== '\n') i++
    } else if (ch === '/' && text[i + 1] === '*') {
      let nest = 1
      i += 2
      while (i < n && nest > 0) {
        if (text[i] === '/' && text[i + 1] === '*') {
          nest++
          i += 2
        } else if (text[i] === '*' && text[i + 1] === '/') {
          nest--
          i += 2
        } else i++
      }
    } else if (ch === "'" || ((ch === 'e' || ch === 'E') && text[i + 1] === "'")) {
      const start = i
      const escapes = ch !== "'"
      i += escapes ? 2 : 1
      // Runs between quotes and escapes are copied as slices: a character at a time, a
      // multi-megabyte literal became a rope of millions of pieces (seconds of GC).
      let value = ''
      let run = i
      while (i < n) {
        const c = text.charCodeAt(i)
        if (c === 39 && text.charCodeAt(i + 1) === 39) {
          value += text.slice(run, i) + "'"
          i += 2
          run = i
        } else if (c === 39) {
          break
        } else if (escapes && c === 92 && i + 1 < n) {
          value += text.slice(run, i) + text[i + 1]
          i += 2
          run = i
        } else i++
      }
      value += text.slice(run, i)
      if (i < n) i++
      tokens.push({ type: 'string', value, start, end: i, depth })
    } else if (ch === '"') {
      const start = i++
      let value = ''
      let run = i
      while (i < n) {
        const c = text.charCodeAt(i)
        if (c === 34 && text.charCodeAt(i + 1) === 34) {
          value += text.slice(run, i) + '"'
          i += 2
          run = i
        } else if (c === 34) {
          break
        } else i++
      }
      value += text.slice(run, i)
      if (i < n) i++
      tokens.push({ type: 'quoted', value, start, end: i, depth })
    } else if (ch === '$' && /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.test(text.slice(i, i + 64))) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 64))![0]
      const start = i
      const close = text.indexOf(tag, i + tag.length)
      const stop = close < 0 ? n : close + tag.length
      tokens.push({ type: 'string', value: text.slice(i + tag.length, close < 0 ? n : close), start, end: stop, depth })
      i = stop
    } else if (/[A-Za-z_\u0080-\uffff]/.test(ch)) {
      const start = i
      while (i < n && /[A-Za-z0-9_$\u0080-\uffff]/.test(text[i])) i++
      tokens.push({ type: 'word', value: text.slice(start, i).toLowerCase(), start, end: i, depth })
    } else if (/[0-9]/.test(ch) || (ch === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const start = i
      while (i < n && /[0-9.]/.test(text[i])) i++
      if ((text[i] === 'e' || text[i] === 'E') && /[0-9+-]/.test(text[i + 1] ?? '')) {
        i += 2
        while (i < n && /[0-9]/.test(text[i])) i++
      }
      tokens.push({ type: 'number', value: text.slice(start, i), start, end: i, depth })
    } else {
      if (ch === ')') depth = Math.max(0, depth - 1)
      tokens.push({ type: 'punct', value: ch, start: i, end: i + 1, depth })
      if (ch === '(') depth++
      i++
    }
  }
  return tokens
}

/** Splits a script at top-level semicolons; empty statements are dropped. */
export function splitStatements(text: string): { text: string; location: number }[] {
  const out: { text: string; location: number }[] = []
  let start = 0
  const push = (end: number): void => {
    const raw = text.slice(start, end)
    const lead = raw.length - raw.trimStart().length
    const body = raw.trim()
    if (tokenize(body).length > 0) out.push({ text: body, location: start + lead })
  }
  for (const t of tokenize(text)) {
    if (t.type === 'punct' && t.value === ';') {
      push(t.start)
      start = t.end
    }
  }
  push(text.length)
  return out
}

/** `text` with [start, end) replaced by spaces, so character offsets stay valid. */
export function blank(text: string, start: number, end: number): string {
  return text.slice(0, start) + ' '.repeat(end - start) + text.slice(end)
}

/** Words of tokens, for matching statement heads like `show materialized views`. */
export function words(tokens: readonly Token[], from: number, count: number): string {
  return tokens
    .slice(from, from + count)
    .map((t) => (t.type === 'word' ? t.value : t.type === 'punct' ? t.value : '\u0000'))
    .join(' ')
}
