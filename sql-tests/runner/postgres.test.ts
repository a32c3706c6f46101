/**
 * Integration: the slt files of sql-tests/postgres/ (standard SQL only) run against the real
 * PostgreSQL through the pgwire adapter, each in its own scratch schema. They pass only if the
 * parser, the result formatting, the comparison and the adapter all agree with PostgreSQL.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ScratchSchema } from './scratch-schema.ts'
import { createScratchSchema } from './scratch-schema.ts'
import { findSltFiles } from './files.ts'
import { runSltFile } from './runner.ts'

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'postgres')
const files = findSltFiles(dir).map((f) => relative(process.cwd(), f))

describe('sql-tests/postgres/*.slt against PostgreSQL', () => {
  let schema: ScratchSchema
  beforeAll(async () => {
    schema = await createScratchSchema('slt_pg')
  })
  afterAll(async () => {
    await schema?.drop()
  })

  it('has files to run', () => {
    expect(files.length).toBeGreaterThan(0)
  })

  for (const file of files) {
    it(file, async () => {
      const client = await schema.client()
      try {
        const result = await runSltFile(file, client, { engine: 'postgres' })
        expect(result.failures.map((f) => f.message)).toEqual([])
        expect(result.passed).toBeGreaterThan(10)
        // basic.slt skips its one skipif-postgres and one onlyif-sluice record.
        if (file.endsWith('basic.slt')) expect(result.skipped).toBe(2)
      } finally {
        await client.close()
      }
    })
  }
})
