/** The server's logger (pino), and its adapter to the engine's log function. */
import pino, { type Logger } from 'pino'
import type { LogFn } from '../engine/index.ts'

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'sluice' } })
}

export function engineLog(logger: Logger): LogFn {
  return (level, message, fields) => logger[level](fields ?? {}, message)
}
