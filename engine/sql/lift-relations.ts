/**
 * FROM-clause forms PostgreSQL's grammar lacks, blanked into forms it has before parsing:
 * lookup joins (FOR SYSTEM_TIME AS OF PROCTIME()) and Flink's window table functions.
 */
import { blank, tokenize, words } from './lexer.ts'
import { markLookup } from './convert.ts'
import { SluiceError, SqlState } from '../errors.ts'

/**
 * `JOIN users FOR SYSTEM_TIME AS OF PROCTIME() AS u`: the clause is blanked out and the table's
 * position recorded, so the converter marks that relation as a lookup (a temporal join).
 */
export function liftLookups(text: string, base: number): string {
  const tokens = tokenize(text)
  let out = text
  for (let i = 1; i + 6 < tokens.length; i++) {
    if (words(tokens, i, 4) !== 'for system_time as of') continue
    if (tokens[i + 4].value !== 'proctime' || tokens[i + 5].value !== '(' || tokens[i + 6].value !== ')') {
      throw new SluiceError(SqlState.feature_not_supported, 'only FOR SYSTEM_TIME AS OF PROCTIME() is supported', {
        position: base + tokens[i].start + 1,
      })
    }
    const nameStart = tokens[i - 2]?.value === '.' && i >= 3 ? tokens[i - 3].start : tokens[i - 1].start
    markLookup(base + nameStart)
    out = blank(out, tokens[i].start, tokens[i + 6].end)
  }
  return out
}

/**
 * The Flink / Feldera window form `TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '1' MINUTE))`
 * becomes `TUMBLE(bids, ts, INTERVAL '1' MINUTE)` by blanking the extra words and parentheses,
 * so PostgreSQL's grammar parses it and every offset stays where the user wrote it.
 */
export function liftFlinkWindows(text: string): string {
  let tokens = tokenize(text)
  let out = text
  for (let i = 0; i + 3 < tokens.length; i++) {
    const t = tokens[i]
    if (!(
      t.type === 'word' &&
      t.value === 'table' &&
      tokens[i + 1].value === '(' &&
      ['tumble', 'hop', 'session'].includes(tokens[i + 2].value) &&
      tokens[i + 3].value === '('
    ))
      continue
    const close = tokens.findIndex((x, k) => k > i + 1 && x.type === 'punct' && x.value === ')' && x.depth === t.depth)
    if (close < 0) continue
    for (let k = i + 4; k < close; k++) {
      const x = tokens[k]
      if (x.type === 'word' && x.value === 'table' && x.depth === t.depth + 2) out = blank(out, x.start, x.end)
      if (x.type === 'word' && x.value === 'descriptor' && tokens[k + 1]?.value === '(') {
        const end = tokens.findIndex(
          (y, m) => m > k + 1 && y.type === 'punct' && y.value === ')' && y.depth === x.depth,
        )
        out = blank(out, x.start, tokens[k + 1].end)
        if (end > 0) out = blank(out, tokens[end].start, tokens[end].end)
      }
    }
    out = blank(out, t.start, tokens[i + 1].end)
    out = blank(out, tokens[close].start, tokens[close].end)
    tokens = tokenize(out)
  }
  return out
}
