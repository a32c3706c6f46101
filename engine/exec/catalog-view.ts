/**
 * The binder's window onto the engine's catalog: user objects by name, Sluice's system tables,
 * and plain views (inlined). Sources and tables also report their declared watermark.
 */
import type { BinderCatalog } from '../plan/binder.ts'
import type { Engine } from '../engine.ts'
import type { RelationRef } from '../plan/logical.ts'
import type { Query } from '../sql/tree.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { RestorePending } from '../restore-progress.ts'
import { constantSeries } from '../catalog/series.ts'
import { findSystemTable, systemTableOid } from '../catalog/system.ts'
import { objectOid, viewDefinition } from '../catalog/system-table.ts'
import type { BoundExpr } from '../expr/bound.ts'
import type { IndexEntry } from '../catalog/indexes.ts'
import { indexDefinition, indexEntries, pkConstraintOid, primaryKeyDefinition, quoteIdent } from '../catalog/indexes.ts'
import { T } from '../types/datatype.ts'
import { Stream } from '../runtime/stream.ts'
import { chunkFromRows } from '../chunk.ts'
import type { Value } from '../types/datatype.ts'
import { lookupIndex } from './lookup-index.ts'

const systemStream = new Stream('system')

export function binderCatalog(engine: Engine): BinderCatalog {
  return {
    relation(schema, name, position) {
      if (schema !== undefined && schema !== 'public') {
        const series = schema === 'sluice_catalog' ? constantSeries(name) : undefined
        if (series !== undefined) return { kind: 'relation', ...series }
        const sys = findSystemTable(schema, name)
        if (sys === undefined)
          throw new SluiceError(SqlState.undefined_table, `relation "${schema}.${name}" does not exist`, { position })
        const ref: RelationRef = {
          kind: 'system',
          name: `${sys.schema}.${sys.name}`,
          watermarkDelays: new Map(),
          appendOnly: true,
          input: {
            name: `${sys.schema}.${sys.name}`,
            stream: systemStream,
            snapshot: () => chunkFromRows(sys.columns.length, sys.rows(engine)),
          },
        }
        return { kind: 'relation', ref, columns: sys.columns }
      }
      const obj = engine.get(name)
      // Not restored yet after a restart: the session waits for it (restore-progress.ts).
      if (engine.restoring?.blocks(name) === true) throw new RestorePending(name, engine.restoring)
      if (obj === undefined) {
        const sys = findSystemTable(undefined, name)
        if (sys !== undefined) return this.relation('pg_catalog', name, position)
        throw new SluiceError(SqlState.undefined_table, `relation "${name}" does not exist`, { position })
      }
      if (obj.kind === 'view') return { kind: 'view', query: obj.query as Query, columnNames: undefined, name }
      if (obj.kind === 'sink')
        throw new SluiceError(SqlState.undefined_table, `relation "${name}" does not exist`, { position })
      const watermarkDelays = new Map<number, number>()
      if ((obj.kind === 'source' || obj.kind === 'table') && obj.watermark !== undefined)
        watermarkDelays.set(obj.watermark.column, obj.watermark.delay)
      const appendOnly = obj.kind === 'source' || (obj.kind === 'table' && obj.appendOnly)
      const ref: RelationRef = {
        kind: obj.kind,
        name: obj.name,
        input: obj,
        watermarkDelays,
        appendOnly,
        lookupIndex: obj.kind === 'source' ? undefined : (columns) => lookupIndex(obj, columns),
      }
      return { kind: 'relation', ref, columns: obj.columns }
    },
    relationOid(schema, name) {
      if (schema === undefined || schema === 'public') {
        const obj = engine.get(name)
        if (obj !== undefined) return objectOid(obj.id)
        const index = indexEntries(engine, objectOid).find((ix) => ix.name === name)
        if (index !== undefined) return index.oid
      }
      const sys = findSystemTable(schema, name)
      return sys === undefined ? undefined : systemTableOid(sys)
    },
    catalogFunction(name, args) {
      if (name === 'pg_get_indexdef' || name === 'pg_get_constraintdef') return indexDefinitionCall(engine, name, args)
      // pg_get_viewdef(oid [, pretty]) and pg_get_viewdef(name [, pretty]): the view's SELECT.
      if (name !== 'pg_get_viewdef' || args.length < 1 || args.length > 2) return undefined
      const byName = args[0].type.kind === 'text' || args[0].type.kind === 'unknown'
      const definition = (v: Value): Value => {
        for (const o of engine.objects.values()) {
          if (o.kind !== 'view' && o.kind !== 'materialized_view') continue
          if (byName ? o.name === v : objectOid(o.id) === BigInt(v as bigint | number)) return viewDefinition(o.sql)
        }
        return null
      }
      const arg = byName ? { ...args[0], type: T.text } : args[0]
      return {
        kind: 'call',
        fn: { name, argTypes: [arg.type], returnType: T.text, strict: true, impl: definition },
        args: [arg],
        type: T.text,
      }
    },
    relationName(oid) {
      for (const o of engine.objects.values()) if (objectOid(o.id) === oid) return o.name
      return indexEntries(engine, objectOid).find((ix) => ix.oid === oid)?.name
    },
  }
}

/**
 * pg_get_indexdef(oid [, column, pretty]) (column 0: the CREATE INDEX text, k: the k-th indexed
 * column) and pg_get_constraintdef(oid [, pretty]) of a primary key, for psql's \d and drivers.
 */
function indexDefinitionCall(engine: Engine, name: string, args: readonly BoundExpr[]): BoundExpr | undefined {
  if (args.length < 1 || args.length > 3) return undefined
  const arg = args[0]
  const column = name === 'pg_get_indexdef' && args.length === 3 ? args[1] : undefined
  const find = (oid: Value): IndexEntry | undefined => {
    const n = BigInt(oid as bigint | number)
    return indexEntries(engine, objectOid).find((ix) =>
      name === 'pg_get_indexdef' ? ix.oid === n : ix.primary && pkConstraintOid(objectOid(ix.relation.id)) === n,
    )
  }
  const impl = (oid: Value, k: Value = 0, pretty: Value = false): Value => {
    const ix = find(oid)
    if (ix === undefined) return null
    if (name === 'pg_get_constraintdef') return primaryKeyDefinition(ix)
    const at = Number(k)
    // Pretty-printed, the table is named as the search path finds it (unqualified), as PostgreSQL does.
    if (at === 0) return pretty === true ? indexDefinition(ix).replace(' ON public.', ' ON ') : indexDefinition(ix)
    const c = ix.columns[at - 1]
    return c === undefined ? '' : quoteIdent(ix.relation.columns[c].name)
  }
  const callArgs = column === undefined ? [arg] : [arg, column, args[2]]
  return {
    kind: 'call',
    fn: { name, argTypes: callArgs.map((a) => a.type), returnType: T.text, strict: true, impl },
    args: callArgs,
    type: T.text,
  }
}
