/**
 * What a `sluice start --log-format json` process prints: its start banner, then one JSON log
 * line per record and nothing else. kafkajs's entries (a Kafka source in its fetcher thread, a
 * sink whose broker is unreachable) and Node's process warnings come through the same logger, in
 * the same shape; each DDL statement has its line; stderr stays empty.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { TempDirs } from './support.ts'
import { freePort } from './sluice-process.ts'
import { createTopic, ensureTestKafka, produceJson, uniqueTopic } from './kafka.ts'

const BIN = fileURLToPath(new URL('../bin/sluice.js', import.meta.url))
const dirs = new TempDirs('sluice-log-output-')
// Emits a Node warning on SIGUSR2, so the test can raise one once the server runs.
const WARN_ON_SIGNAL = `data:text/javascript,process.on('SIGUSR2', () => process.emitWarning('raised by the test', 'SluiceTestWarning'))`

let child: ChildProcess | undefined
afterAll(() => {
  if (child?.exitCode === null) child.kill('SIGKILL')
  dirs.removeAll()
})

describe('the log of a sluice process', () => {
  let brokers = ''
  beforeAll(async () => {
    brokers = await ensureTestKafka()
  }, 180_000)

  it('is the banner and JSON lines only, with third-party warnings formatted like the rest', async () => {
    const pgPort = await freePort()
    const httpPort = await freePort()
    const args = ['--import', WARN_ON_SIGNAL, BIN, 'start', '--no-demo', '--data-dir', dirs.make()]
    args.push('--pg-port', String(pgPort), '--http-port', String(httpPort), '--log-format', 'json')
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    let stdout = ''
    let stderr = ''
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', () => {
        if (stdout.includes('Press Ctrl-C to stop.')) resolve()
      })
      proc.once('exit', (code) => reject(new Error(`sluice start exited with ${code}: ${stdout}${stderr}`)))
    })

    const topic = uniqueTopic('log_output')
    await createTopic(topic, 1)
    await produceJson(topic, [{ id: 1 }, { id: 2 }])
    const client = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'sluice', database: 'sluice' })
    await client.connect()
    try {
      await client.query(
        `CREATE SOURCE ev (id BIGINT) WITH (connector = 'kafka', topic = '${topic}', brokers = '${brokers}', format = 'json')`,
      )
      await client.query('CREATE MATERIALIZED VIEW n AS SELECT count(*) AS n FROM ev')
      await client.query('FLUSH')
      expect((await client.query('SELECT n FROM n')).rows).toEqual([{ n: '2' }])
      await client.query('CREATE TABLE t (id BIGINT PRIMARY KEY)')
      // Nothing listens on port 9: kafkajs logs its connection errors and retries, then CREATE fails.
      await expect(
        client.query(
          `CREATE SINK k FROM t WITH (connector = 'kafka', topic = 'x', brokers = '127.0.0.1:9', format = 'json')`,
        ),
      ).rejects.toMatchObject({ code: '58030' })
    } finally {
      await client.end()
    }
    proc.kill('SIGUSR2')
    const warned = (): boolean => stdout.includes('SluiceTestWarning')
    for (let i = 0; i < 100 && !warned(); i++) await new Promise((r) => setTimeout(r, 50))
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
    proc.kill('SIGTERM')
    expect(await exited).toBe(0)

    expect(stderr).toBe('')
    const banner = stdout.slice(stdout.indexOf('\nSluice is running.'), stdout.indexOf('Press Ctrl-C to stop.\n') + 22)
    const lines = stdout
      .replace(banner, '')
      .split('\n')
      .filter((l) => l !== '')
    const records = lines.map((l) => {
      expect(l, 'a line that is not a JSON log record').toMatch(/^\{"level":\d+,"time":"[^"]+","service":"sluice",/)
      return JSON.parse(l) as Record<string, unknown>
    })
    const kafka = records.filter((r) => String(r.msg).startsWith('kafka '))
    expect(kafka.length).toBeGreaterThan(0)
    for (const r of kafka) {
      expect(Object.keys(r)).not.toContain('stack')
      expect(Object.keys(r)).not.toContain('timestamp')
      expect(Object.keys(r)).not.toContain('logger')
      expect(r.level).toBe(40)
    }
    expect(records).toContainEqual(
      expect.objectContaining({ level: 40, msg: 'node SluiceTestWarning: raised by the test' }),
    )
    const ddl = records.filter((r) => r.command !== undefined).map((r) => [r.command, r.objects, r.outcome, r.user])
    expect(ddl).toEqual([
      ['CREATE SOURCE', ['ev'], 'ok', 'sluice'],
      ['CREATE MATERIALIZED VIEW', ['n'], 'ok', 'sluice'],
      ['CREATE TABLE', ['t'], 'ok', 'sluice'],
      ['CREATE SINK', ['k'], '58030', 'sluice'],
    ])
  }, 120_000)
})
