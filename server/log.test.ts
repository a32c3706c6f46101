// The pino logger factory, its engine adapter and the readable line format.
import { describe, it, expect } from 'vitest'
import { createLogger, engineLog, logProcessWarnings, prettyLine } from './log.ts'

function capture(level: string, pretty = false) {
  const lines: string[] = []
  const logger = createLogger({ level, pretty, destination: { write: (l: string) => lines.push(l) } })
  return { lines, log: engineLog(logger) }
}

describe('createLogger and engineLog', () => {
  it('writes JSON lines with the message and fields at or above the level', () => {
    const { lines, log } = capture('info')
    log('debug', 'hidden')
    log('info', 'engine opened', { dataDir: '/tmp/x' })
    log('error', 'boom')
    expect(lines).toHaveLength(2)
    const first = JSON.parse(lines[0]) as Record<string, unknown>
    expect(first).toMatchObject({ level: 30, msg: 'engine opened', dataDir: '/tmp/x', service: 'sluice' })
    expect(typeof first.time).toBe('string')
    expect(JSON.parse(lines[1])).toMatchObject({ level: 50, msg: 'boom' })
  })

  it('refuses an unknown level', () => {
    expect(() => createLogger({ level: 'loud' })).toThrow()
  })

  it('prints readable lines when pretty', () => {
    const { lines, log } = capture('debug', true)
    log('warn', 'slow sink', { sink: 'redis out', ms: 120 })
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}slow sink sink="redis out" ms=120\n$/)
  })
})

describe('prettyLine', () => {
  it('passes lines that are not JSON through', () => {
    expect(prettyLine('plain\n')).toBe('plain\n')
  })
})

describe('logProcessWarnings', () => {
  it("logs Node's process warnings as warn lines instead of printing them to stderr", async () => {
    const saved = process.listeners('warning')
    const { lines, log } = capture('info')
    try {
      logProcessWarnings(log)
      const seen = new Promise((resolve) => process.once('warning', resolve))
      process.emitWarning('negative timeout', { type: 'TimeoutNegativeWarning', code: 'SLUICE_TEST' })
      await seen
      expect(process.listeners('warning')).not.toContain(saved[0])
    } finally {
      process.removeAllListeners('warning')
      for (const l of saved) process.on('warning', l)
    }
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: 40, msg: 'node TimeoutNegativeWarning: negative timeout', code: 'SLUICE_TEST' }),
    ])
  })
})
