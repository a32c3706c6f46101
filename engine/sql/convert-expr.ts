/**
 * libpg-query's expression nodes → Sluice's expressions: operators (left-deep chains become one
 * n-ary node), function calls, SQL value functions, CASE, casts and type names, column
 * definitions and ORDER BY items. The query half (convert.ts) extends this class; a subquery in
 * an expression calls back into it through the abstract `query`.
 */
import type { ColumnDef, Expr, OrderItem, Query, TypeName, WindowDef } from './tree.ts'
import type { PgNode } from './pg-node.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { field, list, str, unwrap } from './pg-node.ts'

/** Operators whose left-deep chains become one n-ary node (ExprConverter.chain). */
const CHAINED = new Set(['+', '-', '*', '||'])

/** PostgreSQL's interval field masks (INTERVAL_MASK in datetime.h) for single-field qualifiers. */
const INTERVAL_FIELDS = new Map<number, string>([
  [1 << 2, 'year'],
  [1 << 1, 'month'],
  [1 << 3, 'day'],
  [1 << 10, 'hour'],
  [1 << 11, 'minute'],
  [1 << 12, 'second'],
])

export abstract class ExprConverter {
  /** `base`: 0-based offset of the parsed text within the whole input. */
  constructor(protected readonly base: number) {}

  pos(location: unknown): number {
    return typeof location === 'number' && location >= 0 ? this.base + location + 1 : this.base + 1
  }

  unsupported(what: string, location?: unknown): never {
    throw new SluiceError(SqlState.feature_not_supported, `${what} is not supported`, {
      position: location === undefined ? undefined : this.pos(location),
    })
  }

  /** A query (subquery) node → Sluice's query: the query half, in convert.ts. */
  abstract query(node: PgNode): Query

  orderItem(sb: PgNode): OrderItem {
    const dir = sb.sortby_dir as string | undefined
    const nulls = sb.sortby_nulls as string | undefined
    if (sb.useOp !== undefined) this.unsupported('ORDER BY ... USING', sb.location)
    return {
      expr: this.expr(sb.node as PgNode),
      descending: dir === 'SORTBY_DESC',
      nullsFirst: nulls === 'SORTBY_NULLS_FIRST' ? true : nulls === 'SORTBY_NULLS_LAST' ? false : undefined,
    }
  }

  expr(node: PgNode): Expr {
    const [kind, e] = unwrap(node)
    switch (kind) {
      case 'ColumnRef': {
        const fields = list(e.fields)
        const names = fields.map((f) => (unwrap(f)[0] === 'A_Star' ? '*' : str(f)))
        const position = this.pos(e.location)
        if (names[names.length - 1] === '*') {
          return { kind: 'star', table: names.length > 1 ? names[names.length - 2] : undefined, position }
        }
        if (names.length > 3) this.unsupported('a column reference with more than three parts', e.location)
        return {
          kind: 'column',
          table: names.length > 1 ? names[names.length - 2] : undefined,
          name: names[names.length - 1],
          position,
        }
      }
      case 'A_Const':
        return this.constant(e)
      case 'TypeCast':
        return {
          kind: 'cast',
          expr: this.expr(e.arg as PgNode),
          type: this.typeName(e.typeName as PgNode),
          position: this.pos(e.location),
        }
      case 'ParamRef':
        return { kind: 'param', index: e.number as number, position: this.pos(e.location) }
      case 'A_Expr':
        return this.aExpr(e)
      case 'BoolExpr': {
        const args = list(e.args).map((a) => this.expr(a))
        const position = this.pos(e.location)
        if (e.boolop === 'NOT_EXPR') return { kind: 'not', arg: args[0], position }
        return { kind: e.boolop === 'AND_EXPR' ? 'and' : 'or', args, position }
      }
      case 'NullTest':
        return {
          kind: 'is_null',
          arg: this.expr(e.arg as PgNode),
          negated: e.nulltesttype === 'IS_NOT_NULL',
          position: this.pos(e.location),
        }
      case 'BooleanTest': {
        const t = e.booltesttype as string
        const arg = this.expr(e.arg as PgNode)
        const position = this.pos(e.location)
        if (t === 'IS_UNKNOWN' || t === 'IS_NOT_UNKNOWN')
          return { kind: 'is_null', arg, negated: t === 'IS_NOT_UNKNOWN', position }
        return {
          kind: 'is_bool',
          arg,
          value: t === 'IS_TRUE' || t === 'IS_NOT_TRUE',
          negated: t.startsWith('IS_NOT'),
          position,
        }
      }
      case 'CaseExpr':
        return {
          kind: 'case',
          operand: e.arg === undefined ? undefined : this.expr(e.arg as PgNode),
          whens: list(e.args).map((w) => {
            const cw = field(w, 'CaseWhen')
            return { when: this.expr(cw.expr as PgNode), then: this.expr(cw.result as PgNode) }
          }),
          else: e.defresult === undefined ? undefined : this.expr(e.defresult as PgNode),
          position: this.pos(e.location),
        }
      case 'CoalesceExpr':
        return { kind: 'coalesce', args: list(e.args).map((a) => this.expr(a)), position: this.pos(e.location) }
      case 'MinMaxExpr':
        return {
          kind: e.op === 'IS_GREATEST' ? 'greatest' : 'least',
          args: list(e.args).map((a) => this.expr(a)),
          position: this.pos(e.location),
        }
      case 'FuncCall':
        return this.funcCall(e)
      case 'SQLValueFunction':
        return this.valueFunction(e)
      case 'CollateClause':
        return this.expr(e.arg as PgNode) // collations are accepted and ignored: Sluice compares text by code point
      case 'SubLink': {
        const t = e.subLinkType as string
        const query = this.query(e.subselect as PgNode)
        const position = this.pos(e.location)
        if (t === 'EXPR_SUBLINK') return { kind: 'subquery', mode: 'scalar', arg: undefined, query, position }
        if (t === 'ARRAY_SUBLINK') return { kind: 'subquery', mode: 'array', arg: undefined, query, position }
        if (t === 'EXISTS_SUBLINK') return { kind: 'subquery', mode: 'exists', arg: undefined, query, position }
        const operator = list(e.operName).map(str).pop()
        if (t === 'ANY_SUBLINK' && (operator === undefined || operator === '='))
          return { kind: 'subquery', mode: 'in', arg: this.expr(e.testexpr as PgNode), query, position }
        return this.unsupported('this kind of subquery', e.location)
      }
      case 'A_Indirection': {
        // `(array)[i]`: one subscript, as catalog queries write `(current_schemas(true))[1]`.
        const steps = list(e.indirection)
        const [k, idx] = unwrap(steps[0] ?? {})
        if (steps.length !== 1 || k !== 'A_Indices' || idx.is_slice === true || idx.uidx === undefined)
          return this.unsupported('this kind of subscript or field selection', e.location)
        const position = this.pos(e.location)
        return {
          kind: 'func',
          name: 'array_element',
          schema: undefined,
          args: [this.expr(e.arg as PgNode), this.expr(idx.uidx as PgNode)],
          star: false,
          distinct: false,
          filter: undefined,
          over: undefined,
          position,
        }
      }
      case 'A_ArrayExpr':
        return { kind: 'array', items: list(e.elements).map((a) => this.expr(a)), position: this.pos(e.location) }
      default:
        return this.unsupported(`the expression ${kind}`, e.location)
    }
  }

  private constant(e: PgNode): Expr {
    const position = this.pos(e.location)
    if (e.isnull === true) return { kind: 'null', position }
    if (e.ival !== undefined) return { kind: 'number', text: String((e.ival as PgNode).ival ?? 0), position }
    if (e.fval !== undefined) return { kind: 'number', text: String((e.fval as PgNode).fval), position }
    if (e.sval !== undefined) return { kind: 'string', value: String((e.sval as PgNode).sval ?? ''), position }
    if (e.boolval !== undefined) return { kind: 'bool', value: (e.boolval as PgNode).boolval === true, position }
    if (e.bsval !== undefined) return this.unsupported('bit-string literals', e.location)
    return { kind: 'number', text: '0', position }
  }

  private aExpr(e: PgNode): Expr {
    const kind = e.kind as string
    const op = list(e.name).map(str).pop() ?? ''
    const position = this.pos(e.location)
    if (kind === 'AEXPR_OP' && CHAINED.has(op) && e.lexpr !== undefined && list(e.name).length === 1)
      return this.chain(e, op, position)
    const left = e.lexpr === undefined ? undefined : this.expr(e.lexpr as PgNode)
    const rightNode = e.rexpr as PgNode | undefined
    switch (kind) {
      case 'AEXPR_OP':
        return {
          kind: 'op',
          op,
          args: left === undefined ? [this.expr(rightNode!)] : [left, this.expr(rightNode!)],
          position,
        }
      case 'AEXPR_LIKE':
      case 'AEXPR_ILIKE':
        return { kind: 'op', op, args: [left!, this.expr(rightNode!)], position }
      case 'AEXPR_IN':
        return {
          kind: 'in_list',
          arg: left!,
          list: list(rightNode).map((x) => this.expr(x)),
          negated: op === '<>',
          position,
        }
      case 'AEXPR_BETWEEN':
      case 'AEXPR_NOT_BETWEEN': {
        const [low, high] = list(rightNode).map((x) => this.expr(x))
        return { kind: 'between', arg: left!, low, high, negated: kind === 'AEXPR_NOT_BETWEEN', position }
      }
      case 'AEXPR_DISTINCT':
      case 'AEXPR_NOT_DISTINCT':
        return {
          kind: 'is_distinct',
          left: left!,
          right: this.expr(rightNode!),
          negated: kind === 'AEXPR_NOT_DISTINCT',
          position,
        }
      case 'AEXPR_OP_ANY':
      case 'AEXPR_OP_ALL':
        // `x op ANY (array)`: a function named after the operator and the quantifier.
        return {
          kind: 'op',
          op: `${op} ${kind === 'AEXPR_OP_ANY' ? 'any' : 'all'}`,
          args: [left!, this.expr(rightNode!)],
          position,
        }
      case 'AEXPR_NULLIF':
        return { kind: 'nullif', left: left!, right: this.expr(rightNode!), position }
      default:
        return this.unsupported(`the operator form ${kind.replace('AEXPR_', '')}`, e.location)
    }
  }

  /**
   * `a + b + c + ...`: the grammar's left-deep tree, walked with a loop (it can be thousands of
   * levels deep) into one n-ary node whose arguments apply left to right; the binder decides how
   * to nest the calls.
   */
  private chain(e: PgNode, op: string, position: number): Expr {
    const rights: PgNode[] = []
    let node = e
    for (;;) {
      rights.push(node.rexpr as PgNode)
      const [k, left] = unwrap(node.lexpr as PgNode)
      if (
        k !== 'A_Expr' ||
        left.kind !== 'AEXPR_OP' ||
        left.lexpr === undefined ||
        (list(left.name).map(str).pop() ?? '') !== op ||
        list(left.name).length !== 1
      )
        break
      node = left
    }
    const args: Expr[] = [this.expr(node.lexpr as PgNode)]
    for (let i = rights.length - 1; i >= 0; i--) args.push(this.expr(rights[i]))
    return { kind: 'op', op, args, position }
  }

  private funcCall(e: PgNode): Expr {
    const names = list(e.funcname).map(str)
    const name = names[names.length - 1]
    const schema = names.length > 1 ? names[0] : undefined
    let over: WindowDef | undefined
    if (e.over !== undefined) {
      const w = e.over as PgNode
      over = {
        partitionBy: list(w.partitionClause).map((p) => this.expr(p)),
        orderBy: list(w.orderClause).map((o) => this.orderItem(field(o, 'SortBy'))),
      }
    }
    if (e.agg_order !== undefined) this.unsupported('ORDER BY inside an aggregate call', e.location)
    return {
      kind: 'func',
      name,
      schema,
      args: list(e.args).map((a) => this.expr(a)),
      star: e.agg_star === true,
      distinct: e.agg_distinct === true,
      filter: e.agg_filter === undefined ? undefined : this.expr(e.agg_filter as PgNode),
      over,
      position: this.pos(e.location),
    }
  }

  private valueFunction(e: PgNode): Expr {
    const op = (e.op as string).replace('SVFOP_', '').toLowerCase()
    const position = this.pos(e.location)
    const call = (name: string): Expr => ({
      kind: 'func',
      name,
      schema: undefined,
      args: [],
      star: false,
      distinct: false,
      filter: undefined,
      over: undefined,
      position,
    })
    switch (op) {
      case 'current_timestamp':
      case 'current_timestamp_n':
      case 'localtimestamp':
      case 'localtimestamp_n':
        return call(op.startsWith('local') ? 'localtimestamp' : 'now')
      case 'current_date':
        return call('current_date')
      case 'current_user':
      case 'user':
      case 'session_user':
      case 'current_role':
        return call('current_user')
      case 'current_catalog':
        return call('current_database')
      case 'current_schema':
        return call('current_schema')
      default:
        return this.unsupported(op.toUpperCase(), e.location)
    }
  }

  typeName(t: PgNode): TypeName {
    const names = list(t.names).map(str)
    let name = names[names.length - 1]
    if (names.length === 2 && names[0] === 'pg_catalog' && name === 'timestamptz') name = 'timestamptz'
    const mods = list(t.typmods)
    if (name === 'interval' && mods.length > 0) {
      const [kind, c] = unwrap(mods[0])
      const mask = kind === 'A_Const' ? Number((c.ival as PgNode | undefined)?.ival ?? 0) : 0
      const unit = INTERVAL_FIELDS.get(mask)
      if (unit !== undefined) return { name, array: false, position: this.pos(t.location), intervalUnit: unit }
    }
    const ints = mods.map((m) => {
      const [kind, c] = unwrap(m)
      const v = kind === 'A_Const' ? (c.ival as PgNode | undefined)?.ival : undefined
      if (
        kind !== 'A_Const' ||
        (v !== undefined && typeof v !== 'number') ||
        c.sval !== undefined ||
        c.fval !== undefined
      ) {
        throw new SluiceError(SqlState.syntax_error, 'type modifiers must be simple constants or identifiers', {
          position: this.pos(t.location),
        })
      }
      return v ?? 0
    })
    return {
      name,
      array: t.arrayBounds !== undefined,
      position: this.pos(t.location),
      ...(ints.length > 0 ? { mods: ints } : {}),
    }
  }

  columnDef(c: PgNode): ColumnDef {
    let primaryKey = false
    let notNull = false
    for (const k of list(c.constraints)) {
      const con = field(k, 'Constraint')
      const t = con.contype as string
      if (t === 'CONSTR_PRIMARY') primaryKey = true
      else if (t === 'CONSTR_NOTNULL') notNull = true
      else if (t === 'CONSTR_NULL' || t === 'CONSTR_DEFAULT') {
        if (t === 'CONSTR_DEFAULT') this.unsupported('DEFAULT values', con.location)
      } else this.unsupported(`the column constraint ${t.replace('CONSTR_', '')}`, con.location)
    }
    return { name: c.colname as string, type: this.typeName(c.typeName as PgNode), primaryKey, notNull }
  }
}
