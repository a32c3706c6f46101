// The net change per key of an epoch, whatever order the operators emitted retractions and
// insertions in: an update pair in either order, rank swaps from top-N (+row before -row of one
// key), inserts cancelled within the epoch, and a key that does not identify rows.
import { describe, expect, it } from 'vitest'
import type { Chunk } from '../../engine/chunk.ts'
import type { ColumnSchema } from '../../engine/connector.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { scalar } from '../../engine/types/datatype.ts'
import { netChanges } from './net-changes.ts'

const columns: ColumnSchema[] = [
  { name: 'k', type: scalar('int8') },
  { name: 'v', type: scalar('text') },
]

/** Rows written as [op, k, v]. */
function chunk(...rows: [1 | -1, bigint, string | null][]): Chunk {
  return {
    ops: Int8Array.from(rows.map((r) => r[0])),
    columns: [rows.map((r) => r[1]), rows.map((r) => r[2] as Value)],
    length: rows.length,
  }
}

const summary = (chunks: Chunk[]): string[] =>
  netChanges(chunks, columns, [0]).map(
    (c) =>
      `${c.key.join(',')} ${c.row === undefined ? 'deleted' : `= ${c.row.join(',')}`}${c.retracted.length > 0 ? ` (was ${c.retracted.map((r) => r[1]).join('|')})` : ''}`,
  )

describe('net changes of an epoch', () => {
  it('ends each key as its remaining row says, in any emission order', () => {
    expect(summary([chunk([-1, 1n, 'old'], [1, 1n, 'new'])])).toEqual(['1 = 1,new (was old)'])
    expect(summary([chunk([1, 1n, 'new']), chunk([-1, 1n, 'old'])])).toEqual(['1 = 1,new (was old)'])
    expect(summary([chunk([-1, 2n, 'x'])])).toEqual(['2 deleted (was x)'])
    // Inserted and retracted within the epoch, or retracted and inserted back: nothing to write.
    expect(summary([chunk([1, 3n, 'x'], [-1, 3n, 'x'], [-1, 4n, 'y'], [1, 4n, 'y'])])).toEqual([])
    // Deleted, inserted, deleted again: gone.
    expect(summary([chunk([-1, 5n, 'a'], [1, 5n, 'b'], [-1, 5n, 'b'])])).toEqual(['5 deleted (was a)'])
    // NULL and '' are different rows.
    expect(summary([chunk([-1, 6n, null], [1, 6n, ''])])).toEqual(['6 = 6, (was )'])
  })

  it('lets the last inserted row win when several rows of one key remain', () => {
    expect(summary([chunk([1, 7n, 'first'], [1, 7n, 'second'])])).toEqual(['7 = 7,second'])
    expect(summary([chunk([1, 7n, 'first'], [1, 7n, 'second'], [-1, 7n, 'second'])])).toEqual(['7 = 7,first'])
  })
})
