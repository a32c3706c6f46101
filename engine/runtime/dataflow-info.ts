/**
 * A running view's or sink's operator graph as plain data, for the console's dataflow page and
 * its rates: each operator with its EXPLAIN detail, inputs, rows in and out so far and state size,
 * and which views and sinks read the object (its fan-out). Cold path: built when asked, from the
 * physical plan the dataflow runs and the counters its runners keep per chunk.
 */
import type { Engine } from '../engine.ts'
import type { PhysicalNode } from './dataflow.ts'
import { isRelationInput } from './dataflow.ts'

/** One operator of a dataflow; `inputs` are operator ids or, for a leaf, the relation it reads. */
export interface OperatorInfo {
  readonly id: number
  readonly name: string
  readonly detail: string
  readonly inputs: readonly ({ readonly operator: number } | { readonly relation: string })[]
  readonly rowsIn: number
  readonly rowsOut: number
  readonly stateEntries: number
}

export interface DataflowInfo {
  readonly name: string
  readonly kind: 'materialized_view' | 'sink'
  /** Why the dataflow stopped (a view's failure, a sink's last commit error), if it did. */
  readonly failure: string | undefined
  /** Root first, in the order of Dataflow.operators(). */
  readonly operators: readonly OperatorInfo[]
  /** Views and sinks that read this object. */
  readonly dependents: readonly string[]
}

/** Every materialized view's and sink's graph, in catalog order. */
export function dataflowInfos(engine: Engine): DataflowInfo[] {
  const out: DataflowInfo[] = []
  for (const o of [...engine.objects.values()].sort((a, b) => a.id - b.id)) {
    if (o.kind === 'materialized_view')
      out.push(describe(o.name, o.kind, o.failure, o.dataflow.root, o.dataflow, o.dependents))
    else if (o.kind === 'sink')
      out.push(describe(o.name, o.kind, o.lastError, o.dataflow.root, o.dataflow, o.dependents))
  }
  return out
}

function describe(
  name: string,
  kind: DataflowInfo['kind'],
  failure: string | undefined,
  root: PhysicalNode,
  dataflow: {
    operators(): readonly { stateSize?(): number }[]
    rowCounts(): readonly { rowsIn: number; rowsOut: number }[]
  },
  dependents: ReadonlySet<string>,
): DataflowInfo {
  const counts = dataflow.rowCounts()
  const ops = dataflow.operators()
  const operators: OperatorInfo[] = []
  // Pre-order from the root, the order in which Dataflow built its runners: index i here is
  // runner i there, so the counters line up without the runtime exposing its runners. A shared
  // subplan is one operator with two readers, as there.
  const ids = new Map<PhysicalNode, number>()
  const walk = (node: PhysicalNode): number => {
    const known = ids.get(node)
    if (known !== undefined) return known
    const id = operators.length
    ids.set(node, id)
    const info: { -readonly [K in keyof OperatorInfo]: OperatorInfo[K] } = {
      id,
      name: node.op.name,
      detail: node.op.explain?.() ?? '',
      inputs: [],
      rowsIn: counts[id]?.rowsIn ?? 0,
      rowsOut: counts[id]?.rowsOut ?? 0,
      stateEntries: ops[id]?.stateSize?.() ?? 0,
    }
    operators.push(info)
    info.inputs = node.inputs.map((input) =>
      isRelationInput(input) ? { relation: input.name } : { operator: walk(input) },
    )
    return id
  }
  walk(root)
  return { name, kind, failure, operators, dependents: [...dependents].sort() }
}
