/**
 * The `sluice` command line. `sluice start` runs the server and prints how to connect;
 * `sluice sql "<statement>"` runs statements against a running server over HTTP and prints the
 * rows as psql would (for users without psql). bin/sluice.js calls runCli.
 */
import { Command, InvalidArgumentError, Option } from 'commander'
import { relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { readFileSync } from 'node:fs'
import { DEMO_QUERY, installSignalHandlers, startServer } from './main.ts'
import { parseMemorySetting } from '../engine/index.ts'
import { LOG_LEVELS, createLogger, engineLog, logProcessWarnings } from './log.ts'
import { formatProblem, formatResult, postSql } from './http/client.ts'
import { ConfigFileError, applyConfigFile } from './config-file.ts'

function millis(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('a number of milliseconds (0 turns checkpoints off).')
  return Number(value)
}

function positive(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('a whole number, at least 1.')
  return Number(value)
}

function memory(flag: string): (value: string) => number {
  return (value) => {
    try {
      return parseMemorySetting(flag, value)
    } catch (e) {
      throw new InvalidArgumentError(e instanceof Error ? e.message : String(e))
    }
  }
}

function port(value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || n > 65535)
    throw new InvalidArgumentError('a port is a number from 0 to 65535 (0 picks a free one).')
  return n
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** A host clients can dial: a wildcard listen address means "this machine". */
function dialHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1'
  return host
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

export interface BannerInfo {
  readonly host: string
  readonly pgPort: number
  readonly httpPort: number
  readonly dataDir: string
  readonly demo: boolean
  readonly password: boolean
  readonly token?: string
  /** Whether --tls-cert was given (HTTPS, and sslmode=require for psql). */
  readonly tls?: boolean
  /** How this CLI was invoked, for the `sql` example (e.g. `node bin/sluice.js`). */
  readonly self: string
}

/** What `sluice start` prints once both servers listen: exactly how to connect. */
export function startBanner(b: BannerInfo): string {
  const host = dialHost(b.host)
  const base = `${b.tls === true ? 'https' : 'http'}://${urlHost(host)}:${b.httpPort}`
  const query = b.demo ? DEMO_QUERY : 'SHOW SOURCES'
  const auth = b.token === undefined ? '' : ` -H ${shellQuote(`authorization: Bearer ${b.token}`)}`
  return [
    '',
    `Sluice is running. Data directory: ${b.dataDir}`,
    '',
    'Connect with psql:',
    b.tls === true
      ? `  psql "host=${host} port=${b.pgPort} user=sluice dbname=sluice sslmode=require"${b.password ? '    (password: the one given with --password)' : ''}`
      : `  psql -h ${host} -p ${b.pgPort} -U sluice -d sluice${b.password ? '    (password: the one given with --password)' : ''}`,
    'and try:',
    `  ${query};`,
    '',
    `Open the console in a browser: ${base}/${b.token === undefined ? '' : '   (sign in with the token)'}`,
    '',
    'Or over HTTP:',
    `  curl -s${b.tls === true ? ' -k' : ''} ${base}/v1/sql${auth} -H 'content-type: application/json' -d ${shellQuote(JSON.stringify({ sql: query }))}`,
    `  ${b.self} sql ${shellQuote(query)} --url ${base}${b.token === undefined ? '' : ' --token <token>'}`,
    '',
    `Metrics: ${base}/metrics   API description: ${base}/v1/openapi.json`,
    'Press Ctrl-C to stop.',
    '',
  ].join('\n')
}

interface StartOptions {
  dataDir: string
  host: string
  pgPort: number
  httpPort: number
  demo: boolean
  password?: string
  httpToken?: string[]
  insecureNoAuth?: boolean
  logLevel: string
  logFormat?: 'json' | 'pretty'
  checkpointInterval: number
  tlsCert?: string
  tlsKey?: string
  tlsRequired?: boolean
  maxConcurrentQueries?: number
  queryMemory?: number
  stateCache?: number
  workers?: number
}

/** The --tls-cert / --tls-key pair, read once at start; both or neither. */
function readTls(opts: StartOptions): { cert: Buffer; key: Buffer } | undefined {
  if (opts.tlsCert === undefined && opts.tlsKey === undefined) {
    if (opts.tlsRequired === true) throw new Error('--tls-required needs --tls-cert and --tls-key')
    return undefined
  }
  if (opts.tlsCert === undefined || opts.tlsKey === undefined) throw new Error('--tls-cert and --tls-key go together')
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file)
    } catch (e) {
      throw new Error(`cannot read the TLS ${what} ${file}: ${(e as Error).message}`)
    }
  }
  return { cert: read(opts.tlsCert, 'certificate'), key: read(opts.tlsKey, 'key') }
}

/** How long the start banner waits for the restore and the demo (start()). */
const BANNER_WAIT_MS = 3000

async function start(opts: StartOptions): Promise<void> {
  const dataDir = resolve(opts.dataDir)
  const logger = createLogger({
    level: opts.logLevel,
    pretty: (opts.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json')) === 'pretty',
  })
  const log = engineLog(logger)
  logProcessWarnings(log)
  let server: Awaited<ReturnType<typeof startServer>>
  let tls: { cert: Buffer; key: Buffer } | undefined
  try {
    tls = readTls(opts)
  } catch (e) {
    process.stderr.write(`sluice: could not start: ${(e as Error).message}\n`)
    process.exitCode = 1
    return
  }
  try {
    server = await startServer({
      pgTls: tls === undefined ? undefined : { ...tls, required: opts.tlsRequired === true },
      httpTls: tls,
      dataDir,
      host: opts.host,
      pgPort: opts.pgPort,
      httpPort: opts.httpPort,
      demo: opts.demo,
      auth:
        opts.password === undefined
          ? { mode: 'trust' }
          : { mode: 'password', users: new Map([['sluice', opts.password]]) },
      logLevel: opts.logLevel,
      logger,
      tokens: opts.httpToken,
      insecureNoAuth: opts.insecureNoAuth === true,
      checkpointIntervalMs: opts.checkpointInterval,
      maxConcurrentQueries: opts.maxConcurrentQueries,
      queryMemoryBytes: opts.queryMemory,
      stateCacheBytes: opts.stateCache,
      workers: opts.workers,
    })
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { port?: number }
    const why =
      err.code === 'EADDRINUSE'
        ? `port ${err.port ?? '?'} on ${opts.host} is already in use (is another Sluice running? choose others with --pg-port and --http-port)`
        : err.message
    process.stderr.write(`sluice: could not start: ${why}\n`)
    process.exitCode = 1
    return
  }
  installSignalHandlers(server, log)
  // The banner's example query should answer when the banner shows: wait for the start to finish
  // (a first run creates the demo view: milliseconds, about a second when it starts shard
  // threads), but not for a long restore, which the banner does not wait out.
  await Promise.race([server.restored, new Promise((resolve) => setTimeout(resolve, BANNER_WAIT_MS).unref())])
  process.stdout.write(
    startBanner({
      host: opts.host,
      pgPort: server.pgPort,
      httpPort: server.httpPort,
      dataDir,
      demo: opts.demo,
      password: opts.password !== undefined,
      token: opts.httpToken?.[0],
      tls: tls !== undefined,
      self: selfCommand(),
    }),
  )
}

/** How to run this CLI again from the current directory: `sluice`, or `node <path>/sluice.js`. */
function selfCommand(): string {
  const script = process.argv[1]
  if (script === undefined || !script.endsWith('.js')) return 'sluice'
  const rel = relative(process.cwd(), script)
  return `node ${rel.startsWith('..') || rel === '' ? script : rel}`
}

async function sql(statement: string, opts: { url: string; token?: string; json?: boolean }): Promise<void> {
  const text = statement === '-' ? readFileSync(0, 'utf8') : statement
  let outcome: Awaited<ReturnType<typeof postSql>>
  try {
    outcome = await postSql(opts.url, text, { token: opts.token })
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : ''
    process.stderr.write(`sluice: could not reach ${opts.url}${cause} (is \`sluice start\` running?)\n`)
    process.exitCode = 2
    return
  }
  const results = outcome.ok ? outcome.results : (outcome.problem.results ?? [])
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(outcome.ok ? { results } : outcome.problem, null, 2) + '\n')
  } else {
    for (const r of results) {
      for (const n of r.notices ?? []) process.stderr.write(`NOTICE:  ${n}\n`)
      process.stdout.write(formatResult(r))
    }
    if (!outcome.ok) process.stderr.write(formatProblem(outcome.problem, text))
  }
  if (!outcome.ok) process.exitCode = 1
}

/** The commander program (exported so tests can read its options). */
export function buildCli(): Command {
  const program = new Command()
  program
    .name('sluice')
    .description('A streaming SQL engine: Kafka in, incremental materialized views out over pgwire and HTTP.')
    .showHelpAfterError()

  program
    .command('start')
    .description('run the Sluice server (PostgreSQL wire protocol and HTTP API)')
    .option('--config <file>', 'read these options from a JSON file (keys as the flags: "pg-port", ...); flags win')
    .option('--data-dir <dir>', 'state, catalog and checkpoints', './sluice-data')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--pg-port <port>', 'PostgreSQL wire protocol port', port, 4566)
    .option('--http-port <port>', 'HTTP API port', port, 4567)
    .option('--no-demo', 'do not create the demo source and view')
    .option('--password <password>', "require this password for the pgwire user 'sluice' (default: no password)")
    .option('--http-token <token>', 'require this bearer token on the HTTP API (repeatable)', collect)
    .option(
      '--insecure-no-auth',
      'allow a non-loopback --host without --password or --http-token (anyone who can connect is a superuser)',
    )
    .option('--tls-cert <file>', 'PEM certificate: pgwire offers TLS (sslmode=require works) and HTTP becomes HTTPS')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--tls-required', 'refuse pgwire clients that do not use TLS (needs --tls-cert)')
    .option(
      '--checkpoint-interval <ms>',
      'checkpoint every this many ms (0: no checkpoints; a restart then replays sources)',
      millis,
      1000,
    )
    .option(
      '--max-concurrent-queries <n>',
      'pull queries computing at once; more wait their turn (default: twice the cores)',
      positive,
    )
    .option(
      '--query-memory <size>',
      'memory all running queries may hold together, e.g. 512MB (default: half the heap)',
      memory('--query-memory'),
    )
    .option(
      '--workers <n>',
      'shards a new materialized view runs as, one worker thread each, when its plan can be split (default: 1)',
      positive,
    )
    .option(
      '--state-cache <size>',
      "memory for views' state, e.g. 1GB; the rest stays on disk (default: a quarter of the heap)",
      memory('--state-cache'),
    )
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .addOption(
      new Option('--log-format <format>', 'log lines as JSON or for people (default: pretty on a terminal)').choices([
        'json',
        'pretty',
      ]),
    )
    .hook('preAction', (command) => {
      const file = command.getOptionValue('config') as string | undefined
      if (file === undefined) return
      try {
        applyConfigFile(command, file)
      } catch (e) {
        if (!(e instanceof ConfigFileError)) throw e
        // The usage text would bury the one line that says which key is wrong.
        command.showHelpAfterError(false).error(`sluice: could not start: ${e.message}`)
      }
    })
    .action(start)

  program
    .command('sql')
    .description('run SQL against a running server over HTTP and print the rows')
    .argument('<statement>', "one or more statements; '-' reads them from stdin")
    .option('--url <url>', 'the server', 'http://127.0.0.1:4567')
    .option('--token <token>', 'bearer token, when the server requires one')
    .option('--json', 'print the JSON response instead of tables')
    .action(sql)

  return program
}

/** Parses `argv` (as process.argv: node, script, args...) and runs the command. */
export async function runCli(argv: readonly string[]): Promise<void> {
  await buildCli().parseAsync([...argv])
}

// Also runnable directly: `tsx server/cli.ts start`.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await runCli(process.argv)
