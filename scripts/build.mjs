#!/usr/bin/env node
// `npm run build` (and npm's `prepare`, so `npm ci` runs it): compiles engine/, connectors/ and
// server/ to JavaScript in dist/ (tsconfig.build.json), so `sluice start` loads plain JS instead of
// compiling TypeScript through tsx at every start. bin/sluice.js uses dist/ only when its stamp is
// newer than every source file; otherwise (or when this build could not run) it falls back to tsx.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync, utimesSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
// Built beside dist/ and swapped in at the end: a `sluice` starting meanwhile sees the old build
// or the new one, never half of one.
const next = join(root, 'dist.next')

let tsc
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
} catch {
  // An install without devDependencies: no compiler, so `sluice` keeps running the sources via tsx.
  console.log('sluice build: typescript is not installed; bin/sluice.js will run the TypeScript sources')
  process.exit(0)
}

// Sources saved while tsc runs must count as newer than the build: the stamp takes this instant.
const started = new Date()
rmSync(next, { recursive: true, force: true })
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', next], {
  stdio: 'inherit',
})
if (r.status !== 0) {
  rmSync(next, { recursive: true, force: true })
  console.error('sluice build: tsc failed; bin/sluice.js will run the TypeScript sources')
  process.exit(r.status ?? 1)
}

// Files the compiled modules find next to themselves: the worker threads' boot scripts.
function copyMjs(dir) {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const rel = join(dir, entry.name)
    if (entry.isDirectory()) copyMjs(rel)
    else if (entry.name.endsWith('.mjs')) cpSync(join(root, rel), join(next, rel))
  }
}
for (const dir of ['engine', 'connectors', 'server']) copyMjs(dir)
// The console's browser code is bundled from its TypeScript at run time (server/http/console/assets.ts
// finds it relative to itself): dist/console points at the sources.
symlinkSync(relative(dist, join(root, 'console')), join(next, 'console'), 'dir')

const stamp = join(next, '.build-stamp')
writeFileSync(stamp, `${started.toISOString()}\n`)
utimesSync(stamp, started, started)
const old = join(root, 'dist.old')
rmSync(old, { recursive: true, force: true })
if (existsSync(dist)) renameSync(dist, old)
renameSync(next, dist)
rmSync(old, { recursive: true, force: true })
console.log(`sluice build: dist/ in ${((Date.now() - started.getTime()) / 1000).toFixed(1)} s`)
