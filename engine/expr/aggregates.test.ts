// Retractable aggregates: random insert/retract sequences must always equal a recomputation over
// the rows still present, survive snapshot/restore, and give PostgreSQL's results and types.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeSnapshot, encodeSnapshot } from '../state/snapshot-codec.ts'
import type { DataType, Value } from '../types/datatype.ts'
import type { Accumulator } from './aggregates.ts'
import { Oracle } from './testing.ts'
import { accumulatorColumns, resolveAggregate } from './aggregates.ts'
import { T } from '../types/datatype.ts'
import { formatText, parseText } from '../types/text.ts'
import { formatTypeName } from '../types/oid.ts'

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Case {
  readonly sql: string
  readonly name: string
  readonly type: DataType
  readonly distinct?: boolean
  /** Sample values as PostgreSQL text; null = NULL. */
  readonly pool: readonly (string | null)[]
  /** Result compared as a sorted list of comma-separated pieces (string_agg order is unspecified). */
  readonly unordered?: boolean
}

const INT_POOL = ['1', '2', '3', '-7', '100', '2147483647', '-2147483648', null]
const BIG_POOL = ['9223372036854775807', '9223372036854775806', '-5', '0', '123456789012', null]
const NUM_POOL = ['1.5', '2.25', '-0.001', '100', '99999999999999999999.99', '0.1', null]
const FLOAT_POOL = ['0.1', '0.2', '0.3', '1e300', '-1e300', '2.5', '-1.25', null]
const TEXT_POOL = ['a', 'bb', 'B', 'zz', '', 'ä', null]
const TS_POOL = ['2024-01-01 00:00:00', '1999-12-31 23:59:59.5', '2030-06-01 12:00:00', null]

const CASES: readonly Case[] = [
  { sql: 'count(x)', name: 'count', type: T.int4, pool: INT_POOL },
  { sql: 'sum(x)', name: 'sum', type: T.int4, pool: INT_POOL },
  { sql: 'sum(x)', name: 'sum', type: T.int2, pool: ['1', '-3', '32767', null] },
  { sql: 'sum(x)', name: 'sum', type: T.int8, pool: BIG_POOL },
  { sql: 'sum(x)', name: 'sum', type: T.numeric, pool: NUM_POOL },
  { sql: 'sum(x)', name: 'sum', type: T.float8, pool: ['0.5', '0.25', '-1.5', '3', '1e-300', 'Infinity', null] },
  { sql: 'sum(x)', name: 'sum', type: T.interval, pool: ['1 day', '2 mons', '03:00:00', '-1 day', null] },
  { sql: 'avg(x)', name: 'avg', type: T.int4, pool: INT_POOL },
  { sql: 'avg(x)', name: 'avg', type: T.int8, pool: BIG_POOL },
  { sql: 'avg(x)', name: 'avg', type: T.numeric, pool: NUM_POOL },
  { sql: 'avg(x)', name: 'avg', type: T.float8, pool: ['0.5', '0.25', '-1.5', '3', null] },
  { sql: 'min(x)', name: 'min', type: T.int4, pool: INT_POOL },
  { sql: 'max(x)', name: 'max', type: T.int8, pool: BIG_POOL },
  { sql: 'max(x)', name: 'max', type: T.numeric, pool: NUM_POOL },
  { sql: 'min(x)', name: 'min', type: T.float8, pool: FLOAT_POOL },
  { sql: 'max(x)', name: 'max', type: T.text, pool: TEXT_POOL },
  { sql: 'min(x)', name: 'min', type: T.text, pool: TEXT_POOL },
  { sql: 'max(x)', name: 'max', type: T.timestamp, pool: TS_POOL },
  { sql: 'min(x)', name: 'min', type: T.interval, pool: ['1 day', '2 mons', '03:00:00', '-1 day', null] },
  { sql: 'bool_and(x)', name: 'bool_and', type: T.bool, pool: ['t', 'f', null] },
  { sql: 'bool_or(x)', name: 'bool_or', type: T.bool, pool: ['t', 'f', null] },
  { sql: 'count(DISTINCT x)', name: 'count', type: T.int4, distinct: true, pool: INT_POOL },
  { sql: 'count(DISTINCT x)', name: 'count', type: T.numeric, distinct: true, pool: ['1.0', '1.00', '2', null] },
  { sql: 'sum(DISTINCT x)', name: 'sum', type: T.int4, distinct: true, pool: INT_POOL },
  { sql: 'avg(DISTINCT x)', name: 'avg', type: T.numeric, distinct: true, pool: NUM_POOL },
  { sql: "string_agg(x, ',')", name: 'string_agg', type: T.text, pool: TEXT_POOL, unordered: true },
  {
    sql: "string_agg(DISTINCT x, ',')",
    name: 'string_agg',
    type: T.text,
    distinct: true,
    pool: TEXT_POOL,
    unordered: true,
  },
]

const sqlType = (t: DataType): string => formatTypeName(t)

function argsOf(c: Case): DataType[] {
  return c.name === 'string_agg' ? [T.text, T.text] : [c.type]
}

function valueOf(c: Case, text: string | null): Value {
  const v = text === null ? null : parseText(c.type, text)
  return c.name === 'string_agg' ? [v, ','] : v
}

function feed(acc: Accumulator, c: Case, rows: readonly (string | null)[]): Accumulator {
  for (const r of rows) acc.add(valueOf(c, r), 1)
  return acc
}

function show(c: Case, v: Value, returnType: DataType): string | null {
  if (v === null) return null
  const text = formatText(returnType, v)
  return c.unordered === true ? text.split(',').sort().join(',') : text
}

describe('aggregates under insert/retract sequences', () => {
  for (const c of CASES) {
    it(`${c.sql} over ${sqlType(c.type)} equals recomputation at every step`, () => {
      const spec = resolveAggregate(c.name, argsOf(c), c.distinct === true)
      expect(spec).toBeDefined()
      if (spec === undefined) return
      const random = rng(c.sql.length * 7919 + c.type.kind.length)
      const live: (string | null)[] = []
      let acc = spec.create()
      for (let step = 0; step < 400; step++) {
        if (live.length > 0 && random() < 0.45) {
          const i = Math.floor(random() * live.length)
          const [row] = live.splice(i, 1)
          acc.add(valueOf(c, row), -1)
        } else {
          const row = c.pool[Math.floor(random() * c.pool.length)]
          live.push(row)
          acc.add(valueOf(c, row), 1)
        }
        expect(acc.count).toBe(live.length)
        const fresh = feed(spec.create(), c, live)
        expect(show(c, acc.result(), spec.returnType)).toBe(show(c, fresh.result(), spec.returnType))
        if (step % 50 === 49) {
          // Through a checkpoint: JSON round trip, then keep going on the restored accumulator.
          const restored = spec.create()
          restored.restore(decodeSnapshot(encodeSnapshot(acc.snapshot())))
          expect(show(c, restored.result(), spec.returnType)).toBe(show(c, acc.result(), spec.returnType))
          expect(restored.count).toBe(acc.count)
          acc = restored
        }
      }
    })
  }

  it('returns NULL over no non-null rows, except count', () => {
    for (const name of ['sum', 'avg', 'min', 'max']) {
      const acc = resolveAggregate(name, [T.int4], false)!.create()
      acc.add(null, 1)
      acc.add(5, 1)
      acc.add(5, -1)
      expect(acc.result()).toBeNull()
      expect(acc.count).toBe(1)
    }
    const count = resolveAggregate('count', [T.int4], false)!.create()
    count.add(null, 1)
    expect(count.result()).toBe(0n)
  })

  it('refuses what PostgreSQL has no aggregate for', () => {
    expect(resolveAggregate('sum', [T.text], false)).toBeUndefined()
    expect(resolveAggregate('max', [T.jsonb], false)).toBeUndefined()
    expect(resolveAggregate('bool_and', [T.int4], false)).toBeUndefined()
    expect(resolveAggregate('median', [T.int4], false)).toBeUndefined()
  })

  it('the columnar form equals the object form, slot by slot, through slot reuse and snapshots', () => {
    const forms: { c: Case; create: () => Accumulator; appendOnly: boolean }[] = []
    for (const c of CASES) {
      const spec = resolveAggregate(c.name, argsOf(c), c.distinct === true)!
      forms.push({ c, create: () => spec.create(), appendOnly: false })
      if (spec.createAppendOnly !== undefined)
        forms.push({ c, create: () => spec.createAppendOnly!(), appendOnly: true })
    }
    for (const { c, create, appendOnly } of forms) {
      const random = rng(c.sql.length * 31 + c.type.kind.length)
      const columns = accumulatorColumns(create)
      const objects: Accumulator[] = []
      const live: (string | null)[][] = []
      for (let slot = 0; slot < 3; slot++) {
        columns.init(slot)
        objects.push(create())
        live.push([])
      }
      for (let step = 0; step < 300; step++) {
        const slot = Math.floor(random() * 3)
        if (step % 97 === 96) {
          // The group is freed and its slot handed to a new, empty group.
          columns.free(slot)
          columns.init(slot)
          objects[slot] = create()
          live[slot] = []
        } else if (!appendOnly && live[slot].length > 0 && random() < 0.45) {
          const [row] = live[slot].splice(Math.floor(random() * live[slot].length), 1)
          columns.add(slot, valueOf(c, row), -1)
          objects[slot].add(valueOf(c, row), -1)
        } else {
          const row = c.pool[Math.floor(random() * c.pool.length)]
          live[slot].push(row)
          columns.add(slot, valueOf(c, row), 1)
          objects[slot].add(valueOf(c, row), 1)
        }
        const rt = resolveAggregate(c.name, argsOf(c), c.distinct === true)!.returnType
        expect(show(c, columns.result(slot), rt), `${c.sql} step ${step}`).toBe(show(c, objects[slot].result(), rt))
        if (step % 40 === 39) {
          // Snapshots are interchangeable: the object form restores the columns' and back.
          const fromColumns = create()
          fromColumns.restore(decodeSnapshot(encodeSnapshot(columns.snapshot(slot))))
          expect(show(c, fromColumns.result(), rt)).toBe(show(c, objects[slot].result(), rt))
          columns.init(slot)
          columns.restore(slot, decodeSnapshot(encodeSnapshot(objects[slot].snapshot())))
          expect(show(c, columns.result(slot), rt)).toBe(show(c, objects[slot].result(), rt))
        }
      }
    }
  })
})

describe('aggregate results and types match PostgreSQL', () => {
  let oracle: Oracle
  beforeAll(async () => {
    oracle = await Oracle.open('UTC')
  })
  afterAll(async () => {
    await oracle.close()
  })

  it('over each sample pool', async () => {
    const failures: string[] = []
    for (const c of CASES) {
      const spec = resolveAggregate(c.name, argsOf(c), c.distinct === true)!
      const rows = c.pool
        .map((v) => `(${v === null ? 'NULL' : `'${v.replace(/'/g, "''")}'`}::${sqlType(c.type)})`)
        .join(', ')
      const from = `FROM (VALUES ${rows}) t(x)`
      const want = await oracle.one(`SELECT ${c.sql} ${from}`)
      const wantType = await oracle.one(`SELECT pg_typeof(${c.sql})::text ${from}`)
      const acc = feed(spec.create(), c, c.pool)
      const got = show(c, acc.result(), spec.returnType)
      const expected = want.ok
        ? want.text === null
          ? null
          : c.unordered === true
            ? want.text.split(',').sort().join(',')
            : want.text
        : `! ${want.code}`
      if (got !== expected) failures.push(`${c.sql} over ${sqlType(c.type)}: ours ${got}, pg ${expected}`)
      if (wantType.ok && wantType.text !== formatTypeName(spec.returnType)) {
        failures.push(
          `${c.sql} over ${sqlType(c.type)}: type ours ${formatTypeName(spec.returnType)}, pg ${wantType.text}`,
        )
      }
    }
    expect(failures.join('\n')).toBe('')
  })
})
