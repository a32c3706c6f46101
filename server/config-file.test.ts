// `sluice start --config file.json`: every flag has a key, flags win over the file, unknown keys
// and bad values are errors naming the key; and a real `sluice start` process runs from a file.
import { afterAll, describe, expect, it } from 'vitest'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { CommanderError } from 'commander'
import { buildCli } from './cli.ts'
import { configKey } from './config-file.ts'
import { TempDirs } from '../test/support.ts'

const BIN = fileURLToPath(new URL('../bin/sluice.js', import.meta.url))
const dirs = new TempDirs('sluice-config-')
const children: ChildProcess[] = []
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  dirs.removeAll()
})

/** The options `sluice start <args>` would run with, without starting anything. */
async function startOptions(...args: string[]): Promise<Record<string, unknown>> {
  const program = buildCli().exitOverride()
  const start = program.commands.find((c) => c.name() === 'start')!
  start.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} })
  let captured: Record<string, unknown> = {}
  start.action((opts: Record<string, unknown>) => {
    captured = opts
  })
  await program.parseAsync(['node', 'sluice', 'start', ...args])
  return captured
}

function configFile(content: unknown): string {
  const dir = dirs.make()
  const file = join(dir, 'sluice.json')
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content))
  return file
}

describe('sluice start --config', () => {
  it('has a key for every start flag', () => {
    const start = buildCli().commands.find((c) => c.name() === 'start')!
    const keys = start.options.map(configKey)
    for (const key of [
      'data-dir',
      'host',
      'pg-port',
      'http-port',
      'demo',
      'password',
      'http-token',
      'tls-cert',
      'tls-key',
      'tls-required',
      'checkpoint-interval',
      'max-concurrent-queries',
      'query-memory',
      'state-cache',
      'workers',
      'log-level',
      'log-format',
    ])
      expect(keys).toContain(key)
  })

  it('reads every key, parses values as the flags do, and resolves paths from the file', async () => {
    const file = configFile({
      'data-dir': 'data',
      host: '0.0.0.0',
      'pg-port': 5566,
      'http-port': '5567',
      demo: false,
      password: 'pw',
      'http-token': ['t1', 't2'],
      'tls-cert': '/etc/cert.pem',
      'tls-key': 'key.pem',
      'tls-required': true,
      'checkpoint-interval': 250,
      'max-concurrent-queries': 3,
      'query-memory': '64MB',
      'log-level': 'debug',
      'log-format': 'json',
    })
    const dir = file.slice(0, -'/sluice.json'.length)
    expect(await startOptions('--config', file)).toEqual({
      config: file,
      dataDir: join(dir, 'data'),
      host: '0.0.0.0',
      pgPort: 5566,
      httpPort: 5567,
      demo: false,
      password: 'pw',
      httpToken: ['t1', 't2'],
      tlsCert: '/etc/cert.pem',
      tlsKey: join(dir, 'key.pem'),
      tlsRequired: true,
      checkpointInterval: 250,
      maxConcurrentQueries: 3,
      queryMemory: 64 * 1024 * 1024,
      logLevel: 'debug',
      logFormat: 'json',
    })
  })

  it('lets flags on the command line win over the file, and keeps defaults for keys not in it', async () => {
    const file = configFile({ 'pg-port': 5566, 'http-token': 'from-file', demo: false })
    const opts = await startOptions('--pg-port', '7000', '--config', file, '--http-token', 'flag')
    expect(opts).toMatchObject({ pgPort: 7000, httpToken: ['flag'], demo: false, httpPort: 4567, host: '127.0.0.1' })
  })

  it('refuses an unknown key, a bad value and a file that is not a JSON object, naming what is wrong', async () => {
    const cases: [unknown, RegExp][] = [
      [{ 'pg-prot': 1 }, /unknown key "pg-prot" \(the keys are: data-dir, host, pg-port/],
      [{ 'pg-port': 70000 }, /"pg-port" is invalid: a port is a number/],
      [{ 'log-level': 'loud' }, /"log-level" is one of debug, info, warn, error/],
      [{ demo: 'no' }, /"demo" is true or false/],
      [{ host: ['a', 'b'] }, /"host" takes one value, not a list/],
      [{ config: 'other.json' }, /unknown key "config"/],
      ['[1]', /a config file is one JSON object/],
      ['{"pg-port": ', /is not valid JSON/],
    ]
    for (const [content, message] of cases) {
      const error = await startOptions('--config', configFile(content)).catch((e: unknown) => e)
      expect(error, JSON.stringify(content)).toBeInstanceOf(CommanderError)
      expect((error as CommanderError).message).toMatch(message)
    }
    const missing = await startOptions('--config', '/nonexistent/sluice.json').catch((e: unknown) => e)
    expect((missing as Error).message).toMatch(/cannot read the config file \/nonexistent\/sluice\.json/)
  })
})

describe('a sluice start process with a config file', () => {
  it('starts with the options of the file, and exits 1 naming an unknown key', async () => {
    const dir = dirs.make()
    mkdirSync(join(dir, 'conf'))
    const file = join(dir, 'conf', 'sluice.json')
    writeFileSync(
      file,
      JSON.stringify({ 'data-dir': '../data', 'pg-port': 0, 'http-port': 0, demo: false, 'log-format': 'json' }),
    )
    const child = spawn(process.execPath, [BIN, 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(child)
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => {
        if (out.includes('Press Ctrl-C to stop.')) resolve()
      })
      child.once('exit', (code) => reject(new Error(`sluice start exited with ${code}: ${out}`)))
    })
    expect(out).toContain(`Data directory: ${join(dir, 'data')}`)
    expect(out).toContain('SHOW SOURCES;')
    expect(out).toMatch(/^\{"level":30,/m)
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)

    writeFileSync(file, JSON.stringify({ 'pg-port': 0, 'log-levl': 'info' }))
    const failed = await promisify(execFile)(process.execPath, [BIN, 'start', '--config', file], {
      timeout: 60_000,
    }).catch((e: unknown) => e as { code: number; stderr: string })
    expect(failed).toMatchObject({ code: 1 })
    expect((failed as { stderr: string }).stderr).toContain(`sluice: could not start: ${file}: unknown key "log-levl"`)
  })
})
