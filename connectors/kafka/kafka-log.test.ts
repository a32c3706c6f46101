// kafkajs log entries become one-line Sluice log lines: no duplicate timestamp, no stack, plain fields.
import { describe, expect, it } from 'vitest'
import { logLevel, type LogEntry } from 'kafkajs'
import { kafkaLogLine } from './kafka-log.ts'

function entry(level: logLevel, namespace: string, log: Record<string, unknown>): LogEntry {
  return {
    namespace,
    level,
    label: 'ERROR',
    log: { timestamp: '2026-12-07T00:00:00.000Z', logger: 'kafkajs', message: '', ...log },
  }
}

describe('kafkaLogLine', () => {
  it("drops kafkajs's own timestamp, logger and stack, and keeps the context fields", () => {
    const line = kafkaLogLine(
      entry(logLevel.ERROR, 'Connection', {
        message: 'Connection error: connect ECONNREFUSED 127.0.0.1:1',
        broker: '127.0.0.1:1',
        clientId: 'sluice-sink-k',
        stack: 'Error: connect ECONNREFUSED\n    at TCPConnectWrap.afterConnect',
      }),
    )
    expect(line).toEqual({
      level: 'warn',
      message: 'kafka Connection: Connection error: connect ECONNREFUSED 127.0.0.1:1',
      fields: { broker: '127.0.0.1:1', clientId: 'sluice-sink-k' },
    })
  })

  it('keeps errors of other namespaces as errors, unless the caller recovers from them', () => {
    const e = entry(logLevel.ERROR, 'Consumer', { message: 'Crash:\n  boom', error: new Error('boom'), retryCount: 2 })
    expect(kafkaLogLine(e)).toEqual({
      level: 'error',
      message: 'kafka Consumer: Crash: boom',
      fields: { error: 'boom', retryCount: 2 },
    })
    expect(kafkaLogLine(e, ['Consumer']).level).toBe('warn')
    expect(kafkaLogLine(entry(logLevel.ERROR, 'BrokerPool', { message: 'Failed to connect' })).level).toBe('warn')
  })
})
