/**
 * The batch hash join: builds a hash table over its right input (one input piece per step), then
 * streams the left input through it, producing at most STEP_ROWS candidate pairs per step — a
 * cursor over (probe row, position in its bucket) carries on where the last step stopped, so a
 * cross product of any size is produced in short steps. The residual condition is evaluated over
 * each step's pairs as one chunk; NULL keys never match.
 *
 * Outer joins: a probe row with no passing pair yields its NULL-extended row (left, full); the
 * build side remembers which rows matched and yields the others once the probe side is done
 * (right, full). Inputs are insert-only (cursor.ts), so no retraction bookkeeping is needed.
 */
import type { Chunk, Column } from '../chunk.ts'
import type { PredicateFn } from '../ops/filter-project.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { Cursor } from './cursor.ts'
import type { QueryBudget } from './budget.ts'
import { emptyColumns } from '../chunk.ts'
import { RowMap } from '../util/row-map.ts'
import { STEP_ROWS, chunkBytes, emptyChunk } from './cursor.ts'

export interface BatchJoinSpec {
  readonly type: 'inner' | 'left' | 'right' | 'full'
  readonly leftKeys: readonly number[]
  readonly rightKeys: readonly number[]
  readonly leftTypes: readonly DataType[]
  readonly rightTypes: readonly DataType[]
  readonly residual: PredicateFn | undefined
  readonly detail: string
}

export class BatchHashJoin implements Cursor {
  readonly name = 'BatchHashJoin'
  readonly inputs: readonly Cursor[]
  /** Build rows, column-wise. */
  private readonly build: Column[]
  private buildCount = 0
  /** Build row ids by key; without keys every row is in `everyRow` (a cross product). */
  private readonly table: RowMap<number[]>
  private readonly everyRow: number[] = []
  private matched: Uint8Array | undefined
  private built = false
  private probe: Chunk | undefined
  private probeRow = 0
  private bucketAt = 0
  /** Whether the current probe row has had a passing pair (left/full joins). */
  private probeMatched = false
  private probeDone = false
  private unmatchedAt = 0
  private reserved = 0
  private readonly width: number
  private readonly lw: number

  constructor(
    private readonly spec: BatchJoinSpec,
    left: Cursor,
    right: Cursor,
    private readonly budget: QueryBudget | undefined,
  ) {
    this.inputs = [left, right]
    this.lw = spec.leftTypes.length
    this.width = this.lw + spec.rightTypes.length
    this.build = emptyColumns(spec.rightTypes.length)
    this.table = new RowMap(spec.rightKeys.map((k) => spec.rightTypes[k]))
  }

  next(): Chunk | undefined {
    if (!this.built) {
      this.buildStep()
      return emptyChunk(this.width)
    }
    if (!this.probeDone) return this.probeStep()
    if (this.spec.type === 'right' || this.spec.type === 'full') return this.unmatchedStep()
    this.close()
    return undefined
  }

  close(): void {
    this.budget?.release(this.reserved)
    this.reserved = 0
  }

  explain(): string {
    return this.spec.detail
  }

  private buildStep(): void {
    const piece = this.inputs[1].next()
    if (piece === undefined) {
      this.built = true
      if (this.spec.type === 'right' || this.spec.type === 'full') this.matched = new Uint8Array(this.buildCount)
      // Nothing to match: an inner or right join is empty without reading its left input.
      if (this.buildCount === 0 && (this.spec.type === 'inner' || this.spec.type === 'right')) this.probeDone = true
      return
    }
    if (piece.length === 0) return
    const bytes = chunkBytes(piece)
    this.budget?.reserve(bytes)
    this.reserved += bytes
    const keys = this.spec.rightKeys
    for (let i = 0; i < piece.length; i++) {
      const id = this.buildCount++
      for (let c = 0; c < this.build.length; c++) this.build[c].push(piece.columns[c][i])
      if (keys.length === 0) {
        this.everyRow.push(id)
        continue
      }
      let nullKey = false
      for (const k of keys) if (piece.columns[k][i] === null) nullKey = true
      if (nullKey) continue
      const hash = this.table.hashAt(piece.columns, keys, i)
      const entry = this.table.findAt(piece.columns, keys, i, hash)
      if (entry === undefined) this.table.insert(this.table.keyAt(piece.columns, keys, i), hash, [id])
      else entry.value.push(id)
    }
  }

  /** The build rows matching probe row `i` (an empty list for a NULL or unmatched key). */
  private bucket(probe: Chunk, i: number): readonly number[] {
    const keys = this.spec.leftKeys
    if (keys.length === 0) return this.everyRow
    for (const k of keys) if (probe.columns[k][i] === null) return NONE
    return this.table.findAt(probe.columns, keys, i, this.table.hashAt(probe.columns, keys, i))?.value ?? NONE
  }

  private probeStep(): Chunk | undefined {
    if (this.probe === undefined || this.probeRow >= this.probe.length) {
      const piece = this.inputs[0].next()
      if (piece === undefined) {
        this.probeDone = true
        return emptyChunk(this.width)
      }
      this.probe = piece
      this.probeRow = 0
      this.bucketAt = 0
      this.probeMatched = false
      if (piece.length === 0) return emptyChunk(this.width)
    }
    const probe = this.probe
    const out = emptyColumns(this.width)
    /** Per output pair: its probe row and build row (for outer-join bookkeeping). */
    const pairProbe: number[] = []
    const pairBuild: number[] = []
    const leftOuter = this.spec.type === 'left' || this.spec.type === 'full'
    const lw = this.lw
    const rw = this.build.length
    // Probe rows fully handled in this step, in order, with whether they ended here.
    const finished: number[] = []
    while (this.probeRow < probe.length && pairProbe.length < STEP_ROWS) {
      const i = this.probeRow
      const ids = this.bucket(probe, i)
      const end = Math.min(ids.length, this.bucketAt + (STEP_ROWS - pairProbe.length))
      for (let m = this.bucketAt; m < end; m++) {
        const id = ids[m]
        for (let c = 0; c < lw; c++) out[c].push(probe.columns[c][i])
        for (let c = 0; c < rw; c++) out[lw + c].push(this.build[c][id])
        pairProbe.push(i)
        pairBuild.push(id)
      }
      this.bucketAt = end
      if (end >= ids.length) {
        finished.push(i)
        this.probeRow++
        this.bucketAt = 0
      }
    }
    let pairs: Chunk = { columns: out, ops: new Int8Array(pairProbe.length).fill(1), length: pairProbe.length }
    const mask = this.spec.residual !== undefined && pairs.length > 0 ? this.spec.residual(pairs) : undefined
    if (mask !== undefined) pairs = keep(pairs, mask, this.width)
    if (this.matched !== undefined) {
      for (let p = 0; p < pairBuild.length; p++) if (mask === undefined || mask[p] === 1) this.matched[pairBuild[p]] = 1
    }
    if (!leftOuter) return pairs
    // NULL-extend the probe rows that ended in this step without a passing pair.
    const passedRows = new Set<number>()
    for (let p = 0; p < pairProbe.length; p++) if (mask === undefined || mask[p] === 1) passedRows.add(pairProbe[p])
    const extended = emptyColumns(this.width)
    let n = 0
    const current = this.probeRow < probe.length ? this.probeRow : -1
    for (const i of finished) {
      const hit = passedRows.has(i) || (i === finished[0] && this.probeMatched)
      if (hit) continue
      for (let c = 0; c < lw; c++) extended[c].push(probe.columns[c][i])
      for (let c = 0; c < rw; c++) extended[lw + c].push(null)
      n++
    }
    // A probe row whose bucket continues next step carries whether it has matched so far.
    if (current >= 0) this.probeMatched = (finished.length === 0 && this.probeMatched) || passedRows.has(current)
    else this.probeMatched = false
    if (n === 0) return pairs
    return append(pairs, { columns: extended, ops: new Int8Array(n).fill(1), length: n }, this.width)
  }

  private unmatchedStep(): Chunk | undefined {
    const matched = this.matched!
    if (this.unmatchedAt >= this.buildCount) {
      this.close()
      return undefined
    }
    const out = emptyColumns(this.width)
    let n = 0
    while (this.unmatchedAt < this.buildCount && n < STEP_ROWS) {
      const id = this.unmatchedAt++
      if (matched[id] === 1) continue
      for (let c = 0; c < this.lw; c++) out[c].push(null)
      for (let c = 0; c < this.build.length; c++) out[this.lw + c].push(this.build[c][id])
      n++
    }
    return { columns: out, ops: new Int8Array(n).fill(1), length: n }
  }
}

const NONE: readonly number[] = []

function keep(chunk: Chunk, mask: Uint8Array, width: number): Chunk {
  const out = emptyColumns(width)
  let n = 0
  for (let i = 0; i < chunk.length; i++) {
    if (mask[i] !== 1) continue
    for (let c = 0; c < width; c++) out[c].push(chunk.columns[c][i])
    n++
  }
  return { columns: out, ops: new Int8Array(n).fill(1), length: n }
}

function append(a: Chunk, b: Chunk, width: number): Chunk {
  const columns = Array.from({ length: width }, (_x, c): Value[] => a.columns[c].concat(b.columns[c]))
  return { columns, ops: new Int8Array(a.length + b.length).fill(1), length: a.length + b.length }
}
