/**
 * Name resolution for the binder: the columns visible at a point of a query, each with the
 * relation alias it can be qualified by. Unqualified names must be unique (42702 otherwise);
 * unknown names are 42703, with the position of the reference.
 */
import type { PlanColumn } from './logical.ts'
import { SluiceError, SqlState } from '../errors.ts'

export class Scope {
  constructor(readonly columns: readonly PlanColumn[]) {}

  /** Index of the column `name` (optionally qualified by `table`), or throws 42703/42702. */
  resolve(table: string | undefined, name: string, position?: number): number {
    let found = -1
    for (let i = 0; i < this.columns.length; i++) {
      const c = this.columns[i]
      if (c.name !== name) continue
      if (table !== undefined && c.table !== table) continue
      if (found >= 0) {
        throw new SluiceError(SqlState.ambiguous_column, `column reference "${name}" is ambiguous`, { position })
      }
      found = i
    }
    if (found < 0) {
      const shown = table === undefined ? name : `${table}.${name}`
      if (table !== undefined && !this.columns.some((c) => c.table === table)) {
        throw new SluiceError(SqlState.undefined_table, `missing FROM-clause entry for table "${table}"`, { position })
      }
      throw new SluiceError(SqlState.undefined_column, `column "${shown}" does not exist`, { position })
    }
    return found
  }

  tryResolve(table: string | undefined, name: string): number | undefined {
    try {
      return this.resolve(table, name)
    } catch {
      return undefined
    }
  }

  /** The visible (non-hidden) columns for `*` or `t.*`. */
  star(table: string | undefined, position?: number): number[] {
    const out: number[] = []
    this.columns.forEach((c, i) => {
      if (!c.hidden && (table === undefined || c.table === table)) out.push(i)
    })
    if (table !== undefined && out.length === 0) {
      throw new SluiceError(SqlState.undefined_table, `missing FROM-clause entry for table "${table}"`, { position })
    }
    return out
  }
}
