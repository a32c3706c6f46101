/**
 * PostgreSQL statements (SELECT, INSERT/UPDATE/DELETE, CREATE TABLE/VIEW/INDEX, DROP, SET,
 * transactions, roles) from libpg-query's parse tree → Sluice's statement tree.
 */
import type { ColumnDef, ObjectKindWord, Options, StatementBody, WatermarkClause } from './tree.ts'
import type { PgNode } from './pg-node.ts'
import { Converter } from './convert.ts'
import { field, list, str, unwrap } from './pg-node.ts'
import { createIndexStatement } from './index-statement.ts'
import { roleStatement } from './role-statement.ts'

export function convertStatement(node: PgNode, base: number, text: string): StatementBody {
  const c = new Converter(base)
  const [kind, s] = unwrap(node)
  switch (kind) {
    case 'SelectStmt':
      return { kind: 'query', query: c.select(s) }
    case 'InsertStmt': {
      const rel = s.relation as PgNode
      let onConflict: Extract<StatementBody, { kind: 'insert' }>['onConflict']
      if (s.onConflictClause !== undefined) {
        const oc = s.onConflictClause as PgNode
        const infer = oc.infer as PgNode | undefined
        const columns = list(infer?.indexElems).map((ie) => field(ie, 'IndexElem').name as string)
        if (oc.action === 'ONCONFLICT_NOTHING') onConflict = { columns, action: 'nothing' }
        else {
          const set = list(oc.targetList).map((t) => {
            const rt = field(t, 'ResTarget')
            return { column: rt.name as string, expr: c.expr(rt.val as PgNode) }
          })
          onConflict = {
            columns,
            action: 'update',
            set,
            where: oc.whereClause === undefined ? undefined : c.expr(oc.whereClause as PgNode),
          }
        }
      }
      if (s.returningList !== undefined) c.unsupported('INSERT ... RETURNING')
      return {
        kind: 'insert',
        table: rel.relname as string,
        columns: s.cols === undefined ? undefined : list(s.cols).map((t) => field(t, 'ResTarget').name as string),
        source:
          s.selectStmt === undefined ? c.unsupported('INSERT ... DEFAULT VALUES') : c.query(s.selectStmt as PgNode),
        onConflict,
        position: c.pos(rel.location),
      }
    }
    case 'UpdateStmt': {
      const rel = s.relation as PgNode
      if (s.fromClause !== undefined) c.unsupported('UPDATE ... FROM')
      return {
        kind: 'update',
        table: rel.relname as string,
        set: list(s.targetList).map((t) => {
          const rt = field(t, 'ResTarget')
          return { column: rt.name as string, expr: c.expr(rt.val as PgNode) }
        }),
        where: s.whereClause === undefined ? undefined : c.expr(s.whereClause as PgNode),
        position: c.pos(rel.location),
      }
    }
    case 'DeleteStmt': {
      const rel = s.relation as PgNode
      if (s.usingClause !== undefined) c.unsupported('DELETE ... USING')
      return {
        kind: 'delete',
        table: rel.relname as string,
        where: s.whereClause === undefined ? undefined : c.expr(s.whereClause as PgNode),
        position: c.pos(rel.location),
      }
    }
    case 'CreateStmt':
      return createTableBody(c, s, false, undefined, new Map())
    case 'CreateTableAsStmt': {
      if (s.objtype !== 'OBJECT_MATVIEW') return c.unsupported('CREATE TABLE AS')
      const into = s.into as PgNode
      return {
        kind: 'create_materialized_view',
        name: (into.rel as PgNode).relname as string,
        ifNotExists: s.if_not_exists === true,
        columnNames: into.colNames === undefined ? undefined : list(into.colNames).map(str),
        query: c.query(s.query as PgNode),
        watermark: undefined,
        emit: 'changes',
        options: defElems(list(into.options)),
      }
    }
    case 'ViewStmt':
      return {
        kind: 'create_view',
        name: (s.view as PgNode).relname as string,
        columnNames: s.aliases === undefined ? undefined : list(s.aliases).map(str),
        query: c.query(s.query as PgNode),
        orReplace: s.replace === true,
      }
    case 'IndexStmt':
      return createIndexStatement(s, c)
    case 'DropStmt': {
      const t = s.removeType as string
      if (t === 'OBJECT_INDEX') {
        return {
          kind: 'drop_index',
          names: list(s.objects).map((o) => list(field(o, 'List').items).map(str).pop()!),
          ifExists: s.missing_ok === true,
          cascade: s.behavior === 'DROP_CASCADE',
        }
      }
      const objectKind: ObjectKindWord | undefined =
        t === 'OBJECT_TABLE'
          ? 'table'
          : t === 'OBJECT_MATVIEW'
            ? 'materialized_view'
            : t === 'OBJECT_VIEW'
              ? 'view'
              : undefined
      if (objectKind === undefined) return c.unsupported(`DROP ${t.replace('OBJECT_', '')}`)
      return {
        kind: 'drop',
        objectKind,
        names: list(s.objects).map((o) => list(field(o, 'List').items).map(str).pop()!),
        ifExists: s.missing_ok === true,
        cascade: s.behavior === 'DROP_CASCADE',
      }
    }
    case 'VariableSetStmt':
      return setStatement(s, c)
    case 'VariableShowStmt':
      return { kind: 'show_setting', name: (s.name as string).toLowerCase() }
    case 'TransactionStmt': {
      const k = s.kind as string
      if (k === 'TRANS_STMT_BEGIN' || k === 'TRANS_STMT_START') return { kind: 'transaction', action: 'begin' }
      if (k === 'TRANS_STMT_COMMIT') return { kind: 'transaction', action: 'commit' }
      if (k === 'TRANS_STMT_ROLLBACK') return { kind: 'transaction', action: 'rollback' }
      return c.unsupported(`the transaction statement ${k.replace('TRANS_STMT_', '')}`)
    }
    case 'DiscardStmt':
      return { kind: 'noop', tag: 'DISCARD ALL' }
    case 'DeallocateStmt':
      return { kind: 'noop', tag: 'DEALLOCATE' }
    case 'ExplainStmt':
      return {
        kind: 'explain',
        stage: 'all',
        statement: { ...convertStatement(s.query as PgNode, base, text), text, location: base },
      }
    case 'CreateRoleStmt':
    case 'AlterRoleStmt':
    case 'DropRoleStmt':
    case 'GrantStmt':
      return roleStatement(kind, s, c) ?? c.unsupported(kind)
    default:
      return c.unsupported(
        `the statement ${kind
          .replace(/Stmt$/, '')
          .replace(/([a-z])([A-Z])/g, '$1 $2')
          .toUpperCase()}`,
      )
  }
}

function setStatement(s: PgNode, c: Converter): StatementBody {
  const kind = s.kind as string
  const name = ((s.name as string | undefined) ?? '').toLowerCase()
  if (kind === 'VAR_RESET_ALL') return { kind: 'reset_all' }
  if (kind === 'VAR_RESET' || kind === 'VAR_SET_DEFAULT')
    return { kind: 'set', name, value: undefined, local: s.is_local === true }
  if (kind === 'VAR_SET_MULTI') return { kind: 'noop', tag: 'SET' } // SET TRANSACTION ... and friends: accepted
  const values = list(s.args).map((a) => {
    const [k, body] = unwrap(a)
    if (k === 'A_Const') {
      const e = c.expr(a)
      if (e.kind === 'string') return e.value
      if (e.kind === 'number') return e.text
      if (e.kind === 'bool') return e.value ? 'on' : 'off'
    }
    if (k === 'TypeCast') {
      const inner = c.expr((body.arg as PgNode) ?? {})
      if (inner.kind === 'string') return inner.value
    }
    return c.unsupported('this SET value')
  })
  return {
    kind: 'set',
    name: name === 'time zone' ? 'timezone' : name,
    value: values.join(', '),
    local: s.is_local === true,
  }
}

function defElems(items: PgNode[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const item of items) {
    const d = field(item, 'DefElem')
    const key = ((d.defnamespace as string | undefined) ? `${d.defnamespace as string}.` : '') + (d.defname as string)
    const arg = d.arg as PgNode | undefined
    let value = ''
    if (arg !== undefined) {
      const [k, body] = unwrap(arg)
      if (k === 'String') value = body.sval as string
      else if (k === 'Integer') value = String(body.ival ?? 0)
      else if (k === 'Float') value = String(body.fval)
      else if (k === 'Boolean') value = String(body.boolval)
      else if (k === 'TypeName') value = list(body.names).map(str).join('.')
      else value = JSON.stringify(body)
    }
    out.set(key.toLowerCase(), value)
  }
  return out
}

export function createTableBody(
  c: Converter,
  s: PgNode,
  appendOnly: boolean,
  watermark: WatermarkClause | undefined,
  options: Options,
): StatementBody {
  const rel = s.relation as PgNode
  const columns: ColumnDef[] = []
  let primaryKey: string[] | undefined
  for (const el of list(s.tableElts)) {
    const [k, body] = unwrap(el)
    if (k === 'ColumnDef') {
      const col = c.columnDef(body)
      columns.push(col)
      if (col.primaryKey) primaryKey = [...(primaryKey ?? []), col.name]
    } else if (k === 'Constraint' && body.contype === 'CONSTR_PRIMARY') {
      primaryKey = list(body.keys).map(str)
    } else {
      c.unsupported(`the table element ${k}`)
    }
  }
  if (s.inhRelations !== undefined) c.unsupported('INHERITS')
  if (s.partspec !== undefined) c.unsupported('PARTITION BY')
  return {
    kind: 'create_table',
    name:
      rel.schemaname !== undefined && rel.schemaname !== 'public'
        ? `${rel.schemaname as string}.${rel.relname as string}`
        : (rel.relname as string),
    ifNotExists: s.if_not_exists === true,
    columns,
    primaryKey,
    appendOnly,
    watermark,
    options,
  }
}
