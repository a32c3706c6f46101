/**
 * Conformance: SQLite's sqllogictest files select1 .. select4 (about 9,300 records of plain SQL:
 * expressions, subqueries, comma joins of up to 8 tables with the conditions in WHERE, UNION /
 * EXCEPT / INTERSECT, aggregates) run over pgwire against a Sluice server, as a PostgreSQL-
 * compatible engine: `onlyif postgresql` records apply, `skipif postgresql` ones are skipped,
 * results hash above 8 values as the corpus was written. Each file starts from an empty database;
 * the tables need no FLUSH (a table's rows are visible as soon as the write returns).
 *
 * The corpus lives outside the repository (`../shared/conformance/sqlite/` from the repository
 * root, read-only); without it the suite is skipped with a message. At least 99.5% of the records
 * must pass, and the server must still answer afterwards (no query may take it down).
 */
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { pgwireClient } from './runner/pgwire-client.ts'
import { runSltFile } from './runner/runner.ts'
import { startLocalServer } from '../test/local-server.ts'
import { TempDirs } from '../test/support.ts'

const corpus = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'conformance', 'sqlite')
const files = ['select1.test', 'select2.test', 'select3.test', 'select4.test']
const present = existsSync(corpus) && files.every((f) => existsSync(join(corpus, f)))
if (!present) console.warn(`conformance: skipped, the sqllogictest corpus is not at ${corpus}`)

const REQUIRED_PASS_RATE = 0.995
const temp = new TempDirs('sluice-conformance-')
afterAll(() => temp.removeAll())

describe.skipIf(!present)('SQLite sqllogictest corpus over pgwire', () => {
  it('passes at least 99.5% of select1..select4 and the server stays up', { timeout: 900_000 }, async () => {
    let passed = 0
    let failed = 0
    const failures: string[] = []
    for (const file of files) {
      const server = await startLocalServer(temp.make())
      const client = await pgwireClient({ host: '127.0.0.1', port: server.pgPort, user: 'sluice', database: 'sluice' })
      try {
        const started = Date.now()
        const result = await runSltFile(join(corpus, file), client, { engine: 'postgresql', hashThreshold: 8 })
        passed += result.passed
        failed += result.failed
        failures.push(...result.failures.map((f) => f.message.split('\n')[0]))
        console.log(
          `conformance ${file}: ${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped (${Date.now() - started} ms)`,
        )
        // Still up and answering after every record of the file.
        const alive = await client.run('SELECT 1')
        expect('rows' in alive ? alive.rows : alive).toEqual([['1']])
        const res = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`)
        expect(res.status).toBe(200)
      } finally {
        await client.close()
        await server.close()
      }
    }
    const rate = passed / (passed + failed)
    console.log(`conformance: ${passed} of ${passed + failed} records pass (${(rate * 100).toFixed(2)}%)`)
    if (failures.length > 0) console.log(`conformance failures (first 20):\n${failures.slice(0, 20).join('\n')}`)
    expect(rate).toBeGreaterThanOrEqual(REQUIRED_PASS_RATE)
  })
})
