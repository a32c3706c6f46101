// WindowAggregate (window assignment fused into the aggregate) against the plan it replaces,
// WindowAssign → FilterProject → HashAggregate, on seeded random input: inserts and retractions,
// rows without event time, late rows, watermarks between chunks, TUMBLE and HOP, EMIT CHANGES and
// ON WINDOW CLOSE. Both must emit the same changes after every chunk, the same watermarks and the
// same dead letters; and a WindowAggregate restored from a checkpoint mid-window goes on as the
// original does.
import { describe, expect, it } from 'vitest'
import type { Chunk, Watermark } from '../chunk.ts'
import type { Value } from '../types/datatype.ts'
import type { Emitter, OperatorContext } from './operator.ts'
import type { AggregateCall, HashAggregateSpec } from './hash-aggregate.ts'
import type { WindowSpec } from './window-assign.ts'
import { HashAggregate } from './hash-aggregate.ts'
import { FilterProject } from './filter-project.ts'
import { WindowAssign } from './window-assign.ts'
import { WINDOW_END, WINDOW_START, WindowAggregate } from './window-aggregate.ts'
import { Held, checkpoint, restore, text } from './state-test-support.ts'
import { MemoryStore } from '../state/memory.ts'
import { chunkFromRows, rowAt } from '../chunk.ts'
import { resolveAggregate } from '../expr/aggregates.ts'
import { T } from '../types/datatype.ts'
import { rng } from '../../test/support.ts'

/** Input rows: [k int8, ts timestamp (µs), v int8]. */
const INPUT_TYPES = [T.int8, T.timestamp, T.int8]
const S = 1_000_000

function call(name: string, arg: number): AggregateCall {
  const spec = resolveAggregate(name, arg < 0 ? [] : [T.int8], false)!
  return { label: name, arg, arg2: -1, returnType: spec.returnType, create: () => spec.create() }
}

/**
 * Groups by [window column, k]; aggregates count(*), sum(v), max(v) over aggregate input
 * [w, k, v]; or, `counts`, only count(*) over input [w, k] (rows are then merged, see merged()).
 */
function aggSpec(emitOnWindowClose: boolean, counts = false): HashAggregateSpec {
  return {
    keyTypes: [T.timestamp, T.int8],
    calls: counts ? [call('count', -1)] : [call('count', -1), call('sum', 2), call('max', 2)],
    windowKey: 0,
    emitOnWindowClose,
  }
}

class Context implements OperatorContext {
  readonly owner = 'v'
  readonly letters: string[] = []
  late = 0
  deadLetter(letter: { reason: string; payload: string | null }): void {
    this.letters.push(`${letter.reason} ${letter.payload}`)
  }
  countLate(n: number): void {
    this.late += n
  }
  countEvalErrors(): void {}
}

/** Everything an operator emitted since the last `take()`: changes as sorted text, watermarks in order. */
class Log implements Emitter {
  private changes: string[] = []
  private marks: string[] = []
  chunk(c: Chunk): void {
    for (let i = 0; i < c.length; i++) this.changes.push(`${c.ops[i]} ${text(rowAt(c, i))}`)
  }
  watermark(w: Watermark): void {
    this.marks.push(`#${w.column}=${w.value}`)
  }
  take(): { changes: string[]; marks: string[] } {
    const taken = { changes: this.changes.sort(), marks: this.marks }
    this.changes = []
    this.marks = []
    return taken
  }
}

/** The two-operator plan: WindowAssign, a projection to [window column, k, v], HashAggregate. */
function unfused(
  window: WindowSpec,
  emitOnWindowClose: boolean,
  ctx: OperatorContext,
  key: 'start' | 'end',
  counts = false,
) {
  const assign = new WindowAssign(ctx, window, 3, INPUT_TYPES)
  const columns = [{ input: key === 'start' ? 3 : 4 }, { input: 0 }, { input: 2 }]
  const project = new FilterProject(ctx, undefined, counts ? columns.slice(0, 2) : columns)
  const agg = new HashAggregate(aggSpec(emitOnWindowClose, counts))
  const wire = (out: Emitter): { project: Emitter; agg: Emitter } => {
    const toAgg: Emitter = { chunk: (c) => agg.onChunk(c, 0, out), watermark: (w) => agg.onWatermark(w, 0, out) }
    return {
      agg: toAgg,
      project: { chunk: (c) => project.onChunk(c, 0, toAgg), watermark: (w) => project.onWatermark(w, 0, toAgg) },
    }
  }
  return {
    chunk: (c: Chunk, out: Emitter) => assign.onChunk(c, 0, wire(out).project),
    watermark: (w: Watermark, out: Emitter) => assign.onWatermark(w, 0, wire(out).project),
  }
}

function fused(
  window: WindowSpec,
  emitOnWindowClose: boolean,
  ctx: OperatorContext,
  key: 'start' | 'end',
  counts = false,
) {
  const columns = [key === 'start' ? WINDOW_START : WINDOW_END, 0, 2]
  return new WindowAggregate(aggSpec(emitOnWindowClose, counts), ctx, {
    window,
    columns: counts ? columns.slice(0, 2) : columns,
    inputTypes: INPUT_TYPES,
  })
}

type Step = { kind: 'chunk'; rows: Value[][]; op: 1 | -1 } | { kind: 'watermark'; w: Watermark }

/**
 * Random steps: chunks of 1–60 rows around an advancing clock (some behind it, some without a
 * time), retractions of rows inserted before, and watermarks on the time column (some on another
 * column, some going back).
 */
function steps(seed: number, count: number): Step[] {
  const rnd = rng(seed)
  const out: Step[] = []
  const inserted: Value[][] = []
  let clock = 100 * S
  for (let s = 0; s < count; s++) {
    const r = rnd()
    if (r < 0.25) {
      const back = rnd() < 0.2 ? -Math.floor(rnd() * 8 * S) : 0
      const column = rnd() < 0.1 ? 2 : 1
      // Half of them on a whole second: exactly at window ends (a window closes when watermark ≥ end).
      const value = clock - 4 * S + back
      out.push({
        kind: 'watermark',
        w: { kind: 'watermark', column, value: rnd() < 0.5 ? value - (value % S) : value },
      })
      continue
    }
    if (r < 0.4 && inserted.length > 0) {
      const rows: Value[][] = []
      const n = 1 + Math.floor(rnd() * 6)
      for (let i = 0; i < n && inserted.length > 0; i++)
        rows.push(inserted.splice(Math.floor(rnd() * inserted.length), 1)[0])
      out.push({ kind: 'chunk', rows, op: -1 })
      continue
    }
    const rows: Value[][] = []
    const n = 1 + Math.floor(rnd() * 60)
    for (let i = 0; i < n; i++) {
      clock += Math.floor(rnd() * 0.3 * S)
      const ts = rnd() < 0.05 ? null : clock - Math.floor(rnd() * (rnd() < 0.1 ? 20 : 3) * S)
      const row: Value[] = [BigInt(Math.floor(rnd() * 7)), ts, BigInt(Math.floor(rnd() * 100))]
      rows.push(row)
      inserted.push(row)
    }
    out.push({ kind: 'chunk', rows, op: 1 })
  }
  return out
}

const WINDOWS: Record<string, WindowSpec> = {
  'hop 10s/2s': { kind: 'hop', timeColumn: 1, size: 10 * S, slide: 2 * S, offset: 0 },
  'hop 5s/2s': { kind: 'hop', timeColumn: 1, size: 5 * S, slide: 2 * S, offset: 0 },
  'hop 3s/2s offset 1s': { kind: 'hop', timeColumn: 1, size: 3 * S, slide: 2 * S, offset: S },
  'tumble 4s': { kind: 'tumble', timeColumn: 1, size: 4 * S, slide: 4 * S, offset: 0 },
}

describe('WindowAggregate', () => {
  for (const [name, window] of Object.entries(WINDOWS))
    for (const emitOnWindowClose of [false, true])
      for (const [key, counts] of [
        ['start', false],
        ['end', false],
        ['start', true],
      ] as const)
        it(`emits what WindowAssign + HashAggregate emit: ${name}, ${emitOnWindowClose ? 'on window close' : 'changes'}, by window_${key}${counts ? ', count(*) only' : ''}`, () => {
          for (const seed of [1, 2, 3]) {
            const ctxA = new Context()
            const ctxB = new Context()
            const a = unfused(window, emitOnWindowClose, ctxA, key, counts)
            const b = fused(window, emitOnWindowClose, ctxB, key, counts)
            const outA = new Log()
            const outB = new Log()
            let emitted = 0
            for (const [at, step] of steps(seed, 300).entries()) {
              if (step.kind === 'chunk') {
                a.chunk(chunkFromRows(3, step.rows, step.op), outA)
                b.onChunk(chunkFromRows(3, step.rows, step.op), 0, outB)
              } else {
                a.watermark(step.w, outA)
                b.onWatermark(step.w, 0, outB)
              }
              const want = outA.take()
              emitted += want.changes.length
              expect(outB.take(), `seed ${seed}, step ${at}`).toEqual(want)
            }
            expect(emitted).toBeGreaterThan(100)
            expect(ctxB.letters).toEqual(ctxA.letters)
            expect(ctxB.late).toBe(ctxA.late)
            expect(ctxA.late).toBeGreaterThan(0)
          }
        })

  it('restored from a checkpoint mid-window, goes on as the original', async () => {
    const window = WINDOWS['hop 10s/2s']
    const all = steps(7, 400)
    const cut = 200
    const original = fused(window, false, new Context(), 'start')
    const held = new Held()
    let lastMark: Watermark | undefined
    const run = (op: WindowAggregate, out: Emitter, from: number, to: number): void => {
      for (const step of all.slice(from, to)) {
        if (step.kind === 'chunk') op.onChunk(chunkFromRows(3, step.rows, step.op), 0, out)
        else {
          op.onWatermark(step.w, 0, out)
          if (step.w.column === 1 && (lastMark === undefined || step.w.value > lastMark.value)) lastMark = step.w
        }
      }
    }
    run(original, held, 0, cut)
    const store = new MemoryStore()
    await checkpoint(original, store)
    expect(original.stateSize()).toBeGreaterThan(0)
    const copy = fused(window, false, new Context(), 'start')
    await restore(copy, store)
    expect(copy.stateSize()).toBe(original.stateSize())
    // The engine replays the sources' event-time high marks as watermarks after a restart.
    const heldCopy = new Held()
    for (const [row, n] of held.rows) heldCopy.rows.set(row, n)
    if (lastMark !== undefined) copy.onWatermark(lastMark, 0, heldCopy)
    const mark = lastMark
    run(original, held, cut, all.length)
    lastMark = mark
    run(copy, heldCopy, cut, all.length)
    expect(heldCopy.counted()).toEqual(held.counted())
  })

  it('explains its windows and the columns it reads', () => {
    const op = fused(WINDOWS['hop 10s/2s'], false, new Context(), 'start')
    expect(op.name).toBe('WindowAggregate')
    expect(op.explain()).toBe(
      'hop time=#1 size=10s slide=2s input=[window_start, #0, #2] keys=[#0, #1] aggs=[count, sum, max]',
    )
  })
})
