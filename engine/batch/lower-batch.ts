/**
 * Lowers an optimized logical plan to the batch executor's cursor tree. Joins become batch hash
 * joins; every other node runs the streaming operator that physical.ts builds for it (lowered
 * over a placeholder input, then driven by a cursor adapter), so expressions, aggregates and
 * errors behave exactly as in a view.
 */
import type { CompileContext } from '../expr/compile.ts'
import type { LogicalPlan, PlanColumn, RelationRef } from '../plan/logical.ts'
import type { OperatorContext } from '../ops/operator.ts'
import type { Cursor } from './cursor.ts'
import type { QueryBudget } from './budget.ts'
import { compilePredicate } from '../expr/compile.ts'
import { lower } from '../plan/physical.ts'
import { exprText, joinCondition, lookupText } from '../plan/explain.ts'
import { Stream } from '../runtime/stream.ts'
import { BatchHashJoin } from './batch-join.ts'
import { BlockingCursor, ConcatCursor, MapCursor, ScanCursor, emptyChunk } from './cursor.ts'
import { lookupRows, scanRows } from './lookups.ts'

export interface BatchContext {
  readonly compile: CompileContext
  readonly ops: OperatorContext
  readonly budget: QueryBudget | undefined
}

const placeholderStream = new Stream('(batch input)')

/** A scan standing in for a cursor's input while physical.ts lowers the node above it. */
function placeholder(columns: readonly PlanColumn[]): LogicalPlan {
  const relation: RelationRef = {
    kind: 'system',
    name: '(batch input)',
    input: { name: '(batch input)', stream: placeholderStream, snapshot: () => emptyChunk(columns.length) },
    watermarkDelays: new Map(),
    appendOnly: true,
  }
  return { kind: 'scan', relation, columns }
}

/** The streaming operator for `node` alone (its inputs replaced by placeholders). */
function operatorFor(node: LogicalPlan, ctx: BatchContext): ReturnType<typeof lower>['op'] {
  return lower(node, {
    compile: ctx.compile,
    ops: ctx.ops,
    watermarkOverride: undefined,
    emitOnWindowClose: false,
    throwOnEvalError: true,
  }).op
}

export function toCursor(plan: LogicalPlan, ctx: BatchContext): Cursor {
  const width = plan.columns.length
  switch (plan.kind) {
    case 'scan': {
      const input = plan.relation.input
      const lookup = plan.lookup
      if (lookup !== undefined) {
        // Only the rows the index finds (rules/index-lookup.ts); the filter above still applies.
        const types = plan.columns.map((c) => c.type)
        const detail = `${plan.relation.name} (${lookupText(lookup, plan.columns)})`
        return new ScanCursor('Scan', () => lookupRows(input, lookup, types, width, ctx.compile), width, detail)
      }
      return new ScanCursor('Scan', () => scanRows(input), width, plan.relation.name)
    }
    case 'values':
      return new ScanCursor('Values', () => plan.rows, width, `${plan.rows.length} row(s)`)
    case 'project':
      if (plan.input.kind === 'filter') {
        // physical.ts fuses a filter under a projection into one pass; keep that here.
        const op = operatorFor({ ...plan, input: { ...plan.input, input: placeholder(plan.input.input.columns) } }, ctx)
        return new MapCursor(op, toCursor(plan.input.input, ctx), width)
      }
      return new MapCursor(
        operatorFor({ ...plan, input: placeholder(plan.input.columns) }, ctx),
        toCursor(plan.input, ctx),
        width,
      )
    case 'filter':
    case 'window':
      return new MapCursor(
        operatorFor({ ...plan, input: placeholder(plan.input.columns) }, ctx),
        toCursor(plan.input, ctx),
        width,
      )
    case 'aggregate':
    case 'rank':
    case 'session_aggregate': {
      const op = operatorFor({ ...plan, input: placeholder(plan.input.columns) }, ctx)
      return new BlockingCursor(
        op,
        [toCursor(plan.input, ctx)],
        plan.columns.map((c) => c.type),
        ctx.budget,
      )
    }
    case 'set_op': {
      const op = operatorFor(
        { ...plan, left: placeholder(plan.left.columns), right: placeholder(plan.right.columns) },
        ctx,
      )
      return new BlockingCursor(
        op,
        [toCursor(plan.left, ctx), toCursor(plan.right, ctx)],
        plan.columns.map((c) => c.type),
        ctx.budget,
      )
    }
    case 'union':
      return new ConcatCursor(plan.inputs.map((p) => toCursor(p, ctx)))
    case 'join': {
      const lw = plan.left.columns.length
      const detail = `${plan.type} on ${joinCondition(plan.leftKeys, plan.rightKeys, lw)}${plan.residual === undefined ? '' : ` and ${exprText(plan.residual)}`}`
      return new BatchHashJoin(
        {
          type: plan.type,
          leftKeys: plan.leftKeys,
          rightKeys: plan.rightKeys,
          leftTypes: plan.left.columns.map((c) => c.type),
          rightTypes: plan.right.columns.map((c) => c.type),
          residual: plan.residual === undefined ? undefined : compilePredicate(plan.residual, ctx.compile),
          detail,
        },
        toCursor(plan.left, ctx),
        toCursor(plan.right, ctx),
        ctx.budget,
      )
    }
  }
}

/** EXPLAIN lines of a cursor tree, numbered and indented like the other plan stages. */
export function explainCursor(root: Cursor): string[] {
  const lines: string[] = []
  const walk = (c: Cursor, depth: number): void => {
    const detail = c.explain()
    lines.push(`${'  '.repeat(depth)}${c.name}${detail === '' ? '' : ' ' + detail}`)
    for (const input of c.inputs) walk(input, depth + 1)
  }
  walk(root, 0)
  return lines.map((l, i) => `${String(i + 1).padStart(2)} ${l}`)
}
