/**
 * Lowers a logical plan to the operator graph: one operator per plan node, with a filter directly
 * under a projection fused into one FilterProject pass, and a Watermark operator on each leaf
 * that reads a source or table (turning max event time into this view's watermark).
 */
import type { CompileContext } from '../expr/compile.ts'
import type { OperatorContext } from '../ops/operator.ts'
import type { PhysicalNode, RelationInput } from '../runtime/dataflow.ts'
import type { LogicalPlan } from './logical.ts'
import { isAppendOnly } from './logical.ts'
import type { ProjectionSpec } from '../ops/filter-project.ts'
import { compileExpr, compilePredicate } from '../expr/compile.ts'
import { FilterProject } from '../ops/filter-project.ts'
import { HashAggregate, type HashAggregateSpec } from '../ops/hash-aggregate.ts'
import { WINDOW_END, WINDOW_START, WindowAggregate, type WindowInput } from '../ops/window-aggregate.ts'
import { Values } from '../ops/values.ts'
import { WatermarkDelay } from '../ops/watermark-delay.ts'
import { WindowAssign } from '../ops/window-assign.ts'
import { exprText, joinCondition } from './explain.ts'
import { HashJoin } from '../ops/hash-join.ts'
import { closingJoinKey } from './closing-columns.ts'
import { keepColumns } from './rules/rewrite-projects.ts'
import { sameSubplan, shareable } from './shared-subplans.ts'
import { UnionAll } from '../ops/union.ts'
import { SetOp } from '../ops/set-op.ts'
import { TopN } from '../ops/top-n.ts'
import { SessionAggregate } from '../ops/session-aggregate.ts'
import { SluiceError, SqlState } from '../errors.ts'

export interface LowerOptions {
  readonly compile: CompileContext
  readonly ops: OperatorContext
  /** The view's trailing `WATERMARK d` (µs): replaces the inputs' declared delays. */
  readonly watermarkOverride: number | undefined
  readonly emitOnWindowClose: boolean
  /** Pull queries: a row that fails to evaluate fails the query (views dead-letter it instead). */
  readonly throwOnEvalError?: boolean
  /** The view's `ttl` (ms) for unwindowed state: grouping, joins, top-N. */
  readonly ttlMs?: number
  /**
   * Grouping by a TUMBLE or HOP window as one WindowAggregate (default), or as WindowAssign and
   * HashAggregate: the plan of views whose checkpoint was written before the fused operator,
   * whose state is keyed by the operators' positions (engine/runtime/checkpoint.ts).
   */
  readonly fuseWindows?: boolean
  /**
   * Sharded views (engine/shard/): puts a keyed exchange on an input of a stateful operator,
   * given the input's key columns: the operator then sees only the rows of its shard's keys.
   * Undefined: one shard, no exchanges.
   */
  readonly exchange?: Exchange
  /**
   * Shared subplans (shared-subplans.ts): a stateful subplan that occurs twice is lowered once,
   * its node read by both parents. The lowered ones so far; undefined: no sharing (a sharded
   * lowering, or a view whose checkpoint was written by a plan without it).
   */
  readonly shared?: { readonly plan: LogicalPlan; readonly node: PhysicalNode }[]
}

/**
 * See LowerOptions.exchange: the input node as the keyed operator reads it after the exchange.
 * `grouping`: the operator needs only each key's rows together (a GROUP BY: rows split by some
 * of the keys will do); else the split must be by exactly these keys (the two sides of a join or
 * a set operation must agree).
 */
export type Exchange = (input: PhysicalNode, keys: readonly number[], grouping: boolean) => PhysicalNode | RelationInput

/** An input lowered, behind an exchange on `keys` when the lowering is sharded. */
function keyed(
  plan: LogicalPlan,
  keys: readonly number[],
  options: LowerOptions,
  grouping = true,
): PhysicalNode | RelationInput {
  const node = lower(plan, options)
  return options.exchange === undefined ? node : options.exchange(node, keys, grouping)
}

/** 0, 1, ..., n - 1. */
function firstColumns(n: number): number[] {
  return Array.from({ length: n }, (_v, i) => i)
}

export function lower(plan: LogicalPlan, options: LowerOptions): PhysicalNode {
  const shared = options.shared
  if (shared === undefined || !shareable(plan)) return lowerNode(plan, options)
  for (const s of shared) if (sameSubplan(s.plan, plan)) return s.node
  const node = lowerNode(plan, options)
  shared.push({ plan, node })
  return node
}

function lowerNode(plan: LogicalPlan, options: LowerOptions): PhysicalNode {
  const types = plan.columns.map((c) => c.type)
  switch (plan.kind) {
    case 'scan': {
      const rel = plan.relation
      let delays: Map<number, number> | undefined
      if (rel.kind === 'source' || rel.kind === 'table') {
        delays = new Map()
        if (options.watermarkOverride !== undefined) {
          plan.columns.forEach((c, i) => {
            if (c.type.kind === 'timestamp' || c.type.kind === 'timestamptz') delays!.set(i, options.watermarkOverride!)
          })
        } else {
          for (const [c, d] of rel.watermarkDelays) delays.set(c, d)
        }
      }
      return { op: new WatermarkDelay(delays), inputs: [rel.input], types }
    }
    case 'values':
      return { op: new Values(plan.columns.length, plan.rows), inputs: [], types }
    case 'filter': {
      const predicate = compilePredicate(plan.predicate, options.compile)
      return {
        op: new FilterProject(
          options.ops,
          predicate,
          undefined,
          `where ${exprText(plan.predicate)}`,
          options.throwOnEvalError,
          plan.input.columns.map((c) => c.type),
        ),
        inputs: [lower(plan.input, options)],
        types,
      }
    }
    case 'project': {
      let input = plan.input
      let predicate
      let detail = ''
      if (input.kind === 'filter') {
        predicate = compilePredicate(input.predicate, options.compile)
        detail = `where ${exprText(input.predicate)} `
        input = input.input
      }
      const projections: ProjectionSpec[] = plan.exprs.map((e) =>
        e.kind === 'column' ? { input: e.index } : { fn: compileExpr(e, options.compile) },
      )
      detail += `[${plan.exprs.map(exprText).join(', ')}]`
      const inputTypes = input.columns.map((c) => c.type)
      return {
        op: new FilterProject(options.ops, predicate, projections, detail, options.throwOnEvalError, inputTypes),
        inputs: [lower(input, options)],
        types,
      }
    }
    case 'window': {
      const w = plan.window
      if (w.kind === 'session') {
        throw new SluiceError(
          SqlState.feature_not_supported,
          'a SESSION window must be grouped by window_start and window_end',
          { hint: 'GROUP BY window_start, window_end, <keys>' },
        )
      }
      // A narrowing projection right under the window (rules/prune-window-inputs.ts) is folded
      // into it: the window copies only the columns kept, and no operator is added.
      const carry = columnRefs(plan.input)
      const input = carry === undefined || plan.input.kind !== 'project' ? plan.input : plan.input.input
      const op = new WindowAssign(
        options.ops,
        {
          kind: w.kind,
          timeColumn: carry === undefined ? w.timeColumn : carry[w.timeColumn],
          size: w.size,
          slide: w.slide,
          offset: w.offset,
          carry,
        },
        carry?.length ?? input.columns.length,
        input.columns.map((c) => c.type),
      )
      return { op, inputs: [lower(input, options)], types }
    }
    case 'join': {
      // A key closing on both inputs (window_start of two window aggregates) frees closed windows.
      const closing = closingJoinKey(plan, options)
      const frees = closing === undefined ? '' : ` frees=${plan.left.columns[plan.leftKeys[closing]].name}`
      const op = new HashJoin(
        {
          type: plan.type,
          leftKeys: plan.leftKeys,
          rightKeys: plan.rightKeys,
          leftTypes: plan.left.columns.map((c) => c.type),
          rightTypes: plan.right.columns.map((c) => c.type),
          residual: plan.residual === undefined ? undefined : compilePredicate(plan.residual, options.compile),
          lookup: plan.lookup,
          leftAppendOnly: isAppendOnly(plan.left),
          rightAppendOnly: isAppendOnly(plan.right),
          interval: plan.interval,
          ttlMs: options.ttlMs,
          closing,
          detail: `${plan.lookup ? 'lookup ' : ''}${plan.type} on ${joinCondition(plan.leftKeys, plan.rightKeys, plan.left.columns.length)}${plan.residual === undefined ? '' : ` and ${exprText(plan.residual)}`}${plan.interval === undefined ? '' : ` interval=[${plan.interval.lo / 1e6}s, ${plan.interval.hi / 1e6}s]`}${frees}`,
        },
        options.ops,
      )
      return {
        op,
        inputs: [keyed(plan.left, plan.leftKeys, options, false), keyed(plan.right, plan.rightKeys, options, false)],
        types,
      }
    }
    case 'session_aggregate':
      return {
        op: new SessionAggregate(options.ops, {
          inputTypes: plan.input.columns.map((c) => c.type),
          partitionTypes: plan.input.columns.slice(0, plan.partitionCount).map((c) => c.type),
          gap: plan.gap,
          calls: plan.calls.map((c) => ({
            label: c.label,
            arg: c.arg,
            arg2: c.arg2,
            returnType: c.spec.returnType,
            create: () => c.spec.create(),
          })),
          emitOnWindowClose: options.emitOnWindowClose,
        }),
        inputs: [keyed(plan.input, firstColumns(plan.partitionCount), options)],
        types,
      }
    case 'rank':
      return {
        op: new TopN({
          types: plan.input.columns.map((c) => c.type),
          partition: plan.partition,
          order: plan.order,
          limit: plan.limit,
          appendOnly: isAppendOnly(plan.input),
          ttlMs: options.ttlMs,
        }),
        inputs: [keyed(plan.input, plan.partition, options)],
        types,
      }
    case 'union':
      return { op: new UnionAll(plan.inputs.length), inputs: plan.inputs.map((p) => lower(p, options)), types }
    case 'set_op':
      return {
        op: new SetOp(plan.op, !plan.all, types),
        inputs: [
          keyed(plan.left, firstColumns(types.length), options, false),
          keyed(plan.right, firstColumns(types.length), options, false),
        ],
        types,
      }
    case 'aggregate': {
      const appendOnly = isAppendOnly(plan.input)
      const spec: HashAggregateSpec = {
        keyTypes: plan.input.columns.slice(0, plan.keyCount).map((c) => c.type),
        calls: plan.calls.map((c) => ({
          label: c.label,
          arg: c.arg,
          arg2: c.arg2,
          returnType: c.spec.returnType,
          create:
            appendOnly && c.spec.createAppendOnly !== undefined
              ? () => c.spec.createAppendOnly!()
              : () => c.spec.create(),
        })),
        windowKey: plan.windowKey,
        // A partial emits changes: closing a window, an aggregate forwards the watermark before
        // the window's final rows, which the final aggregate above would then read as late.
        emitOnWindowClose: options.emitOnWindowClose && plan.windowKey !== undefined && plan.phase === undefined,
        ttlMs: options.ttlMs,
      }
      // Grouping by a TUMBLE or HOP window: the rows are assigned to their windows inside the
      // aggregate (ops/window-aggregate.ts) instead of copied once per window before it.
      const found = plan.windowKey === undefined || options.fuseWindows === false ? undefined : fusedWindow(plan.input)
      // A partial aggregate (rules/two-phase.ts) reads its own shard's rows: no exchange.
      const partial = plan.phase === 'partial'
      const input = (source: LogicalPlan, keys: readonly number[]): PhysicalNode | RelationInput =>
        partial ? lower(source, options) : keyed(source, keys, options)
      // Sharded, the rows cross an exchange first: only the columns the aggregate reads.
      const fused = found === undefined || options.exchange === undefined || partial ? found : narrowed(found)
      if (fused !== undefined)
        return {
          op: new WindowAggregate(spec, options.ops, fused.input),
          // Keyed by the group keys but the window: all windows of a key on one shard.
          inputs: [
            input(
              fused.source,
              fused.input.columns.slice(0, plan.keyCount).filter((c) => c >= 0),
            ),
          ],
          types,
        }
      return { op: new HashAggregate(spec), inputs: [input(plan.input, firstColumns(plan.keyCount))], types }
    }
  }
}

/** A fused window's input cut down to the columns it reads (keys, time), as a projection. */
function narrowed(f: { source: LogicalPlan; input: WindowInput }): { source: LogicalPlan; input: WindowInput } {
  const { window, columns } = f.input
  const used = [...new Set([...columns.filter((c) => c >= 0), window.timeColumn])].sort((a, b) => a - b)
  if (used.length === f.source.columns.length) return f
  const at = (c: number): number => used.indexOf(c)
  const source = keepColumns(f.source, used)
  return {
    source,
    input: {
      window: { ...window, timeColumn: at(window.timeColumn) },
      columns: columns.map((c) => (c >= 0 ? at(c) : c)),
      inputTypes: source.columns.map((c) => c.type),
    },
  }
}

/** The input columns a projection of plain column references reads, in order; else undefined. */
function columnRefs(plan: LogicalPlan): number[] | undefined {
  if (plan.kind !== 'project') return undefined
  const refs: number[] = []
  for (const e of plan.exprs) {
    if (e.kind !== 'column') return undefined
    refs.push(e.index)
  }
  return refs
}

/**
 * An aggregate's input that is a projection of columns over a TUMBLE or HOP window (itself
 * maybe over a projection of columns): what the aggregate reads, as columns of the window's
 * input, so a WindowAggregate can take that input directly. Undefined for any other shape.
 */
function fusedWindow(input: LogicalPlan): { source: LogicalPlan; input: WindowInput } | undefined {
  const columns = columnRefs(input)
  if (columns === undefined || input.kind !== 'project') return undefined
  const win = input.input
  if (win.kind !== 'window' || win.window.kind === 'session') return undefined
  const carry = columnRefs(win.input)
  const source = carry === undefined || win.input.kind !== 'project' ? win.input : win.input.input
  const width = win.input.columns.length
  const through = (c: number): number => (carry === undefined ? c : carry[c])
  const { kind, timeColumn, size, slide, offset } = win.window
  return {
    source,
    input: {
      window: { kind, timeColumn: through(timeColumn), size, slide, offset },
      columns: columns.map((c) => (c < width ? through(c) : c === width ? WINDOW_START : WINDOW_END)),
      inputTypes: source.columns.map((c) => c.type),
    },
  }
}
