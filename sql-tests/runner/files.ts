/**
 * Helpers shared by the CLI and the vitest suite: finding .slt files, and opening a fresh
 * in-process engine (its own temporary data directory) wrapped as a SqlClient.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SourceFactory } from '../../engine/connector.ts'
import type { SqlClient } from './client.ts'
import { inProcessClient } from './in-process-client.ts'

/** Every `.slt` file under `path` (or `path` itself), sorted, skipping directories in `exclude`. */
export function findSltFiles(path: string, exclude: readonly string[] = []): string[] {
  if (!statSync(path).isDirectory()) return [path]
  const out: string[] = []
  for (const entry of readdirSync(path).sort()) {
    const full = join(path, entry)
    if (statSync(full).isDirectory()) {
      if (!exclude.includes(entry)) out.push(...findSltFiles(full, exclude))
    } else if (entry.endsWith('.slt')) out.push(full)
  }
  return out
}

/**
 * A fresh engine in a new temporary directory, with the datagen and Kafka connectors registered
 * as the server registers them. Closing the client closes the engine and removes the directory.
 */
export async function openEngineClient(): Promise<SqlClient> {
  const { Sluice } = await import('../../engine/index.ts')
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-slt-'))
  const db = await Sluice.open({ dataDir, sources: await sourceFactories() })
  const session = db.session()
  const client = inProcessClient(session)
  return {
    run: (sql) => client.run(sql),
    async close(): Promise<void> {
      try {
        await client.close()
        await db.close()
      } finally {
        rmSync(dataDir, { recursive: true, force: true })
      }
    },
  }
}

let connectorWarning = false

/**
 * The connectors the server registers. A connector that fails to load only costs the files that
 * use it (they fail with an unknown connector), not every file, so the failure is a warning.
 */
async function sourceFactories(): Promise<SourceFactory[]> {
  const out: SourceFactory[] = []
  const loaders = [
    async () => (await import('../../connectors/datagen/index.ts')).datagenSourceFactory,
    async () => (await import('../../connectors/kafka/index.ts')).kafkaSourceFactory,
  ]
  for (const load of loaders) {
    try {
      out.push(await load())
    } catch (e) {
      if (!connectorWarning)
        console.warn(`slt: a connector could not be loaded: ${e instanceof Error ? e.message : String(e)}`)
      connectorWarning = true
    }
  }
  return out
}
