/**
 * CREATE INDEX from PostgreSQL's parse tree: plain column lists only. Expressions, partial
 * indexes (WHERE), INCLUDE, and UNIQUE are refused with 0A000 (a table's only unique constraint
 * is its primary key; docs/design/typmods-and-indexes.md).
 */
import type { PgNode } from './pg-node.ts'
import type { StatementBody } from './tree.ts'
import type { Converter } from './convert.ts'
import { field, list } from './pg-node.ts'

export function createIndexStatement(s: PgNode, c: Converter): StatementBody {
  const relation = s.relation as PgNode
  const position = relation.location
  if (s.unique === true) c.unsupported('CREATE UNIQUE INDEX (the primary key is the only unique constraint)', position)
  if (s.whereClause !== undefined) c.unsupported('a partial index (CREATE INDEX ... WHERE)', position)
  if (list(s.indexIncludingParams).length > 0) c.unsupported('CREATE INDEX ... INCLUDE', position)
  const method = s.accessMethod as string | undefined
  if (method !== undefined && method !== 'btree' && method !== 'hash')
    c.unsupported(`the index method ${method}`, position)
  const schema = relation.schemaname as string | undefined
  if (schema !== undefined && schema !== 'public') c.unsupported(`an index on a relation in schema ${schema}`, position)
  const columns = list(s.indexParams).map((p) => {
    const elem = field(p, 'IndexElem')
    if (elem.name === undefined) return c.unsupported('an index on an expression', position)
    return elem.name as string
  })
  return {
    kind: 'create_index',
    name: s.idxname as string | undefined,
    relation: relation.relname as string,
    columns,
    ifNotExists: s.if_not_exists === true,
    position: c.pos(position),
  }
}
