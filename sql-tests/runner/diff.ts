/**
 * A small line diff for failure messages: `-` lines only in the expected output, `+` lines only
 * in the actual output, two-space lines in both (longest common subsequence).
 */

/** Diffs two line lists; past `limit` lines per side it lists both sides whole instead. */
export function lineDiff(expected: readonly string[], actual: readonly string[], limit = 2000): string {
  if (expected.length > limit || actual.length > limit) {
    return ['expected:', ...expected.map((l) => '- ' + l), 'actual:', ...actual.map((l) => '+ ' + l)].join('\n')
  }
  const n = expected.length
  const m = actual.length
  // lcs[i][j] = length of the LCS of expected[i..] and actual[j..].
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1))
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = expected[i] === actual[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1])
    }
  }
  const out: string[] = []
  let i = 0
  let j = 0
  while (i < n || j < m) {
    if (i < n && j < m && expected[i] === actual[j]) {
      out.push('  ' + expected[i])
      i++
      j++
    } else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) out.push('- ' + expected[i++])
    else out.push('+ ' + actual[j++])
  }
  if (out.length === 0) out.push('  (no rows on either side)')
  return out.join('\n')
}
