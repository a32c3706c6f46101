/**
 * Test support for the upsert sinks: a TCP forwarder in front of the real Redis or PostgreSQL.
 * Closing it makes the server unreachable on that port (refused connections, cut sockets) without
 * touching the server others use; opening it again on the same port brings it back.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'

export class TcpProxy {
  private server: Server | undefined
  private readonly sockets = new Set<Socket>()
  port = 0

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Starts forwarding, on the port it had before when reopened (a new free port the first time). */
  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('error', () => {})
        s.on('close', () => {
          this.sockets.delete(s)
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '127.0.0.1', () => resolve())
    })
    const addr = server.address()
    if (typeof addr === 'object' && addr !== null) this.port = addr.port
    this.server = server
  }

  /** Stops accepting and cuts every open connection. */
  async close(): Promise<void> {
    const server = this.server
    this.server = undefined
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
    if (server !== undefined) await new Promise<void>((r) => server.close(() => r()))
  }
}
