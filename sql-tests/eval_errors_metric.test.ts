// The metric half of "eval errors go to dead letters": a row that fails to evaluate in a view is
// counted in sluice_eval_errors_total for that view and in sluice_dead_letters_total by object and
// reason, once per failing row, next to its sluice_catalog.dead_letters row (which
// views/eval_errors.slt pins). SQL alone cannot read Prometheus metrics, hence a test here.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sluice } from '../engine/index.ts'

describe('eval errors in a view', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-eval-metric-'))
  let db: Sluice

  beforeAll(async () => {
    db = await Sluice.open({ dataDir })
  })

  afterAll(async () => {
    await db.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  async function metric(name: string, labels: Record<string, string>): Promise<number> {
    const m = (await db.metrics.getMetricsAsJSON()).find((x) => x.name === name)
    const value = m?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    return value?.value ?? 0
  }

  it('counts each failing row in the eval-error and dead-letter metrics', async () => {
    await db.sql('CREATE TABLE readings (sensor BIGINT, total BIGINT, samples BIGINT, label TEXT) APPEND ONLY')
    await db.sql(
      'CREATE MATERIALIZED VIEW averages AS SELECT sensor, total / samples AS mean, label::int AS code FROM readings',
    )
    await db.sql("INSERT INTO readings VALUES (1, 10, 2, '7'), (2, 5, 0, '8'), (3, 9, 3, 'x'), (4, 8, 4, '9')")
    await db.sql('FLUSH')
    expect(await metric('sluice_eval_errors_total', { view: 'averages' })).toBe(2)
    expect(await metric('sluice_dead_letters_total', { object: 'averages', reason: 'eval_error' })).toBe(2)

    await db.sql("INSERT INTO readings VALUES (5, 1, 0, '1'), (6, 4, 2, '2')")
    await db.sql('FLUSH')
    expect(await metric('sluice_eval_errors_total', { view: 'averages' })).toBe(3)
    expect(await metric('sluice_dead_letters_total', { object: 'averages', reason: 'eval_error' })).toBe(3)
    // The view went on: the good rows are there.
    const [result] = await db.sql('SELECT sensor FROM averages ORDER BY sensor')
    expect(result.rows).toEqual([[1n], [4n], [6n]])
  })
})
