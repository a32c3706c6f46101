/**
 * Runs every .slt file under sql-tests/ (except sql-tests/postgres/, which is for PostgreSQL
 * itself) against a fresh in-process engine, one test per file. A failing record fails the test
 * with `file.slt:LINE` and a diff of expected and actual output.
 */
import { describe, it, expect } from 'vitest'
import { dirname, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findSltFiles, openEngineClient } from './runner/files.ts'
import { runSltFile } from './runner/runner.ts'

const here = dirname(fileURLToPath(import.meta.url))
const files = findSltFiles(here, ['postgres']).map((f) => relative(process.cwd(), f))

describe('sqllogictest', () => {
  it('finds .slt files', () => {
    expect(files.length).toBeGreaterThan(0)
  })

  for (const file of files) {
    const name = relative(relative(process.cwd(), here), file)
    it(name, async () => {
      const client = await openEngineClient()
      try {
        const result = await runSltFile(file, client, { engine: 'sluice' })
        const report = result.failures
          .map((f) => `${f.message}\n  sql: ${f.sql.split('\n').join('\n       ')}`)
          .join('\n\n')
        expect(result.failed, `${result.failed} failing record(s) in ${name}:\n\n${report}`).toBe(0)
        expect(result.passed).toBeGreaterThan(0)
      } finally {
        await client.close()
      }
    })
  }
})
