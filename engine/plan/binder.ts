/**
 * The binder: statement-tree queries → typed logical plans. Resolves names against the catalog
 * and scopes, types every expression (PostgreSQL's rules via the function registry), extracts
 * aggregates and windows, and refuses what Sluice cannot run with a SQLSTATE and a position.
 *
 * The Binder holds what binding one statement shares (options, CTEs in scope, enclosing
 * subqueries, relations read); the work is in the bind-*.ts modules, one concept each, which take
 * the Binder as their first argument. They call back through `b.bindQuery` where binding recurses
 * from expressions or FROM into whole queries, so the modules import each other one way only.
 */
import type { Cte, Expr, Query } from '../sql/tree.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { CompileContext } from '../expr/compile.ts'
import type { DataType } from '../types/datatype.ts'
import type { AggregateCallPlan, LogicalPlan, RelationRef } from './logical.ts'
import type { SortKey } from '../batch/pull-query.ts'
import type { Scope } from './scope.ts'
import type { SubqueryRunner } from './subquery.ts'
import type { TypeMod } from '../types/typmod.ts'
import { bindExpr } from './bind-expr.ts'
import { bindSelect } from './bind-select.ts'
import { bindSetOp, bindValues } from './bind-set-op.ts'
import { coerce } from './bind-types.ts'

/** What the binder needs from the catalog. */
export interface BinderCatalog {
  /** A relation by (optional schema and) name, or a plain view's query to inline. 42P01 if missing. */
  relation(
    schema: string | undefined,
    name: string,
    position: number,
  ):
    | { kind: 'relation'; ref: RelationRef; columns: readonly { name: string; type: DataType; typmod?: TypeMod }[] }
    | { kind: 'view'; query: Query; columnNames: readonly string[] | undefined; name: string }
  /** pg_class.oid of a relation (for `'name'::regclass`); undefined when there is none. */
  relationOid?(schema: string | undefined, name: string): bigint | undefined
  /** The relation name of a pg_class.oid (for `oid::regclass::text`). */
  relationName?(oid: bigint): string | undefined
  /** Functions that read the catalog itself (`pg_get_viewdef(oid)`), bound over these arguments. */
  catalogFunction?(name: string, args: readonly BoundExpr[]): BoundExpr | undefined
}

export interface BindOptions {
  readonly catalog: BinderCatalog
  readonly compile: CompileContext
  /** Declared or inferred types of $1..$n; the binder fills in unknown entries it can infer. */
  readonly paramTypes: (DataType | undefined)[]
  /** Sources may be read (views over them) — false for pull queries, which cannot read a stream. */
  readonly allowSources: boolean
  /** Runs subqueries in expressions (pull queries only); without it they are refused (0A000). */
  readonly subqueries?: SubqueryRunner
}

export interface BoundQuery {
  readonly plan: LogicalPlan
  readonly orderBy: readonly SortKey[]
  readonly limit: number | undefined
  readonly offset: number
  readonly hidden: number
  /** Relations read (for dependencies). */
  readonly reads: ReadonlySet<string>
}

/** Aggregation in progress: group keys and the aggregate calls found so far. */
export interface AggState {
  readonly keyAsts: readonly string[]
  readonly keys: readonly BoundExpr[]
  readonly inputScope: Scope
  readonly calls: { spec: AggregateCallPlan['spec']; args: BoundExpr[]; label: string; ast: string }[]
}

export interface Ctx {
  readonly scope: Scope
  readonly agg: AggState | undefined
  /** The ROW_NUMBER() call of this SELECT and the column holding its value. */
  readonly window?: { readonly ast: string; readonly index: number }
  /** Where aggregates are not allowed, the clause name for the error. */
  readonly noAggregates?: string
}

export class Binder {
  readonly reads = new Set<string>()
  /** The CTEs in scope, innermost WITH last (read by bind-from.ts). */
  readonly ctes: Map<string, { plan: LogicalPlan }>[] = []
  /** Subqueries being bound, innermost last: the enclosing context and the outer values read. */
  readonly frames: { ctx: Ctx; outer: BoundExpr[]; keys: string[] }[] = []

  constructor(readonly options: BindOptions) {}

  bindQuery(q: Query): BoundQuery {
    this.ctes.push(new Map())
    try {
      for (const cte of q.with) this.bindCte(cte)
      return this.bindQueryBody(q)
    } finally {
      this.ctes.pop()
    }
  }

  bindExpr(e: Expr, ctx: Ctx): BoundExpr {
    return bindExpr(this, e, ctx)
  }

  /** Casts `e` to `target`: literals fold at bind time, parameters take the type. */
  coerce(e: BoundExpr, target: DataType, position: number, explicit = false): BoundExpr {
    return coerce(this, e, target, position, explicit)
  }

  private bindCte(cte: Cte): void {
    const bound = this.bindQuery(cte.query)
    this.ctes[this.ctes.length - 1].set(cte.name, { plan: bound.plan })
  }

  private bindQueryBody(q: Query): BoundQuery {
    switch (q.kind) {
      case 'select':
        return bindSelect(this, q)
      case 'values':
        return bindValues(this, q)
      case 'set_op':
        return bindSetOp(this, q)
    }
  }
}
