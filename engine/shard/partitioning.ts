/**
 * Where a sharded view can skip an exchange: rows already split by the columns an operator is
 * keyed by are on the right shard (Flink's "forward" edge instead of "hash").
 *
 * A stream is split by the key columns of the exchange it came out of; an operator keeps that
 * split in the output columns that carry those input columns unchanged (Operator.carries): a
 * GROUP BY's keys, a filter's and projection's passed-through columns, an inner join's keys. An
 * operator keyed by exactly those columns, in that order (the hash combines them in order), reads
 * its input as it is.
 */
import type { PhysicalNode, RelationInput } from '../runtime/dataflow.ts'
import { isRelationInput } from '../runtime/dataflow.ts'

/**
 * The columns a node's output is split by across shards, or undefined when it is not split by
 * columns (a source's split). `exchanged` gives the key columns of an exchange's output.
 */
export function splitBy(
  node: PhysicalNode | RelationInput,
  exchanged: (node: PhysicalNode | RelationInput) => readonly number[] | undefined,
): readonly number[] | undefined {
  const keys = exchanged(node)
  if (keys !== undefined || isRelationInput(node)) return keys
  const op = node.op
  if (op.carries === undefined) return undefined
  for (let i = 0; i < node.inputs.length; i++) {
    const inner = splitBy(node.inputs[i], exchanged)
    if (inner === undefined || inner.length === 0) continue
    const out: number[] = []
    for (const c of inner) {
      const carried = op.carries(i, c)
      if (carried === undefined) break
      out.push(carried)
    }
    if (out.length === inner.length) return out
  }
  return undefined
}

/**
 * Whether rows split by `by` need no exchange on `keys`: split by exactly those keys, or (for a
 * grouping) by some of them, since rows equal on all keys are then equal on those and together.
 */
export function needsNoExchange(
  by: readonly number[] | undefined,
  keys: readonly number[],
  grouping: boolean,
): boolean {
  if (by === undefined || by.length === 0) return false
  if (grouping) return by.every((c) => keys.includes(c))
  return by.length === keys.length && by.every((c, i) => c === keys[i])
}
