/**
 * Sluice's statement tree: the only syntax tree the rest of the engine sees. The front door
 * (front-door.ts) builds it from PostgreSQL's parse tree (libpg-query) plus the Sluice-only
 * statements and clauses it lifts out first. Nodes are immutable and tagged by `kind`.
 * `position` is the 1-based character offset in the whole input, as PostgreSQL reports it.
 */

export interface TypeName {
  /** Lower-case type name without schema, e.g. `int8`, `varchar`, `timestamptz`, `interval`. */
  readonly name: string
  readonly array: boolean
  readonly position: number
  /** `INTERVAL '1' MINUTE`: the unit a bare number in the literal is counted in. */
  readonly intervalUnit?: string
  /** Integer type modifiers as written: `varchar(5)` → [5], `numeric(12,2)` → [12, 2]; `char` → [1]. */
  readonly mods?: readonly number[]
}

export type Expr =
  | { readonly kind: 'column'; readonly table: string | undefined; readonly name: string; readonly position: number }
  | { readonly kind: 'star'; readonly table: string | undefined; readonly position: number }
  /** An integer or decimal literal as written; the binder picks int4/int8/numeric. */
  | { readonly kind: 'number'; readonly text: string; readonly position: number }
  /** A quoted string: type unknown until context decides. */
  | { readonly kind: 'string'; readonly value: string; readonly position: number }
  | { readonly kind: 'bool'; readonly value: boolean; readonly position: number }
  | { readonly kind: 'null'; readonly position: number }
  | { readonly kind: 'cast'; readonly expr: Expr; readonly type: TypeName; readonly position: number }
  /** `$n`, 1-based. */
  | { readonly kind: 'param'; readonly index: number; readonly position: number }
  /** An operator by symbol (`+`, `=`, `~~`, `->>`, ...), binary or prefix (one argument). */
  | { readonly kind: 'op'; readonly op: string; readonly args: readonly Expr[]; readonly position: number }
  | { readonly kind: 'and' | 'or'; readonly args: readonly Expr[]; readonly position: number }
  | { readonly kind: 'not'; readonly arg: Expr; readonly position: number }
  | { readonly kind: 'is_null'; readonly arg: Expr; readonly negated: boolean; readonly position: number }
  | {
      readonly kind: 'is_bool'
      readonly arg: Expr
      readonly value: boolean
      readonly negated: boolean
      readonly position: number
    }
  | {
      readonly kind: 'is_distinct'
      readonly left: Expr
      readonly right: Expr
      readonly negated: boolean
      readonly position: number
    }
  | {
      readonly kind: 'between'
      readonly arg: Expr
      readonly low: Expr
      readonly high: Expr
      readonly negated: boolean
      readonly position: number
    }
  | {
      readonly kind: 'in_list'
      readonly arg: Expr
      readonly list: readonly Expr[]
      readonly negated: boolean
      readonly position: number
    }
  | {
      readonly kind: 'case'
      readonly operand: Expr | undefined
      readonly whens: readonly { readonly when: Expr; readonly then: Expr }[]
      readonly else: Expr | undefined
      readonly position: number
    }
  | { readonly kind: 'coalesce' | 'greatest' | 'least'; readonly args: readonly Expr[]; readonly position: number }
  | { readonly kind: 'nullif'; readonly left: Expr; readonly right: Expr; readonly position: number }
  | {
      readonly kind: 'func'
      readonly name: string
      readonly schema: string | undefined
      readonly args: readonly Expr[]
      /** `count(*)` */
      readonly star: boolean
      readonly distinct: boolean
      readonly filter: Expr | undefined
      readonly over: WindowDef | undefined
      readonly position: number
    }
  | {
      readonly kind: 'subquery'
      readonly mode: 'scalar' | 'exists' | 'in' | 'array'
      readonly arg: Expr | undefined
      readonly query: Query
      readonly position: number
    }
  | { readonly kind: 'array'; readonly items: readonly Expr[]; readonly position: number }

export interface WindowDef {
  readonly partitionBy: readonly Expr[]
  readonly orderBy: readonly OrderItem[]
}

export interface OrderItem {
  readonly expr: Expr
  readonly descending: boolean
  /** Undefined: PostgreSQL's default (NULLS LAST for ASC, NULLS FIRST for DESC). */
  readonly nullsFirst: boolean | undefined
}

export interface SelectTarget {
  readonly expr: Expr
  readonly alias: string | undefined
}

export interface Cte {
  readonly name: string
  readonly query: Query
}

export type Query =
  | {
      readonly kind: 'select'
      readonly with: readonly Cte[]
      readonly distinct: boolean
      readonly targets: readonly SelectTarget[]
      readonly from: readonly Relation[]
      readonly where: Expr | undefined
      readonly groupBy: readonly Expr[]
      readonly having: Expr | undefined
      readonly orderBy: readonly OrderItem[]
      readonly limit: Expr | undefined
      readonly offset: Expr | undefined
    }
  | {
      readonly kind: 'values'
      readonly with: readonly Cte[]
      readonly rows: readonly (readonly Expr[])[]
      readonly orderBy: readonly OrderItem[]
      readonly limit: Expr | undefined
      readonly offset: Expr | undefined
    }
  | {
      readonly kind: 'set_op'
      readonly with: readonly Cte[]
      readonly op: 'union' | 'intersect' | 'except'
      readonly all: boolean
      readonly left: Query
      readonly right: Query
      readonly orderBy: readonly OrderItem[]
      readonly limit: Expr | undefined
      readonly offset: Expr | undefined
    }

export type Relation =
  | {
      readonly kind: 'table'
      readonly schema: string | undefined
      readonly name: string
      readonly alias: string | undefined
      readonly position: number
      /** `FOR SYSTEM_TIME AS OF PROCTIME()`: a lookup of the table's state at arrival time. */
      readonly lookup?: boolean
    }
  | {
      readonly kind: 'subquery'
      readonly query: Query
      readonly alias: string | undefined
      readonly columnAliases?: readonly string[]
      readonly position: number
    }
  | {
      readonly kind: 'join'
      readonly type: 'inner' | 'left' | 'right' | 'full' | 'cross'
      readonly left: Relation
      readonly right: Relation
      readonly on: Expr | undefined
      readonly using: readonly string[] | undefined
      readonly position: number
    }
  /** TUMBLE/HOP/SESSION in FROM: `TUMBLE(bids, event_time, INTERVAL '1 minute')`. */
  | {
      readonly kind: 'window'
      readonly fn: 'tumble' | 'hop' | 'session'
      readonly relation: Relation
      readonly timeColumn: string
      readonly args: readonly Expr[]
      readonly alias: string | undefined
      readonly position: number
    }

export interface ColumnDef {
  readonly name: string
  readonly type: TypeName
  readonly primaryKey: boolean
  readonly notNull: boolean
}

export interface WatermarkClause {
  readonly column: string
  /** The `AS` expression, e.g. `event_time - INTERVAL '5 seconds'`. */
  readonly expr: Expr
  readonly position: number
}

/** `INCLUDE key | partition | offset | timestamp | header 'name' [AS alias]` on CREATE SOURCE: record metadata as a column. */
export interface IncludeClause {
  readonly what: 'key' | 'partition' | 'offset' | 'timestamp' | 'header'
  /** The header's name, for `INCLUDE header 'name'`. */
  readonly header?: string
  readonly alias: string
  readonly position: number
}

/**
 * EXPLAIN's stages, in planning order: the binder's typed result, the logical plan before rules,
 * after rules, with stream properties, and the operator graph. Plain EXPLAIN shows the last two.
 */
export type ExplainStage = 'bound' | 'logical' | 'optimized' | 'stream' | 'physical' | 'all'

export type ObjectKindWord = 'source' | 'table' | 'materialized_view' | 'view' | 'sink'

export type Options = ReadonlyMap<string, string>

export type StatementBody =
  | { readonly kind: 'query'; readonly query: Query }
  | {
      readonly kind: 'create_source'
      readonly name: string
      readonly ifNotExists: boolean
      readonly columns: readonly ColumnDef[] | undefined
      readonly watermark: WatermarkClause | undefined
      readonly options: Options
      /** INCLUDE clauses, in order: columns appended after the declared ones. */
      readonly includes?: readonly IncludeClause[]
    }
  | {
      readonly kind: 'create_table'
      readonly name: string
      readonly ifNotExists: boolean
      readonly columns: readonly ColumnDef[]
      readonly primaryKey: readonly string[] | undefined
      readonly appendOnly: boolean
      readonly watermark: WatermarkClause | undefined
      readonly options: Options
    }
  | {
      readonly kind: 'create_materialized_view'
      readonly name: string
      readonly ifNotExists: boolean
      readonly columnNames: readonly string[] | undefined
      readonly query: Query
      /** The trailing `WATERMARK d`, µs. */
      readonly watermark: number | undefined
      readonly emit: 'changes' | 'on_window_close'
      readonly options: Options
    }
  | {
      readonly kind: 'create_view'
      readonly name: string
      readonly columnNames: readonly string[] | undefined
      readonly query: Query
      readonly orReplace: boolean
    }
  | {
      readonly kind: 'create_sink'
      readonly name: string
      readonly from: string | undefined
      readonly query: Query | undefined
      readonly options: Options
    }
  | {
      readonly kind: 'insert'
      readonly table: string
      readonly columns: readonly string[] | undefined
      readonly source: Query
      readonly onConflict:
        | { readonly columns: readonly string[]; readonly action: 'nothing' }
        | {
            readonly columns: readonly string[]
            readonly action: 'update'
            readonly set: readonly { readonly column: string; readonly expr: Expr }[]
            readonly where: Expr | undefined
          }
        | undefined
      readonly position: number
    }
  | {
      readonly kind: 'update'
      readonly table: string
      readonly set: readonly { readonly column: string; readonly expr: Expr }[]
      readonly where: Expr | undefined
      readonly position: number
    }
  | { readonly kind: 'delete'; readonly table: string; readonly where: Expr | undefined; readonly position: number }
  | {
      readonly kind: 'drop'
      readonly objectKind: ObjectKindWord
      readonly names: readonly string[]
      readonly ifExists: boolean
      readonly cascade: boolean
    }
  | { readonly kind: 'show_objects'; readonly objectKind: ObjectKindWord }
  | { readonly kind: 'show_create'; readonly objectKind: ObjectKindWord; readonly name: string }
  | { readonly kind: 'show_setting'; readonly name: string }
  | { readonly kind: 'set'; readonly name: string; readonly value: string | undefined; readonly local: boolean }
  | { readonly kind: 'reset_all' }
  | { readonly kind: 'describe'; readonly name: string; readonly position: number }
  | { readonly kind: 'flush' }
  /** `SUBSCRIBE [TO] name | (query) [WITH (snapshot = false, from = p, queue.max = n)]`. */
  | {
      readonly kind: 'subscribe'
      readonly name: string | undefined
      readonly query: Query | undefined
      readonly options: Options
    }
  /** EXPLAIN stages: the plan as bound, after the rewrite rules, the operator graph, or both of the last two. */
  | { readonly kind: 'explain'; readonly stage: ExplainStage; readonly statement: Statement }
  | { readonly kind: 'transaction'; readonly action: 'begin' | 'commit' | 'rollback' }
  | { readonly kind: 'alter_source_add_column'; readonly source: string; readonly column: ColumnDef }
  /** `CREATE INDEX [IF NOT EXISTS] [name] ON relation (col, ...)`; a missing name is made up as PostgreSQL does. */
  | {
      readonly kind: 'create_index'
      readonly name: string | undefined
      readonly relation: string
      readonly columns: readonly string[]
      readonly ifNotExists: boolean
      readonly position: number
    }
  | {
      readonly kind: 'drop_index'
      readonly names: readonly string[]
      readonly ifExists: boolean
      readonly cascade: boolean
    }
  /** Statements accepted and ignored (DISCARD ALL, DEALLOCATE ...), answered with their tag. */
  | { readonly kind: 'noop'; readonly tag: string }
  /** Roles, grants, secrets and tokens (engine/exec/roles.ts, docs/sql.md "Users and privileges"). */
  | RoleStatement

/** `LOGIN`, `SUPERUSER`, `PASSWORD '...'` (a clear password or a SCRAM verifier) or `PASSWORD NULL`. */
export interface RoleOptions {
  readonly login?: boolean
  readonly superuser?: boolean
  readonly password?: string | null
}

export type Privilege = 'select' | 'insert' | 'update' | 'delete' | 'create'

/** What a GRANT names: objects, every relation of a schema, or the schema itself (CREATE). */
export type GrantTarget =
  | { readonly kind: 'objects'; readonly names: readonly string[] }
  | { readonly kind: 'all_in_schema'; readonly schema: string }
  | { readonly kind: 'schema'; readonly schema: string }

export type RoleStatement =
  | { readonly kind: 'create_role'; readonly name: string; readonly options: RoleOptions; readonly user: boolean }
  | { readonly kind: 'alter_role'; readonly name: string; readonly options: RoleOptions }
  | { readonly kind: 'drop_role'; readonly names: readonly string[]; readonly ifExists: boolean }
  | {
      readonly kind: 'grant'
      readonly revoke: boolean
      /** undefined: ALL PRIVILEGES. */
      readonly privileges: readonly Privilege[] | undefined
      readonly target: GrantTarget
      readonly roles: readonly string[]
      readonly grantOption: boolean
    }
  | { readonly kind: 'create_secret'; readonly name: string; readonly value: string; readonly orReplace: boolean }
  | { readonly kind: 'drop_secret'; readonly names: readonly string[]; readonly ifExists: boolean }
  /** `CREATE TOKEN FOR role`: a bearer token for the HTTP API; the stored form carries its digest. */
  | {
      readonly kind: 'create_token'
      readonly role: string
      readonly digest: string | undefined
      readonly id: string | undefined
    }
  | { readonly kind: 'drop_token'; readonly id: string; readonly ifExists: boolean }

export type Statement = StatementBody & {
  /** The statement's own text. */
  readonly text: string
  /** 0-based offset of the statement in the whole input. */
  readonly location: number
}
