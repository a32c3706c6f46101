/**
 * kafkajs's log entries as Sluice log lines. kafkajs hands each entry its own `timestamp`,
 * `logger: "kafkajs"` and a multi-line `stack` beside the message; passed through, they repeat the
 * line's time, and the stack spreads one event over many lines in the pretty format. Every Kafka
 * client (source, fetcher thread, sink, dead-letter producer) formats through here, so kafkajs
 * speaks in the server's log format like everything else.
 */
import { logLevel, type LogEntry } from 'kafkajs'

/** One kafkajs entry as a log line: its level, message and fields. */
export interface KafkaLogLine {
  readonly level: 'warn' | 'error'
  readonly message: string
  readonly fields: Record<string, unknown>
}

/** Fields kafkajs adds that the server's log already has, or that do not fit on one line. */
const DROPPED: ReadonlySet<string> = new Set(['timestamp', 'logger', 'stack', 'message'])

/**
 * Connection and broker-pool errors are what kafkajs retries (a broker restarting, a coordinator
 * still loading): warnings. Failures that matter surface as rejected calls, logged by their caller.
 */
const RETRIED: readonly string[] = ['Connection', 'BrokerPool']

/**
 * The line for `entry`; `recovered` names further namespaces whose errors the caller recovers
 * from (so they are warnings too).
 */
export function kafkaLogLine(entry: LogEntry, recovered: readonly string[] = []): KafkaLogLine {
  const log = entry.log as Record<string, unknown>
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(log)) {
    if (DROPPED.has(key) || value === undefined) continue
    // Error objects (and anything else that is not plain data) as their text: a log field is data.
    fields[key] =
      value instanceof Error
        ? value.message
        : typeof value === 'object' && value !== null && !Array.isArray(value) && !isPlain(value)
          ? String(value)
          : value
  }
  const quiet = RETRIED.includes(entry.namespace) || recovered.includes(entry.namespace)
  const level = entry.level === logLevel.ERROR && !quiet ? 'error' : 'warn'
  return { level, message: `kafka ${entry.namespace}: ${oneLine(String(log.message))}`, fields }
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/** kafkajs messages are one line, except the few that quote a broker's multi-line answer. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ')
}
