/**
 * Two-phase window aggregation (two-phase.ts): which aggregates the rule splits, that the split
 * plan keeps the output columns' names and types, and that it gives the rows the original plan
 * gives — over a table whose rows are deleted and updated (so the partials retract), fed in
 * chunks of several sizes, with EMIT CHANGES and EMIT ON WINDOW CLOSE.
 */
import { describe, expect, it } from 'vitest'
import type { Chunk } from '../../chunk.ts'
import type { CompileContext } from '../../expr/compile.ts'
import type { OperatorContext } from '../../ops/operator.ts'
import type { PhysicalNode, RelationInput } from '../../runtime/dataflow.ts'
import type { Value } from '../../types/datatype.ts'
import type { LogicalPlan } from '../logical.ts'
import type { PlanningContext } from '../pipeline.ts'
import { ChunkBuilder, chunkFromRows, rowAt } from '../../chunk.ts'
import { T } from '../../types/datatype.ts'
import { Dataflow, isRelationInput } from '../../runtime/dataflow.ts'
import { Stream } from '../../runtime/stream.ts'
import { parseSql } from '../../sql/front-door.ts'
import { bind, streamPlan } from '../pipeline.ts'
import { lower } from '../physical.ts'
import { splitWindowAggregates } from './two-phase.ts'

const COLUMNS = [
  { name: 'auction', type: T.int8 },
  { name: 'price', type: T.int8 },
  { name: 'qty', type: T.int4 },
  { name: 'name', type: T.text },
  { name: 'ratio', type: T.float8 },
  { name: 'date_time', type: T.timestamp },
]
const TIME = 5
const SECOND = 1_000_000
const BASE = Date.UTC(2026, 0, 1) * 1000

const compile: CompileContext = { params: [], timezone: 'UTC', now: BASE }
const ops: OperatorContext = { owner: 'test', deadLetter: () => {}, countLate: () => {}, countEvalErrors: () => {} }

/** The table `bid` read from `stream`; the watermark trails date_time by one second. */
function context(stream: Stream): PlanningContext {
  const input: RelationInput = { name: 'bid', stream, snapshot: () => chunkFromRows(COLUMNS.length, []) }
  return {
    compile,
    paramTypes: [],
    catalog: {
      relation: () => ({
        kind: 'relation',
        ref: {
          kind: 'table',
          name: 'bid',
          input,
          watermarkDelays: new Map([[TIME, SECOND]]),
          appendOnly: false,
        },
        columns: COLUMNS,
      }),
    },
  }
}

async function plan(sql: string, stream = new Stream('bid')): Promise<LogicalPlan> {
  const [stmt] = await parseSql(sql)
  if (stmt.kind !== 'query') throw new Error(`not a query: ${sql}`)
  return streamPlan(bind(stmt.query, context(stream), true).plan)
}

/** The aggregate nodes of a plan, top first. */
function aggregates(p: LogicalPlan): Extract<LogicalPlan, { kind: 'aggregate' }>[] {
  const out: Extract<LogicalPlan, { kind: 'aggregate' }>[] = []
  const visit = (n: LogicalPlan): void => {
    if (n.kind === 'aggregate') out.push(n)
    if ('input' in n) visit(n.input)
    if ('left' in n) {
      visit(n.left)
      visit(n.right)
    }
    if (n.kind === 'union') n.inputs.forEach(visit)
  }
  visit(p)
  return out
}

const shape = (p: LogicalPlan): string[] => p.columns.map((c) => `${c.name}:${c.type.kind}`)

const TUMBLE = `TUMBLE(bid, date_time, INTERVAL '10 seconds')`
const HOP = `HOP(bid, date_time, INTERVAL '5 seconds', INTERVAL '15 seconds')`

describe('splitWindowAggregates: which plans', () => {
  it('splits a window-only GROUP BY of count, sum, min and max into partial and final', async () => {
    const original = await plan(
      `SELECT max(price) AS maxprice, count(*) AS n, count(qty) AS nq, sum(price) AS total, sum(qty) AS q, min(name) AS first, window_end
       FROM ${TUMBLE} GROUP BY window_end`,
    )
    const split = splitWindowAggregates(original)
    expect(shape(split)).toEqual(shape(original))
    const [final, partial] = aggregates(split)
    expect(final.phase).toBeUndefined()
    expect(partial.phase).toBe('partial')
    expect(final.input).toBe(partial)
    expect(final.windowKey).toBe(partial.windowKey)
    expect(final.calls.map((c) => `${c.spec.name}(#${c.arg})`)).toEqual([
      'max(#1)',
      'sum(#2)',
      'sum(#3)',
      'sum(#4)',
      'sum(#5)',
      'min(#6)',
    ])
    // count and sum(int4) give int8, their merges numeric: a projection casts them back.
    expect(aggregates(original)[0].columns.map((c) => c.type.kind)).toEqual(partial.columns.map((c) => c.type.kind))
    expect(final.columns.map((c) => c.type.kind)).toEqual([
      'timestamp',
      'int8',
      'numeric',
      'numeric',
      'numeric',
      'numeric',
      'text',
    ])
  })

  it('splits HOP windows grouped by both bounds', async () => {
    const split = splitWindowAggregates(
      await plan(`SELECT window_start, window_end, max(price) FROM ${HOP} GROUP BY window_start, window_end`),
    )
    expect(aggregates(split).map((a) => a.phase)).toEqual([undefined, 'partial'])
  })

  it('leaves alone a GROUP BY with a key besides the window, avg, DISTINCT and float sums', async () => {
    for (const sql of [
      `SELECT auction, window_start, count(*) FROM ${TUMBLE} GROUP BY auction, window_start`,
      `SELECT window_end, max(price), avg(price) FROM ${TUMBLE} GROUP BY window_end`,
      `SELECT window_end, count(DISTINCT auction) FROM ${TUMBLE} GROUP BY window_end`,
      `SELECT window_end, sum(ratio) FROM ${TUMBLE} GROUP BY window_end`,
      `SELECT auction, count(*) FROM bid GROUP BY auction`,
    ]) {
      const original = await plan(sql)
      expect(splitWindowAggregates(original)).toEqual(original)
    }
  })

  it('splits the window-only aggregate above another aggregate and keeps the one below', async () => {
    const split = splitWindowAggregates(
      await plan(
        `SELECT w.window_end, max(w.n) FROM (SELECT window_end, count(*) AS n FROM ${TUMBLE} GROUP BY window_end) w
         GROUP BY w.window_end`,
      ),
    )
    // The outer GROUP BY reads an ordinary column (already a key to split by): not split.
    expect(aggregates(split).map((a) => a.phase)).toEqual([undefined, undefined, 'partial'])
  })
})

describe('lowering a split plan for shards', () => {
  it('puts no exchange under the partial and one on the window keys under the final', async () => {
    const sql = `SELECT window_start, window_end, count(*) AS n FROM ${HOP} GROUP BY window_start, window_end`
    const exchanged: number[][] = []
    const root = lower(splitWindowAggregates(await plan(sql)), {
      compile,
      ops,
      watermarkOverride: undefined,
      emitOnWindowClose: false,
      exchange: (input, keys) => {
        exchanged.push([...keys])
        return input
      },
    })
    expect(exchanged).toEqual([[0, 1]])
    const names: string[] = []
    for (let n: PhysicalNode | RelationInput = root; !isRelationInput(n); n = n.inputs[0]) names.push(n.op.name)
    // The select list over the cast of count's merged sum back to bigint, then the two phases.
    expect(names).toEqual(['FilterProject', 'FilterProject', 'HashAggregate', 'WindowAggregate', 'Watermark'])
  })
})

/** Rows of bid: inserts, then deletes and updates of some of them, in a fixed pseudo-random order. */
function changes(): { op: 1 | -1; row: Value[] }[] {
  let seed = 7
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  }
  const names = ['a', 'b', 'c', 'dd', null]
  const live: Value[][] = []
  const out: { op: 1 | -1; row: Value[] }[] = []
  for (let i = 0; i < 600; i++) {
    const time = BASE + i * 100_000 + next(3 * SECOND)
    const row: Value[] = [
      BigInt(next(5)),
      BigInt(next(1000)),
      next(4) === 0 ? null : next(100),
      names[next(names.length)],
      next(100) / 7,
      time,
    ]
    out.push({ op: 1, row })
    live.push(row)
    if (i % 5 === 4) {
      // Delete a recent row, or update its price (a delete then an insert).
      const at = live.length - 1 - next(Math.min(live.length, 8))
      const old = live[at]
      out.push({ op: -1, row: old })
      if (next(2) === 0) {
        const updated = [old[0], BigInt(next(1000)), old[2], names[next(names.length)], old[4], old[5]]
        out.push({ op: 1, row: updated })
        live[at] = updated
      } else live.splice(at, 1)
    }
  }
  return out
}

/** The view's rows after running `p` over the changes in chunks of `size`, watermarks between. */
function run(p: LogicalPlan, stream: Stream, size: number, emitOnWindowClose: boolean): string[] {
  const root = lower(p, { compile, ops, watermarkOverride: undefined, emitOnWindowClose })
  const rows = new Map<string, number>()
  const flow = new Dataflow(root, {
    chunk: (c: Chunk) => {
      for (let i = 0; i < c.length; i++) {
        const key = rowAt(c, i).map(String).join('|')
        const n = (rows.get(key) ?? 0) + c.ops[i]
        if (n === 0) rows.delete(key)
        else rows.set(key, n)
      }
    },
    watermark: () => {},
  })
  flow.attach()
  const all = changes()
  for (let start = 0; start < all.length; start += size) {
    const b = new ChunkBuilder(COLUMNS.length)
    for (const { op, row } of all.slice(start, start + size)) b.push(op, row)
    const chunk = b.take()
    if (chunk === undefined) continue
    stream.push(chunk)
    stream.pushBatchWatermarks(chunk, [TIME])
  }
  stream.pushWatermark({ kind: 'watermark', column: TIME, value: BASE + 3600 * SECOND })
  flow.detach()
  return [...rows].map(([k, n]) => `${k} x${n}`).sort()
}

describe('splitWindowAggregates: same rows as the plan it splits', () => {
  const queries = [
    `SELECT max(price) AS maxprice, window_end FROM ${TUMBLE} GROUP BY window_end`,
    `SELECT window_end, count(*), count(qty), count(name), sum(price), sum(qty), min(price), max(qty), min(name), max(name)
     FROM ${TUMBLE} GROUP BY window_end`,
    `SELECT window_start, window_end, count(*), sum(price), min(qty), max(name) FROM ${HOP} GROUP BY window_start, window_end`,
    `SELECT window_start, count(*) FILTER (WHERE price > 500) AS hi, sum(qty) FROM ${HOP} GROUP BY window_start HAVING count(*) > 2`,
  ]
  for (const sql of queries)
    for (const emitOnWindowClose of [false, true])
      it(`${sql.slice(7, 60)}… ${emitOnWindowClose ? 'on window close' : 'changes'}`, async () => {
        for (const size of [1, 7, 50, 1000]) {
          const a = new Stream('bid')
          const b = new Stream('bid')
          const original = await plan(sql, a)
          const split = splitWindowAggregates(await plan(sql, b))
          expect(aggregates(split).some((g) => g.phase === 'partial')).toBe(true)
          const expected = run(original, a, size, emitOnWindowClose)
          expect(expected.length).toBeGreaterThan(5)
          expect(run(split, b, size, emitOnWindowClose)).toEqual(expected)
        }
      })
})
