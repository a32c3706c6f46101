#!/usr/bin/env node
// The `sluice` command: registers tsx so Node runs the TypeScript sources directly (no build
// step), then hands the arguments to the CLI in server/cli.ts.
import { register } from 'tsx/esm/api'

register()
const { runCli } = await import('../server/cli.ts')
await runCli(process.argv)
