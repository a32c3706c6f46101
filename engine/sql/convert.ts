/**
 * PostgreSQL's parse tree (libpg-query's JSON) → Sluice's statement tree. Together with
 * convert-expr.ts (expressions, types, column definitions), the one place that knows
 * libpg-query's node shapes. Positions become 1-based offsets in the whole input (`base` is the
 * statement's offset). Anything Sluice does not support gets 0A000 naming the construct.
 */
import type { Cte, Expr, Query, Relation, SelectTarget } from './tree.ts'
import type { PgNode } from './pg-node.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { seriesTableName } from '../catalog/series.ts'
import { ExprConverter } from './convert-expr.ts'
import { field, list, str, unwrap } from './pg-node.ts'

/**
 * Absolute offsets of table names written with `FOR SYSTEM_TIME AS OF PROCTIME()`; the front door
 * records them while lifting the clause (parsing is synchronous, one statement at a time).
 */
const lookups = new Set<number>()

export function markLookup(offset: number): void {
  lookups.add(offset)
}

/** An integer literal (possibly negated), as generate_series bounds are usually written. */
function integerConstant(e: Expr): bigint | undefined {
  if (e.kind === 'number') return /^-?\d+$/.test(e.text) ? BigInt(e.text) : undefined
  if (e.kind === 'op' && e.op === '-' && e.args.length === 1) {
    const v = integerConstant(e.args[0])
    return v === undefined ? undefined : -v
  }
  return undefined
}

/** Queries: SELECT (with CTEs, set operations, VALUES), FROM relations and generate_series. */
export class Converter extends ExprConverter {
  query(node: PgNode): Query {
    const [kind, body] = unwrap(node)
    if (kind !== 'SelectStmt') this.unsupported(`${kind} as a query`)
    return this.select(body)
  }

  select(s: PgNode): Query {
    const withClause = s.withClause as PgNode | undefined
    const ctes: Cte[] = []
    if (withClause !== undefined) {
      if (withClause.recursive === true) this.unsupported('WITH RECURSIVE')
      for (const c of list(withClause.ctes)) {
        const cte = field(c, 'CommonTableExpr')
        ctes.push({ name: cte.ctename as string, query: this.query(cte.ctequery as PgNode) })
      }
    }
    const orderBy = list(s.sortClause).map((n) => this.orderItem(field(n, 'SortBy')))
    const limit = s.limitCount === undefined ? undefined : this.expr(s.limitCount as PgNode)
    const offset = s.limitOffset === undefined ? undefined : this.expr(s.limitOffset as PgNode)
    const op = s.op as string | undefined
    if (op !== undefined && op !== 'SETOP_NONE') {
      const kind = op === 'SETOP_UNION' ? 'union' : op === 'SETOP_INTERSECT' ? 'intersect' : 'except'
      return {
        kind: 'set_op',
        with: ctes,
        op: kind,
        all: s.all === true,
        left: this.select(s.larg as PgNode),
        right: this.select(s.rarg as PgNode),
        orderBy,
        limit,
        offset,
      }
    }
    if (s.valuesLists !== undefined) {
      const rows = list(s.valuesLists).map((row) => list(field(row, 'List').items).map((e) => this.expr(e)))
      return { kind: 'values', with: ctes, rows, orderBy, limit, offset }
    }
    if (s.distinctClause !== undefined) {
      const d = list(s.distinctClause)
      if (d.length > 0 && Object.keys(d[0]).length > 0) this.unsupported('DISTINCT ON')
    }
    if (s.intoClause !== undefined) this.unsupported('SELECT INTO')
    if (s.windowClause !== undefined) this.unsupported('a WINDOW clause')
    if (s.lockingClause !== undefined) this.unsupported('FOR UPDATE/SHARE')
    const targets: SelectTarget[] = list(s.targetList).map((t) => {
      const rt = field(t, 'ResTarget')
      return { expr: this.expr(rt.val as PgNode), alias: rt.name as string | undefined }
    })
    return {
      kind: 'select',
      with: ctes,
      distinct: s.distinctClause !== undefined,
      targets,
      from: list(s.fromClause).map((r) => this.relation(r)),
      where: s.whereClause === undefined ? undefined : this.expr(s.whereClause as PgNode),
      groupBy: list(s.groupClause).map((g) => this.expr(g)),
      having: s.havingClause === undefined ? undefined : this.expr(s.havingClause as PgNode),
      orderBy,
      limit,
      offset,
    }
  }

  relation(node: PgNode): Relation {
    const [kind, r] = unwrap(node)
    switch (kind) {
      case 'RangeVar': {
        const position = this.pos(r.location)
        const lookup = lookups.delete(position - 1)
        return {
          kind: 'table',
          schema: r.schemaname as string | undefined,
          name: r.relname as string,
          alias: (r.alias as PgNode | undefined)?.aliasname as string | undefined,
          position,
          ...(lookup ? { lookup: true } : {}),
        }
      }
      case 'RangeSubselect': {
        const alias = r.alias as PgNode | undefined
        const columnAliases = alias?.colnames === undefined ? undefined : list(alias.colnames).map(str)
        return {
          kind: 'subquery',
          query: this.query(r.subquery as PgNode),
          alias: alias?.aliasname as string | undefined,
          columnAliases,
          position: this.base + 1,
        }
      }
      case 'JoinExpr': {
        const jt = r.jointype as string
        const type =
          jt === 'JOIN_LEFT'
            ? 'left'
            : jt === 'JOIN_RIGHT'
              ? 'right'
              : jt === 'JOIN_FULL'
                ? 'full'
                : r.quals === undefined && r.usingClause === undefined && r.isNatural !== true
                  ? 'cross'
                  : 'inner'
        if (r.isNatural === true) this.unsupported('NATURAL JOIN')
        return {
          kind: 'join',
          type,
          left: this.relation(r.larg as PgNode),
          right: this.relation(r.rarg as PgNode),
          on: r.quals === undefined ? undefined : this.expr(r.quals as PgNode),
          using: r.usingClause === undefined ? undefined : list(r.usingClause).map((u) => str(u)),
          position: this.base + 1,
        }
      }
      case 'RangeFunction': {
        const fns = list(r.functions)
        const first = fns.length === 1 ? list(field(fns[0], 'List').items)[0] : undefined
        const call =
          first === undefined ? undefined : unwrap(first)[0] === 'FuncCall' ? field(first, 'FuncCall') : undefined
        const name = call === undefined ? '' : list(call.funcname).map(str).pop()!
        const alias = (r.alias as PgNode | undefined)?.aliasname as string | undefined
        if (call !== undefined && (name === 'tumble' || name === 'hop' || name === 'session')) {
          const args = list(call.args)
          if (args.length < 3)
            throw new SluiceError(
              SqlState.syntax_error,
              `${name.toUpperCase()} needs a relation, a time column and ${name === 'hop' ? 'a slide and a size' : name === 'session' ? 'a gap' : 'a size'}`,
              { position: this.pos(call.location) },
            )
          const rel = this.expr(args[0])
          const time = this.expr(args[1])
          if (rel.kind !== 'column' || time.kind !== 'column') {
            throw new SluiceError(
              SqlState.syntax_error,
              `${name.toUpperCase()}(relation, time_column, ...) expects a relation name and a column name`,
              { position: this.pos(call.location) },
            )
          }
          return {
            kind: 'window',
            fn: name,
            relation: { kind: 'table', schema: rel.table, name: rel.name, alias: undefined, position: rel.position },
            timeColumn: time.name,
            args: args.slice(2).map((a) => this.expr(a)),
            alias,
            position: this.pos(call.location),
          }
        }
        if (call !== undefined && (name === 'generate_series' || name === 'unnest'))
          return this.series(call, name, r.alias as PgNode | undefined)
        return this.unsupported(`function "${name}" in FROM`, call?.location)
      }
      default:
        return this.unsupported(`${kind} in FROM`)
    }
  }

  /**
   * `generate_series(start, stop [, step])` in FROM, for integers: the rows of
   * sluice_catalog.series (the integers SERIES_MIN..SERIES_MAX) between the bounds, which may
   * read outer columns as catalog queries do; bounds outside that range are refused (0A000).
   * `unnest(array)` in FROM is the same walk over the subscripts of a one-dimensional array.
   */
  private series(call: PgNode, name: string, alias: PgNode | undefined): Relation {
    const position = this.pos(call.location)
    const args = list(call.args).map((a) => this.expr(a))
    const fn = (name: string, fnArgs: Expr[]): Expr => ({
      kind: 'func',
      name,
      schema: undefined,
      args: fnArgs,
      star: false,
      distinct: false,
      filter: undefined,
      over: undefined,
      position,
    })
    const n: Expr = { kind: 'column', table: undefined, name: 'n', position }
    if (name === 'unnest') {
      if (args.length !== 1) return this.unsupported('unnest in FROM with more than one array', call.location)
      args.splice(
        0,
        1,
        { kind: 'number', text: '1', position },
        { kind: 'coalesce', args: [fn('cardinality', [args[0]]), { kind: 'number', text: '0', position }], position },
        args[0],
      )
    } else if (args.length < 2 || args.length > 3)
      return this.unsupported('generate_series in FROM with other than two or three arguments', call.location)
    else {
      const bounds = args.map(integerConstant)
      if (bounds.every((b) => b !== undefined)) return this.constantSeries(bounds, alias, position)
    }
    const value = name === 'unnest' ? fn('array_element', [args.pop()!, n]) : n
    const conds: Expr[] = [
      { kind: 'op', op: '>=', args: [n, fn('generate_series_bound', [args[0]])], position },
      { kind: 'op', op: '<=', args: [n, fn('generate_series_bound', [args[1]])], position },
    ]
    if (args.length === 3) {
      const step: Expr = fn('generate_series_step', [args[2]])
      conds.push({
        kind: 'op',
        op: '=',
        args: [
          { kind: 'op', op: '%', args: [{ kind: 'op', op: '-', args: [n, args[0]], position }, step], position },
          { kind: 'number', text: '0', position },
        ],
        position,
      })
    }
    const aliasName = alias?.aliasname as string | undefined
    const column = alias?.colnames === undefined ? (aliasName ?? name) : str(list(alias.colnames)[0])
    const query: Query = {
      kind: 'select',
      with: [],
      distinct: false,
      targets: [{ expr: value, alias: column }],
      from: [{ kind: 'table', schema: 'sluice_catalog', name: 'series', alias: undefined, position }],
      where: { kind: 'and', args: conds, position },
      groupBy: [],
      having: undefined,
      orderBy: [],
      limit: undefined,
      offset: undefined,
    }
    return { kind: 'subquery', query, alias: aliasName ?? name, position }
  }

  /** generate_series over constant integers: a relation that makes exactly its rows (catalog/series.ts). */
  private constantSeries([start, stop, step = 1n]: bigint[], alias: PgNode | undefined, position: number): Relation {
    const aliasName = alias?.aliasname as string | undefined
    const column = alias?.colnames === undefined ? (aliasName ?? 'generate_series') : str(list(alias.colnames)[0])
    const query: Query = {
      kind: 'select',
      with: [],
      distinct: false,
      targets: [{ expr: { kind: 'column', table: undefined, name: 'n', position }, alias: column }],
      from: [
        {
          kind: 'table',
          schema: 'sluice_catalog',
          name: seriesTableName(start, stop, step),
          alias: undefined,
          position,
        },
      ],
      where: undefined,
      groupBy: [],
      having: undefined,
      orderBy: [],
      limit: undefined,
      offset: undefined,
    }
    return { kind: 'subquery', query, alias: aliasName ?? 'generate_series', position }
  }
}
