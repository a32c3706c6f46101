/**
 * libpg-query's JSON tree: its node type and the helpers that take it apart. Only the
 * converter and the statement modules of the front door read it.
 */
import { SluiceError, SqlState } from '../errors.ts'

/** A node of libpg-query's JSON tree: `{ NodeType: { ...fields } }` or a bare field object. */
export type PgNode = Record<string, unknown>

/** `{ Kind: body }` → [Kind, body]. */
export function unwrap(node: PgNode): [string, PgNode] {
  const keys = Object.keys(node)
  if (keys.length !== 1) return ['', node]
  return [keys[0], node[keys[0]] as PgNode]
}

export function field(node: PgNode, kind: string): PgNode {
  const body = node[kind]
  if (body === undefined)
    throw new SluiceError(SqlState.internal_error, `expected a ${kind} node, got ${Object.keys(node).join(',')}`)
  return body as PgNode
}

export function list(x: unknown): PgNode[] {
  if (x === undefined || x === null) return []
  if (Array.isArray(x)) return x as PgNode[]
  const items = (x as PgNode).List !== undefined ? ((x as PgNode).List as PgNode).items : undefined
  return (items as PgNode[] | undefined) ?? [x as PgNode]
}

export function str(node: PgNode): string {
  const s = node.String as PgNode | undefined
  return (s?.sval as string | undefined) ?? ''
}
