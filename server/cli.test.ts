// The `sluice` command as users run it (needs the engine): `bin/sluice.js start` in a child
// process prints how to connect, `sluice sql` talks to it over HTTP, SIGTERM stops it cleanly.
import { describe, it, expect, afterAll } from 'vitest'
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { startBanner } from './cli.ts'

const BIN = fileURLToPath(new URL('../bin/sluice.js', import.meta.url))
const run = promisify(execFile)
const dataDir = mkdtempSync(join(tmpdir(), 'sluice-cli-'))
const children: ChildProcess[] = []

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  rmSync(dataDir, { recursive: true, force: true })
})

/** Runs `sluice <args>` to completion; resolves with its output and exit code. */
async function sluice(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 60_000 })
    return { stdout, stderr, code: 0 }
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number }
    return { stdout: err.stdout, stderr: err.stderr, code: err.code }
  }
}

/** Starts `sluice start` and waits for its banner. */
async function startChild(...args: string[]): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(
    process.execPath,
    [BIN, 'start', '--data-dir', dataDir, '--pg-port', '0', '--http-port', '0', '--log-format', 'json', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  children.push(child)
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (out.includes('Press Ctrl-C to stop.')) resolve()
    }
    child.stdout.on('data', check)
    child.once('exit', (code) => reject(new Error(`sluice start exited with ${code}: ${out}`)))
  })
  return { child, out: () => out }
}

describe('sluice start and sluice sql', () => {
  it('starts, prints how to connect, answers sql, and stops on SIGTERM', async () => {
    const { child, out } = await startChild()
    const banner = out()
    const pg = /psql -h 127\.0\.0\.1 -p (\d+) -U sluice -d sluice/.exec(banner)
    const http = /curl -s (http:\/\/127\.0\.0\.1:\d+)\/v1\/sql -H 'content-type: application\/json' -d /.exec(banner)
    expect(pg, banner).not.toBeNull()
    expect(http, banner).not.toBeNull()
    expect(banner).toContain('SELECT * FROM bids_per_channel')
    const url = http![1]

    const shown = await sluice('sql', 'SHOW SOURCES', '--url', url)
    expect(shown.code).toBe(0)
    expect(shown.stdout).toMatch(/^ name +\| .*\n-+\+.*\n bid +\|/)
    expect(shown.stdout).toContain('(1 row)')

    const json = await sluice('sql', 'SELECT 1 AS one', '--url', url, '--json')
    expect(JSON.parse(json.stdout)).toEqual({
      results: [{ tag: 'SELECT 1', columns: [{ name: 'one', type: 'integer' }], rows: [[1]] }],
    })

    const bad = await sluice('sql', 'SELECT * FROM nope', '--url', url)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/^ERROR: {2}.*nope.* \(SQLSTATE 42P01\)\nLINE 1: SELECT \* FROM nope\n {22}\^/)

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(out()).toContain('"msg":"stopped"')
  })

  it('reports a port in use and exits 1', async () => {
    const { child, out } = await startChild('--no-demo')
    const taken = /curl -s http:\/\/127\.0\.0\.1:(\d+)\//.exec(out())![1]
    const second = await sluice(
      'start',
      '--data-dir',
      join(dataDir, 'second'),
      '--pg-port',
      '0',
      '--http-port',
      taken,
      '--no-demo',
      '--log-level',
      'error',
    )
    expect(second.code).toBe(1)
    expect(second.stderr).toContain(`port ${taken} on 127.0.0.1 is already in use`)
    child.kill('SIGTERM')
  })

  it('says when no server answers', async () => {
    const res = await sluice('sql', 'SELECT 1', '--url', 'http://127.0.0.1:9')
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('could not reach http://127.0.0.1:9')
  })

  it('explains its commands', async () => {
    const res = await sluice('start', '--help')
    expect(res.code).toBe(0)
    for (const flag of ['--data-dir', '--host', '--pg-port', '--http-port', '--no-demo', '--password', '--log-level'])
      expect(res.stdout).toContain(flag)
  })
})

describe('startBanner', () => {
  it('gives dialable addresses for a wildcard host and shows the token header', () => {
    const text = startBanner({
      host: '0.0.0.0',
      pgPort: 4566,
      httpPort: 4567,
      dataDir: '/d',
      demo: false,
      password: true,
      token: 't0k',
      self: 'sluice',
    })
    expect(text).toContain('psql -h 127.0.0.1 -p 4566 -U sluice -d sluice')
    expect(text).toContain('SHOW SOURCES;')
    expect(text).toContain('Open the console in a browser: http://127.0.0.1:4567/   (sign in with the token)')
    expect(text).toContain(
      `curl -s http://127.0.0.1:4567/v1/sql -H 'authorization: Bearer t0k' -H 'content-type: application/json' -d '{"sql":"SHOW SOURCES"}'`,
    )
  })
})
