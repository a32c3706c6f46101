/**
 * A server for tests and benchmarks: on 127.0.0.1, ports the system picks, no demo, trust auth,
 * warnings only in the log; `extra` overrides or adds options.
 */
import type { RunningServer, ServerOptions } from '../server/main.ts'
import { startServer } from '../server/main.ts'

export function startLocalServer(dataDir: string, extra: Partial<ServerOptions> = {}): Promise<RunningServer> {
  return startServer({
    dataDir,
    host: '127.0.0.1',
    pgPort: 0,
    httpPort: 0,
    demo: false,
    auth: { mode: 'trust' },
    logLevel: 'warn',
    ...extra,
  })
}
