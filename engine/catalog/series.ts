/**
 * `generate_series(start, stop [, step])` in FROM with constant integer bounds: a relation of
 * its own whose rows are made when a query reads it, one column, as many rows as asked. The
 * converter names it `sluice_catalog."series(start,stop,step)"` (the bounds in the name keep
 * the statement tree and the binder unchanged); bounds that read columns (catalog queries'
 * correlated `generate_series(1, array_length(...))`) still go through the small fixed
 * `sluice_catalog.series` table and a filter.
 */
import type { RelationRef } from '../plan/logical.ts'
import type { ColumnSchema } from '../connector.ts'
import type { Chunk } from '../chunk.ts'
import { Stream } from '../runtime/stream.ts'
import { T } from '../types/datatype.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { defaultQueryMemoryLimit } from '../batch/budget.ts'

const INT4_MIN = -2147483648
const INT4_MAX = 2147483647
/** Estimated bytes per generated row (a column cell, boxed for bigint), for the memory check. */
const ROW_BYTES = 16
const stream = new Stream('series')

/** The relation name the converter gives a constant series. */
export function seriesTableName(start: bigint, stop: bigint, step: bigint): string {
  return `series(${start},${stop},${step})`
}

/** The relation for a name made by `seriesTableName`, or undefined for any other name. */
export function constantSeries(name: string): { ref: RelationRef; columns: readonly ColumnSchema[] } | undefined {
  const m = /^series\((-?\d+),(-?\d+),(-?\d+)\)$/.exec(name)
  if (m === null) return undefined
  const [start, stop, step] = [BigInt(m[1]), BigInt(m[2]), BigInt(m[3])]
  if (step === 0n) throw new SluiceError(SqlState.invalid_parameter_value, 'step size cannot equal zero')
  // generate_series(int, int) is int4 in PostgreSQL; bounds past int4 make it the bigint form.
  const small = [start, stop].every((v) => v >= BigInt(INT4_MIN) && v <= BigInt(INT4_MAX))
  const columns: ColumnSchema[] = [{ name: 'n', type: small ? T.int4 : T.int8 }]
  const count = (): bigint => (stop < start === step < 0n || start === stop ? (stop - start) / step + 1n : 0n)
  // A pull query reads the series in pieces as it goes (engine/batch/cursor.ts): never all at once.
  function* pieces(maxRows: number): Generator<Chunk> {
    const total = count()
    for (let at = 0n; at < total; at += BigInt(maxRows)) {
      const n = Number(total - at < BigInt(maxRows) ? total - at : BigInt(maxRows))
      const column = new Array<number | bigint>(n)
      const first = start + at * step
      for (let i = 0; i < n; i++) column[i] = small ? Number(first) + i * Number(step) : first + BigInt(i) * step
      yield { columns: [column], ops: new Int8Array(n).fill(1), length: n }
    }
  }
  const snapshot = (): Chunk => {
    const n = Number(count())
    const limit = defaultQueryMemoryLimit()
    if (n * ROW_BYTES > limit) {
      throw new SluiceError(
        SqlState.out_of_memory,
        `generate_series(${start}, ${stop}, ${step}) makes ${n} rows, more than a query's memory allows`,
        {
          hint: 'Use a smaller range, or several statements.',
        },
      )
    }
    const column = new Array<number | bigint>(n)
    if (small) {
      const s = Number(start)
      const d = Number(step)
      for (let i = 0; i < n; i++) column[i] = s + i * d
    } else {
      for (let i = 0; i < n; i++) column[i] = start + BigInt(i) * step
    }
    return { columns: [column], ops: new Int8Array(n).fill(1), length: n }
  }
  const ref: RelationRef = {
    kind: 'system',
    name: `sluice_catalog.${name}`,
    watermarkDelays: new Map(),
    appendOnly: true,
    input: { name: `sluice_catalog.${name}`, stream, snapshot, rowCount: () => Number(count()), pieces },
  }
  return { ref, columns }
}
