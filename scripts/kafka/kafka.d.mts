/** Types for scripts/kafka/kafka.mjs (the test broker script), so TypeScript callers import it checked. */

export declare const DEFAULT_PORT: number

export declare function paths(port?: number): {
  readonly cache: string
  readonly lib: string
  readonly data: string
  readonly properties: string
  readonly pid: string
  readonly log: string
}

/** Whether a broker on host:port answers a Metadata request with at least one broker. */
export declare function brokerAnswers(port?: number, host?: string, timeoutMs?: number): Promise<boolean>

/** The pid of the broker this script started on the port, if it still runs. */
export declare function brokerPid(port?: number): number | undefined

export declare function checkJava(): void

export declare function fetchJars(): void

export declare function start(options?: {
  foreground?: boolean
  port?: number
  /** Keep the storage already formatted for the port (a restart keeps topics and records). */
  keepData?: boolean
}): Promise<{ started: boolean; pid: number | undefined }>

export declare function stop(options?: { port?: number }): Promise<boolean>
