/**
 * How query results become the text that .slt files compare, the choices written down once:
 *
 * - Values arrive in PostgreSQL text format (what psql prints). SQL NULL prints as `NULL` and the
 *   empty string as `(empty)`, as sqllogictest does.
 * - Type letters of `query <types>`:
 *     T  text: the PostgreSQL text verbatim (use it to pin exact output such as numeric scale)
 *     I  integer: verbatim (PostgreSQL already prints integers plainly)
 *     R  real: the value parsed as a number and printed with 3 decimals (`2.5` → `2.500`), as
 *        sqllogictest prints floats; NaN / Infinity / non-numbers stay verbatim
 *     B  boolean: verbatim, so PostgreSQL's `t` / `f`
 *     D, P, ?  accepted for DataFusion files (date, timestamp, any): verbatim
 * - A row is its values joined by single spaces; comparison normalises both sides like
 *   sqllogictest-rs: trim, then collapse every run of whitespace to one space. Values containing
 *   spaces therefore compare as part of the whole row string.
 * - Sort modes: `nosort` keeps the order; `rowsort` sorts rows (as their formatted strings, both
 *   the actual and the expected lines, so files need not list rows pre-sorted); `valuesort` sorts
 *   every whitespace-separated value of the whole result on its own.
 * - Hashing: when a result has more values than `hash-threshold` (0 = never), it compares as
 *   `N values hashing to <md5>`, the md5 over each value (after the sort mode) followed by '\n'.
 */
import { createHash } from 'node:crypto'

export type SortMode = 'nosort' | 'rowsort' | 'valuesort'

export const TYPE_LETTERS = new Set(['T', 'I', 'R', 'B', 'D', 'P', '?'])

/** Formats one PostgreSQL text value for a column of the given type letter. */
export function formatValue(value: string | null, letter: string): string {
  if (value === null) return 'NULL'
  if (value === '') return '(empty)'
  if (letter === 'R') {
    const t = value.trim()
    if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return formatReal(Number(t))
  }
  return value
}

function formatReal(n: number): string {
  const s = n.toFixed(3)
  return s === '-0.000' ? '0.000' : s
}

/** Formats a result: one array of formatted values per row. Missing letters count as `T`. */
export function formatRows(rows: readonly (readonly (string | null)[])[], types: string): string[][] {
  return rows.map((row) => row.map((v, i) => formatValue(v, types[i] ?? 'T')))
}

/** sqllogictest-rs's normaliser: trim, then one space for each run of whitespace. */
export function normalize(line: string): string {
  return line.trim().split(/\s+/).join(' ')
}

/** Applies a sort mode to formatted rows, giving the value lists in comparison order. */
export function sortRows(rows: readonly (readonly string[])[], mode: SortMode): string[][] {
  switch (mode) {
    case 'nosort':
      return rows.map((r) => [...r])
    case 'rowsort':
      return rows
        .map((r) => ({ r: [...r], key: normalize(r.join(' ')) }))
        .sort((a, b) => compareStrings(a.key, b.key))
        .map((x) => x.r)
    case 'valuesort':
      return rows
        .flatMap((r) => r.map(normalize))
        .sort(compareStrings)
        .map((v) => [v])
  }
}

/** Byte-wise (code unit) order, independent of the locale, so files sort the same everywhere. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The lines a result prints as in an .slt file (after sorting), one row per line. */
export function resultLines(sorted: readonly (readonly string[])[]): string[] {
  return sorted.map((r) => normalize(r.join(' ')))
}

/**
 * The form two results compare in under a sort mode, applied alike to the expected lines of the
 * file and the actual result's lines: normalised lines, sorted for rowsort, and for valuesort
 * every whitespace-separated token sorted (a file may list the values one per line or per row).
 */
export function comparisonLines(lines: readonly string[], mode: SortMode): string[] {
  const normalized = lines.map(normalize)
  if (mode === 'rowsort') return normalized.sort(compareStrings)
  if (mode === 'valuesort') return normalized.flatMap((l) => (l === '' ? [] : l.split(' '))).sort(compareStrings)
  return normalized
}

/** sqllogictest's result hash: md5 over each value followed by a newline. */
export function hashValues(values: readonly string[]): string {
  const h = createHash('md5')
  for (const v of values) h.update(v + '\n')
  return h.digest('hex')
}

/** The line a hashed result prints as. */
export function hashLine(sorted: readonly (readonly string[])[]): string {
  const values = sorted.flat()
  return `${values.length} values hashing to ${hashValues(values)}`
}

const HASH_LINE = /^(\d+) values hashing to ([0-9a-f]{32})$/

/** True when the expected block is a single `N values hashing to <md5>` line. */
export function isHashLine(lines: readonly string[]): boolean {
  return lines.length === 1 && HASH_LINE.test(lines[0].trim())
}

/** The number of values in a sorted result. */
export function valueCount(sorted: readonly (readonly string[])[]): number {
  let n = 0
  for (const r of sorted) n += r.length
  return n
}
