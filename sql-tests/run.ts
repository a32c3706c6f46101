/**
 * sqllogictest command line:
 *
 *   npx tsx sql-tests/run.ts [--server postgres://sluice@127.0.0.1:4566/sluice] [--engine postgres]
 *                            [--complete] [--hash-threshold N] <files | dirs | file.slt:LINE>...
 *
 * Without --server each file runs against a fresh in-process engine; with it, each file gets its
 * own connection to that server. `--engine` names the engine for skipif/onlyif (default sluice).
 * Without targets it runs sql-tests/ (minus sql-tests/postgres/), or sql-tests/postgres/ when
 * the engine is postgres. Prints each failure, then `N passed, N failed`; exits 1 on failures.
 */
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { SqlClient } from './runner/client.ts'
import type { RunOptions } from './runner/runner.ts'
import { findSltFiles, openEngineClient } from './runner/files.ts'
import { pgwireClient } from './runner/pgwire-client.ts'
import { runSltFile } from './runner/runner.ts'

const here = relative(process.cwd(), dirname(fileURLToPath(import.meta.url))) || '.'

interface Args {
  server: string | undefined
  engine: 'sluice' | 'postgres'
  complete: boolean
  hashThreshold: number
  targets: string[]
}

function usage(message: string): never {
  console.error(
    `${message}\nusage: run.ts [--server URL] [--engine sluice|postgres] [--complete] [--hash-threshold N] <files|dirs|file.slt:LINE>...`,
  )
  process.exit(2)
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { server: undefined, engine: 'sluice', complete: false, hashThreshold: 0, targets: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = (): string => argv[++i] ?? usage(`${a} needs a value`)
    if (a === '--server') args.server = value()
    else if (a === '--engine') {
      const e = value()
      if (e !== 'sluice' && e !== 'postgres') usage(`unknown engine "${e}"`)
      args.engine = e
    } else if (a === '--complete') args.complete = true
    else if (a === '--hash-threshold') args.hashThreshold = Number(value())
    else if (a.startsWith('--')) usage(`unknown option ${a}`)
    else args.targets.push(a)
  }
  return args
}

/** Expands targets into (file, line) pairs. */
function expand(args: Args): { file: string; line: number | undefined }[] {
  const targets = args.targets.length > 0 ? args.targets : [args.engine === 'postgres' ? join(here, 'postgres') : here]
  const out: { file: string; line: number | undefined }[] = []
  for (const t of targets) {
    const m = /^(.*\.slt):(\d+)$/.exec(t)
    if (m !== null) out.push({ file: m[1], line: Number(m[2]) })
    else for (const file of findSltFiles(t, t === here ? ['postgres'] : [])) out.push({ file, line: undefined })
  }
  return out
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  let passed = 0
  let failed = 0
  for (const { file, line } of expand(args)) {
    let client: SqlClient
    try {
      client = args.server === undefined ? await openEngineClient() : await pgwireClient(args.server)
    } catch (e) {
      console.error(`${file}: could not connect: ${e instanceof Error ? e.message : String(e)}`)
      failed++
      continue
    }
    const options: RunOptions = {
      engine: args.engine,
      complete: args.complete,
      line,
      hashThreshold: args.hashThreshold,
    }
    try {
      const result = await runSltFile(file, client, options)
      passed += result.passed
      failed += result.failed
      for (const f of result.failures) console.log(`\n${f.message}\n  sql: ${f.sql.split('\n').join('\n       ')}`)
      for (const r of result.rewritten) console.log(`rewrote ${r}`)
      console.log(
        `${result.failed === 0 ? 'ok  ' : 'FAIL'} ${file}${line === undefined ? '' : `:${line}`} (${result.passed} passed, ${result.failed} failed${result.skipped > 0 ? `, ${result.skipped} skipped` : ''})`,
      )
    } finally {
      await client.close()
    }
  }
  console.log(`\n${passed} passed, ${failed} failed`)
  process.exit(failed === 0 ? 0 : 1)
}

await main()
