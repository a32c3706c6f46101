/**
 * Shared subplans (shared-subplans.ts): the same stateful subplan twice in a view runs once;
 * anything that could change its rows keeps two.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Sluice } from '../index.ts'
import type { Value } from '../types/datatype.ts'

let db: Sluice
let dir: string
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-shared-'))
  db = await Sluice.open({ dataDir: dir, checkpointIntervalMs: 3_600_000 })
  await db.sql('CREATE TABLE t (k BIGINT, v BIGINT)')
  await db.sql('INSERT INTO t VALUES (1, 10), (1, 10), (2, 20), (3, 5), (3, 7)')
})
afterAll(async () => {
  await db.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The operator names of a new view over `left` joined with `right` on their first column. */
async function operators(name: string, left: string, right: string): Promise<string[]> {
  await db.sql(`CREATE MATERIALIZED VIEW ${name} AS SELECT l.*, r.* FROM (${left}) l JOIN (${right}) r ON l.k = r.k`)
  const obj = db.engine.get(name)
  if (obj?.kind !== 'materialized_view') throw new Error(`${name} is not a view`)
  return obj.dataflow.operators().map((op) => op.name)
}

const aggregates = (ops: string[]): number => ops.filter((n) => n === 'HashAggregate').length

async function rows(name: string): Promise<string[]> {
  const [r] = await db.sql(`SELECT * FROM ${name}`)
  return (r.rows ?? []).map((row: readonly Value[]) => row.map(String).join('|')).sort()
}

describe('shared subplans', () => {
  it('runs the same aggregate once, whatever its columns are called', async () => {
    const ops = await operators(
      'same',
      'SELECT k, count(*) AS n FROM t GROUP BY k',
      'SELECT k AS k, count(*) AS c FROM t GROUP BY k',
    )
    expect(aggregates(ops)).toBe(1)
    expect(await rows('same')).toEqual(['1|2|1|2', '2|1|2|1', '3|2|3|2'])
    // Both readers follow changes.
    await db.sql('INSERT INTO t VALUES (2, 1)')
    expect(await rows('same')).toEqual(['1|2|1|2', '2|2|2|2', '3|2|3|2'])
    await db.sql('DELETE FROM t WHERE k = 2 AND v = 1')
  })

  it('keeps two when the aggregates differ: DISTINCT, another argument, another filter', async () => {
    const pairs: [string, string][] = [
      ['SELECT k, count(v) AS n FROM t GROUP BY k', 'SELECT k, count(DISTINCT v) AS n FROM t GROUP BY k'],
      ['SELECT k, sum(v) AS n FROM t GROUP BY k', 'SELECT k, sum(k) AS n FROM t GROUP BY k'],
      [
        'SELECT k, count(*) AS n FROM t WHERE v > 5 GROUP BY k',
        'SELECT k, count(*) AS n FROM t WHERE v > 6 GROUP BY k',
      ],
    ]
    let i = 0
    for (const [a, b] of pairs) expect(aggregates(await operators(`differ${i++}`, a, b))).toBe(2)
    expect(await rows('differ0')).toEqual(['1|2|1|1', '2|1|2|1', '3|2|3|2'])
  })
})
