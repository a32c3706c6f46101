// SetOp (EXCEPT / INTERSECT [ALL]): the rows held downstream always equal the set operation over
// the inputs' current multisets, through inserts and retractions on both sides; a checkpoint's
// counts rebuild an operator that goes on exactly like the original.
import { describe, expect, it } from 'vitest'
import type { Chunk, Watermark } from '../chunk.ts'
import type { Value } from '../types/datatype.ts'
import type { CheckpointWriter, Emitter, StateEntry } from './operator.ts'
import type { SetOpKind } from './set-op.ts'
import { SetOp, setOpMultiplicity } from './set-op.ts'
import { chunkFromRows, rowAt } from '../chunk.ts'
import { T } from '../types/datatype.ts'

const TYPES = [T.int4, T.text]

class Held implements Emitter {
  readonly counts = new Map<string, number>()
  chunk(c: Chunk): void {
    for (let i = 0; i < c.length; i++) {
      const k = JSON.stringify(rowAt(c, i))
      this.counts.set(k, (this.counts.get(k) ?? 0) + c.ops[i])
    }
  }
  watermark(_w: Watermark): void {}
  rows(): string[] {
    return [...this.counts].flatMap(([k, n]) => Array.from({ length: n }, () => k)).sort()
  }
}

/** What the set operation gives for the inputs' current rows, computed directly. */
function expected(op: SetOpKind, all: boolean, left: readonly Value[][], right: readonly Value[][]): string[] {
  const count = (rows: readonly Value[][]): Map<string, number> => {
    const m = new Map<string, number>()
    for (const r of rows) m.set(JSON.stringify(r), (m.get(JSON.stringify(r)) ?? 0) + 1)
    return m
  }
  const l = count(left)
  const r = count(right)
  const out: string[] = []
  for (const k of new Set([...l.keys(), ...r.keys()])) {
    const n = setOpMultiplicity(op, all, l.get(k) ?? 0, r.get(k) ?? 0)
    for (let i = 0; i < n; i++) out.push(k)
  }
  return out.sort()
}

function random(seed: number): () => number {
  let s = seed
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) | 0
    return (s >>> 0) / 4294967296
  }
}

describe('SetOp', () => {
  for (const op of ['except', 'intersect'] as const) {
    for (const all of [false, true]) {
      it(`${op}${all ? ' all' : ''} follows random changes on both sides, and restores`, () => {
        const next = random(op.length * 7 + (all ? 1 : 0))
        let operator = new SetOp(op, !all, TYPES)
        const held = new Held()
        const sides: Value[][][] = [[], []]
        const entries = new Map<string, [Uint8Array, Uint8Array]>()
        const writer: CheckpointWriter = {
          put: (k, v) => void entries.set(Buffer.from(k).toString('hex'), [k, v]),
          del: (k) => void entries.delete(Buffer.from(k).toString('hex')),
          clear: () => entries.clear(),
        }
        for (let step = 0; step < 200; step++) {
          const side = next() < 0.5 ? 0 : 1
          const rows = sides[side]
          if (rows.length > 0 && next() < 0.4) {
            const [gone] = rows.splice(Math.floor(next() * rows.length), 1)
            operator.onChunk(chunkFromRows(2, [gone], -1), side, held)
          } else {
            const row: Value[] = [next() < 0.1 ? null : Math.floor(next() * 4), next() < 0.5 ? 'x' : 'y']
            rows.push(row)
            operator.onChunk(chunkFromRows(2, [row]), side, held)
          }
          expect(held.rows(), `step ${step}`).toEqual(expected(op, all, sides[0], sides[1]))
          if (step % 50 === 49) {
            // Checkpoint, then carry on with an operator rebuilt from the entries.
            operator.checkpoint(writer)
            const restored = new SetOp(op, !all, TYPES)
            restored.restore([...entries.values()] as StateEntry[])
            operator = restored
          }
        }
        const current = operator.currentOutput()!
        const out: string[] = []
        for (let i = 0; i < current.length; i++) out.push(JSON.stringify(rowAt(current, i)))
        expect(out.sort()).toEqual(expected(op, all, sides[0], sides[1]))
      })
    }
  }
})
