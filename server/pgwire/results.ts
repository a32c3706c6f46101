/**
 * Statement results on the wire: RowDescription from result columns, DataRows in the chosen
 * formats, with a pause for the socket to drain whenever the client reads slower than we encode.
 */
import type { ResultColumn } from '../../engine/session-api.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import { typeLength } from '../../engine/types/oid.ts'
import { pgTypeOid, pgTypmod } from '../../engine/types/typmod.ts'
import type { Output } from './output.ts'
import { encodeValue } from './values.ts'
import { dataRow, rowDescription } from './writer.ts'

/** RowDescription for `columns`; `formats` may be empty (Describe of a statement: all text). */
export function describeColumns(columns: readonly ResultColumn[], formats: readonly number[]): Buffer {
  return rowDescription(
    columns.map((c, i) => ({
      name: c.name,
      typeOid: pgTypeOid(c.type, c.typmod),
      typeLength: typeLength(c.type),
      typeModifier: pgTypmod(c.typmod),
      format: formats[i] ?? 0,
    })),
  )
}

/** Sends rows[start, end) as DataRows. */
export async function sendRows(
  out: Output,
  columns: readonly ResultColumn[],
  formats: readonly number[],
  rows: readonly (readonly Value[])[],
  start: number,
  end: number,
  tz: string,
): Promise<void> {
  const width = columns.length
  const types: DataType[] = columns.map((c) => c.type)
  const fmts: number[] = columns.map((_, i) => formats[i] ?? 0)
  const cells: (Buffer | null)[] = new Array<Buffer | null>(width)
  for (let r = start; r < end; r++) {
    const row = rows[r]
    for (let c = 0; c < width; c++) cells[c] = encodeValue(row[c] ?? null, types[c], fmts[c], tz)
    out.send(dataRow(cells))
    if (out.congested) await out.drained()
  }
}
