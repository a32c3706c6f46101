/**
 * INSERT, UPDATE and DELETE on tables. A statement is validated completely (types, NOT NULL on
 * key columns, primary-key conflicts) before anything applies, so a failing statement changes
 * nothing; then its changes are persisted and pushed to the views as one batch.
 */
import type { StatementBody } from '../sql/tree.ts'
import type { StatementResult } from '../session-api.ts'
import type { EngineSession } from './session.ts'
import type { TableObject } from '../catalog/objects.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { PlanColumn } from '../plan/logical.ts'
import { Binder } from '../plan/binder.ts'
import { Scope } from '../plan/scope.ts'
import { binderCatalog } from './catalog-view.ts'
import { compileContext, planningContext } from './plan-statement.ts'
import { planQuery } from '../plan/pipeline.ts'
import { runPullQueryAsync } from '../batch/pull-query.ts'
import { operatorContext } from './ddl.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { castValue } from '../types/cast.ts'
import { compileExpr, compilePredicate, evalConst } from '../expr/compile.ts'
import { formatText } from '../types/text.ts'
import { chunkFromRows } from '../chunk.ts'
import { RowMap } from '../util/row-map.ts'
import { applyColumnMods } from '../types/typmod.ts'

type Insert = Extract<StatementBody, { kind: 'insert' }>

/**
 * Rows stored and pushed to views at a time by an INSERT into a table without a primary key.
 * A crash can only land between two pieces of an INSERT larger than this (the pieces before it
 * are kept), as between two statements.
 */
const INSERT_PIECE_ROWS = 65_536
type Update = Extract<StatementBody, { kind: 'update' }>
type Delete = Extract<StatementBody, { kind: 'delete' }>

function targetTable(session: EngineSession, name: string, position: number, verb: string): TableObject {
  const obj = session.engine.get(name)
  if (obj === undefined)
    throw new SluiceError(SqlState.undefined_table, `relation "${name}" does not exist`, { position })
  if (obj.kind !== 'table') {
    throw new SluiceError(
      SqlState.feature_not_supported,
      `cannot ${verb} ${obj.kind === 'source' ? 'source' : 'materialized view'} "${name}"`,
      {
        position,
        hint:
          obj.kind === 'source'
            ? 'A source is fed by its connector; insert into a TABLE instead.'
            : 'A materialized view is maintained by Sluice from its query.',
      },
    )
  }
  return obj
}

export async function executeInsert(
  session: EngineSession,
  s: Insert,
  params: readonly Value[],
): Promise<StatementResult> {
  const engine = session.engine
  const table = targetTable(session, s.table, s.position, 'insert into')
  const compile = compileContext(session, params)
  const names = s.columns ?? table.columns.map((c) => c.name)
  const targets = names.map((n) => {
    const i = table.columns.findIndex((c) => c.name === n)
    if (i < 0)
      throw new SluiceError(SqlState.undefined_column, `column "${n}" of relation "${table.name}" does not exist`, {
        position: s.position,
      })
    return i
  })
  if (new Set(targets).size !== targets.length)
    throw new SluiceError(SqlState.duplicate_column, 'column specified more than once', { position: s.position })

  const paramTypes = params.map(() => undefined as DataType | undefined)
  const binder = new Binder({ catalog: binderCatalog(engine), compile, paramTypes, allowSources: false })
  let values: Value[][]
  if (s.source.kind === 'values') {
    values = s.source.rows.map((row) => {
      if (row.length > targets.length)
        throw new SluiceError(SqlState.syntax_error, 'INSERT has more expressions than target columns', {
          position: row[targets.length].position,
        })
      if (row.length < targets.length && s.columns !== undefined)
        throw new SluiceError(SqlState.syntax_error, 'INSERT has more target columns than expressions', {
          position: s.position,
        })
      return row.map((e, i) => {
        const type = table.columns[targets[i]].type
        const bound = binder.coerce(
          binder.bindExpr(e, { scope: new Scope([]), agg: undefined }),
          type,
          e.position,
          true,
        )
        try {
          return evalConst(bound, compile)
        } catch (err) {
          if (err instanceof SluiceError && err.position === undefined) err.position = e.position
          throw err
        }
      })
    })
  } else {
    // The query runs as a pull query, planned as a SELECT of it would be.
    const planned = planQuery(
      s.source,
      { ...planningContext(session, params, paramTypes), compile },
      { kind: 'select' },
    )
    const bound = planned.bound
    const cols = bound.plan.columns.slice(0, bound.plan.columns.length - bound.hidden)
    if (cols.length > targets.length)
      throw new SluiceError(SqlState.syntax_error, 'INSERT has more expressions than target columns', {
        position: s.position,
      })
    values = await runPullQueryAsync(
      { ...bound, batchPlan: planned.plan },
      compile,
      operatorContext(engine, table.name),
      {
        interrupt: session.interrupt,
        maxResultBytes: session.maxResultBytes,
        budget: session.budget,
      },
    )
    // Cast where the rows are: a million-row INSERT ... SELECT must not hold several copies.
    const from = cols.map((c, i) => (c.type.kind === 'unknown' ? table.columns[targets[i]].type : c.type))
    for (const r of values) {
      for (let i = 0; i < r.length; i++)
        if (r[i] !== null) r[i] = castValue(r[i], from[i], table.columns[targets[i]].type, session.timezone)
    }
  }
  // Rows already in table order (all columns, in order) are used as they are.
  const inOrder = targets.length === table.columns.length && targets.every((t, i) => t === i)
  const rows = values
  for (let k = 0; k < rows.length; k++) {
    const v = values[k]
    if (inOrder && v.length === targets.length) continue
    const row: Value[] = table.columns.map(() => null)
    v.forEach((x, i) => (row[targets[i]] = x))
    rows[k] = row
  }
  applyColumnMods(table.columns, rows)
  checkNotNull(table, rows)

  if (table.primaryKey === undefined) {
    if (s.onConflict !== undefined)
      throw new SluiceError(
        SqlState.invalid_column_reference,
        'there is no unique or exclusion constraint matching the ON CONFLICT specification',
        { position: s.position },
      )
    // Every row is checked by now, so only storage can still fail. A large insert is stored and
    // pushed in pieces: one piece's encoded rows, write batch and chunk at a time instead of the
    // whole statement's (which ran a 1 GiB heap out of memory at 1M rows).
    for (let start = 0; start < rows.length; start += INSERT_PIECE_ROWS) {
      await engine.applyTableChange(
        table,
        rows.length <= INSERT_PIECE_ROWS ? rows : rows.slice(start, start + INSERT_PIECE_ROWS),
        [],
      )
    }
    return { tag: `INSERT 0 ${rows.length}` }
  }

  // Primary-key tables: conflicts with stored rows and within the statement.
  const pk = table.primaryKey
  const keyTypes = pk.map((c) => table.columns[c].type)
  const batch = new RowMap<Value[]>(keyTypes)
  const inserts: Value[][] = []
  const deletes: number[] = []
  let count = 0
  const conflictUpdate = s.onConflict?.action === 'update' ? s.onConflict : undefined
  let setFns: { column: number; fn: (row: Value[]) => Value }[] | undefined
  let whereFn: ((row: Value[]) => boolean) | undefined
  if (conflictUpdate !== undefined) {
    const scopeCols: PlanColumn[] = [
      ...table.columns.map((c) => ({ name: c.name, type: c.type, table: table.name })),
      ...table.columns.map((c) => ({ name: c.name, type: c.type, table: 'excluded' })),
    ]
    const scope = new Scope(scopeCols)
    const rowFn = (e: BoundExpr): ((row: Value[]) => Value) => {
      const fn = compileExpr(e, compile)
      return (row) => fn(chunkFromRows(row.length, [row]))[0]
    }
    setFns = conflictUpdate.set.map((a) => {
      const column = table.columns.findIndex((c) => c.name === a.column)
      if (column < 0)
        throw new SluiceError(
          SqlState.undefined_column,
          `column "${a.column}" of relation "${table.name}" does not exist`,
          { position: s.position },
        )
      if (pk.includes(column))
        throw new SluiceError(SqlState.feature_not_supported, 'ON CONFLICT DO UPDATE cannot change the primary key', {
          position: a.expr.position,
        })
      return {
        column,
        fn: rowFn(
          binder.coerce(
            binder.bindExpr(a.expr, { scope, agg: undefined }),
            table.columns[column].type,
            a.expr.position,
            true,
          ),
        ),
      }
    })
    if (conflictUpdate.where !== undefined) {
      const w = rowFn(
        binder.coerce(
          binder.bindExpr(conflictUpdate.where, { scope, agg: undefined }),
          { kind: 'bool' },
          conflictUpdate.where.position,
        ),
      )
      whereFn = (row) => w(row) === true
    }
  }
  for (const row of rows) {
    const key = table.rows.keyOf(row)
    const hash = batch.hashKey(key)
    const inBatch = batch.find(key, hash)
    const storedSeq = table.rows.findByKey(key)
    const current =
      inBatch?.value ?? (storedSeq === undefined || deletes.includes(storedSeq) ? undefined : table.rows.get(storedSeq))
    if (current === undefined) {
      batch.insert(key, hash, row)
      inserts.push(row)
      count++
      continue
    }
    if (s.onConflict === undefined) {
      throw new SluiceError(
        SqlState.unique_violation,
        `duplicate key value violates unique constraint "${table.name}_pkey"`,
        {
          detail: `Key (${pk.map((c) => table.columns[c].name).join(', ')})=(${key.map((v, i) => (v === null ? 'null' : formatText(keyTypes[i], v, session.timezone))).join(', ')}) already exists.`,
        },
      )
    }
    if (s.onConflict.action === 'nothing') continue
    if (inBatch !== undefined)
      throw new SluiceError(
        SqlState.cardinality_violation,
        'ON CONFLICT DO UPDATE command cannot affect row a second time',
        {
          hint: 'Ensure that no rows proposed for insertion within the same command have duplicate constrained values.',
        },
      )
    const both = [...current, ...row]
    if (whereFn !== undefined && !whereFn(both)) continue
    const updated = current.slice()
    for (const set of setFns!) updated[set.column] = set.fn(both)
    applyColumnMods(table.columns, [updated])
    deletes.push(storedSeq!)
    inserts.push(updated)
    batch.insert(key, hash, updated)
    count++
  }
  await engine.applyTableChange(table, inserts, deletes)
  return { tag: `INSERT 0 ${count}` }
}

export async function executeUpdate(
  session: EngineSession,
  s: Update,
  params: readonly Value[],
): Promise<StatementResult> {
  const engine = session.engine
  const table = targetTable(session, s.table, s.position, 'update')
  if (table.appendOnly)
    throw new SluiceError(SqlState.feature_not_supported, `cannot update APPEND ONLY table "${table.name}"`, {
      position: s.position,
    })
  const compile = compileContext(session, params)
  const binder = new Binder({
    catalog: binderCatalog(engine),
    compile,
    paramTypes: params.map(() => undefined),
    allowSources: false,
  })
  const scope = new Scope(table.columns.map((c) => ({ name: c.name, type: c.type, table: table.name })))
  const sets = s.set.map((a) => {
    const column = table.columns.findIndex((c) => c.name === a.column)
    if (column < 0)
      throw new SluiceError(
        SqlState.undefined_column,
        `column "${a.column}" of relation "${table.name}" does not exist`,
        { position: s.position },
      )
    return {
      column,
      fn: compileExpr(
        binder.coerce(
          binder.bindExpr(a.expr, { scope, agg: undefined }),
          table.columns[column].type,
          a.expr.position,
          true,
        ),
        compile,
      ),
    }
  })
  const { seqs, chunk } = matching(
    table,
    s.where === undefined
      ? undefined
      : compilePredicate(
          binder.coerce(binder.bindExpr(s.where, { scope, agg: undefined }), { kind: 'bool' }, s.where.position),
          compile,
        ),
  )
  if (seqs.length === 0) return { tag: 'UPDATE 0' }
  const newColumns = sets.map((set) => set.fn(chunk))
  const updated: Value[][] = seqs.map((seq, i) => {
    const row = table.rows.get(seq)!.slice()
    sets.forEach((set, k) => (row[set.column] = newColumns[k][i]))
    return row
  })
  applyColumnMods(table.columns, updated)
  checkNotNull(table, updated)
  if (table.primaryKey !== undefined) checkKeysAfterUpdate(table, seqs, updated, session.timezone)
  await engine.applyTableChange(table, updated, seqs)
  return { tag: `UPDATE ${seqs.length}` }
}

export async function executeDelete(
  session: EngineSession,
  s: Delete,
  params: readonly Value[],
): Promise<StatementResult> {
  const engine = session.engine
  const table = targetTable(session, s.table, s.position, 'delete from')
  if (table.appendOnly)
    throw new SluiceError(SqlState.feature_not_supported, `cannot delete from APPEND ONLY table "${table.name}"`, {
      position: s.position,
    })
  const compile = compileContext(session, params)
  const binder = new Binder({
    catalog: binderCatalog(engine),
    compile,
    paramTypes: params.map(() => undefined),
    allowSources: false,
  })
  const scope = new Scope(table.columns.map((c) => ({ name: c.name, type: c.type, table: table.name })))
  const { seqs } = matching(
    table,
    s.where === undefined
      ? undefined
      : compilePredicate(
          binder.coerce(binder.bindExpr(s.where, { scope, agg: undefined }), { kind: 'bool' }, s.where.position),
          compile,
        ),
  )
  if (seqs.length > 0) await engine.applyTableChange(table, [], seqs)
  return { tag: `DELETE ${seqs.length}` }
}

/** The rows of `table` where `predicate` holds, with their sequence numbers, as one chunk. */
function matching(
  table: TableObject,
  predicate: ((c: ReturnType<typeof chunkFromRows>) => Uint8Array) | undefined,
): { seqs: number[]; chunk: ReturnType<typeof chunkFromRows> } {
  const all = [...table.rows.entries()]
  const chunk = chunkFromRows(
    table.columns.length,
    all.map(([, r]) => r),
  )
  if (predicate === undefined) return { seqs: all.map(([seq]) => seq), chunk }
  const mask = predicate(chunk)
  const keep = all.filter((_r, i) => mask[i] === 1)
  return {
    seqs: keep.map(([seq]) => seq),
    chunk: chunkFromRows(
      table.columns.length,
      keep.map(([, r]) => r),
    ),
  }
}

function checkNotNull(table: TableObject, rows: readonly Value[][]): void {
  for (const c of table.primaryKey ?? []) {
    for (const row of rows) {
      if (row[c] === null) {
        throw new SluiceError(
          SqlState.not_null_violation,
          `null value in column "${table.columns[c].name}" of relation "${table.name}" violates not-null constraint`,
        )
      }
    }
  }
}

function checkKeysAfterUpdate(
  table: TableObject,
  seqs: readonly number[],
  updated: readonly Value[][],
  tz: string,
): void {
  const pk = table.primaryKey!
  const keys = new RowMap<number>(pk.map((c) => table.columns[c].type))
  const removed = new Set(seqs)
  for (const row of updated) {
    const key = table.rows.keyOf(row)
    const hash = keys.hashKey(key)
    const stored = table.rows.findByKey(key)
    if (keys.find(key, hash) !== undefined || (stored !== undefined && !removed.has(stored))) {
      throw new SluiceError(
        SqlState.unique_violation,
        `duplicate key value violates unique constraint "${table.name}_pkey"`,
        {
          detail: `Key (${pk.map((c) => table.columns[c].name).join(', ')})=(${key.map((v, i) => (v === null ? 'null' : formatText(table.columns[pk[i]].type, v, tz))).join(', ')}) already exists.`,
        },
      )
    }
    keys.insert(key, hash, 1)
  }
}
