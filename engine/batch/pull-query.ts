/**
 * Pull queries (SELECT): the planning pipeline (engine/plan/pipeline.ts) rewrites the bound plan
 * for batch (join order from estimates, point lookups through indexes) and lowers it to a tree of
 * cursors (cursor.ts), which a driver steps
 * until the root is exhausted, collecting the rows; then ORDER BY / LIMIT / OFFSET apply.
 *
 * Two drivers share one run: `runPullQueryAsync` (statements from clients) yields the event loop
 * every few milliseconds, so other sessions, /healthz and every view keep running while a heavy
 * query computes, and a cancel request or statement_timeout ends it between two steps with 57014;
 * `runPullQuery` steps synchronously (subqueries evaluated inside an expression, which cannot
 * await), checking the interrupt between steps all the same. A relation whose rows are partly on
 * disk (a view reading its aggregate's state table) is scanned over awaits: the async driver
 * awaits each read its cursors wait for; the synchronous one refuses such a scan (0A000).
 */
import type { LogicalPlan } from '../plan/logical.ts'
import type { CompileContext } from '../expr/compile.ts'
import type { OperatorContext } from '../ops/operator.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { QueryBudget } from './budget.ts'
import type { Cursor } from './cursor.ts'
import { batchPlan, lowerBatch } from '../plan/pipeline.ts'
import { compareValues } from '../types/compare.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { STEP_ROWS, ScanCursor, chunkBytes } from './cursor.ts'

/** Per-statement limits: the statement timeout / cancel check, result size and memory budget. */
export interface PullLimits {
  readonly interrupt?: { readonly deadline: number | undefined; check(): void }
  /** Estimated bytes of collected rows beyond which the query fails with 54000 (not OOM). */
  readonly maxResultBytes?: number
  /** The statement's memory: hash tables, operator state and collected rows reserve from it (53200). */
  readonly budget?: QueryBudget
}

/** How long the async driver computes before it lets the event loop run (ms). */
const YIELD_MS = 4

export interface SortKey {
  /** Output column (may be a hidden trailing column). */
  readonly column: number
  readonly descending: boolean
  /** PostgreSQL default: NULLS LAST for ASC, NULLS FIRST for DESC. */
  readonly nullsFirst: boolean
}

export interface PullQuery {
  readonly plan: LogicalPlan
  readonly orderBy: readonly SortKey[]
  readonly limit: number | undefined
  readonly offset: number
  /** Trailing output columns added only for sorting, dropped from the result. */
  readonly hidden: number
  /**
   * The plan after the pipeline's batch rules (engine/plan/pipeline.ts), when the statement has
   * it already; otherwise (a subquery's bound plan) the run applies them to `plan`.
   */
  readonly batchPlan?: LogicalPlan
}

/** One execution of a pull query: its cursor tree and the rows collected so far. */
class PullRun {
  readonly root: Cursor
  private rows: Value[][] = []
  private bytes = 0
  private reserved = 0
  private readonly width: number
  /** Without ORDER BY, the run may stop once OFFSET + LIMIT rows are in. */
  private readonly enough: number
  /** With ORDER BY and LIMIT, only the first OFFSET + LIMIT rows in order are kept (top-K). */
  private readonly keep: number | undefined
  private readonly types: readonly DataType[]
  /** The last step produced no rows. */
  private idle = false

  constructor(
    private readonly query: PullQuery,
    compile: CompileContext,
    ops: OperatorContext,
    private readonly limits: PullLimits,
  ) {
    this.root = lowerBatch(query.batchPlan ?? batchPlan(query.plan), { compile, ops, budget: limits.budget })
    const open = (c: Cursor): void => {
      c.open?.()
      c.inputs.forEach(open)
    }
    try {
      open(this.root)
    } catch (e) {
      // Scans opened so far release what they hold (a scan from disk holds a store snapshot).
      this.close()
      throw e
    }
    this.width = query.plan.columns.length
    this.enough = query.orderBy.length === 0 && query.limit !== undefined ? query.offset + query.limit : Infinity
    this.keep = query.orderBy.length > 0 && query.limit !== undefined ? query.offset + query.limit : undefined
    this.types = query.plan.columns.map((c) => c.type)
  }

  /**
   * A read from disk the last step waited for (it made no rows), or undefined. The async driver
   * awaits it rather than stepping again to no effect.
   */
  waiting(): Promise<void> | undefined {
    if (!this.idle) return undefined
    const reads: Promise<void>[] = []
    const walk = (c: Cursor): void => {
      const w = c.waiting?.()
      if (w !== undefined) reads.push(w)
      c.inputs.forEach(walk)
    }
    walk(this.root)
    return reads.length === 0 ? undefined : reads.length === 1 ? reads[0] : Promise.race(reads)
  }

  /** The scans that read from disk over awaits (a synchronous run cannot have any). */
  diskScans(): string[] {
    const names: string[] = []
    const walk = (c: Cursor): void => {
      if (c instanceof ScanCursor && c.fromDisk) names.push(c.explain())
      c.inputs.forEach(walk)
    }
    walk(this.root)
    return names
  }

  /** Runs one step of the root cursor; false once the result is complete. */
  step(): boolean {
    this.idle = false
    if (this.rows.length >= this.enough) return false
    const c = this.root.next()
    if (c === undefined) return false
    this.idle = c.length === 0
    if (c.length === 0) return true
    const bytes = chunkBytes(c)
    this.bytes += bytes
    const maxBytes = this.limits.maxResultBytes ?? Infinity
    if (this.bytes > maxBytes) {
      throw new SluiceError(SqlState.program_limit_exceeded, `query result too large: more than ${maxBytes} bytes`, {
        hint: 'Add a WHERE or LIMIT, or read the changes with SUBSCRIBE.',
      })
    }
    this.limits.budget?.reserve(bytes)
    this.reserved += bytes
    const width = this.width
    for (let i = 0; i < c.length; i++) {
      const row = new Array<Value>(width)
      for (let k = 0; k < width; k++) row[k] = c.columns[k][i]
      this.rows.push(row)
    }
    if (this.keep !== undefined && this.rows.length >= Math.max(2 * this.keep, STEP_ROWS)) this.trim(this.keep)
    return true
  }

  /**
   * Top-K: sorts what is collected and drops all but the first `keep` rows, so ORDER BY ... LIMIT
   * holds and finally sorts about 2K rows, however many the query produces. The sort is stable,
   * so ties keep the rows a full sort would keep.
   */
  private trim(keep: number): void {
    const query = this.query
    this.rows.sort((a, b) => compareRows(a, b, query.orderBy, this.types))
    if (this.rows.length <= keep) return
    const dropped = Math.floor((this.reserved * (this.rows.length - keep)) / this.rows.length)
    this.bytes = Math.floor((this.bytes * keep) / this.rows.length)
    this.rows.length = keep
    this.limits.budget?.release(dropped)
    this.reserved -= dropped
  }

  result(): Value[][] {
    const query = this.query
    let rows = this.rows
    if (query.orderBy.length > 0) rows.sort((a, b) => compareRows(a, b, query.orderBy, this.types))
    const end = query.limit === undefined ? rows.length : query.offset + query.limit
    if (query.offset > 0 || end < rows.length) rows = rows.slice(query.offset, end)
    if (query.hidden > 0) rows = rows.map((r) => r.slice(0, this.width - query.hidden))
    return rows
  }

  /** Gives back every reservation of the run's cursors and of the collected rows. */
  close(): void {
    const walk = (c: Cursor): void => {
      c.close?.()
      c.inputs.forEach(walk)
    }
    walk(this.root)
    this.limits.budget?.release(this.reserved)
    this.reserved = 0
  }
}

/** Runs a pull query to completion on the calling stack (subqueries inside expressions). */
export function runPullQuery(
  query: PullQuery,
  compile: CompileContext,
  ops: OperatorContext,
  limits: PullLimits = {},
): Value[][] {
  const run = new PullRun(query, compile, ops, limits)
  try {
    const onDisk = run.diskScans()
    if (onDisk.length > 0) {
      // Nothing to await here (an expression's subquery): its rows would have to be read now.
      throw new SluiceError(
        SqlState.feature_not_supported,
        `a subquery inside an expression cannot read "${onDisk[0]}" while its rows are partly on disk`,
        {
          hint: 'Read it in the FROM clause (a join), or with a WHERE on its group keys.',
        },
      )
    }
    const interrupt = limits.interrupt
    while (run.step()) interrupt?.check()
    interrupt?.check()
    return run.result()
  } finally {
    run.close()
  }
}

/**
 * Runs a pull query in steps, letting the event loop run every YIELD_MS of work; the interrupt
 * (cancel, statement_timeout) is checked after every step.
 */
export async function runPullQueryAsync(
  query: PullQuery,
  compile: CompileContext,
  ops: OperatorContext,
  limits: PullLimits = {},
): Promise<Value[][]> {
  const run = new PullRun(query, compile, ops, limits)
  try {
    const interrupt = limits.interrupt
    let since = performance.now()
    while (run.step()) {
      interrupt?.check()
      const read = run.waiting()
      if (read !== undefined) {
        await read
        interrupt?.check()
        since = performance.now()
        continue
      }
      if (performance.now() - since >= YIELD_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve))
        interrupt?.check()
        since = performance.now()
      }
    }
    interrupt?.check()
    return run.result()
  } finally {
    run.close()
  }
}

function compareRows(
  a: readonly Value[],
  b: readonly Value[],
  keys: readonly SortKey[],
  types: readonly DataType[],
): number {
  for (const k of keys) {
    const x = a[k.column]
    const y = b[k.column]
    let c: number
    if (x === null || y === null) {
      if (x === y) continue
      c = x === null ? (k.nullsFirst ? -1 : 1) : k.nullsFirst ? 1 : -1
      if (c !== 0) return c
      continue
    }
    c = compareValues(x, y, types[k.column])
    if (c !== 0) return k.descending ? -c : c
  }
  return 0
}
