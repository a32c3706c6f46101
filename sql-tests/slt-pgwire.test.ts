/**
 * The same .slt files over the wire: each file runs against a fresh Sluice server through the
 * PostgreSQL protocol (the `pg` client), so what psql and BI tools see is pinned too.
 */
import { describe, it, expect } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findSltFiles } from './runner/files.ts'
import { pgwireClient } from './runner/pgwire-client.ts'
import { runSltFile } from './runner/runner.ts'
import { startLocalServer } from '../test/local-server.ts'

const here = dirname(fileURLToPath(import.meta.url))
const files = findSltFiles(here, ['postgres'])

describe('sqllogictest over pgwire', () => {
  for (const file of files) {
    const name = relative(here, file)
    it(name, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'sluice-slt-wire-'))
      const server = await startLocalServer(dataDir)
      const client = await pgwireClient({ host: '127.0.0.1', port: server.pgPort, user: 'sluice', database: 'sluice' })
      try {
        const result = await runSltFile(file, client, { engine: 'sluice' })
        expect(result.failed, result.failures.map((f) => f.message).join('\n\n')).toBe(0)
        expect(result.passed).toBeGreaterThan(0)
      } finally {
        await client.close()
        await server.close()
        rmSync(dataDir, { recursive: true, force: true })
      }
    })
  }
})
