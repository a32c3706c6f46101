/**
 * The logical plan: relational operators over typed columns, produced by the binder, rewritten
 * by the optimizer rules, lowered to operators by physical.ts. Every node lists its output
 * columns, so each stage can be printed by EXPLAIN.
 */
import type { BoundExpr } from '../expr/bound.ts'
import type { AggregateSpec } from '../expr/aggregates.ts'
import type { RelationInput } from '../runtime/dataflow.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { TypeMod } from '../types/typmod.ts'

export interface PlanColumn {
  readonly name: string
  readonly type: DataType
  /** The declared type modifier (varchar(5), numeric(12,2)); kept by plain column references only. */
  readonly typmod?: TypeMod
  /** The relation alias the column can be qualified with, if any. */
  readonly table?: string
  /** Hidden columns (e.g. window_start of the short TUMBLE form) resolve by name but `*` skips them. */
  readonly hidden?: boolean
}

/** A relation a plan reads, as the catalog resolved it. */
export interface RelationRef {
  readonly kind: 'source' | 'table' | 'materialized_view' | 'system'
  readonly name: string
  readonly input: RelationInput
  /** Declared `WATERMARK FOR col AS col - d`: column → delay µs (sources and tables). */
  readonly watermarkDelays: ReadonlyMap<number, number>
  /** Only ever inserts (sources, APPEND ONLY tables): nothing upstream retracts. */
  readonly appendOnly: boolean
  /**
   * The index a pull query's lookup on `columns` (columns fixed by `col = constant`) would read:
   * a table's primary key or declared index, a view's declared index or one built on first use.
   * Undefined (or absent) when none serves; the index-lookup rule asks it.
   */
  readonly lookupIndex?: (columns: readonly number[]) => LookupIndex | undefined
}

/** An index a lookup reads: its name (undefined: a view's index built on first use) and columns. */
export interface LookupIndex {
  readonly name: string | undefined
  readonly columns: readonly number[]
}

/**
 * A scan read through an index (pull queries): only the rows whose `columns` equal `values`.
 * Each value is a constant expression (no column references; parameters allowed) evaluated when
 * the query runs and converted exactly to the column's type — when it has no exact value of that
 * type (`int2col = 70000`), no row matches.
 */
export interface ScanLookup {
  readonly index: LookupIndex
  readonly values: readonly BoundExpr[]
}

export interface AggregateCallPlan {
  readonly spec: AggregateSpec
  /** Input column of the first argument, -1 for count(*). */
  readonly arg: number
  /** Input column of the second argument (string_agg delimiter), -1 if none. */
  readonly arg2: number
  readonly label: string
}

export interface IntervalBound {
  /** Time column of the left input. */
  readonly leftTime: number
  /** Time column of the right input. */
  readonly rightTime: number
  /** right.t − left.t ≥ lo (µs; −Infinity when unbounded). */
  readonly lo: number
  /** right.t − left.t ≤ hi (µs; Infinity when unbounded). */
  readonly hi: number
}

export interface WindowPlan {
  /** For 'session', `size` is the gap; window_start/window_end come from the session aggregate. */
  readonly kind: 'tumble' | 'hop' | 'session'
  readonly timeColumn: number
  readonly size: number
  readonly slide: number
  readonly offset: number
}

export type LogicalPlan =
  | {
      readonly kind: 'scan'
      readonly relation: RelationRef
      readonly columns: readonly PlanColumn[]
      /** Pull queries: read through an index (rules/index-lookup.ts); the filter above still applies. */
      readonly lookup?: ScanLookup
    }
  | { readonly kind: 'values'; readonly rows: readonly (readonly Value[])[]; readonly columns: readonly PlanColumn[] }
  | {
      readonly kind: 'filter'
      readonly input: LogicalPlan
      readonly predicate: BoundExpr
      readonly columns: readonly PlanColumn[]
    }
  | {
      readonly kind: 'project'
      readonly input: LogicalPlan
      readonly exprs: readonly BoundExpr[]
      readonly columns: readonly PlanColumn[]
    }
  | {
      readonly kind: 'window'
      readonly input: LogicalPlan
      readonly window: WindowPlan
      readonly columns: readonly PlanColumn[]
    }
  | {
      readonly kind: 'aggregate'
      readonly input: LogicalPlan
      /** The first `keyCount` input columns are the group keys. */
      readonly keyCount: number
      readonly calls: readonly AggregateCallPlan[]
      /** Index among the keys of window_end (else window_start), when grouping by a window. */
      readonly windowKey: number | undefined
      /**
       * 'partial': the first phase of a two-phase window aggregate (rules/two-phase.ts) — it runs
       * on each shard's own rows, without an exchange, and a final aggregate above it merges the
       * shards' partial results by window. Absent: an ordinary aggregate.
       */
      readonly phase?: 'partial'
      readonly columns: readonly PlanColumn[]
    }
  | {
      readonly kind: 'join'
      readonly type: 'inner' | 'left' | 'right' | 'full'
      readonly left: LogicalPlan
      readonly right: LogicalPlan
      /** Equi-join keys: column of the left input = column of the right input. */
      readonly leftKeys: readonly number[]
      readonly rightKeys: readonly number[]
      /** The rest of ON, over [left columns..., right columns...]. */
      readonly residual: BoundExpr | undefined
      /** FOR SYSTEM_TIME AS OF PROCTIME() on the right: left rows look up its state at arrival. */
      readonly lookup: boolean
      /**
       * An interval condition between event times (right.t − left.t within [lo, hi] µs) found in
       * ON: lets the join free rows that no future row can match, and call late rows late.
       */
      readonly interval: IntervalBound | undefined
      readonly columns: readonly PlanColumn[]
    }
  | { readonly kind: 'union'; readonly inputs: readonly LogicalPlan[]; readonly columns: readonly PlanColumn[] }
  /**
   * EXCEPT / INTERSECT [ALL] over rows compared whole (NULLs equal, as DISTINCT does): each distinct
   * row appears as often as its counts in the two inputs say (see ops/set-op.ts).
   */
  | {
      readonly kind: 'set_op'
      readonly op: 'except' | 'intersect'
      readonly all: boolean
      readonly left: LogicalPlan
      readonly right: LogicalPlan
      readonly columns: readonly PlanColumn[]
    }
  /** Session windows with aggregation; input [partition keys..., ts, args...], output [window_start, window_end, keys..., aggs...]. */
  | {
      readonly kind: 'session_aggregate'
      readonly input: LogicalPlan
      readonly partitionCount: number
      readonly gap: number
      readonly calls: readonly AggregateCallPlan[]
      readonly columns: readonly PlanColumn[]
    }
  /** ROW_NUMBER() OVER (PARTITION BY .. ORDER BY ..): input columns plus the number (bigint). */
  | {
      readonly kind: 'rank'
      readonly input: LogicalPlan
      readonly partition: readonly number[]
      readonly order: readonly { readonly column: number; readonly descending: boolean; readonly nullsFirst: boolean }[]
      /** Only rows numbered up to this are needed above (from `rn <= N`); Infinity when unknown. */
      readonly limit: number
      readonly columns: readonly PlanColumn[]
    }

/** The inputs of a plan node. */
export function inputsOf(plan: LogicalPlan): readonly LogicalPlan[] {
  switch (plan.kind) {
    case 'scan':
    case 'values':
      return []
    case 'filter':
    case 'project':
    case 'window':
    case 'aggregate':
    case 'rank':
    case 'session_aggregate':
      return [plan.input]
    case 'join':
    case 'set_op':
      return [plan.left, plan.right]
    case 'union':
      return plan.inputs
  }
}

/** Whether a plan only ever emits inserts (so downstream state need not prepare for retractions). */
export function isAppendOnly(plan: LogicalPlan): boolean {
  switch (plan.kind) {
    case 'scan':
      return plan.relation.appendOnly
    case 'values':
      return true
    case 'filter':
    case 'project':
    case 'window':
      return isAppendOnly(plan.input)
    case 'union':
      return plan.inputs.every(isAppendOnly)
    case 'join':
      return plan.lookup && plan.type === 'inner' && isAppendOnly(plan.left)
    case 'aggregate':
    case 'rank':
    case 'session_aggregate':
    case 'set_op':
      return false
  }
}

export function isWindowed(plan: LogicalPlan): boolean {
  switch (plan.kind) {
    case 'window':
      return true
    default:
      return inputsOf(plan).some(isWindowed)
  }
}
