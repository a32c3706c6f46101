/**
 * A Sluice server in a child process (the real CLI, `bin/sluice.js start`), for tests that kill
 * it with SIGKILL and start it again on the same data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

const BIN = fileURLToPath(new URL('../bin/sluice.js', import.meta.url))

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

export class SluiceProcess {
  private child: ChildProcess | undefined
  /** Everything the process printed, across restarts. */
  output = ''

  private constructor(
    readonly dataDir: string,
    readonly pgPort: number,
    readonly httpPort: number,
    private readonly extraArgs: readonly string[],
    private readonly nodeArgs: readonly string[],
    private readonly ssl: pg.ClientConfig['ssl'],
  ) {}

  /**
   * `nodeArgs` go to node itself (e.g. `--max-old-space-size=1024`), before the CLI; `ssl` is how
   * this helper's own clients connect (e.g. to a server started with --tls-required).
   */
  static async create(
    dataDir: string,
    extraArgs: readonly string[] = [],
    nodeArgs: readonly string[] = [],
    ssl?: pg.ClientConfig['ssl'],
  ): Promise<SluiceProcess> {
    return new SluiceProcess(dataDir, await freePort(), await freePort(), extraArgs, nodeArgs, ssl)
  }

  /** The running server's process id (undefined when stopped). */
  get pid(): number | undefined {
    return this.child?.pid
  }

  /**
   * Starts the server and waits until it answers `SELECT 1` over pgwire; returns the milliseconds
   * from the spawn to that answer (polled every 20 ms).
   */
  async start(): Promise<number> {
    const args = [
      ...this.nodeArgs,
      BIN,
      'start',
      '--no-demo',
      '--data-dir',
      this.dataDir,
      '--pg-port',
      String(this.pgPort),
      '--http-port',
      String(this.httpPort),
      '--log-format',
      'json',
      ...this.extraArgs,
    ]
    const spawnedAt = performance.now()
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    const onData = (d: Buffer): void => {
      this.output += d.toString()
      if (this.output.length > 2_000_000) this.output = this.output.slice(-1_000_000)
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    const deadline = Date.now() + 60_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`sluice exited with ${child.exitCode}:\n${this.output.slice(-4000)}`)
      try {
        const c = await this.client()
        try {
          await c.query('SELECT 1')
        } finally {
          await c.end().catch(() => {})
        }
        return performance.now() - spawnedAt
      } catch {
        if (Date.now() > deadline) throw new Error(`sluice did not answer within 60 s:\n${this.output.slice(-4000)}`)
        await new Promise((r) => setTimeout(r, 20))
      }
    }
  }

  async client(): Promise<pg.Client> {
    const c = new pg.Client({ host: '127.0.0.1', port: this.pgPort, user: 'sluice', database: 'sluice', ssl: this.ssl })
    c.on('error', () => {})
    await c.connect()
    return c
  }

  /** Runs one statement on a fresh connection. */
  async query(sql: string): Promise<pg.QueryResult> {
    const c = await this.client()
    try {
      return await c.query(sql)
    } finally {
      await c.end().catch(() => {})
    }
  }

  /** kill -9, and waits for the process to be gone. */
  async kill(): Promise<void> {
    const child = this.child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const gone = new Promise<void>((r) => child.once('exit', () => r()))
    child.kill('SIGKILL')
    await gone
    this.child = undefined
  }

  /** A clean stop (SIGTERM). */
  async stop(): Promise<void> {
    const child = this.child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const gone = new Promise<void>((r) => child.once('exit', () => r()))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    await gone
    clearTimeout(timer)
    this.child = undefined
  }
}
