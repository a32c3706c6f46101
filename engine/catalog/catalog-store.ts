/**
 * Persistence of the catalog: each object's id, kind, name and defining SQL, under key prefix
 * (0, id) of the state store. At startup the statements are replayed in id order (so an object's
 * dependencies exist before it), which rebuilds every source, table and view.
 */
import type { StateStore, StateWrite } from '../state/store.ts'
import type { ObjectKind } from './objects.ts'
import { encodeKey } from '../state/codec.ts'
import { T } from '../types/datatype.ts'

export interface StoredObject {
  readonly id: number
  /** 'index': a CREATE INDEX, replayed like the others (catalog/indexes.ts); roles, grants, secrets and tokens: catalog/access.ts. */
  readonly kind: ObjectKind | 'index' | 'role' | 'grant' | 'secret' | 'token'
  readonly name: string
  readonly sql: string
}

const CATALOG = 0n

export function catalogPut(obj: StoredObject): StateWrite {
  return {
    type: 'put',
    key: encodeKey([CATALOG, BigInt(obj.id)], [T.int8, T.int8]),
    value: new TextEncoder().encode(JSON.stringify(obj)),
  }
}

export function catalogDelete(id: number): StateWrite {
  return { type: 'del', key: encodeKey([CATALOG, BigInt(id)], [T.int8, T.int8]) }
}

export async function loadCatalog(store: StateStore): Promise<StoredObject[]> {
  const out: StoredObject[] = []
  const decoder = new TextDecoder()
  for await (const [, value] of store.scan(encodeKey([CATALOG], [T.int8]))) {
    out.push(JSON.parse(decoder.decode(value)) as StoredObject)
  }
  return out.sort((a, b) => a.id - b.id)
}
