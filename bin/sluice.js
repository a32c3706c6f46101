#!/usr/bin/env node
// The `sluice` command: runs the TypeScript sources directly (no build step).
import { register } from 'tsx/esm/api'

register()
await import('../server/cli.ts')
