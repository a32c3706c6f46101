/**
 * The server's logger (pino) and its adapters to the log functions the engine and pgwire take.
 * JSON lines on stdout by default (what log shippers want); `pretty` prints one readable line per
 * record instead (`10:42:01.123 INFO  engine opened dataDir=/tmp/x`), for a terminal.
 */
import { pino, type Logger } from 'pino'
import type { LogFn } from '../engine/index.ts'
import { redactText } from '../engine/catalog/redact.ts'

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface LoggerOptions {
  readonly level: string
  /** Human-readable lines instead of JSON (default: false). */
  readonly pretty?: boolean
  /** Where lines go (default: stdout); tests pass a collector. */
  readonly destination?: { write(line: string): unknown }
}

/** A pino logger; throws on a level pino does not know. */
export function createLogger(options: LoggerOptions): Logger {
  const out = options.destination ?? process.stdout
  const dest = options.pretty === true ? { write: (line: string) => out.write(prettyLine(line)) } : out
  return pino({ level: options.level, base: { service: 'sluice' }, timestamp: pino.stdTimeFunctions.isoTime }, dest)
}

/** The engine's (and pgwire's) `log(level, message, fields)` writing to `logger`. */
export function engineLog(logger: Logger): LogFn {
  return (level, message, fields) => {
    // A connector's error can quote its connection URL: no password reaches a log line.
    const text = redactText(message)
    if (fields === undefined) logger[level](text)
    else logger[level](redactFields(fields), text)
  }
}

function redactFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(fields)) out[k] = typeof v === 'string' ? redactText(v) : v
  return out
}

/**
 * Node's process warnings (a kafkajs negative timeout, a deprecation, too many listeners) as
 * warn lines of `log` instead of Node's own `(node:123) Warning: ...` on stderr, which a log
 * shipper reading JSON lines cannot parse. Replaces Node's printing listener; call once per process.
 */
export function logProcessWarnings(log: LogFn): void {
  process.removeAllListeners('warning')
  process.on('warning', (w) => {
    const { code } = w as { code?: unknown }
    log('warn', `node ${w.name}: ${w.message}`, code === undefined ? undefined : { code })
  })
}

const LEVEL_NAMES: ReadonlyMap<number, string> = new Map([
  [10, 'TRACE'],
  [20, 'DEBUG'],
  [30, 'INFO '],
  [40, 'WARN '],
  [50, 'ERROR'],
  [60, 'FATAL'],
])
const OMIT: ReadonlySet<string> = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service'])

/** One pino JSON line as `HH:MM:SS.mmm LEVEL message key=value ...`. */
export function prettyLine(line: string): string {
  let record: Record<string, unknown>
  try {
    record = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line
  }
  const time = typeof record.time === 'string' ? record.time.slice(11, 23) : ''
  const level = LEVEL_NAMES.get(Number(record.level)) ?? String(record.level)
  let text = `${time} ${level} ${typeof record.msg === 'string' ? record.msg : ''}`
  for (const [k, v] of Object.entries(record)) {
    if (OMIT.has(k)) continue
    text += ` ${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`
  }
  return text + '\n'
}
