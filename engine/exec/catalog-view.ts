/**
 * The binder's window onto the engine's catalog: user objects by name, Sluice's system tables,
 * and plain views (inlined). Sources and tables also report their declared watermark.
 */
import type { BinderCatalog } from '../plan/binder.ts'
import type { Engine } from '../engine.ts'
import type { RelationRef } from '../plan/logical.ts'
import type { Query } from '../sql/tree.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { findSystemTable, objectOid, systemTableOid, viewDefinition } from '../catalog/system.ts'
import { T } from '../types/datatype.ts'
import { Stream } from '../runtime/stream.ts'
import { chunkFromRows } from '../chunk.ts'
import type { Value } from '../types/datatype.ts'

const systemStream = new Stream('system')

export function binderCatalog(engine: Engine): BinderCatalog {
  return {
    relation(schema, name, position) {
      if (schema !== undefined && schema !== 'public') {
        const sys = findSystemTable(schema, name)
        if (sys === undefined) throw new SluiceError(SqlState.undefined_table, `relation "${schema}.${name}" does not exist`, { position })
        const ref: RelationRef = {
          kind: 'system',
          name: `${sys.schema}.${sys.name}`,
          watermarkDelays: new Map(),
          appendOnly: true,
          input: { name: `${sys.schema}.${sys.name}`, stream: systemStream, snapshot: () => chunkFromRows(sys.columns.length, sys.rows(engine)) },
        }
        return { kind: 'relation', ref, columns: sys.columns }
      }
      const obj = engine.get(name)
      if (obj === undefined) {
        const sys = findSystemTable(undefined, name)
        if (sys !== undefined) return this.relation('pg_catalog', name, position)
        throw new SluiceError(SqlState.undefined_table, `relation "${name}" does not exist`, { position })
      }
      if (obj.kind === 'view') return { kind: 'view', query: obj.query as Query, columnNames: undefined, name }
      if (obj.kind === 'sink') throw new SluiceError(SqlState.undefined_table, `relation "${name}" does not exist`, { position })
      const watermarkDelays = new Map<number, number>()
      if ((obj.kind === 'source' || obj.kind === 'table') && obj.watermark !== undefined) watermarkDelays.set(obj.watermark.column, obj.watermark.delay)
      const appendOnly = obj.kind === 'source' || (obj.kind === 'table' && obj.appendOnly)
      const ref: RelationRef = { kind: obj.kind, name: obj.name, input: obj, watermarkDelays, appendOnly }
      return { kind: 'relation', ref, columns: obj.columns }
    },
    relationOid(schema, name) {
      if (schema === undefined || schema === 'public') {
        const obj = engine.get(name)
        if (obj !== undefined) return objectOid(obj.id)
      }
      const sys = findSystemTable(schema, name)
      return sys === undefined ? undefined : systemTableOid(sys)
    },
    catalogFunction(name, args) {
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
      return { kind: 'call', fn: { name, argTypes: [arg.type], returnType: T.text, strict: true, impl: definition }, args: [arg], type: T.text }
    },
    relationName(oid) {
      for (const o of engine.objects.values()) if (objectOid(o.id) === oid) return o.name
      return undefined
    },
  }
}
