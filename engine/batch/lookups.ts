/**
 * Running a scan the index-lookup rule (engine/plan/rules/index-lookup.ts) put on an index: the
 * constants are evaluated with the statement's parameters, converted exactly to their columns'
 * types, and the relation's `lookup` returns only the matching rows. A relation that cannot serve
 * the lookup after all (its index was dropped while the query waited to run) is read whole: the
 * filter above the scan still applies, so the answer is the same.
 */
import type { CompileContext } from '../expr/compile.ts'
import type { ScanLookup } from '../plan/logical.ts'
import type { RelationInput } from '../runtime/dataflow.ts'
import type { ScanRows } from './cursor.ts'
import type { DataType, Value } from '../types/datatype.ts'
import { diskScan } from '../runtime/dataflow.ts'
import { STEP_ROWS } from './cursor.ts'
import { emptyColumns } from '../chunk.ts'
import { evalConst } from '../expr/compile.ts'
import { castValue } from '../types/cast.ts'
import { valuesEqual } from '../types/compare.ts'

/**
 * A relation's rows as a scan reads them: pieces made on demand, stored rows by reference, a
 * snapshot, or pieces read from disk when some rows are only there (a derived view).
 */
export function scanRows(input: RelationInput): ScanRows {
  return diskScan(input, STEP_ROWS) ?? input.pieces?.(STEP_ROWS) ?? input.snapshotRows?.() ?? input.snapshot()
}

/** The rows of `input` a lookup finds (a chunk of `width` columns), or all its rows when no index serves. */
export function lookupRows(
  input: RelationInput,
  lookup: ScanLookup,
  columnTypes: readonly DataType[],
  width: number,
  compile: CompileContext,
): ScanRows {
  const columns = lookup.index.columns
  const values: Value[] = []
  for (let i = 0; i < columns.length; i++) {
    let constant: Value
    try {
      constant = evalConst(lookup.values[i], compile)
    } catch {
      return scanRows(input) // the filter reports the error, as without the index
    }
    const value = exactValue(constant, lookup.values[i].type, columnTypes[columns[i]])
    // `x = NULL` holds for no row (an index would match NULL keys), nor does a value the column cannot hold.
    if (value === null) return { columns: emptyColumns(width), ops: new Int8Array(0), length: 0 }
    values.push(value)
  }
  return input.lookup?.(columns, values) ?? scanRows(input)
}

/** `value` as a value of the column's type when it has one equal to it, else null. */
function exactValue(value: Value, from: DataType, to: DataType): Value {
  if (value === null || from.kind === to.kind) return value
  let converted: Value
  try {
    converted = castValue(value, from, to)
  } catch {
    return null // out of the column's range: no row holds it
  }
  if (converted === null) return null
  // 2.5 → 3 would find the wrong rows: only a conversion that comes back unchanged is exact.
  return valuesEqual(castValue(converted, to, from), value, from) ? converted : null
}
