/**
 * The Delta sink against Delta's own reader: Delta's Java Kernel (built once with Maven from
 * test/clients/delta-reader) reads what the sink wrote, including the txn that records the last
 * committed epoch. Epochs are committed, repeated after a simulated crash, and found exactly once.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ColumnSchema, ConnectorContext, SinkSpec } from '../../engine/connector.ts'
import { chunkFromRows } from '../../engine/chunk.ts'
import { scalar } from '../../engine/types/datatype.ts'
import { Decimal } from '../../engine/types/decimal.ts'
import { SluiceError } from '../../engine/errors.ts'
import { deltaSinkFactory } from './sink.ts'

const readerDir = join(import.meta.dirname, '../../test/clients/delta-reader')
let classpath = ''

beforeAll(() => {
  const r = spawnSync('mvn', ['-q', 'compile', 'dependency:build-classpath', '-Dmdep.outputFile=target/cp.txt'], {
    cwd: readerDir,
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(`building the Delta Kernel reader failed:\n${r.stdout}\n${r.stderr}`)
  classpath = `${join(readerDir, 'target/classes')}:${readFileSync(join(readerDir, 'target/cp.txt'), 'utf8').trim()}`
}, 600_000)

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function tableDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-delta-'))
  dirs.push(d)
  return join(d, 'table')
}

/** The table as Delta's Kernel reads it: the txn version for `appId` and the sorted rows. */
function kernelRead(path: string, appId: string): { txn: string; schema: string; rows: string[] } {
  const out = execFileSync('java', ['-cp', classpath, 'sluice.DeltaRead', path, appId], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const lines = out.split('\n').filter((l) => l !== '')
  return { txn: lines[0], schema: lines[1], rows: lines.slice(2).sort() }
}

const ctx = (name: string): ConnectorContext => ({
  name,
  deadLetter: () => {},
  now: () => 1_764_000_000_000,
  log: () => {},
})

const columns: ColumnSchema[] = [
  { name: 'window_start', type: scalar('timestamp') },
  { name: 'auction', type: scalar('int8') },
  { name: 'n', type: scalar('int4') },
  { name: 'total', type: scalar('numeric') },
  { name: 'channel', type: scalar('text') },
]
const T0 = Date.UTC(2026, 11, 2, 18, 0) * 1000
const MIN = 60_000_000

function spec(appendOnly = true): SinkSpec {
  return { columns, key: [0, 1], appendOnly }
}

function options(entries: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(entries))
}

beforeAll(async () => {
  await deltaSinkFactory.prepare?.()
})

describe('delta sink', () => {
  it('commits one Delta version per epoch, partitioned, and a repeated commit after a crash lands once', async () => {
    const path = tableDir()
    const opts = options({ connector: 'delta', path, partition_by: 'window_start' })
    const w = deltaSinkFactory.create(spec(), opts, ctx('hist'))
    await w.open()
    expect(await w.committedEpoch()).toBe(0)

    w.write(
      chunkFromRows(5, [
        [T0, 7n, 3, new Decimal(1050n, 2), 'Google'],
        [T0, 8n, 1, new Decimal(5n, 0), null],
      ]),
    )
    w.write(chunkFromRows(5, [[T0 + MIN, 7n, 2, new Decimal(-25n, 1), 'Apple']]))
    const e1 = w.preCommit(1)
    await w.commit(1, e1)
    expect(w.preCommit(2)).toBeUndefined() // an epoch without output writes nothing
    await w.commit(2, undefined)

    w.write(chunkFromRows(5, [[T0 + 2 * MIN, 9n, 1, new Decimal(1n, 0), 'Baidu']]))
    const e3 = w.preCommit(3)
    // Crash: checkpoint 3 is durable (its output is in the write-ahead log) but not committed.
    const restarted = deltaSinkFactory.create(spec(), opts, ctx('hist'))
    await restarted.open()
    expect(await restarted.committedEpoch()).toBe(1)
    await restarted.commit(3, e3)
    await restarted.commit(3, e3) // repeated: a no-op
    await restarted.commit(1, e1) // an old epoch: a no-op
    expect(await restarted.committedEpoch()).toBe(3)

    const read = kernelRead(path, 'sluice:hist')
    expect(read.txn).toBe('txn 3')
    expect(read.schema).toContain('window_start')
    // Kernel puts the partition column (kept out of the data files) back in its place from the
    // log; timestamps are µs since the epoch.
    expect(read.rows).toEqual(
      [
        `${T0}\t7\t3\t10.50\tGoogle`,
        `${T0}\t8\t1\t5\t\\N`,
        `${T0 + MIN}\t7\t2\t-2.5\tApple`,
        `${T0 + 2 * MIN}\t9\t1\t1\tBaidu`,
      ].sort(),
    )
    expect(readdirSync(join(path, '_delta_log')).sort()).toEqual([
      '00000000000000000000.json',
      '00000000000000000001.json',
      '00000000000000000002.json',
    ])
  })

  it('writes every change with _op in changelog mode', async () => {
    const path = tableDir()
    const w = deltaSinkFactory.create(
      spec(false),
      options({ connector: 'delta', path, mode: 'changelog' }),
      ctx('changes'),
    )
    await w.open()
    const ops = new Int8Array([1, -1, 1])
    const rows = chunkFromRows(5, [
      [T0, 1n, 1, new Decimal(1n, 0), 'a'],
      [T0, 1n, 1, new Decimal(1n, 0), 'a'],
      [T0, 1n, 2, new Decimal(2n, 0), 'a'],
    ])
    w.write({ ...rows, ops })
    await w.commit(1, w.preCommit(1))
    expect(kernelRead(path, 'sluice:changes').rows).toEqual([
      `${T0}\t1\t1\t1\ta\t-1`,
      `${T0}\t1\t1\t1\ta\t1`,
      `${T0}\t1\t2\t2\ta\t1`,
    ])
  })

  it('refuses bad options and a retracting input in append mode', async () => {
    const path = tableDir()
    const codeOf = (f: () => unknown): string | undefined => {
      try {
        f()
      } catch (e) {
        return e instanceof SluiceError ? e.code : 'not a SluiceError'
      }
      return undefined
    }
    expect(codeOf(() => deltaSinkFactory.create(spec(), options({ connector: 'delta' }), ctx('x')))).toBe('22023')
    expect(
      codeOf(() => deltaSinkFactory.create(spec(), options({ connector: 'delta', path, colour: 'red' }), ctx('x'))),
    ).toBe('22023')
    expect(
      codeOf(() =>
        deltaSinkFactory.create(spec(), options({ connector: 'delta', path, partition_by: 'nope' }), ctx('x')),
      ),
    ).toBe('22023')
    expect(codeOf(() => deltaSinkFactory.create(spec(false), options({ connector: 'delta', path }), ctx('x')))).toBe(
      '0A000',
    )
    // A table written with other columns is not appended to.
    const w = deltaSinkFactory.create(spec(), options({ connector: 'delta', path }), ctx('x'))
    await w.open()
    const other = deltaSinkFactory.create(
      { columns: columns.slice(1), key: [], appendOnly: true },
      options({ connector: 'delta', path }),
      ctx('x'),
    )
    await expect(other.open()).rejects.toMatchObject({ code: '42804' })
  })
})
