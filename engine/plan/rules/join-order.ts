/**
 * Rule: join planning. A tree of inner joins (comma joins, JOIN ... ON) with the filters over and
 * inside it is flattened into its inputs (leaves) and conditions (a join graph); the joins are
 * rebuilt as a chain, each adding one input to what is joined so far, with every
 * `leaf expr = other leaf expr` condition as hash keys, conditions on
 * one leaf as filters on it, and the rest as the residual of the first join that sees all its
 * columns. Cross products remain only where no condition connects the inputs.
 *
 * Order: with an estimator (pull queries) the smallest estimated input starts and each step adds
 * the smallest input connected to what is joined so far, on whichever side makes the smaller
 * estimate the build side (the right input); without one (views, whose inputs have no size yet)
 * the written order is kept, the new input on the right, only moving a connected input ahead of
 * an unconnected one. A projection on top restores the cluster's column order, so nothing above
 * notices.
 */
import type { BoundExpr } from '../../expr/bound.ts'
import type { DataType } from '../../types/datatype.ts'
import type { LogicalPlan, PlanColumn } from '../logical.ts'
import { columnsOf, remapColumns } from '../../expr/remap.ts'
import { intervalBound } from '../interval-bound.ts'
import { selectivity } from '../estimate.ts'
import { resolveFunction } from '../../expr/functions.ts'
import { SluiceError, SqlState } from '../../errors.ts'

export interface JoinOrderOptions {
  /** Estimated rows of a plan; undefined keeps the written order (streaming views). */
  readonly estimate?: (plan: LogicalPlan) => number
}

type Join = Extract<LogicalPlan, { kind: 'join' }>

interface Leaf {
  plan: LogicalPlan
  readonly offset: number
  readonly width: number
}

/** A condition over the cluster's columns (global numbering: the leaves side by side). */
interface Cond {
  readonly expr: BoundExpr
  readonly leaves: ReadonlySet<number>
  /** For `a = b` with a and b over one different leaf each: the two sides, else undefined. */
  readonly equi:
    { readonly leaves: readonly [number, number]; readonly sides: readonly [BoundExpr, BoundExpr] } | undefined
  /** Came from an existing join's keys (not a candidate for "worth re-planning"). */
  readonly fromKeys: boolean
  done: boolean
}

const NUMERIC_RANK: Partial<Record<string, number>> = { int2: 1, int4: 2, int8: 3, numeric: 4, float4: 5, float8: 6 }

export function planJoins(plan: LogicalPlan, options: JoinOrderOptions = {}): LogicalPlan {
  if (isClusterRoot(plan)) return planCluster(plan, options)
  switch (plan.kind) {
    case 'scan':
    case 'values':
      return plan
    case 'project': {
      const input = planJoins(plan.input, options)
      // The projection restoring a re-planned cluster's column order folds into the one above,
      // so join-input pruning sees the join right under it.
      if (
        input === plan.input ||
        !isClusterRoot(plan.input) ||
        input.kind !== 'project' ||
        !input.exprs.every((e) => e.kind === 'column')
      )
        return { ...plan, input }
      const inner = input.exprs as readonly { readonly index: number }[]
      return { ...plan, input: input.input, exprs: plan.exprs.map((e) => remapColumns(e, (c) => inner[c].index)) }
    }
    case 'filter':
    case 'window':
    case 'aggregate':
    case 'rank':
    case 'session_aggregate':
      return { ...plan, input: planJoins(plan.input, options) }
    case 'join':
    case 'set_op':
      return { ...plan, left: planJoins(plan.left, options), right: planJoins(plan.right, options) }
    case 'union':
      return { ...plan, inputs: plan.inputs.map((p) => planJoins(p, options)) }
  }
}

function isInnerJoin(plan: LogicalPlan): plan is Join {
  return plan.kind === 'join' && plan.type === 'inner' && !plan.lookup && plan.interval === undefined
}

function isClusterRoot(plan: LogicalPlan): boolean {
  let p = plan
  while (p.kind === 'filter') p = p.input
  return isInnerJoin(p)
}

function conjuncts(e: BoundExpr): BoundExpr[] {
  return e.kind === 'and' ? e.args.flatMap(conjuncts) : [e]
}

function and(parts: readonly BoundExpr[]): BoundExpr | undefined {
  return parts.length === 0
    ? undefined
    : parts.length === 1
      ? parts[0]
      : { kind: 'and', args: parts, type: { kind: 'bool' } }
}

function col(index: number, type: DataType): BoundExpr {
  return { kind: 'column', index, type }
}

function planCluster(root: LogicalPlan, options: JoinOrderOptions): LogicalPlan {
  const leaves: Leaf[] = []
  const exprs: { expr: BoundExpr; fromKeys: boolean }[] = []
  const collect = (p: LogicalPlan, offset: number): void => {
    if (p.kind === 'filter' && isClusterRoot(p)) {
      for (const c of conjuncts(p.predicate)) exprs.push({ expr: shift(c, offset), fromKeys: false })
      collect(p.input, offset)
      return
    }
    if (isInnerJoin(p)) {
      const lw = p.left.columns.length
      collect(p.left, offset)
      collect(p.right, offset + lw)
      p.leftKeys.forEach((l, i) => {
        const r = p.rightKeys[i]
        exprs.push({
          expr: equals(col(offset + l, p.left.columns[l].type), col(offset + lw + r, p.right.columns[r].type)),
          fromKeys: true,
        })
      })
      if (p.residual !== undefined)
        for (const c of conjuncts(p.residual)) exprs.push({ expr: shift(c, offset), fromKeys: false })
      return
    }
    leaves.push({ plan: planJoins(p, options), offset, width: p.columns.length })
  }
  collect(root, 0)
  const leafOf = (column: number): number => {
    for (let i = leaves.length - 1; i >= 0; i--) if (column >= leaves[i].offset) return i
    return 0
  }
  const conds: Cond[] = exprs.map(({ expr, fromKeys }) => {
    const leafSet = new Set([...columnsOf(expr)].map(leafOf))
    return { expr, leaves: leafSet, equi: equiSides(expr, leafOf), fromKeys, done: false }
  })
  // Re-plan when WHERE or a residual holds a condition between inputs (a key, or a residual an
  // interval join needs to see), or to order three or more inputs by size.
  const worthIt =
    conds.some((c) => !c.fromKeys && c.leaves.size > 1) || (options.estimate !== undefined && leaves.length >= 3)
  if (!worthIt) return replaceLeaves(root, leaves)

  // Conditions on one leaf filter it; constant ones stay on top.
  const top: BoundExpr[] = []
  for (const c of conds) {
    if (c.leaves.size > 1) continue
    c.done = true
    if (c.leaves.size === 0) {
      top.push(c.expr)
      continue
    }
    const leaf = leaves[[...c.leaves][0]]
    leaf.plan = { kind: 'filter', input: leaf.plan, predicate: shift(c.expr, -leaf.offset), columns: leaf.plan.columns }
  }

  const order = joinOrder(leaves, conds, options)
  const columns: PlanColumn[] = root.columns.slice()
  // Where each global column sits in the plan built so far.
  let position = new Map<number, number>()
  let plan: LogicalPlan | undefined
  /** Estimated rows of `plan` (with an estimator). */
  let rows = 0
  const joined = new Set<number>()
  for (const index of order) {
    const leaf = leaves[index]
    const leafRows = options.estimate?.(leaf.plan) ?? 0
    const keys: { joined: BoundExpr; leaf: BoundExpr }[] = []
    const residual: Cond[] = []
    if (plan !== undefined) {
      for (const c of conds) {
        if (c.done || !c.leaves.has(index) || ![...c.leaves].every((l) => l === index || joined.has(l))) continue
        c.done = true
        if (c.equi !== undefined) {
          const mine = c.equi.leaves[0] === index ? 0 : 1
          keys.push({ joined: c.equi.sides[1 - mine], leaf: c.equi.sides[mine] })
        } else residual.push(c)
      }
    }
    const side = withKeyColumns(
      leaf,
      keys.map((k) => k.leaf),
    )
    joined.add(index)
    if (plan === undefined) {
      plan = side.plan
      rows = leafRows
      for (let c = 0; c < leaf.width; c++) position.set(leaf.offset + c, c)
      continue
    }
    // Key sides that read columns already joined and are computed go into a projection.
    const sofar = leftKeyColumns(
      plan,
      keys.map((k) => k.joined),
      position,
    )
    // The batch hash join builds its right input: the smaller estimate goes there (views keep
    // the written order, the new input on the right).
    const swap = options.estimate !== undefined && leafRows > rows
    const left = swap ? side : sofar
    const right = swap ? sofar : side
    const lw = left.plan.columns.length
    const next = new Map<number, number>()
    for (const [g, p] of position) next.set(g, swap ? lw + p : p)
    for (let c = 0; c < leaf.width; c++) next.set(leaf.offset + c, swap ? c : lw + c)
    position = next
    const all = [...left.plan.columns, ...right.plan.columns]
    const residualExprs = residual.map((c) => remapColumns(c.expr, (g) => position.get(g)!))
    const joinPlan: LogicalPlan = {
      kind: 'join',
      type: 'inner',
      left: left.plan,
      right: right.plan,
      leftKeys: left.keys,
      rightKeys: right.keys,
      residual: and(residualExprs),
      lookup: false,
      interval: intervalBound(residualExprs, lw, all),
      columns: all,
    }
    plan = joinPlan
    // A keyed join is taken not to multiply rows (keys are mostly unique); pairs multiply.
    rows = keys.length > 0 ? Math.min(rows, leafRows) : rows * leafRows
    if (joinPlan.residual !== undefined) rows *= selectivity(joinPlan.residual)
    rows = Math.max(1, rows)
  }
  const built = plan!
  const restore: LogicalPlan = {
    kind: 'project',
    input: built,
    exprs: columns.map((c, g) => col(position.get(g)!, c.type)),
    columns,
  }
  const rest = and([...top, ...conds.filter((c) => !c.done).map((c) => c.expr)])
  return rest === undefined ? restore : { kind: 'filter', input: restore, predicate: rest, columns }
}

/** The join order: leaf indexes, first = the plan's leftmost input. */
function joinOrder(leaves: readonly Leaf[], conds: readonly Cond[], options: JoinOrderOptions): number[] {
  const edges = leaves.map(() => new Set<number>())
  for (const c of conds) {
    if (c.equi === undefined) continue
    const [a, b] = c.equi.leaves
    edges[a].add(b)
    edges[b].add(a)
  }
  const estimate = options.estimate
  const rows = leaves.map((l) => (estimate === undefined ? 0 : estimate(l.plan)))
  // Ties (and every choice without an estimator) go to the earlier leaf: the written order.
  const best = (candidates: readonly number[]): number => candidates.reduce((a, b) => (rows[b] < rows[a] ? b : a))
  const remaining = new Set(leaves.map((_l, i) => i))
  const order: number[] = []
  const take = (i: number): void => {
    order.push(i)
    remaining.delete(i)
  }
  const connected = [...remaining].filter((i) => edges[i].size > 0)
  take(estimate === undefined ? 0 : best(connected.length > 0 ? connected : [...remaining]))
  while (remaining.size > 0) {
    const next = [...remaining].filter((i) => order.some((o) => edges[i].has(o)))
    take(best(next.length > 0 ? next : [...remaining]))
  }
  return order
}

/** `a = b` where a reads only one leaf and b only another, with types that hash alike. */
function equiSides(e: BoundExpr, leafOf: (c: number) => number): Cond['equi'] {
  if (e.kind !== 'call' || e.fn.name !== '=' || e.args.length !== 2) return undefined
  let [a, b] = e.args
  const la = new Set([...columnsOf(a)].map(leafOf))
  const lb = new Set([...columnsOf(b)].map(leafOf))
  if (la.size !== 1 || lb.size !== 1) return undefined
  const x = [...la][0]
  const y = [...lb][0]
  if (x === y || containsCall(a) || containsCall(b)) return undefined
  if (a.type.kind === 'array' || b.type.kind === 'array' || a.type.kind === 'unknown') return undefined
  if (a.type.kind !== b.type.kind) {
    const ra = NUMERIC_RANK[a.type.kind]
    const rb = NUMERIC_RANK[b.type.kind]
    if (ra === undefined || rb === undefined) return undefined
    // Both sides hash as the wider type (an int4 and an int8 that are equal must meet).
    if (ra < rb) a = { kind: 'cast', expr: a, type: b.type }
    else b = { kind: 'cast', expr: b, type: a.type }
  }
  return { leaves: [x, y], sides: [a, b] }
}

/** Subquery calls (per-row pull queries) are evaluated where they were written, not as keys. */
function containsCall(e: BoundExpr): boolean {
  return (
    e.kind === 'call' &&
    (e.fn.name === 'subquery' || e.fn.name === 'exists' || e.fn.name === 'in' || e.fn.name === 'array')
  )
}

/** The leaf's plan with its key expressions as columns (plain columns need none). */
function withKeyColumns(leaf: Leaf, sides: readonly BoundExpr[]): { plan: LogicalPlan; keys: number[] } {
  const local = sides.map((s) => shift(s, -leaf.offset))
  const computed = local.filter((s) => s.kind !== 'column')
  if (computed.length === 0) return { plan: leaf.plan, keys: local.map((s) => (s as { index: number }).index) }
  const base = leaf.plan.columns
  const exprs: BoundExpr[] = base.map((c, i) => col(i, c.type))
  const keys = local.map((s) => {
    if (s.kind === 'column') return s.index
    exprs.push(s)
    return exprs.length - 1
  })
  const columns: PlanColumn[] = [
    ...base,
    ...exprs.slice(base.length).map((e) => ({ name: '?key?', type: e.type, hidden: true })),
  ]
  return { plan: { kind: 'project', input: leaf.plan, exprs, columns }, keys }
}

/** The joined-so-far plan with the left key expressions as columns. */
function leftKeyColumns(
  plan: LogicalPlan,
  sides: readonly BoundExpr[],
  position: ReadonlyMap<number, number>,
): { plan: LogicalPlan; keys: number[] } {
  const local = sides.map((s) => remapColumns(s, (g) => position.get(g)!))
  if (local.every((s) => s.kind === 'column')) return { plan, keys: local.map((s) => (s as { index: number }).index) }
  const exprs: BoundExpr[] = plan.columns.map((c, i) => col(i, c.type))
  const keys = local.map((s) => {
    if (s.kind === 'column') return s.index
    exprs.push(s)
    return exprs.length - 1
  })
  const columns: PlanColumn[] = [
    ...plan.columns,
    ...exprs.slice(plan.columns.length).map((e) => ({ name: '?key?', type: e.type, hidden: true })),
  ]
  return { plan: { kind: 'project', input: plan, exprs, columns }, keys }
}

function shift(e: BoundExpr, by: number): BoundExpr {
  return by === 0 ? e : remapColumns(e, (i) => i + by)
}

/** The cluster as it was, with its leaves planned. */
function replaceLeaves(root: LogicalPlan, leaves: readonly Leaf[]): LogicalPlan {
  let next = 0
  const walk = (p: LogicalPlan): LogicalPlan => {
    if (p.kind === 'filter' && isClusterRoot(p)) return { ...p, input: walk(p.input) }
    if (isInnerJoin(p)) return { ...p, left: walk(p.left), right: walk(p.right) }
    return leaves[next++].plan
  }
  return walk(root)
}

/** `a = b` for a pair of join keys (the binder gave both sides one type). */
function equals(a: BoundExpr, b: BoundExpr): BoundExpr {
  const resolved = resolveFunction('=', [a.type, b.type])
  if (resolved === undefined)
    throw new SluiceError(SqlState.internal_error, `no = operator for join keys of type ${a.type.kind}`, {
      domain: 'internal',
    })
  return { kind: 'call', fn: resolved.fn, args: [a, b], type: resolved.fn.returnType }
}
