/**
 * The net effect of one epoch's changes on a keyed external store (the Redis and PostgreSQL
 * sinks): for each row key, the row to upsert or a delete. Upsert sinks apply these instead of the
 * raw change stream, so a repeated epoch is an idempotent overwrite.
 *
 * Why consolidate instead of "last operation per key wins": operators do not promise to emit a
 * key's retraction before its insertion. Top-N re-emits positions, so when two rows swap ranks
 * it emits `+(b, rank 1)` before `-(b, rank 2)`; keyed on the item, the last operation would be a
 * delete although b is still in the result. Counting each distinct row's net multiplicity per key
 * is order-independent: the rows left with a positive count are the key's rows after the epoch.
 * When several remain (a `key` that does not identify rows), the one inserted last wins.
 */
import type { Chunk } from '../../engine/chunk.ts'
import type { ColumnSchema } from '../../engine/connector.ts'
import { formatText } from '../../engine/types/text.ts'

/** A row as text, one entry per column, `null` for SQL NULL. */
export type TextRow = readonly (string | null)[]

/** What happens to one key in an epoch. */
export interface KeyChange {
  /** The key columns' text (from `row`, or from a retracted row when deleted). */
  readonly key: TextRow
  /** The key's row after the epoch; undefined: the key has no row any more (delete). */
  readonly row: TextRow | undefined
  /** Rows of this key that were retracted (net) in the epoch, other than `row`. */
  readonly retracted: readonly TextRow[]
}

interface RowCount {
  readonly row: TextRow
  count: number
  /** Position of the row's last insertion in the epoch (for ties among remaining rows). */
  lastInsert: number
}

/**
 * Renders a value as Sluice prints it over pgwire (session time zone UTC), or null.
 * The text forms are PostgreSQL's, so PostgreSQL reads them back exactly with a cast.
 */
export function textRow(chunk: Chunk, i: number, columns: readonly ColumnSchema[]): TextRow {
  const out = new Array<string | null>(columns.length)
  for (let c = 0; c < columns.length; c++) {
    const v = chunk.columns[c][i]
    out[c] = v === null ? null : formatText(columns[c].type, v, 'UTC')
  }
  return out
}

/** An unambiguous identity string for a text row (NULL and '' differ, no separator clashes). */
function rowId(row: TextRow): string {
  return JSON.stringify(row)
}

function keyOf(row: TextRow, key: readonly number[]): TextRow {
  const out = new Array<string | null>(key.length)
  for (let i = 0; i < key.length; i++) out[i] = row[key[i]]
  return out
}

/**
 * The net changes of an epoch's chunks, one entry per key that changed, in order of the key's
 * first appearance. Keys whose rows cancel out (inserted and retracted in the same epoch, or
 * retracted and inserted again unchanged) are left out.
 */
export function netChanges(
  chunks: readonly Chunk[],
  columns: readonly ColumnSchema[],
  key: readonly number[],
): KeyChange[] {
  const byKey = new Map<string, Map<string, RowCount>>()
  let seq = 0
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      const row = textRow(chunk, i, columns)
      const k = rowId(keyOf(row, key))
      let rows = byKey.get(k)
      if (rows === undefined) {
        rows = new Map()
        byKey.set(k, rows)
      }
      const id = rowId(row)
      let entry = rows.get(id)
      if (entry === undefined) {
        entry = { row, count: 0, lastInsert: -1 }
        rows.set(id, entry)
      }
      seq++
      if (chunk.ops[i] > 0) {
        entry.count++
        entry.lastInsert = seq
      } else entry.count--
    }
  }
  const out: KeyChange[] = []
  for (const rows of byKey.values()) {
    let winner: RowCount | undefined = undefined
    const retracted: TextRow[] = []
    for (const r of rows.values()) {
      if (r.count > 0 && (winner === undefined || r.lastInsert > winner.lastInsert)) winner = r
      else if (r.count < 0) retracted.push(r.row)
    }
    if (winner === undefined && retracted.length === 0) continue
    const keyRow = winner?.row ?? retracted[0]
    out.push({ key: keyOf(keyRow, key), row: winner?.row, retracted })
  }
  return out
}
