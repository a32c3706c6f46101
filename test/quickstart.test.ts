/**
 * The README's quick start, as a user runs it: `sluice start` with embedded defaults, then the
 * same psql query twice shows rows that changed in between (the demo view is live).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '..')
const dataDir = mkdtempSync(join(tmpdir(), 'sluice-quickstart-'))
const pgPort = 45000 + (process.pid % 1000)
const httpPort = pgPort + 1000
let child: ChildProcess | undefined

afterAll(() => {
  child?.kill('SIGKILL')
  rmSync(dataDir, { recursive: true, force: true })
})

describe('quick start', () => {
  it('serves a demo view whose rows change between two psql reads', async () => {
    child = spawn(
      process.execPath,
      [
        join(root, 'bin', 'sluice.js'),
        'start',
        '--data-dir',
        dataDir,
        '--pg-port',
        String(pgPort),
        '--http-port',
        String(httpPort),
        '--log-level',
        'warn',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    const banner = await new Promise<string>((resolve, reject) => {
      let text = ''
      const read = (d: Buffer): void => {
        text += d.toString()
        if (text.includes('Press Ctrl-C to stop.')) resolve(text)
      }
      child!.stdout!.on('data', read)
      child!.stderr!.on('data', read)
      child!.once('exit', (code) => reject(new Error(`sluice exited with ${code}: ${text}`)))
    })
    expect(banner).toContain(`psql -h 127.0.0.1 -p ${pgPort} -U sluice -d sluice`)
    const psql = async (): Promise<string> =>
      (
        await run('psql', [
          '-X',
          '-A',
          '-t',
          '-h',
          '127.0.0.1',
          '-p',
          String(pgPort),
          '-U',
          'sluice',
          '-d',
          'sluice',
          '-c',
          'SELECT * FROM bids_per_channel ORDER BY channel LIMIT 5',
        ])
      ).stdout
    await new Promise((r) => setTimeout(r, 500))
    const first = await psql()
    await new Promise((r) => setTimeout(r, 1500))
    const second = await psql()
    expect(first.trim().split('\n').length).toBe(4)
    expect(second).not.toEqual(first)
    child.kill('SIGTERM')
    const code = await new Promise<number | null>((r) => child!.once('exit', r))
    expect(code).toBe(0)
  })
})
