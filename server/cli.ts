/**
 * The `sluice` command line: `sluice start` runs the server; `sluice sql "<statement>"` runs a
 * statement against a running server over HTTP and prints the rows.
 */
import { Command } from 'commander'
import { resolve } from 'node:path'
import { startServer } from './main.ts'

const program = new Command()
program.name('sluice').description('A streaming SQL engine: Kafka in, incremental materialized views out over pgwire and HTTP.')

program
  .command('start')
  .description('run the Sluice server')
  .option('--data-dir <dir>', 'state, catalog and checkpoints', './sluice-data')
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--pg-port <port>', 'PostgreSQL wire protocol port', '4566')
  .option('--http-port <port>', 'HTTP API port', '4567')
  .option('--no-demo', 'do not create the demo source and views')
  .option('--password <password>', "require this password for pgwire user 'sluice' (default: trust)")
  .option('--log-level <level>', 'debug | info | warn | error', 'info')
  .action(async (opts: { dataDir: string; host: string; pgPort: string; httpPort: string; demo: boolean; password?: string; logLevel: string }) => {
    const server = await startServer({
      dataDir: resolve(opts.dataDir),
      host: opts.host,
      pgPort: Number(opts.pgPort),
      httpPort: Number(opts.httpPort),
      demo: opts.demo,
      auth: opts.password === undefined ? { mode: 'trust' } : { mode: 'password', users: new Map([['sluice', opts.password]]) },
      logLevel: opts.logLevel,
    })
    const host = opts.host
    process.stderr.write(
      [
        '',
        `Sluice is running (data in ${resolve(opts.dataDir)}).`,
        '',
        `  psql:  psql -h ${host} -p ${server.pgPort} -U sluice -d sluice`,
        `  try:   SELECT * FROM bids_per_channel;`,
        `  HTTP:  curl -s http://${host}:${server.httpPort}/v1/sql -H 'content-type: application/json' -d '{"sql": "SELECT * FROM bids_per_channel"}'`,
        `  metrics: http://${host}:${server.httpPort}/metrics`,
        '',
        'Press Ctrl-C to stop.',
        '',
      ].join('\n'),
    )
    const stop = (): void => {
      void server.close().then(() => process.exit(0))
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })

program
  .command('sql')
  .description('run SQL against a running server over HTTP')
  .argument('<statement>')
  .option('--url <url>', 'the server', 'http://127.0.0.1:4567')
  .action(async (statement: string, opts: { url: string }) => {
    const res = await fetch(`${opts.url}/v1/sql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: statement }) })
    const body = (await res.json()) as { results?: { tag: string; columns?: { name: string }[]; rows?: unknown[][] }[]; title?: string; code?: string }
    if (!res.ok) {
      process.stderr.write(`ERROR ${body.code ?? res.status}: ${body.title ?? 'request failed'}\n`)
      process.exitCode = 1
      return
    }
    for (const r of body.results ?? []) {
      if (r.columns !== undefined) {
        process.stdout.write(r.columns.map((c) => c.name).join(' | ') + '\n')
        for (const row of r.rows ?? []) process.stdout.write(row.map((v) => (v === null ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v))).join(' | ') + '\n')
      }
      process.stdout.write(r.tag + '\n')
    }
  })

await program.parseAsync(process.argv)
