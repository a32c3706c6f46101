#!/usr/bin/env node
// The `sluice` command: runs the CLI (server/cli.ts) from the compiled build in dist/ when it is
// current, else from the TypeScript sources through tsx. Compiling at every start costs most of a
// second (docs/benchmarks.md, "Start-up"); dist/ is used only when it is newer than every source
// file (scripts/dist-status.mjs), so editing a .ts file never runs stale code.
import { fileURLToPath } from 'node:url'
import { distIsCurrent } from '../scripts/dist-status.mjs'

let cli
// SLUICE_CODE says which ran (the server logs it); SLUICE_FROM_SOURCES=1 forces the sources.
if (process.env.SLUICE_FROM_SOURCES !== '1' && distIsCurrent(fileURLToPath(new URL('..', import.meta.url)))) {
  process.env.SLUICE_CODE = 'dist'
  cli = await import('../dist/server/cli.js')
} else {
  process.env.SLUICE_CODE = 'sources'
  const { register } = await import('tsx/esm/api')
  register()
  cli = await import('../server/cli.ts')
}
await cli.runCli(process.argv)
