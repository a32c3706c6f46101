#!/usr/bin/env node
// `npm test`: lint, typecheck, format check, then every vitest suite (unit, sqllogictest, integration with the
// real Kafka, PostgreSQL and Redis). Prints the totals of all runners as its last line:
// `N passed, N failed` (lint and typecheck count as one check each).
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'

let passed = 0
let failed = 0

function step(name, cmd, args) {
  console.log(`\n=== ${name}: ${cmd} ${args.join(' ')}`)
  const r = spawnSync(cmd, args, { stdio: 'inherit' })
  return r.status === 0
}

for (const [name, args] of [
  ['lint', ['eslint', '.']],
  ['typecheck', ['tsc', '--noEmit', '-p', '.']],
  // The console's browser code has its own project (DOM types), kept out of the server's.
  ['typecheck console', ['tsc', '--noEmit', '-p', 'console']],
  // Formatting of the code (docs are hand-wrapped); `npm run format` fixes it.
  ['format', ['prettier', '--check', '--log-level', 'warn', '**/*.{ts,js,mjs,css}']],
]) {
  if (step(name, 'npx', args)) passed++
  else {
    failed++
    console.log(`${name} failed`)
  }
}

mkdirSync('.cache', { recursive: true })
const report = '.cache/vitest-report.json'
rmSync(report, { force: true })
const extra = process.argv.slice(2)
step('tests', 'npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${report}`, ...extra])
try {
  const r = JSON.parse(readFileSync(report, 'utf8'))
  passed += r.numPassedTests
  failed += r.numFailedTests
  // A suite that failed to load (syntax error, failing hook) has no tests counted: count it.
  for (const suite of r.testResults ?? []) {
    if (suite.status === 'failed' && (suite.assertionResults ?? []).every((a) => a.status !== 'failed')) failed++
  }
} catch (e) {
  console.log(`could not read the test report: ${e.message}`)
  failed++
}
console.log(`\n${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
